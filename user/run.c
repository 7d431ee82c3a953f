/* run.c -- `llmtap run`: wires capture, trackers, store, push and listener together and runs the poll loop. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "capture/event.h"
#include "capture/loader.h"
#include "config.h"
#include "db/store.h"
#include "privs.h"
#include "push/push.h"
#include "run_opts.h"
#include "serve/listen.h"
#include "track/dns.h"
#include "track/net.h"
#include "track/proc.h"
#include "track/stream.h"

#define FLUSH_EVERY_NS 200000000ull	/* rows reach the database within 0.2 s */
#define FLUSH_ROWS 256			/* or sooner when this many wait */
#define REAP_EVERY_NS 5000000000ull
#define CPU_GC_EVERY_NS 30000000000ull	/* CPU map entries of vanished tasks */
#define LISTEN_EVERY_NS 250000000ull	/* /health and /metrics lag at most this */
#define PUSH_EXIT_BUDGET_NS 3500000000ull	/* of the 5 s exit budget, for the last push */
#define DB_CHECK_EVERY_NS 1000000000ull	/* a deleted database is noticed within this */
#define PUSH_RESTART_BUDGET_NS 1000000000ull	/* last push from a deleted database */
#define MMAP_THRESHOLD (256u << 10)	/* larger buffers are mmap'd: freed, they leave RSS */

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
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

struct run_state {
	const struct run_opts *o;
	struct store *store;
	struct stream_table *streams;
	struct net_table *net;
	struct dns_table *dns;
	struct proc_table *procs;
	struct loader *loader;
	struct pusher *push;
	struct listener *lis;
	struct event_ctx ev;
	unsigned long long calls;
	uint64_t last_drops, last_map_full, last_read_err;	/* counters already reported */
};

/* 1 when the -p/-c filters let rows of this process through. */
static int run_wants(const struct run_opts *o, int64_t pid, const char *comm)
{
	int i, ok;

	for (i = 0, ok = !o->npids; i < o->npids && !ok; i++)
		ok = o->pids[i] == pid;
	if (!ok)
		return 0;
	for (i = 0, ok = !o->ncomms; i < o->ncomms && !ok; i++)
		ok = strcmp(o->comms[i], comm) == 0;
	return ok;
}

/* The row sink of every tracker: the filters, then the store. */
static void run_emit(void *ud, enum row_kind kind, void *row)
{
	struct run_state *st = ud;

	if (!run_wants(st->o, row_pid(kind, row), row_comm(kind, row))) {
		row_free(kind, row);
		return;
	}
	if (kind == ROW_CALL) {
		struct call_row *r = row;

		log_debug("call %s: %s %s %s status %lld", r->id, r->comm,
			  r->provider, r->model ? r->model : "?", (long long)r->status);
		st->calls++;
		proc_on_call(st->procs, r->pid);
	} else if (kind == ROW_DNS) {
		struct dns_row *r = row;

		log_debug("dns %s: %s %s %s -> %s (%s, %.1f ms)", r->source, r->comm, r->qtype,
			  r->name, r->addrs, r->result, r->latency_ms);
	}
	store_add(st->store, kind, row);
}

static void on_cpu_entry(void *ud, const struct loader_cpu *c, int thread)
{
	struct proc_cpu pc = {
		.id = c->id, .tgid = c->tgid, .oncpu_ns = c->oncpu_ns, .runq_ns = c->runq_ns,
		.switches = c->switches, .preempts = c->preempts,
		.running_since_ns = c->running_since_ns,
	};
	struct run_state *st = ud;

	if (thread)
		proc_sample_thread(st->procs, &pc);
	else
		proc_sample_process(st->procs, &pc);
}

/* One pass over the CPU maps: a cpu_samples row per process that ran. */
static void cpu_sample(struct run_state *st, int gc)
{
	int err;

	proc_sample_begin(st->procs, mono_ns());
	err = loader_cpu_sample(st->loader, gc, on_cpu_entry, st);
	if (err < 0)
		log_warn("cpu maps: read failed: %s", strerror(-err));
	proc_sample_end(st->procs);
}

/* Copy the numbers /health and /metrics show into the listener's snapshot
 * (the HTTP thread reads only that copy). */
