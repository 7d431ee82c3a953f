/* attach_proc.c -- finding the files to probe: on the host at start-up, in each process as it execs (and again a little later, or when its executable's queued scan ends), in a container's own root; and the records of what was done with the files of a process, for doctor. */
#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/procfs.h"
#include "base/util.h"
#include "privs.h"
#include "capture/attach_int.h"
#include "capture/scan.h"

#define kinds attach_kinds
#define NKINDS ATTACH_KINDS

/* attach_file() for a file known by one path, for no process. */
static int file_attach(struct attach *a, size_t k, const char *path)
{
	return attach_file(a, k, path, path, 0);
}

/* ---- discovery ------------------------------------------------------------- */

/* Every library of a known kind that the loader's cache lists (`ldconfig
 * -p`: the ld.so.conf.d directories too). */
static void ldconfig_scan(struct attach *a)
{
	char line[4352], *p;
	FILE *f;
	int k;

	f = popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* "\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3" */
		p = strstr(line, "=> ");
		if (!p)
			continue;
		p += 3;
		p[strcspn(p, "\n")] = 0;
		k = attach_kind_by_name(p);
		if (k >= 0)
			file_attach(a, k, p);
	}
	pclose(f);
}

/* Every runtime of a known kind on PATH (the default PATH when unset). */
static void path_scan(struct attach *a)
{
	char path[4096], real[4096], *dirs, *dir, *save = NULL;
	const char *env_path = getenv("PATH");
	size_t k, i;

	dirs = strdup(env_path && *env_path ? env_path : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return;
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		for (k = 0; k < NKINDS; k++) {
			for (i = 0; kinds[k].path_exes && kinds[k].path_exes[i]; i++) {
				snprintf(path, sizeof(path), "%s/%s", dir, kinds[k].path_exes[i]);
				if (realpath(path, real))
					file_attach(a, k, real);
			}
		}
	}
	free(dirs);
}

/* The TLS library files listed in LLMTAP_TLS_FILES (a file already
 * attached, or not one of a known kind, gets a warning). */
static void extra_scan(struct attach *a)
{
	const char *env = getenv("LLMTAP_TLS_FILES");
	char *list, *path, *save = NULL;

	if (!env || !*env)
		return;
	list = strdup(env);
	if (!list)
		return;
	for (path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
		size_t k;
		int done = 0;

		for (k = 0; k < NKINDS && done <= 0; k++)
			if (kinds[k].role == ROLE_TLS)
				done = file_attach(a, k, path);
		if (done <= 0)
			log_warn("LLMTAP_TLS_FILES: %s not attached (no TLS library in it, or not a file)", path);
	}
	free(list);
}

/* Call fn for each file process pid maps (once per run of its segments):
 * mf is its /proc/PID/map_files entry, which opens the mapped file itself,
 * also one replaced on disk since ("/path (deleted)") or bind-mounted in
 * the process's mount namespace only; shown is the path its maps line
 * gives. dir is the /proc directory that speaks for pid, thread 1 when it
 * is another thread's than the main one (procfs_task_dir()). Returns the
 * sum of what fn returned. */
int attach_maps_each(pid_t pid, const char *dir, int thread,
		     int (*fn)(void *ctx, const char *mf, const char *shown), void *ctx)
{
	char path[4400], line[4608], range[64], last[4096] = "";
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/maps", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {	/* "addr perms offset dev inode /path" */
		char *p = strchr(line, '/');

		if (!p || sscanf(line, "%63s", range) != 1)
			continue;
		p[strcspn(p, "\n")] = 0;
		if (!strcmp(p, last))
			continue;
		snprintf(last, sizeof(last), "%s", p);
		if (thread)	/* no map_files there: the file by its path in the process's root */
			snprintf(path, sizeof(path), "%s/root%s", dir, p);
		else
			snprintf(path, sizeof(path), "/proc/%d/map_files/%s", pid, range);
		n += fn(ctx, path, p);
	}
	fclose(f);
	return n;
}

