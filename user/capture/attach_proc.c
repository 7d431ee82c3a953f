/* attach_proc.c -- attaching for processes as they exec (and looking at them again a little later, or when a queued scan ends), and the records of what was attached where, for doctor. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/procfs.h"
#include "base/util.h"
#include "capture/attach_int.h"
#include "capture/scan.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- what was done, for doctor ------------------------------------------------ */

/* Hand target t to fn as a record. */
static void record_give(const struct target *t, attach_record_fn fn, void *ctx)
{
	struct attach_record r = {
		.path = t->path, .dev = t->dev, .ino = t->ino, .kind = attach_kind_name(t->kind),
		.method = attach_kind_method(t->kind), .version = t->version, .state = t->state,
		.reason = t->reason, .probes = t->probes,
	};

	fn(ctx, &r);
}

void attach_records(const struct attach *a, attach_record_fn fn, void *ctx)
{
	size_t i;

	for (i = 0; i < a->ntargets; i++)
		if (a->targets[i].state)
			record_give(&a->targets[i], fn, ctx);
}

/* Hand fn the records of the file at path (a process's view of it). */
static int records_of(const struct attach *a, const char *path, attach_record_fn fn, void *ctx)
{
	struct stat st;
	size_t i;
	int n = 0;

	if (stat(path, &st))
		return 0;
	for (i = 0; i < a->ntargets; i++) {
		const struct target *t = &a->targets[i];

		if (t->state && t->dev == st.st_dev && t->ino == st.st_ino) {
			record_give(t, fn, ctx);
			n++;
		}
	}
	return n;
}

int attach_records_pid(const struct attach *a, pid_t pid, attach_record_fn fn, void *ctx)
{
	char path[4400], exe[4096], line[4608], last[4096] = "";
	FILE *f;
	int n = 0;

	procfs_exe(pid, exe, sizeof(exe));
	if (exe[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, exe);
		n += records_of(a, path, fn, ctx);
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		/* the segments of one file follow each other */
		if (!strcmp(p, last) || !strcmp(p, exe) || strstr(p, " (deleted)"))
			continue;
		snprintf(last, sizeof(last), "%s", p);
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, p);
		n += records_of(a, path, fn, ctx);
	}
	fclose(f);
	return n;
}

/* ---- new processes ------------------------------------------------------------ */

void attach_exec(struct attach *a, pid_t pid, const char *comm, const char *file)
{
	static const uint64_t again_ns[] = { 20000000ull, 200000000ull, 2000000000ull };
	uint64_t now = mono_ns();
	int n = attach_pid(a, pid);
	size_t i, k;

	/* Gone already (a short-lived command): its executable is still worth
	 * a look, for its next runs, when the exec named it by a full path. */
	if (!n && file[0] == '/' && !procfs_alive(pid))
		for (k = 0; k < ATTACH_KINDS; k++)
			if (attach_kind_exe(k))
				n += attach_file(a, k, file, file, pid) > 0;
	if (n > 0)
		log_warn("attached to %d new file(s) for pid %d (%s, %s)", n, pid, comm, file);
	for (i = 0; i < ARRAY_SIZE(again_ns) && a->nrescans < ATTACH_RESCANS_MAX; i++) {
		a->rescans[a->nrescans].pid = pid;
		a->rescans[a->nrescans].due_ns = now + again_ns[i];
		a->nrescans++;
	}
}

/* A queued scan finished: attach what it found, for every scanned kind. */
static void scan_finished(void *ctx, const char *io, const char *path, pid_t pid)
{
	struct attach *a = ctx;
	size_t k;
	int n = 0;

	for (k = 0; k < ATTACH_KINDS; k++)
		if (attach_kind_scanned(k))
			n += attach_file(a, k, io, path, pid) > 0;
	if (n > 0)
		log_warn("attached to %d new file(s) for pid %d (%s)", n, pid, path);
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
