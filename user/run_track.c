/* run_track.c -- `run`'s trackers and their row sinks: the -p/-c filters, the store, the inbox of posted rows waiting for their sender. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "capture/event.h"
#include "capture/loader.h"
#include "db/query.h"
#include "db/store.h"
#include "llm/runs.h"
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

#define PEER_WAIT_NS 1000000000ull	/* a posted row waits this long for its sender's connect event */
#define RUNS_SEED_MAX 5000		/* earlier runs read for cost_outlier */

/* A row posted over a connection whose connect event has not been read yet. */
struct peer_wait {
	struct peer_wait *next;
	enum row_kind kind;
	void *row;
	uint64_t due_ns;
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
		const char *exe;

		/* A process gone before its first bytes were read (the rings
		 * are drained every 25 ms) had no /proc left to name its
		 * executable: its exec did. */
		if ((!r->exe || !r->exe[0]) && (exe = proc_exe_of(st->procs, (uint32_t)r->pid))) {
			char *dup = strdup(exe);

			if (dup) {
				free(r->exe);
				r->exe = dup;
			}
		}
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

/* The pid field of an inbox row, the ports it was posted over (0: not
 * posted) and when. */
static int64_t *inbox_pid(enum row_kind kind, void *row, uint16_t *peer, uint16_t *local,
			  uint64_t *at)
{
	if (kind == ROW_EVENT) {
		struct event_row *e = row;

		*peer = e->peer_port;
		*local = e->local_port;
		*at = e->posted_mono;
		return &e->pid;
	}
	if (kind == ROW_SPAN) {
		struct span_row *s = row;

		*peer = s->peer_port;
		*local = s->local_port;
		*at = s->posted_mono;
		return &s->pid;
	}
	*peer = *local = 0;
	*at = 0;
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
	uint64_t at;
	int64_t *pid = inbox_pid(kind, row, &peer, &local, &at);
	uint32_t p;

	if (!pid || *pid != PROC_NULL || !peer)
		return 1;
	p = net_pid_by_ports(st->net, peer, local, at);
	if (p)
		*pid = p;
	return p || last;
}

/* A row from the events inbox (llmtap's notices, what agents posted). One
 * posted before its sender's connect event was read waits for it (up to
 * PEER_WAIT_NS: the rings and the HTTP thread race). */
void run_inbox(void *ud, enum row_kind kind, void *row)
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
void run_peer_waits_run(struct run_state *st, int all)
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
void run_notice(void *ud, const char *severity, const char *name, json_t *attrs)
{
	(void)ud;
	events_notice(severity, name, PROC_NULL, attrs);
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
int run_trackers_new(struct run_state *st)
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
void run_trackers_free(struct run_state *st)
{
	stream_table_free(st->streams, "tracer stopped before the response completed");
	net_table_free(st->net);
	dns_table_free(st->dns);
	/* what agents posted last, then the spans still waiting for their join */
	events_drain(run_inbox, st);
	run_peer_waits_run(st, 1);
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