/* attach_pid()'s library: attached when its name says a kind. */
struct pid_ctx {
	struct attach *a;
	pid_t pid;
};

static int pid_lib(void *ctx, const char *mf, const char *shown)
{
	struct pid_ctx *c = ctx;
	int k = attach_kind_by_name(shown);

	return k >= 0 && attach_file(c->a, k, mf, shown, c->pid) > 0;
}

/* 1 when every kind that probes executables has seen the file at path
 * already (one stat for them all), else 0. */
static int exe_known(const struct attach *a, const char *path)
{
	struct stat st;
	size_t k;

	if (stat(path, &st))
		return 0;
	for (k = 0; k < NKINDS; k++)
		if (kinds[k].exe && (a->ks[k].on || a->dry) &&
		    !htab_find(&a->targets, attach_target_k1(st.st_dev, k), st.st_ino))
			return 0;
	return 1;
}

/* attach_file() of the executable at path (shown as exe) for every kind
 * that probes executables. Returns the files attached; *known (when not
 * NULL) is set to exe_known() afterwards. */
static int exe_attach(struct attach *a, const char *path, const char *exe, pid_t pid, int *known)
{
	size_t k;
	int n = 0, dummy;

	known = known ? known : &dummy;
	*known = exe_known(a, path);
	if (*known)
		return 0;
	for (k = 0; k < NKINDS; k++)
		if (kinds[k].exe)
			n += attach_file(a, k, path, exe, pid) > 0;
	*known = exe_known(a, path);
	return n;
}

/* The executable of the process whose /proc directory is dir: the link
 * to open it by into path (it reaches the very file the process runs, in
 * its own mount namespace, even once deleted or replaced), where the link
 * points into exe ("" when gone). */
static void dir_exe(const char *dir, char *path, size_t psize, char *exe, size_t esize)
{
	ssize_t len;

	snprintf(path, psize, "%s/exe", dir);
	len = readlink(path, exe, esize - 1);
	exe[len > 0 ? len : 0] = 0;
}

/* attach_pid() of pid, whose /proc directory is dir (thread: another
 * thread's than the main one); *known as exe_attach() sets it (0 when the
 * executable could not be named). */
static int pid_attach(struct attach *a, pid_t pid, const char *dir, int thread, int *known)
{
	char path[96], exe[4096];
	int n = 0;

	dir_exe(dir, path, sizeof(path), exe, sizeof(exe));
	if (exe[0] == '/')
		n += exe_attach(a, path, exe, pid, known);
	/* The libraries it maps. */
	return n + attach_maps_each(pid, dir, thread, pid_lib, &(struct pid_ctx){ a, pid });
}

int attach_pid(struct attach *a, pid_t pid)
{
	char dir[64];
	int where = procfs_task_dir(pid, dir, sizeof(dir));

	return where < 0 ? 0 : pid_attach(a, pid, dir, where == 1, NULL);	/* gone: nothing */
}

int attach_host(struct attach *a)
{
	struct dirent *de;
	size_t k, i, j;
	glob_t g;
	DIR *d;

	/* At start-up every scan is done here: "ready" means attached. */
	a->scan_wait = 1;
	/* Libraries on the loader paths: processes that start later use them. */
	for (k = 0; k < NKINDS; k++) {
		for (i = 0; kinds[k].globs && kinds[k].globs[i]; i++) {
			if (glob(kinds[k].globs[i], 0, NULL, &g))
				continue;
			for (j = 0; j < g.gl_pathc; j++)
				file_attach(a, k, g.gl_pathv[j]);
			globfree(&g);
		}
	}
	/* And wherever the loader's cache says one lives. */
	ldconfig_scan(a);
	/* Runtimes that carry a TLS library in their executable. */
	path_scan(a);
	/* Files named in LLMTAP_TLS_FILES (colon-separated), whatever their
	 * names: `make bench` probes its private copy of libssl this way. */
	extra_scan(a);
	/* Whatever running processes execute or have mapped (with `-p`, the
	 * processes named: the others get no probe). */
	d = opendir("/proc");
	if (d) {
		while ((de = readdir(d))) {
			if (!isdigit((unsigned char)de->d_name[0]) || !attach_scoped(a, atoi(de->d_name)))
				continue;
			attach_pid(a, atoi(de->d_name));
		}
		closedir(d);
	}
	a->scan_wait = 0;
	for (k = 0; k < NKINDS; k++)
		if (a->ks[k].on)
			log_debug("%s: probes on %d file(s)", kinds[k].name, a->ks[k].files);
	return attach_tls_files(a);
}

