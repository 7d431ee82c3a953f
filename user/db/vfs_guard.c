/* vfs_guard.c -- a SQLite VFS over the default one that will not write a database's -shm made immutable: SQLite maps that file, and a write into the map would kill the process with SIGBUS.
 *
 * Every other call goes straight to the default VFS. Before SQLite takes a
 * lock on the shared memory (the start of every read and write transaction)
 * or maps more of it, the -shm file's attributes are read (statx): immutable or
 * append-only (chattr +i / +a) makes the call fail with an I/O error, which
 * the store treats like a full disk: rows wait in memory, one line says why,
 * writing resumes when the flag goes.
 */
#include "db/vfs_guard.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Our file: the default VFS's file follows it in the same allocation. */
struct gfile {
	sqlite3_file base;
	sqlite3_file *real;
	char shm[PATH_MAX];	/* the -shm of a main database file, else "" */
};

static sqlite3_vfs guard_vfs;
static sqlite3_vfs *real_vfs;
static char fault[PATH_MAX + 64];	/* the last refusal, for messages */

/* 1 when the file at path carries the immutable or append-only flag. By
 * statx(), never open(): closing any fd of a file drops every POSIX lock
 * the process holds on it, SQLite's on the -shm included (another process
 * could then reset the -shm under our map: SIGBUS again). */
static int unwritable(const char *path)
{
	struct statx st;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &st))
		return 0;
	return !!(st.stx_attributes & st.stx_attributes_mask &
		  (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND));
}

/* 0 when the -shm of f may be written, else the SQLite error code rc. */
static int shm_guard(struct gfile *f, int rc)
{
	if (!f->shm[0] || !unwritable(f->shm))
		return 0;
	snprintf(fault, sizeof(fault), "%s is immutable or append-only (chattr)", f->shm);
	return rc;
}

#define REAL(f) (((struct gfile *)(f))->real)

static int g_close(sqlite3_file *f)
{
	return REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
}
static int g_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int g_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int g_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int g_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int g_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int g_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int g_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int g_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int g_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int g_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int g_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int g_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
	int rc = shm_guard((struct gfile *)f, SQLITE_IOERR_SHMMAP);

	return rc ? rc : REAL(f)->pMethods->xShmMap(REAL(f), region, size, extend, pp);
}
static int g_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	int rc = (flags & SQLITE_SHM_LOCK) ? shm_guard((struct gfile *)f, SQLITE_IOERR_SHMLOCK) : 0;

	return rc ? rc : REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void g_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int g_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int g_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int g_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods guard_methods = {
	3, g_close, g_read, g_write, g_truncate, g_sync, g_file_size, g_lock, g_unlock,
	g_check_reserved, g_file_control, g_sector_size, g_device_chars,
	g_shm_map, g_shm_lock, g_shm_barrier, g_shm_unmap, g_fetch, g_unfetch,
};

/* Open through the default VFS; remember a main database's -shm. */
static int g_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
	struct gfile *f = (struct gfile *)file;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out);
	/* SQLite calls xClose after a failed xOpen only when pMethods is set */
	f->base.pMethods = f->real->pMethods ? &guard_methods : NULL;
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_MAIN_DB) && name &&
	    (size_t)snprintf(f->shm, sizeof(f->shm), "%s-shm", name) >= sizeof(f->shm))
		f->shm[0] = 0;
	return rc;
}

static void guard_install(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (!real_vfs)
		return;
	guard_vfs = *real_vfs;
	guard_vfs.zName = "llmtap-guard";
	guard_vfs.szOsFile = (int)sizeof(struct gfile) + real_vfs->szOsFile;
	guard_vfs.xOpen = g_open;
	guard_vfs.pNext = NULL;
	sqlite3_vfs_register(&guard_vfs, 1);
}

void vfs_guard_install(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, guard_install);
}

const char *vfs_guard_fault(void)
{
	return fault[0] ? fault : NULL;
}

void vfs_guard_clear(void)
{
	fault[0] = 0;
}
