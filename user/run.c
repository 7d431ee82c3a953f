/* run.c -- `llmtap run`: wires capture, trackers, store, push and listener together and runs the poll loop. */
#include "run.h"

#include <errno.h>
#include <libgen.h>
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
#include "push/push.h"
#include "run_cover.h"
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
#define REAP_EVERY_NS 5000000000ull
#define CPU_GC_EVERY_NS 30000000000ull	/* CPU map entries of vanished tasks */
#define LISTEN_EVERY_NS 250000000ull	/* /health and /metrics lag at most this */
#define PUSH_EXIT_BUDGET_NS 3500000000ull	/* of the 5 s exit budget, for the last push */
#define INFLIGHT_EVERY_NS 1000000000ull	/* calls_in_flight (`top`) is this fresh */
#define PUSH_DOWN_NS 60000000000ull	/* a target failing this long is "down" (an events row) */
#define PEER_WAIT_NS 1000000000ull	/* a posted row waits this long for its sender's connect event */

/* A row posted over a connection whose connect event has not been read yet. */
struct peer_wait {
	struct peer_wait *next;
	enum row_kind kind;
	void *row;
	uint64_t due_ns;
};
#define RUNS_EVERY_NS 1000000000ull	/* agent runs: idle, forgotten, late rows */
#define RUNS_SEED_MAX 5000		/* earlier runs read for cost_outlier */
/* The rings are drained at least this often (events wake the reader only
 * when a ring is a quarter full): the latency of a row, and the idle cost. */
#define DRAIN_EVERY_MS 25
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

struct run_state {
	const struct run_opts *o;
	struct store *store;
	struct stream_table *streams;
	struct net_table *net;
	struct dns_table *dns;
	struct proc_table *procs;
	struct runs *runs;
	struct loader *loader;
	struct pusher *push;
	struct listener *lis;
	struct genai_metrics *genai;	/* /metrics' GenAI histograms, with --listen */
	struct ingest *ingest;
	struct host_sampler *host;
	struct procwatch *watch;
	struct span_join *spans;
	struct run_cover *cover;
	struct cover_summary cover_sum;
	struct event_ctx ev;
	unsigned long long calls;
	size_t inflight;			/* rows calls_in_flight holds now */
	uint64_t last_drops, last_map_full, last_read_err;	/* counters already reported */
	int push_down[PUSH_TARGETS_MAX];	/* a "push.target_down" row was written */
	struct peer_wait *peer_waits;		/* oldest first */
	char db_dir[4096];
};

/* 1 when the -p/-c filters let rows of this process through (comm NULL:
 * unknown, only -p applies). */
static int run_wants(const struct run_opts *o, int64_t pid, const char *comm)
{
	int i, ok;

	for (i = 0, ok = !o->npids; i < o->npids && !ok; i++)
		ok = o->pids[i] == pid;
	if (!ok)
		return 0;
	for (i = 0, ok = !o->ncomms || !comm; i < o->ncomms && !ok; i++)
		ok = strcmp(o->comms[i], comm) == 0;
	return ok;
}

/* The row sink of every tracker: the filters (rows of no process pass;
 * events and spans have no comm to match), then the store. */
static void run_emit(void *ud, enum row_kind kind, void *row)
{
	struct run_state *st = ud;
	int64_t pid = row_pid(kind, row);
	int nocomm = kind == ROW_EVENT || kind == ROW_SPAN;

	if (pid != ROW_NO_PID && !run_wants(st->o, pid, nocomm ? NULL : row_comm(kind, row))) {
		row_free(kind, row);
		return;
	}
	if (kind == ROW_CALL) {
		struct call_row *r = row;

		log_debug("call %s: %s %s %s status %lld", r->id, r->comm,
			  r->provider, r->model ? r->model : "?", (long long)r->status);
		st->calls++;
		proc_on_call(st->procs, r->pid);
		genai_observe(st->genai, r);
		spans_call(st->spans, r);
		runs_on_call(st->runs, r);	/* sets r->run_id */
	} else if (kind == ROW_PROCESS) {
		runs_on_process(st->runs, row);
	} else if (kind == ROW_DNS) {
		struct dns_row *r = row;

		log_debug("dns %s: %s %s %s -> %s (%s, %.1f ms)", r->source, r->comm, r->qtype,
			  r->name, r->addrs, r->result, r->latency_ms);
	}
	store_add(st->store, kind, row);
}

