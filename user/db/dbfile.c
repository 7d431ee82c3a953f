/* dbfile.c -- the tracer's database file as root opens it: no link, root's own file in directories only root can change, modes 0600, one tracer per file.
 *
 * SQLite opens files by name, and so do its -wal and -shm. A name is only
 * as safe as the directories it passes through: if another user can change
 * one of them, they can put a link where the database goes and make root
 * write wherever it points. So every directory on the way must be root's
 * (or the effective user's) and writable by nobody else, or sticky like
 * /tmp (where others cannot remove or rename root's files), and the
 * database and its companions must be root's own regular files; links are
 * refused (O_NOFOLLOW), and SQLite is handed the resolved path.
 */
#include "db/dbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

/* Messages of one dbfile_open(): none when it was asked to be quiet. */
static int quiet;
#define say(...) do { if (!quiet) log_warn(__VA_ARGS__); } while (0)

#define DB_HINT "keep it where only root can write, e.g. --db /var/lib/llmtap/llmtap.db"

/* 1 when a directory with this stat cannot be changed by another user. */
static int dir_safe(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return 0;
	return !(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX);
}

/* Why a directory with this stat is not safe, for the message. */
static const char *dir_why(const struct stat *st, char *buf, size_t n)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		snprintf(buf, n, "is owned by uid %u", (unsigned)st->st_uid);
	else
		snprintf(buf, n, "is writable by %s", st->st_mode & S_IWOTH ? "every user" : "its group");
	return buf;
}

/* Walk the directories of dir (absolute) from /: each must exist (missing
 * ones are made 0700 when create is set) and be safe; a link on the way must
 * be root's. Returns 0, or -1 with a message naming db. */
static int chain_check(const char *db, const char *dir, int create)
{
	char p[PATH_MAX], why[64];
	size_t i, n = strlen(dir);
	struct stat st;

	if (n >= sizeof(p) || dir[0] != '/') {
		say("cannot open database %s: path too long", db);
		return -1;
	}
	for (i = 1; i <= n; i++) {
		if (i < n && dir[i] != '/')
			continue;
		if (dir[i - 1] == '/')
			continue;	/* "//" */
		memcpy(p, dir, i);
		p[i] = 0;
		if (lstat(p, &st)) {
			if (errno != ENOENT || !create)
				goto out_err;
			if (mkdir(p, 0700) && errno != EEXIST) {
				say("cannot create directory %s for database %s: %s", p, db, strerror(errno));
				return -1;
			}
			if (lstat(p, &st))
				goto out_err;
		}
		if (S_ISLNK(st.st_mode)) {
			if (st.st_uid != 0 && st.st_uid != geteuid()) {
				say("refusing database %s: %s is a link owned by uid %u; %s", db, p,
					 (unsigned)st.st_uid, DB_HINT);
				return -1;
			}
			if (stat(p, &st))
				goto out_err;
		}
		if (!S_ISDIR(st.st_mode)) {
			say("cannot open database %s: %s is not a directory", db, p);
			return -1;
		}
		if (!dir_safe(&st)) {
			say("refusing database %s: directory %s %s, who could put a link in its "
				 "place; %s", db, p, dir_why(&st, why, sizeof(why)), DB_HINT);
			return -1;
		}
	}
	/* "/" itself */
	if (stat("/", &st) || !dir_safe(&st)) {
		say("refusing database %s: / can be changed by other users", db);
		return -1;
	}
	return 0;

out_err:
	say("cannot open database %s: %s: %s", db, p, strerror(errno));
	return -1;
}

/* Open (creating when create) one of the database's files without following
 * a link, check it is the user's own regular file with one link, narrow its
 * mode to 0600. Returns the fd, -2 when it is missing and !create, or -1
 * with a message. */
static int file_open(const char *db, const char *path, int create)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (create ? O_CREAT : 0), 0600);
	if (fd < 0) {
		int err = errno;

		if (err == ENOENT && !create)
			return -2;
		/* a link in a sticky directory may also say EACCES (protected_symlinks) */
		if (err == ELOOP || (!lstat(path, &st) && S_ISLNK(st.st_mode)))
			say("refusing database %s: %s is a symbolic link; %s", db, path, DB_HINT);
		else
			say("cannot open database %s: %s: %s", db, path, strerror(err));
		return -1;
	}
	if (fstat(fd, &st))
		goto out_close;
	if (!S_ISREG(st.st_mode)) {
		say("refusing database %s: %s is not a regular file", db, path);
		goto out_close;
	}
	if (st.st_uid != geteuid()) {
		say("refusing database %s: %s belongs to uid %u, not to the tracer's user; %s",
			 db, path, (unsigned)st.st_uid, DB_HINT);
		goto out_close;
	}
	if (st.st_nlink != 1) {
		say("refusing database %s: %s has %lu hard links", db, path, (unsigned long)st.st_nlink);
		goto out_close;
	}
	if ((st.st_mode & 07777) != 0600) {
		if (fchmod(fd, 0600)) {
			say("cannot make %s mode 0600: %s", path, strerror(errno));
			goto out_close;
		}
		say("database file %s was mode %04o; it is 0600 now", path, (unsigned)(st.st_mode & 07777));
	}
	return fd;

