/* event.h -- the only reader of raw ring-buffer records: validates each one and hands it, typed, to the tracker it is for. */
#ifndef LLMTAP_EVENT_H
#define LLMTAP_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/loader.h"
#include "track/dns.h"
#include "track/net.h"
#include "track/proc.h"
#include "track/stream.h"

/* Exits remembered during one poll (more are handled at once). */
#define EVENT_EXITS_MAX 4096

/* A process exit waiting for its last data (see struct event_ctx). */
struct event_exit {
	struct proc_exit_info info;	/* info.comm points to comm when handled */
	char comm[16];
};

/* The trackers events go to; dns and procs may be NULL (their events are
 * then skipped). */
struct event_ctx {
	struct stream_table *streams;
	struct net_table *net;
	struct dns_table *dns;
	struct proc_table *procs;
	/* Attaches to what a process runs when it execs (may be NULL). */
	struct loader *loader;
	/* Processes that exited during this poll: their exit is handled (their
	 * streams finished, then their processes row) after one more drain,
	 * since their last data may still sit in another ring. */
	struct event_exit exits[EVENT_EXITS_MAX];
	int nexits;
	uint64_t malformed;	/* records that failed validation */
};

/* A ring-buffer callback: ctx is a struct event_ctx. Validates the record
 * (a short record, an oversized length or an unknown type is counted in
 * malformed and dropped) and calls its tracker. Always returns 0. */
int event_handle(void *ctx, void *data, size_t size);

/* After a poll: handle the exits of the processes that exited during it:
 * finish their streams (their last calls' rows), then tell the process
 * table (their processes rows: a row's exit comes after its calls). */
void event_finish_exits(struct event_ctx *e);

/* Handle the first n exits remembered (the oldest) as above, keep the
 * others for later: exits read during a drain wait for the next one. */
void event_finish_first_exits(struct event_ctx *e, int n);

#endif
