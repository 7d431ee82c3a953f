/* run.c -- `llmtap run`: wires capture, trackers, store, push and listener together and runs the poll loop. */
#include "run.h"

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "capture/event.h"
#include "capture/loader.h"
#include "config.h"
#include "db/query.h"
#include "db/share.h"
#include "db/store.h"
#include "llm/runs.h"
#include "prices.h"
#include "privs.h"
#include "push/push.h"
#include "run_cover.h"
#include "run_int.h"
#include "run_opts.h"
#include "serve/ingest.h"
#include "serve/listen.h"
#include "serve/selfstat.h"
#include "track/dns.h"
#include "track/events.h"
#include "track/host.h"
#include "track/net.h"
#include "track/proc.h"
#include "track/procwatch.h"
#include "track/spans.h"
#include "track/stream.h"

#define FLUSH_EVERY_NS 200000000ull	/* rows reach the database within 0.2 s */
#define FLUSH_ROWS 256			/* or sooner when this many wait */
#define BACKLOG_SOFT_BYTES (2u << 20)	/* past this, rows are written before the rings are read */
#define BACKLOG_SOFT_ROUNDS 16		/* writes in a row at most, then the rings again */
#define REAP_EVERY_NS 5000000000ull
#define CPU_GC_EVERY_NS 30000000000ull	/* CPU map entries of vanished tasks */
#define LISTEN_EVERY_NS 250000000ull	/* /health and /metrics lag at most this */
#define PUSH_EXIT_BUDGET_NS 3500000000ull	/* of the 5 s exit budget, for the last push */
#define INFLIGHT_EVERY_NS 1000000000ull	/* calls_in_flight (`top`) is this fresh */
#define DB_CHECK_EVERY_NS 1000000000ull	/* a deleted database is noticed within this */
#define PUSH_RESTART_BUDGET_NS 1000000000ull	/* last push from a deleted database */
#define MMAP_THRESHOLD (256u << 10)	/* larger buffers are mmap'd: freed, they leave RSS */
#define RUNS_EVERY_NS 1000000000ull	/* agent runs: idle, forgotten, late rows */
/* The rings are drained at least this often (events wake the reader only
 * when a ring is a quarter full): the latency of a row, and the idle cost. */
#define DRAIN_EVERY_MS 25
/* After a second without a record, every 100 ms: an idle host costs a
 * quarter of the wakeups. An exec still wakes the reader at once. */
#define DRAIN_IDLE_MS 100
#define IDLE_AFTER_NS 1000000000ull
#define DRAIN_NS 1000000000ull			/* and for reading what the rings still hold */

static volatile sig_atomic_t exiting, cover_asked;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

/* SIGUSR1: `llmtap doctor` asks for a fresh coverage report. */
static void on_usr1(int sig)
{
	(void)sig;
	cover_asked = 1;
}

/* A fatal SIGBUS: a memory-mapped file shrank or became unwritable under us
 * (the guard of db/vfs_guard.c checks the -shm before every transaction).
 * Say which file it was (only async-signal-safe calls), then exit 1. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	static const char head[] = "llmtap: fatal: SIGBUS in a memory-mapped file: ";
	static char maps[65536];
	unsigned long addr = (unsigned long)si->si_addr, lo, hi;
	const char *file = "(unknown)";
	char *line, *end;
	ssize_t n = 0, r;
	int fd;

	(void)sig;
	(void)uc;
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && n < (ssize_t)sizeof(maps) - 1 && (r = read(fd, maps + n, sizeof(maps) - 1 - n)) > 0)
		n += r;
	maps[n > 0 ? n : 0] = 0;
	for (line = maps; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			break;
		*end = 0;
		lo = strtoul(line, &line, 16);
		hi = strtoul(line + 1, NULL, 16);
		if (addr >= lo && addr < hi && strchr(line, '/')) {
			file = strchr(line, '/');
			break;
		}
	}
	if (write(2, head, sizeof(head) - 1) < 0 || write(2, file, strlen(file)) < 0 || write(2, "\n", 1) < 0)
		_exit(1);
	_exit(1);
}

/* The reader must keep up with a busy host, or the rings fill and calls
 * lose bytes: started at the default priority, run takes nice -20 (it
 * sleeps until there is work, so it takes CPU only in proportion to what
 * it captures). At nice -10 it got a fifth of a CPU beside 64 busy client
 * threads, and 85 % of their calls lost bytes; at -20 most are whole.
 * Started with another priority (nice, systemd's Nice=), it keeps that one. */
#define RUN_NICE (-20)

/* With autogroups (sched_autogroup_enabled), the CPU is shared first
 * between sessions, and a thread's nice counts only inside its session's
 * group: a tracer in a session of its own (setsid, a service outside a CPU
 * cgroup) competed as one nice-0 group, and beside 64 busy client threads
 * recorded 8 % of their calls whole. When the session is the tracer's own,
 * so is the group, and it takes RUN_NICE too; a session shared with a
 * shell and what it runs is left alone. */