out_close:
	close(fd);
	return -1;
}

/* The pid holding a flock() on inode ino (from /proc/locks), or 0. */
static long lock_holder(ino_t ino)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256], type[16];
	unsigned long long inode;
	long pid = 0, p;

	if (!f)
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %15s %*s %*s %ld %*x:%*x:%llu", type, &p, &inode) == 3 &&
		    !strcmp(type, "FLOCK") && inode == (unsigned long long)ino)
			pid = p;
	}
	fclose(f);
	return pid;
}

/* The directory and file name of path, made absolute. Returns 0, or -1. */
static int path_split(const char *path, char *dir, size_t dn, const char **base)
{
	const char *slash = strrchr(path, '/');
	char cwd[PATH_MAX];
	size_t len;

	*base = slash ? slash + 1 : path;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
		return -1;
	len = slash ? (size_t)(slash - path) : 0;
	if (path[0] == '/') {
		if (len + 2 > dn)
			return -1;
		memcpy(dir, path, len);
		dir[len ? len : 1] = 0;
		if (!len)
			dir[0] = '/';
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	if ((size_t)snprintf(dir, dn, "%s%s%.*s", cwd, len ? "/" : "", (int)len, path) >= dn)
		return -1;
	return 0;
}

int dbfile_open(struct dbfile *f, const char *path, int be_quiet)
{
	static const char *const companions[] = { "-wal", "-shm" };
	char dir[PATH_MAX], real[PATH_MAX], comp[PATH_MAX + 16];
	const char *base;
	struct stat st;
	size_t i;
	long pid;
	int fd;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	quiet = be_quiet;
	if (path_split(path, dir, sizeof(dir), &base)) {
		say("cannot open database %s: not a file path", path);
		return -1;
	}
	/* the directories as named (links included), then as they resolve */
	if (chain_check(path, dir, 1))
		return -1;
	if (!realpath(dir, real)) {
		say("cannot open database %s: %s: %s", path, dir, strerror(errno));
		return -1;
	}
	if (chain_check(path, real, 0))
		return -1;
	if (asprintf(&f->path, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base) < 0) {
		f->path = NULL;
		return -1;
	}
	f->fd = file_open(path, f->path, 1);
	if (f->fd < 0)
		goto out_free;
	for (i = 0; i < sizeof(companions) / sizeof(companions[0]); i++) {
		snprintf(comp, sizeof(comp), "%s%s", f->path, companions[i]);
		fd = file_open(path, comp, 1);
		if (fd < 0)
			goto out_close;
		close(fd);
	}
	snprintf(comp, sizeof(comp), "%s-journal", f->path);
	fd = file_open(path, comp, 0);
	if (fd == -1)
		goto out_close;
	if (fd >= 0)
		close(fd);
	if (flock(f->fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK) {
			pid = fstat(f->fd, &st) ? 0 : lock_holder(st.st_ino);
			if (pid)
				say("database %s is in use by another `llmtap run` (pid %ld): one tracer "
					 "per database (stop that one, or give this one its own --db)", path, pid);
			else
				say("database %s is in use by another `llmtap run`: one tracer per "
					 "database (stop that one, or give this one its own --db)", path);
		} else {
			say("cannot lock database %s: %s", path, strerror(errno));
		}
		goto out_close;
	}
	if (fstat(f->fd, &st))
		goto out_close;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;

out_close:
	close(f->fd);
	f->fd = -1;
out_free:
	free(f->path);
	f->path = NULL;
	return -1;
}

int dbfile_gone(const struct dbfile *f)
{
	struct stat st;

	if (f->fd < 0 || fstat(f->fd, &st) || st.st_nlink == 0)
		return 1;
	if (stat(f->path, &st))
		return errno == ENOENT || errno == ENOTDIR;
	return st.st_dev != f->dev || st.st_ino != f->ino;
}

void dbfile_close(struct dbfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
}