static void listen_refresh(struct run_state *st)
{
	struct listen_stats ls = { 0 };
	uint64_t c[LT_CNT_MAX];

	loader_counters(st->loader, c);
	ls.calls = st->calls;
	ls.events = c[LT_CNT_EVENTS];
	ls.drops = c[LT_CNT_DROPS];
	ls.files = loader_files(st->loader);
	ls.open_conns = stream_count(st->streams);
	ls.npush = push_status(st->push, ls.push, PUSH_TARGETS_MAX);
	ls.db_waiting = store_pending(st->store);
	ls.db_dropped = store_dropped(st->store);
	store_problem(st->store, ls.db_problem, sizeof(ls.db_problem));
	listen_update(st->lis, &ls);
}

/* Report new ring-buffer drops and other BPF-side losses since the last
 * call (never silent). */
static void drops_check(struct run_state *st)
{
	uint64_t c[LT_CNT_MAX];

	loader_counters(st->loader, c);
	if (c[LT_CNT_DROPS] > st->last_drops) {
		log_warn("ring buffer full: %llu events (%llu bytes) dropped so far; "
			 "affected calls are marked, consider --ring-size",
			 (unsigned long long)c[LT_CNT_DROPS],
			 (unsigned long long)c[LT_CNT_DROP_BYTES]);
		st->last_drops = c[LT_CNT_DROPS];
	}
	if (c[LT_CNT_MAP_FULL] > st->last_map_full) {
		log_warn("CPU accounting maps full: %llu task(s) not counted so far",
			 (unsigned long long)c[LT_CNT_MAP_FULL]);
		st->last_map_full = c[LT_CNT_MAP_FULL];
	}
	if (c[LT_CNT_READ_ERR] > st->last_read_err) {
		log_warn("%llu SSL buffer(s) could not be read from user memory so far",
			 (unsigned long long)c[LT_CNT_READ_ERR]);
		st->last_read_err = c[LT_CNT_READ_ERR];
	}
}

/* The trackers, each sending its rows through run_emit(). Returns 0, or -1
 * when out of memory. */
static int trackers_new(struct run_state *st)
{
	const struct row_sink sink = { run_emit, st };

	st->dns = dns_table_new(&sink);
	st->net = st->dns ? net_table_new(st->dns, &sink) : NULL;
	st->streams = st->net ? stream_table_new(st->o->max_body, st->net, &sink) : NULL;
	st->procs = st->streams ? proc_table_new(&sink) : NULL;
	if (!st->procs) {
		log_warn("out of memory");
		return -1;
	}
	st->ev.streams = st->streams;
	st->ev.net = st->net;
	st->ev.dns = st->dns;
	st->ev.procs = st->procs;
	return 0;
}

/* Finish open calls and connections (their rows go to the store), free. */
static void trackers_free(struct run_state *st)
{
	stream_table_free(st->streams, "tracer stopped before the response completed");
	net_table_free(st->net);
	dns_table_free(st->dns);
	proc_table_free(st->procs);
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
	lo.chunks_max = (st->o->max_body + LT_CHUNK_MAX - 1) / LT_CHUNK_MAX + 1;
	if (loader_open(&st->loader, &lo, event_handle, &st->ev))
		return -1;
	st->ev.loader = st->loader;
	files = loader_attach_host(st->loader);
	if (files == 0)
		log_warn("no OpenSSL found yet (libssl or node); processes started later are still watched");
	return files;
}

/* Write what waits. When the database had to be created again (it was
 * deleted), the push targets start over on the new file: what they had not
 * sent of the old one gets one last attempt. */
static void run_flush(struct run_state *st)
{
	size_t queued = store_pending(st->store);
	int gen = store_generation(st->store);

	if (store_flush(st->store) > 0)
		push_notify(st->push, (unsigned)queued);
	if (store_generation(st->store) == gen || !st->push)
		return;
	push_stop(st->push, mono_ns() + PUSH_RESTART_BUDGET_NS);
	st->push = NULL;
	if (push_start(&st->push, &st->o->push))
		log_warn("push: cannot start again on the new database; rows are kept for the next run");
}