static void autogroup_raise(void)
{
	FILE *f;
	int bad;

	if (getsid(0) != getpid())
		return;
	f = fopen("/proc/self/autogroup", "w");
	if (!f)
		return;		/* no autogroups in this kernel */
	bad = fprintf(f, "%d", RUN_NICE) < 0;
	bad |= fclose(f) != 0;
	if (bad)
		log_debug("cannot raise the session's CPU share to nice %d: %s", RUN_NICE, strerror(errno));
}

/* The spool thread must win a CPU from the reader when both want it: a
 * ring fills within milliseconds at 16 KB per call, while the reader's
 * rows can wait in the spool. Both at nice -20, they shared a CPU evenly,
 * and 16 KB calls at full speed lost events in 4 runs of 5 here; with the
 * reader 5 levels below (the spool thread keeps -20) in none of 5, and 64
 * busy clients kept every row and their rate. Raising one's nice value
 * needs no privilege; threads started after inherit it. */
#define RUN_READER_NICE (RUN_NICE + 5)

static void priority_raise(void)
{
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) != 0 || errno)
		return;
	if (setpriority(PRIO_PROCESS, 0, RUN_NICE))
		log_debug("cannot raise the priority to nice %d: %s", RUN_NICE, strerror(errno));
	autogroup_raise();
}

/* The calling thread (the reader; Linux's nice is per thread) to
 * RUN_READER_NICE, when it runs at the RUN_NICE priority_raise() gave. */
static void reader_step_back(void)
{
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) != RUN_NICE || errno)
		return;
	if (setpriority(PRIO_PROCESS, 0, RUN_READER_NICE))
		log_debug("cannot step the reader back to nice %d: %s", RUN_READER_NICE, strerror(errno));
}

/* Load the BPF programs and attach them everywhere. Returns 0, or -1. */
static int capture_start(struct run_state *st)
{
	struct loader_opts lo = { 0 };
	int files;

	lo.self = getpid();
	lo.pids = st->o->pids;
	lo.npids = st->o->npids;
	lo.ring_bytes = st->o->ring_bytes;
	lo.dns_all = st->o->dns_all;
	lo.chunks_max = (st->o->max_body + LT_CHUNK_MAX - 1) / LT_CHUNK_MAX + 1;
	if (loader_open(&st->loader, &lo, event_handle, &st->ev))
		return -1;
	st->ev.loader = st->loader;
	files = loader_attach_host(st->loader);
	if (files == 0)
		log_warn("no OpenSSL found yet (libssl or node); processes started later are still watched");
	return files;
}

/* The store's WAL has grown: the retention thread checkpoints it. */
static void run_wal_kick(void *ud)
{
	push_checkpoint(ud);
}

/* Write what waits. When the database had to be created again (it was
 * deleted), the push targets start over on the new file: what they had not
 * sent of the old one gets one last attempt. */
static void run_flush(struct run_state *st)
{
	size_t queued;
	int gen = store_generation(st->store);

	runs_flush(st->runs);	/* a run's row once per write, not once per call */
	queued = store_pending(st->store);
	if (store_flush(st->store) > 0)
		push_notify(st->push, (unsigned)queued);
	if (store_generation(st->store) == gen || !st->push)
		return;
	store_on_wal(st->store, NULL, NULL);
	push_stop(st->push, mono_ns() + PUSH_RESTART_BUDGET_NS);
	st->push = NULL;
	if (push_start(&st->push, &st->o->push))
		log_warn("push: cannot start again on the new database; rows are kept for the next run");
	else
		store_on_wal(st->store, run_wal_kick, st->push);
}

/* Rows wait in memory for long only while the database refuses them. While
 * it writes, the reader makes no more rows than it can take: past
 * BACKLOG_SOFT_BYTES it writes before it reads the rings again, so a client
 * faster than the database fills the ring (drops counted, rows marked
 * `capture gap`) rather than the tracer's memory. */
static void run_backpressure(struct run_state *st)
{
	size_t before;
	int k;

	for (k = 0; k < BACKLOG_SOFT_ROUNDS && store_pending_bytes(st->store) > BACKLOG_SOFT_BYTES; k++) {
		before = store_pending(st->store);
		run_flush(st);
		if (store_pending(st->store) >= before)
			break;	/* refused (it retries on its own clock), or nothing taken */
	}
}

/* Finish the streams of the processes that exited during the last poll,
 * after one more pass over every ring: a process's last data was submitted
 * before its exit event, but may sit in a ring drained before the exit's
 * ring was (events no longer wake the reader one by one). The pass goes in
 * pieces, with the rows written between them as after a poll: an exit
 * behind a full ring would otherwise turn all of it into rows at once. */
