/* run_int.h -- the state of `llmtap run`, shared by run.c (lifecycle, poll loop), run_track.c (trackers, row sinks) and run_tick.c (periodic work). */
#ifndef LLMTAP_RUN_INT_H
#define LLMTAP_RUN_INT_H

#include <jansson.h>

#include "capture/cover.h"
#include "capture/event.h"
#include "db/rows.h"
#include "push/push.h"
#include "run_opts.h"

struct peer_wait;

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
	uint64_t last_drops, last_map_full, last_socks_full, last_read_err;	/* counters reported */
	uint64_t last_spooled;		/* events the ring spools took, reported */
	int push_down[PUSH_TARGETS_MAX];	/* a "push.target_down" row was written */
	struct peer_wait *peer_waits;		/* oldest first */
	char db_dir[4096];
};

/* run_track.c */
/* The trackers, each sending its rows through the filters to the store.
 * Returns 0, or -1 when out of memory. */
int run_trackers_new(struct run_state *st);
/* Finish open calls and connections (their rows go to the store), free. */
void run_trackers_free(struct run_state *st);
/* A row from the events inbox (events_drain()'s callback; ud is st). */
void run_inbox(void *ud, enum row_kind kind, void *row);
/* Retry the rows waiting for their sender (all: give up waiting). */
void run_peer_waits_run(struct run_state *st, int all);
/* What retention deleted for space, from its thread: an events row. */
void run_notice(void *ud, const char *severity, const char *name, json_t *attrs);

/* run_tick.c */
/* One pass over the CPU maps: a cpu_samples row per process that ran. */
void run_cpu_sample(struct run_state *st, int gc);
/* Copy the numbers /health and /metrics show into the listener's snapshot. */
void run_listen_refresh(struct run_state *st);
/* Rewrite calls_in_flight (for `llmtap top`). */
void run_inflight_refresh(struct run_state *st);
/* Report new ring-buffer drops and other BPF-side losses since the last call. */
void run_drops_check(struct run_state *st);
/* An events row when a push target goes down or comes back. */
void run_push_watch(struct run_state *st);

#endif