/* ---- what was done, for doctor ------------------------------------------------ */

/* Hand target t to fn as a record. */
static void record_give(const struct target *t, attach_record_fn fn, void *ctx)
{
	struct attach_record r = {
		.path = t->path, .dev = t->dev, .ino = t->ino, .kind = kinds[t->kind].name,
		.method = kinds[t->kind].method, .version = t->version, .state = t->state,
		.reason = t->reason[0] ? t->reason : NULL, .probes = t->probes,
	};

	fn(ctx, &r);
}

void attach_records(const struct attach *a, attach_record_fn fn, void *ctx)
{
	size_t i;

	for (i = 0; i < a->nclaimed; i++)
		record_give(a->claimed[i], fn, ctx);
}

/* Hand fn the records of the file opened at path (a process's view of
 * it), each kind's. Returns how many. */
static int records_of(const struct attach *a, const char *path, attach_record_fn fn, void *ctx)
{
	struct htab_node *n;
	struct stat st;
	size_t k;
	int found;

	if (strstr(path, "/map_files/")) {
		privs_attach_begin();	/* /proc/PID/map_files wants CAP_SYS_ADMIN */
		found = stat(path, &st);
		privs_attach_end();
	} else {
		found = stat(path, &st);
	}
	if (found)
		return 0;
	for (k = 0; k < NKINDS; k++) {
		n = htab_find(&a->targets, attach_target_k1(st.st_dev, k), st.st_ino);
		if (n && htab_entry(n, struct target, node)->state) {
			record_give(htab_entry(n, struct target, node), fn, ctx);
			found++;
		}
	}
	return found;
}

/* attach_records_pid()'s library: its records, unless it is the executable. */
struct records_ctx {
	const struct attach *a;
	const char *exe;
	attach_record_fn fn;
	void *ctx;
};

static int records_lib(void *ctx, const char *mf, const char *shown)
{
	struct records_ctx *c = ctx;

	return strcmp(shown, c->exe) ? records_of(c->a, mf, c->fn, c->ctx) : 0;
}

int attach_records_pid(const struct attach *a, pid_t pid, attach_record_fn fn, void *ctx)
{
	char path[96], exe[4096], dir[64];
	int n, where = procfs_task_dir(pid, dir, sizeof(dir));

	if (where < 0)
		return 0;	/* gone */
	/* the files themselves, as attach_pid() reaches them */
	dir_exe(dir, path, sizeof(path), exe, sizeof(exe));
	n = records_of(a, path, fn, ctx);
	return n + attach_maps_each(pid, dir, where == 1, records_lib, &(struct records_ctx){ a, exe, fn, ctx });
}

/* ---- new processes ------------------------------------------------------------ */

#if defined(__x86_64__)
#define LIB_TRIPLET "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define LIB_TRIPLET "aarch64-linux-gnu"
#else
#define LIB_TRIPLET "unknown-linux-gnu"
#endif

/* Where loaders look for libraries (Debian-like and others, musl's too). */
static const char *const lib_dirs[] = {
	"/lib/" LIB_TRIPLET, "/usr/lib/" LIB_TRIPLET, "/lib64", "/usr/lib64", "/lib",
	"/usr/lib", "/usr/local/lib", NULL,
};

/* A process in a mount namespace other than ours (a container, `unshare
 * -m`) just exec'd: its libraries may be files the host has not got (an
 * image's, a bind mount). Attach to the usual names in the usual places
 * under its root before its loader maps them, so that even a process that
 * makes its call at once is covered. About 40 stat()s, and only for these
 * processes. Returns files newly attached. */