static void exits_finish(struct run_state *st)
{
	int n = st->ev.nexits;

	if (!n)
		return;
	loader_drain_mark(st->loader);
	while (loader_drain(st->loader) > 0)
		run_backpressure(st);
	/* exits the drain itself read wait for the next pass */
	event_finish_first_exits(&st->ev, n);
}

/* The poll loop, until a signal or the --duration deadline. */
static void run_loop(struct run_state *st)
{
	uint64_t now, deadline = 0, last_flush = 0, last_reap = 0, last_sample = mono_ns(), last_gc = 0;
	uint64_t last_listen = 0, last_inflight = 0, last_runs = 0;
	uint64_t last_record = mono_ns();
	int err;

	if (st->o->duration_s > 0)
		deadline = mono_ns() + (uint64_t)(st->o->duration_s * 1e9);
	while (!exiting) {
		err = loader_poll(st->loader, mono_ns() - last_record >= IDLE_AFTER_NS ? DRAIN_IDLE_MS : DRAIN_EVERY_MS);
		if (err < 0 && err != -EINTR) {
			log_warn("ring buffer poll failed: %s", strerror(-err));
			break;
		}
		if (err > 0)
			last_record = mono_ns();
		exits_finish(st);
		events_drain(run_inbox, st);
		run_peer_waits_run(st, 0);
		spans_tick(st->spans, (int64_t)real_ns(), 0);
		now = mono_ns();
		if (now - last_sample >= (uint64_t)(st->o->sample_s * 1e9)) {
			run_cpu_sample(st, now - last_gc >= CPU_GC_EVERY_NS);
			if (now - last_gc >= CPU_GC_EVERY_NS)
				last_gc = now;
			last_sample = now;
		}
		if (now - last_runs >= RUNS_EVERY_NS) {
			runs_tick(st->runs, (int64_t)real_ns());
			last_runs = now;
		}
		if ((store_pending(st->store) &&
		     (store_pending(st->store) >= FLUSH_ROWS || now - last_flush >= FLUSH_EVERY_NS)) ||
		    now - last_flush >= DB_CHECK_EVERY_NS) {
			run_flush(st);
			last_flush = now;
		}
		run_backpressure(st);
		net_emit_closed(st->net, 0);
		if (now - last_reap >= REAP_EVERY_NS) {
			/* a burst's memory goes back once its rows are written */
			malloc_trim(0);
			stream_reap(st->streams);
			net_reap(st->net);
			dns_reap(st->dns, now);
			run_drops_check(st);
			run_push_watch(st);
			last_reap = now;
		}
		if (now - last_inflight >= INFLIGHT_EVERY_NS) {
			run_inflight_refresh(st);
			last_inflight = now;
		}
		if (st->cover) {
			int asked = cover_asked;

			cover_asked = 0;
			/* a new report: /metrics says so at once */
			if (run_cover_tick(st->cover, loader_attach(st->loader), st->net, asked,
					   &st->cover_sum))
				last_listen = 0;
		}
		if (st->lis && now - last_listen >= LISTEN_EVERY_NS) {
			run_listen_refresh(st);
			last_listen = now;
		}
		if (deadline && now >= deadline)
			break;
	}
}

