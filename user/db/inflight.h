/* inflight.h -- table calls_in_flight: the LLM calls the tracer is following right now, rewritten every second, for `llmtap top`. */
#ifndef LLMTAP_INFLIGHT_H
#define LLMTAP_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "db/query.h"

struct store;

#define INFLIGHT_MAX 256	/* rows written at most */
#define INFLIGHT_FRESH_NS 5000000000LL	/* older snapshots are a stopped tracer's */

/* One call in flight. */
struct inflight_row {
	int64_t pid, tid;
	char comm[16];
	char method[16];
	char host[128];
	char path[256];			/* without its query (which may hold a key) */
	int64_t start_ns;		/* first request byte, Unix epoch ns */
	const char *phase;		/* static: "sending", "waiting" (for the first byte), "receiving" */
	int64_t response_bytes;		/* decoded so far */
};

/* Replace the table's rows with rows[0..n), stamped now_ns (creating the
 * table when missing). Returns 0, -1 after a message. */
int inflight_write(struct store *s, const struct inflight_row *rows, size_t n, int64_t now_ns);

/* The calls in flight of a snapshot written since fresh_ns (every column),
 * the oldest first. Returns 1 (no query) when the database has no such
 * table (no tracer wrote one). */
int query_inflight(struct query **out, struct store *s, int64_t fresh_ns);

#endif
