/* run_cover.c -- `run`'s coverage report: refreshed every 30 s and when `doctor` asks (SIGUSR1), kept in a state file next to the database, logged when it changes. */
#include "run_cover.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/procfs.h"
#include "base/util.h"

#define LOG_NEW_MAX 10		/* newly uncovered processes named per scan */

struct seen_proc {
	int pid;
	unsigned long long start;
};

struct run_cover {
	char path[4200];
	char db[4096];
	uint64_t last_ns;
	int scans;
	struct seen_proc *told;		/* uncovered processes already logged */
	size_t ntold;
};

void run_cover_path(const char *db, char *out, size_t n)
{
	snprintf(out, n, "%s-doctor.json", db);
}

struct run_cover *run_cover_new(const char *db)
{
	struct run_cover *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	if (!realpath(db, rc->db))
		snprintf(rc->db, sizeof(rc->db), "%s", db);
	run_cover_path(db, rc->path, sizeof(rc->path));
	return rc;
}

/* 1 when (pid, start) was logged as uncovered already. */
static int told_before(const struct run_cover *rc, int pid, unsigned long long start)
{
	size_t i;

	for (i = 0; i < rc->ntold; i++)
		if (rc->told[i].pid == pid && rc->told[i].start == start)
			return 1;
	return 0;
}

/* Log the processes of report that are not (fully) seen and were not
 * logged yet; the list of logged ones becomes the current ones. */
static void log_changes(struct run_cover *rc, json_t *report, const struct cover_summary *sum)
{
	json_t *procs = json_object_get(report, "processes"), *p;
	struct seen_proc *now = calloc(json_array_size(procs) + 1, sizeof(*now));
	size_t i, n = 0;
	int logged = 0;

	if (!rc->scans)
		log_warn("coverage: %d process(es) with TLS connections to other hosts: %d covered, "
			 "%d not seen, %d partly seen (llmtap doctor names them)", sum->processes,
			 sum->covered, sum->uncovered, sum->partial);
	json_array_foreach(procs, i, p) {
		const char *status = json_string_value(json_object_get(p, "status"));
		int pid = (int)json_integer_value(json_object_get(p, "pid"));
		unsigned long long start = procfs_start_ticks(pid);

		if (strcmp(status, "uncovered") && strcmp(status, "partial"))
			continue;
		if (now) {
			now[n].pid = pid;
			now[n++].start = start;
		}
		if (told_before(rc, pid, start))
			continue;
		if (logged++ < LOG_NEW_MAX)
			log_warn("coverage: pid %d (%s) is %s: %s", pid,
				 json_string_value(json_object_get(p, "comm")),
				 strcmp(status, "partial") ? "not seen" : "partly seen",
				 json_string_value(json_object_get(p, "reason")));
	}
	if (logged > LOG_NEW_MAX)
		log_warn("coverage: and %d more process(es) not seen (llmtap doctor)",
			 logged - LOG_NEW_MAX);
	if (!now)
		return;
	free(rc->told);
	rc->told = now;
	rc->ntold = n;
}

/* Write report to the state file: a temporary file (0600), then renamed
 * over the old one so a reader never sees half a report. */
static void state_write(const struct run_cover *rc, json_t *report)
{
	char tmp[4300];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", rc->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("coverage: cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	if (json_dumpfd(report, fd, JSON_COMPACT) || write(fd, "\n", 1) != 1) {
		log_warn("coverage: cannot write %s", tmp);
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	if (rename(tmp, rc->path)) {
		log_warn("coverage: cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
	}
}

int run_cover_tick(struct run_cover *rc, const struct attach *a, const struct net_table *net,
		   int asked, struct cover_summary *sum)
{
	struct cover_opts o = { .self = getpid() };
	uint64_t now = mono_ns(), t0;
	json_t *report;

	if (!asked && rc->scans && now - rc->last_ns < RUN_COVER_EVERY_NS)
		return 0;
	t0 = now;
	report = cover_scan(a, net, &o, sum);
	rc->last_ns = mono_ns();
	if (!report)
		return 0;
	json_object_set_new(report, "source", json_string("tracer"));
	json_object_set_new(report, "tracer",
			    json_pack("{s:i, s:I, s:s, s:I, s:f}", "pid", (int)getpid(),
				      "start_ticks", (json_int_t)procfs_start_ticks(getpid()),
				      "db", rc->db, "updated_ns", (json_int_t)real_ns(),
				      "scan_ms", (rc->last_ns - t0) / 1e6));
	state_write(rc, report);
	log_changes(rc, report, sum);
	log_debug("coverage: scanned in %.1f ms: %d process(es), %d not seen",
		  (rc->last_ns - t0) / 1e6, sum->processes, sum->uncovered);
	rc->scans++;
	json_decref(report);
	return 1;
}

void run_cover_free(struct run_cover *rc)
{
	if (!rc)
		return;
	unlink(rc->path);
	free(rc->told);
	free(rc);
}