static int ns_scan(struct attach *a, pid_t pid)
{
	char path[512], root[64];
	size_t k, d, i;
	int n = 0;
	ino_t ns;

	snprintf(root, sizeof(root), "%d", pid);
	ns = procfs_mnt_ns(root);
	if (!a->mnt_ns || !ns || ns == a->mnt_ns)
		return 0;	/* ours, or gone already (a short-lived command) */
	for (k = 0; k < NKINDS; k++) {
		for (i = 0; kinds[k].sonames && kinds[k].sonames[i]; i++) {
			for (d = 0; lib_dirs[d]; d++) {
				snprintf(path, sizeof(path), "/proc/%d/root%s/%s", pid, lib_dirs[d],
					 kinds[k].sonames[i]);
				n += file_attach(a, k, path) > 0;
			}
		}
	}
	return n;
}

int attach_exec(struct attach *a, pid_t pid, const char *comm, const char *file, uint32_t kdev,
		uint64_t ino, int seen)
{
	static const uint64_t again_ns[] = { 20000000ull, 200000000ull, 2000000000ull };
	uint64_t now = mono_ns();
	int n, where, gone, known = 0;
	char dir[64];
	size_t i;

	if (!attach_scoped(a, pid))
		return 0;	/* `-p`: another process, which gets no probe */
	/* Most commands a host runs are gone before their exec is read: no
	 * memory to look at, now or later (no second look queued). */
	where = procfs_task_dir(pid, dir, sizeof(dir));
	gone = where < 0;
	if (gone && seen)
		return 1;	/* a program looked at, run and gone: nothing left to do */
	n = gone ? 0 : ns_scan(a, pid) + pid_attach(a, pid, dir, where == 1, &known);

	/* Gone already (a short-lived command): its executable is still worth
	 * a look, for its next runs, when the exec named it by a full path. */
	if (!n && file[0] == '/' && (gone || !procfs_alive(pid))) {
		n += exe_attach(a, file, file, pid, &known);
		known = known && file_is(file, kdev, ino);
	}
	if (n > 0)
		log_warn("attached to %d new file(s) for pid %d (%s, %s)", n, pid, comm, file);
	for (i = 0; !gone && i < ARRAY_SIZE(again_ns) && a->nrescans < ATTACH_RESCANS_MAX; i++) {
		a->rescans[a->nrescans].pid = pid;
		a->rescans[a->nrescans].due_ns = now + again_ns[i];
		a->nrescans++;
	}
	return known;
}

/* A queued scan finished: attach what it found, for every scanned kind. */
static void scan_finished(void *ctx, const char *io, const char *path, pid_t pid)
{
	struct attach *a = ctx;
	size_t k;
	int n = 0;

	for (k = 0; k < NKINDS; k++)
		if (kinds[k].scan && kinds[k].exe)
			n += attach_file(a, k, io, path, pid) > 0;
	if (n > 0)
		log_warn("attached to %d new file(s) for pid %d (%s)", n, pid, path);
}

int attach_rescan_wait_ms(const struct attach *a, int max_ms)
{
	uint64_t now = mono_ns(), ms;
	int i;

	for (i = 0; i < a->nrescans; i++) {
		if (a->rescans[i].due_ns <= now)
			return 0;
		ms = (a->rescans[i].due_ns - now + 999999) / 1000000;
		if (max_ms < 0 || ms < (uint64_t)max_ms)
			max_ms = (int)ms;
	}
	return max_ms;
}

void attach_rescans_run(struct attach *a)
{
	uint64_t now = mono_ns();
	int i, j;

	scan_queue_done(a->scans, scan_finished, a);

	for (i = 0, j = 0; i < a->nrescans; i++) {
		if (a->rescans[i].due_ns > now) {
			a->rescans[j++] = a->rescans[i];
			continue;
		}
		if (attach_pid(a, a->rescans[i].pid) > 0)
			log_warn("attached to new file(s) mapped by pid %d", a->rescans[i].pid);
	}
	a->nrescans = j;
}
