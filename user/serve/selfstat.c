/* selfstat.c -- llmtap's own health: its memory, CPU, files and queues, read for /health and /metrics.
 *
 * The capture loop reads /proc/self with each refresh of the listener's
 * snapshot (every 0.25 s); the HTTP thread only formats the copy. */
#include "serve/selfstat.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "track/procres.h"

void selfstat_read(struct listen_self *s)
{
	struct proc_res r;
	unsigned long ut = 0, st = 0;
	char buf[1024], *p;
	FILE *f;

	if (!procres_read(getpid(), &r)) {
		s->rss_bytes = r.rss_bytes > 0 ? (uint64_t)r.rss_bytes : 0;
		s->fds = r.fds;
		s->threads = r.num_threads;
	}
	f = fopen("/proc/self/stat", "re");
	if (!f)
		return;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (p && (p = strrchr(buf, ')')) &&
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
		s->cpu_s = (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* Append printf-style text (one short line). */
static void bpf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bpf(struct buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int selfstat_reasons(const struct listen_self *s, struct buf *b, int n)
{
	int k = 0;

	if (s->max_disk_pct > 0 && s->db_fs_used_pct >= s->max_disk_pct) {
		if (b)
			bpf(b, "%s\"database volume %.1f%% full, over --max-disk-pct %g\"", n + k ? "," : "",
			    s->db_fs_used_pct, s->max_disk_pct);
		k++;
	}
	if (s->inbox_dropped) {
		if (b)
			bpf(b, "%s\"%llu event or span row(s) dropped: write queue full\"", n + k ? "," : "",
			    (unsigned long long)s->inbox_dropped);
		k++;
	}
	return k;
}

void selfstat_health(struct buf *b, const struct listen_self *s)
{
	bpf(b, "{\"rss_bytes\":%llu,\"cpu_seconds\":%.2f,\"open_fds\":%lld,\"threads\":%lld,"
	    "\"rows_pending\":%llu,\"inbox_queued\":%llu,\"inbox_dropped\":%llu,\"spans_waiting\":%llu,"
	    "\"processes_tracked\":%llu,\"open_connections\":%llu,\"db_volume_used_pct\":",
	    (unsigned long long)s->rss_bytes, s->cpu_s, (long long)s->fds, (long long)s->threads,
	    (unsigned long long)s->rows_pending, (unsigned long long)s->inbox_queued,
	    (unsigned long long)s->inbox_dropped, (unsigned long long)s->spans_waiting,
	    (unsigned long long)s->procs_tracked, (unsigned long long)s->open_conns);
	if (s->db_fs_used_pct >= 0)
		bpf(b, "%.2f}", s->db_fs_used_pct);
	else
		buf_puts(b, "null}");
}

/* One metric: HELP, TYPE and an unlabelled value. */
static void metric(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	bpf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.10g\n", name, help, name, type, name, v);
}

void selfstat_metrics(struct buf *b, const struct listen_self *s, const struct ingest_stats *in)
{
	metric(b, "llmtap_process_resident_memory_bytes", "gauge", "llmtap's own resident memory.",
	       (double)s->rss_bytes);
	metric(b, "llmtap_process_cpu_seconds_total", "counter",
	       "CPU time llmtap used (user + system), in seconds.", s->cpu_s);
	metric(b, "llmtap_process_open_fds", "gauge", "File descriptors llmtap holds open.",
	       (double)s->fds);
	metric(b, "llmtap_rows_pending", "gauge", "Rows waiting for the next database write.",
	       (double)s->rows_pending);
	metric(b, "llmtap_inbox_queued", "gauge",
	       "Events and agent spans queued for the capture loop to write.", (double)s->inbox_queued);
	metric(b, "llmtap_inbox_dropped_total", "counter",
	       "Events and agent spans dropped because that queue was full.", (double)s->inbox_dropped);
	metric(b, "llmtap_agent_spans_waiting", "gauge",
	       "Agent spans held until the calls they describe can be joined.",
	       (double)s->spans_waiting);
	metric(b, "llmtap_processes_tracked", "gauge", "Processes in llmtap's process table.",
	       (double)s->procs_tracked);
	if (s->db_fs_used_pct >= 0)
		metric(b, "llmtap_db_volume_used_ratio", "gauge",
		       "How full the database's filesystem is (used / (used + available)).",
		       s->db_fs_used_pct / 100.0);
	if (!in)
		return;
	metric(b, "llmtap_ingest_requests_total", "counter", "POSTs to /v1/events, /v1/traces, /v1/logs answered.",
	       (double)in->requests);
	metric(b, "llmtap_ingest_rows_total", "counter",
	       "Events, spans and log records accepted from agents.", (double)in->rows);
	bpf(b, "# HELP llmtap_ingest_rejected_total POSTs refused, by reason.\n"
	    "# TYPE llmtap_ingest_rejected_total counter\n"
	    "llmtap_ingest_rejected_total{reason=\"bad_request\"} %llu\n"
	    "llmtap_ingest_rejected_total{reason=\"too_large\"} %llu\n"
	    "llmtap_ingest_rejected_total{reason=\"rate_limited\"} %llu\n"
	    "llmtap_ingest_rejected_total{reason=\"unauthorized\"} %llu\n",
	    (unsigned long long)in->bad, (unsigned long long)in->too_large,
	    (unsigned long long)in->limited, (unsigned long long)in->unauthorized);
}