/* The exit line: calls really in the database, and those that are not. */
static void run_stopped(struct run_state *st, uint64_t drops)
{
	unsigned long long lost = store_unstored(st->store);
	struct spool_stats sp = { 0 };
	char why[256];

	if (st->loader)
		loader_spool_stats(st->loader, &sp);
	fprintf(stderr, "llmtap: stopped: %llu call(s) recorded, %llu event(s) dropped",
		store_written(st->store), (unsigned long long)drops);
	if (sp.records)
		fprintf(stderr, ", %llu event(s) spooled to disk while behind (%.1f MB at most)",
			(unsigned long long)sp.records, sp.peak / 1048576.0);
	/* the exit's drain is bounded: what it left in a spool is lost */
	if (sp.unread || sp.lost)
		fprintf(stderr, ", %.1f MB of spooled events not read", (sp.unread + sp.lost) / 1048576.0);
	if (lost)
		fprintf(stderr, ", %llu call(s) not stored (%s)", lost,
			store_problem(st->store, why, sizeof(why)) ? why : "database error");
	fputc('\n', stderr);
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct run_state *st = NULL;
	struct sigaction sa = { 0 };
	uint64_t c[LT_CNT_MAX] = { 0 }, stop_ns = 0;
	int rc, files;

	/* Large blocks (the kernel's BTF, parsed once per BPF object, bodies of
	 * several MB) from mmap, always: with glibc's sliding threshold they
	 * would land in the heap and stay resident after being freed. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	rc = run_opts_parse(argc, argv, &o);
	if (rc != RUN_GO)
		goto out_opts;
	if (prices_setup(o.prices)) {	/* says which file and line */
		rc = 2;
		goto out_opts;
	}
	rc = 1;
	if (geteuid() != 0) {
		fprintf(stderr, "llmtap: run needs root (CAP_BPF and CAP_PERFMON); try sudo\n");
		goto out_opts;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		goto out_opts;
	st->o = &o;
	{
		char *dup = strdup(o.db);

		snprintf(st->db_dir, sizeof(st->db_dir), "%s", dup ? dirname(dup) : ".");
		free(dup);
	}
	umask(077);
	/* a fixed threshold: large bodies are mmap'd and given back when freed
	 * (glibc's moving threshold would keep them on the heap for good) */
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	/* Bound before anything slow: a port in use fails at once. */
	if (o.listen && listen_open(&st->lis, o.listen, o.db))
		goto out_free;
	if (o.listen && !(st->genai = genai_new()))
		goto out_free;
	if (store_open(&st->store, o.db, 0))
		goto out_free;
	if (o.db_group && share_apply(st->store, o.db, o.db_group))
		goto out_trackers;
	st->cover = run_cover_new(o.db);
	if (run_trackers_new(st))
		goto out_trackers;
	stream_set_body_budget(st->streams, o.body_memory);
	files = capture_start(st);
	if (files < 0)
		goto out_trackers;
	/* nice -10 needs CAP_SYS_NICE, which the drop takes: raise it first,
	 * and before any thread, which inherits it */
	priority_raise();
	/* attached: from here on only what running needs (before any thread) */
	if (privs_drop())
		goto out_trackers;
	/* a ring the reader is behind on spills beside the database: the
	 * disk the operator gave llmtap */
	if (loader_spool_start(st->loader, st->db_dir, o.spool_bytes))
		reader_step_back();
	o.push.db_path = o.db;
	o.push.token = config_push_token();
	o.push.notice = run_notice;
	/* the first samples before retention starts: a volume already past
	 * --max-disk-pct gets its disk.high row before rows are deleted */
	run_cpu_sample(st, 0);
	if (push_start(&st->push, &o.push))
		goto out_trackers;
	store_on_wal(st->store, run_wal_kick, st->push);
	if (st->lis) {
		st->ingest = ingest_new(&o.ingest);
		if (!st->ingest)
			goto out_trackers;
		listen_set_ingest(st->lis, st->ingest);
		if (!o.ingest.token && !listen_is_loopback(st->lis))
			log_warn("--listen: POST /v1/events, /v1/traces and /v1/logs take rows from anyone who "
				 "can reach it; set an ingest token (LLMTAP_INGEST_TOKEN)");
		run_listen_refresh(st);
		if (listen_start(st->lis))
			goto out_trackers;
	}
	/* Loading parsed the kernel's BTF and every probed file's symbols: give
	 * that memory back before settling in (it is most of the heap). */
	malloc_trim(0);
	fprintf(stderr, "ready: tracing TLS in %d file(s), writing %s\n", files, o.db);
	fflush(stderr);

	run_loop(st);
	stop_ns = mono_ns();
	listen_close(st->lis);
	st->lis = NULL;
	/* Drain what the kernel already queued, then finish open calls. A
	 * host busy enough to refill the rings as fast as we read them must
	 * not keep us past the exit budget: at most DRAIN_NS of it. */
	while (mono_ns() - stop_ns < DRAIN_NS && loader_poll(st->loader, 0) > 0)
		;
	event_finish_exits(&st->ev);
	run_cpu_sample(st, 0);	/* CPU up to the stop */
	if (st->inflight)
		inflight_write(st->store, NULL, 0, (int64_t)real_ns());	/* nothing is in flight any more */
	run_drops_check(st);
	loader_counters(st->loader, c);
	rc = 0;
out_trackers:
	run_trackers_free(st);
	/* the last writes checkpoint on this thread: the retention thread stops */
	store_on_wal(st->store, NULL, NULL);
	/* every row written that can be, before the last push attempt */
	if (st->store)
		store_drain(st->store);
	if (st->push)
		push_stop(st->push, (stop_ns ? stop_ns : mono_ns()) + PUSH_EXIT_BUDGET_NS);
	if (!rc)
		run_stopped(st, c[LT_CNT_DROPS]);
	store_close(st->store);
	run_cover_free(st->cover);
	/* Last, with the rows safe: detaching is slow, a child pays for it. */
	loader_detach_later(st->loader);
	loader_close(st->loader);
out_free:
	listen_close(st->lis);
	genai_free(st->genai);
	ingest_free(st->ingest);
	free(st);
out_opts:
	run_opts_free(&o);
	return rc;
}