/* The pid field of an inbox row and the ports it was posted over (0: not posted). */
static int64_t *inbox_pid(enum row_kind kind, void *row, uint16_t *peer, uint16_t *local)
{
	if (kind == ROW_EVENT) {
		struct event_row *e = row;

		*peer = e->peer_port;
		*local = e->local_port;
		return &e->pid;
	}
	if (kind == ROW_SPAN) {
		struct span_row *s = row;

		*peer = s->peer_port;
		*local = s->local_port;
		return &s->pid;
	}
	*peer = *local = 0;
	return NULL;
}

/* Hand an inbox row on: spans to their join, the rest to the store. */
static void inbox_dispatch(struct run_state *st, enum row_kind kind, void *row)
{
	if (kind == ROW_SPAN)
		spans_add(st->spans, row);
	else
		run_emit(st, kind, row);
}

/* Fill the pid of a row posted over a local connection from the process
 * that opened it (unless the row named one). Returns 1 when the row is
 * ready to go on: a pid, none to look for, or no more waiting (last). */
static int inbox_resolve(struct run_state *st, enum row_kind kind, void *row, int last)
{
	uint16_t peer, local;
	int64_t *pid = inbox_pid(kind, row, &peer, &local);
	uint32_t p;

	if (!pid || *pid != PROC_NULL || !peer)
		return 1;
	p = net_pid_by_ports(st->net, peer, local);
	if (p)
		*pid = p;
	return p || last;
}

/* A row from the events inbox (llmtap's notices, what agents posted). One
 * posted before its sender's connect event was read waits for it (up to
 * PEER_WAIT_NS: the rings and the HTTP thread race). */
static void run_inbox(void *ud, enum row_kind kind, void *row)
{
	struct run_state *st = ud;
	struct peer_wait *w, **tail;

	if (inbox_resolve(st, kind, row, 0) || !(w = calloc(1, sizeof(*w)))) {
		inbox_dispatch(st, kind, row);
		return;
	}
	w->kind = kind;
	w->row = row;
	w->due_ns = mono_ns() + PEER_WAIT_NS;
	for (tail = &st->peer_waits; *tail; tail = &(*tail)->next)
		;
	*tail = w;
}