/* The poll loop, until a signal or the --duration deadline. */
static void run_loop(struct run_state *st)
{
	uint64_t now, deadline = 0, last_flush = 0, last_reap = 0, last_sample = 0, last_gc = 0;
	uint64_t last_listen = 0;
	int err;

	if (st->o->duration_s > 0)
		deadline = mono_ns() + (uint64_t)(st->o->duration_s * 1e9);
	while (!exiting) {
		err = loader_poll(st->loader, 100);
		if (err < 0 && err != -EINTR) {
			log_warn("ring buffer poll failed: %s", strerror(-err));
			break;
		}
		event_finish_exits(&st->ev);
		now = mono_ns();
		if (now - last_sample >= (uint64_t)(st->o->sample_s * 1e9)) {
			cpu_sample(st, now - last_gc >= CPU_GC_EVERY_NS);
			if (now - last_gc >= CPU_GC_EVERY_NS)
				last_gc = now;
			last_sample = now;
		}
		if ((store_pending(st->store) &&
		     (store_pending(st->store) >= FLUSH_ROWS || now - last_flush >= FLUSH_EVERY_NS)) ||
		    now - last_flush >= DB_CHECK_EVERY_NS) {
			run_flush(st);
			last_flush = now;
		}
		if (now - last_reap >= REAP_EVERY_NS) {
			stream_reap(st->streams);
			net_reap(st->net);
			dns_reap(st->dns, now);
			drops_check(st);
			last_reap = now;
		}
		if (st->lis && now - last_listen >= LISTEN_EVERY_NS) {
			listen_refresh(st);
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
	char why[256];

	fprintf(stderr, "llmtap: stopped: %llu call(s) recorded, %llu event(s) dropped",
		store_written(st->store), (unsigned long long)drops);
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

	rc = run_opts_parse(argc, argv, &o);
	if (rc != RUN_GO)
		goto out_opts;
	rc = 1;
	if (geteuid() != 0) {
		fprintf(stderr, "llmtap: run needs root (CAP_BPF and CAP_PERFMON); try sudo\n");
		goto out_opts;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		goto out_opts;
	st->o = &o;
	umask(077);
	/* a fixed threshold: large bodies are mmap'd and given back when freed
	 * (glibc's moving threshold would keep them on the heap for good) */
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	/* Bound before anything slow: a port in use fails at once. */
	if (o.listen && listen_open(&st->lis, o.listen, o.db))
		goto out_free;
	if (store_open(&st->store, o.db, 0))
		goto out_free;
	if (trackers_new(st))
		goto out_trackers;
	stream_set_body_budget(st->streams, o.body_memory);
	files = capture_start(st);
	if (files < 0)
		goto out_trackers;
	/* attached: from here on only what running needs (before any thread) */
	if (privs_drop())
		goto out_trackers;
	o.push.db_path = o.db;
	o.push.token = config_push_token();
	if (push_start(&st->push, &o.push))
		goto out_trackers;
	if (st->lis) {
		listen_refresh(st);
		if (listen_start(st->lis))
			goto out_trackers;
	}
	fprintf(stderr, "ready: tracing TLS in %d file(s), writing %s\n", files, o.db);
	fflush(stderr);

	run_loop(st);
	stop_ns = mono_ns();
	listen_close(st->lis);
	st->lis = NULL;
	/* Drain what the kernel already queued, then finish open calls. */
	while (loader_poll(st->loader, 0) > 0)
		;
	event_finish_exits(&st->ev);
	cpu_sample(st, 0);	/* CPU up to the stop */
	drops_check(st);
	loader_counters(st->loader, c);
	rc = 0;
out_trackers:
	trackers_free(st);
	/* every row written that can be, before the last push attempt */
	if (st->store)
		store_drain(st->store);
	if (st->push)
		push_stop(st->push, (stop_ns ? stop_ns : mono_ns()) + PUSH_EXIT_BUDGET_NS);
	if (!rc)
		run_stopped(st, c[LT_CNT_DROPS]);
	store_close(st->store);
	/* Last, with the rows safe: detaching is slow, a child pays for it. */
	loader_detach_later(st->loader);
	loader_close(st->loader);
out_free:
	listen_close(st->lis);
	free(st);
out_opts:
	run_opts_free(&o);
	return rc;
}