/* Retry the rows waiting for their sender (all: give up waiting). */
static void peer_waits_run(struct run_state *st, int all)
{
	struct peer_wait **pp = &st->peer_waits, *w;
	uint64_t now = mono_ns();

	while ((w = *pp)) {
		if (!inbox_resolve(st, w->kind, w->row, all || now >= w->due_ns)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		inbox_dispatch(st, w->kind, w->row);
		free(w);
	}
}

/* What retention deleted for space, from its thread: an events row. */
static void run_notice(void *ud, const char *severity, const char *name, json_t *attrs)
{
	(void)ud;
	events_notice(severity, name, PROC_NULL, attrs);
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
	host_sample(st->host, mono_ns());
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
	ls.uncovered = st->cover_sum.uncovered;
	ls.unseen = st->cover_sum.unseen;
	ls.npush = push_status(st->push, ls.push, PUSH_TARGETS_MAX);
	ls.genai = st->genai;
	selfstat_read(&ls.self);
	ls.self.rows_pending = store_pending(st->store);
	ls.self.inbox_queued = events_queued();
	ls.self.inbox_dropped = events_dropped();
	ls.self.spans_waiting = spans_waiting(st->spans);
	ls.self.procs_tracked = proc_count(st->procs);
	ls.self.open_conns = ls.open_conns;
	ls.self.db_fs_used_pct = host_fs_used_pct(st->db_dir);
	ls.self.max_disk_pct = st->o->push.max_disk_pct;
	listen_update(st->lis, &ls);
}

/* Rewrite calls_in_flight (for `llmtap top`): while calls are in flight,
 * and once more when the last one ended. */
static void inflight_refresh(struct run_state *st)
{
	static struct inflight_row rows[INFLIGHT_MAX];
	size_t i, n = stream_inflight(st->streams, rows, INFLIGHT_MAX);

	if (!n && !st->inflight)
		return;
	for (i = 0; i < n; i++)
		rows[i].start_ns = (int64_t)mono_to_epoch_ns((uint64_t)rows[i].start_ns);
	if (!inflight_write(st->store, rows, n, (int64_t)real_ns()))
		st->inflight = n;
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
		events_notice(SEV_WARNING, "capture.dropped", PROC_NULL,
			      json_pack("{s:I, s:I, s:I}", "events", (json_int_t)(c[LT_CNT_DROPS] - st->last_drops),
					"events_total", (json_int_t)c[LT_CNT_DROPS], "bytes_total",
					(json_int_t)c[LT_CNT_DROP_BYTES]));
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

/* An events row when a push target has failed for PUSH_DOWN_NS, and one
 * when it delivers again. */
static void push_watch(struct run_state *st)
{
	struct push_status ps[PUSH_TARGETS_MAX];
	uint64_t now = mono_ns();
	int i, n = push_status(st->push, ps, PUSH_TARGETS_MAX);

	for (i = 0; i < n; i++) {
		int down = ps[i].failing_since_ns && now > ps[i].failing_since_ns &&
			   now - ps[i].failing_since_ns > PUSH_DOWN_NS;

		if (down == st->push_down[i])
			continue;
		events_notice(down ? SEV_ERROR : SEV_INFO, down ? "push.target_down" : "push.target_up",
			      PROC_NULL, json_pack("{s:s, s:s}", "target", ps[i].target, "last_error",
						   ps[i].last_error));
		st->push_down[i] = down;
	}
}

/* The sink of the run builder: its rows are made of rows that passed the
 * filters already. */
static void run_emit_runs(void *ud, enum row_kind kind, void *row)
{
	store_add(((struct run_state *)ud)->store, kind, row);
}

/* The costs of earlier runs (cost_outlier compares a run with its agent's). */
static void runs_seed(struct run_state *st)
{
	struct query *q;

	if (query_run_costs(&q, st->store, RUNS_SEED_MAX))
		return;
	while (query_step(q) == 1)
		runs_seed_cost(st->runs, query_text(q, 0), query_real(q, 1));
	query_close(q);
}

/* A stream that will never give a row: the capture stops copying it. */
static void run_mute(void *ud, uint32_t tgid, uint64_t ssl)
{
	struct run_state *st = ud;

	if (st->loader)
		loader_mute(st->loader, tgid, ssl);
}

/* The trackers, each sending its rows through run_emit(). Returns 0, or -1
 * when out of memory. */
static int trackers_new(struct run_state *st)
{
	const struct row_sink sink = { run_emit, st }, runs_sink = { run_emit_runs, st };

	st->runs = runs_new(&runs_sink);
	if (!st->runs) {
		log_warn("out of memory");
		return -1;
	}
	runs_seed(st);

	st->dns = dns_table_new(&sink);
	st->net = st->dns ? net_table_new(st->dns, &sink) : NULL;
	st->streams = st->net ? stream_table_new(st->o->max_body, st->net, &sink) : NULL;
	const char *paths[HOST_PATHS_MAX];
	int i, npaths = 0;

	st->procs = st->streams ? proc_table_new(&sink) : NULL;
	st->watch = procwatch_new(st->o->zombie_after_s, st->o->stuck_after_s);
	st->spans = spans_new(&sink);
	paths[npaths++] = st->db_dir;
	paths[npaths++] = "/";
	for (i = 0; i < st->o->nwatch && npaths < HOST_PATHS_MAX; i++)
		paths[npaths++] = st->o->watch[i];
	st->host = host_new(&sink, paths, npaths, st->o->push.max_disk_pct);
	if (!st->procs || !st->watch || !st->spans || !st->host) {
		log_warn("out of memory");
		return -1;
	}
	stream_table_set_mute(st->streams, run_mute, st);
	st->ev.streams = st->streams;
	st->ev.net = st->net;
	st->ev.dns = st->dns;
	st->ev.procs = st->procs;
	proc_table_set_watch(st->procs, st->watch);
	return 0;
}

/* Finish open calls and connections (their rows go to the store), free. */
static void trackers_free(struct run_state *st)
{
	stream_table_free(st->streams, "tracer stopped before the response completed");
	net_table_free(st->net);
	dns_table_free(st->dns);
	/* what agents posted last, then the spans still waiting for their join */
	events_drain(run_inbox, st);
	peer_waits_run(st, 1);
	spans_free(st->spans);
	st->spans = NULL;
	events_clear();
	proc_table_free(st->procs);
	procwatch_free(st->watch);
	host_free(st->host);
	if (st->runs)
		runs_stop(st->runs, (int64_t)real_ns());
	runs_free(st->runs);	/* last: the others' final rows feed it */
}

/* The reader must keep up with a busy host, or the rings fill and calls
 * lose bytes: started at the default priority, run takes nice -10 (it
 * sleeps until there is work, so it takes CPU only in proportion to what
 * it captures). Started with another priority (nice, systemd's Nice=), it
 * keeps that one. */
#define RUN_NICE (-10)

static void priority_raise(void)
{
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) != 0 || errno)
		return;
	if (setpriority(PRIO_PROCESS, 0, RUN_NICE))
		log_debug("cannot raise the priority to nice %d: %s", RUN_NICE, strerror(errno));
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

/* Finish the streams of the processes that exited during the last poll,
 * after one more pass over every ring: a process's last data was submitted
 * before its exit event, but may sit in a ring drained before the exit's
 * ring was (events no longer wake the reader one by one). */
static void exits_finish(struct run_state *st)
{
	int n = st->ev.nexits;

	if (!n)
		return;
	loader_drain(st->loader);
	/* exits the drain itself read wait for the next pass */
	event_finish_first_exits(&st->ev, n);
}

/* The poll loop, until a signal or the --duration deadline. */
static void run_loop(struct run_state *st)
{
	uint64_t now, deadline = 0, last_flush = 0, last_reap = 0, last_sample = 0, last_gc = 0;
	uint64_t last_listen = 0, last_inflight = 0, last_runs = 0;
	int err;

	if (st->o->duration_s > 0)
		deadline = mono_ns() + (uint64_t)(st->o->duration_s * 1e9);
	while (!exiting) {
		err = loader_poll(st->loader, DRAIN_EVERY_MS);
		if (err < 0 && err != -EINTR) {
			log_warn("ring buffer poll failed: %s", strerror(-err));
			break;
		}
		exits_finish(st);
		events_drain(run_inbox, st);
		peer_waits_run(st, 0);
		spans_tick(st->spans, (int64_t)real_ns(), 0);
		now = mono_ns();
		if (now - last_sample >= (uint64_t)(st->o->sample_s * 1e9)) {
			cpu_sample(st, now - last_gc >= CPU_GC_EVERY_NS);
			if (now - last_gc >= CPU_GC_EVERY_NS)
				last_gc = now;
			last_sample = now;
		}
		if (now - last_runs >= RUNS_EVERY_NS) {
			runs_tick(st->runs, (int64_t)real_ns());
			last_runs = now;
		}
		if (store_pending(st->store) &&
		    (store_pending(st->store) >= FLUSH_ROWS || now - last_flush >= FLUSH_EVERY_NS)) {
			size_t queued = store_pending(st->store);

			if (store_flush(st->store) >= 0)
				push_notify(st->push, (unsigned)queued);
			last_flush = now;
		}
		if (now - last_reap >= REAP_EVERY_NS) {
			/* a burst's memory goes back once its rows are written */
			malloc_trim(0);
			stream_reap(st->streams);
			net_reap(st->net);
			dns_reap(st->dns, now);
			drops_check(st);
			push_watch(st);
			last_reap = now;
		}
		if (now - last_inflight >= INFLIGHT_EVERY_NS) {
			inflight_refresh(st);
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
			listen_refresh(st);
			last_listen = now;
		}
		if (deadline && now >= deadline)
			break;
	}
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
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
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
	if (trackers_new(st))
		goto out_trackers;
	files = capture_start(st);
	if (files < 0)
		goto out_trackers;
	o.push.db_path = o.db;
	o.push.token = config_push_token();
	o.push.notice = run_notice;
	if (push_start(&st->push, &o.push))
		goto out_trackers;
	if (st->lis) {
		st->ingest = ingest_new(&o.ingest);
		if (!st->ingest)
			goto out_trackers;
		listen_set_ingest(st->lis, st->ingest);
		if (!o.ingest.token && !listen_is_loopback(st->lis))
			log_warn("--listen: POST /v1/events, /v1/traces and /v1/logs take rows from anyone who "
				 "can reach it; set an ingest token (LLMTAP_INGEST_TOKEN)");
		listen_refresh(st);
		if (listen_start(st->lis))
			goto out_trackers;
	}
	/* Loading parsed the kernel's BTF and every probed file's symbols: give
	 * that memory back before settling in (it is most of the heap). */
	malloc_trim(0);
	priority_raise();
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
	cpu_sample(st, 0);	/* CPU up to the stop */
	if (st->inflight)
		inflight_write(st->store, NULL, 0, (int64_t)real_ns());	/* nothing is in flight any more */
	drops_check(st);
	loader_counters(st->loader, c);
	rc = 0;
out_trackers:
	trackers_free(st);
	if (st->push) {
		/* the last push attempt, with every row written */
		store_flush(st->store);
		push_stop(st->push, (stop_ns ? stop_ns : mono_ns()) + PUSH_EXIT_BUDGET_NS);
	}
	if (!rc)
		fprintf(stderr, "llmtap: stopped: %llu call(s) recorded, %llu event(s) dropped\n",
			st->calls, (unsigned long long)c[LT_CNT_DROPS]);
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
