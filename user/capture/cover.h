/* cover.h -- what llmtap sees and does not: processes with TLS-looking TCP connections, what was hooked for each, or why not (`llmtap doctor`). */
#ifndef LLMTAP_COVER_H
#define LLMTAP_COVER_H

#include <jansson.h>
#include <stdint.h>

struct attach;
struct net_table;

/* A TLS connection whose first bytes were seen this long ago without a
 * hooked TLS library's session joining it is counted as unseen. */
#define COVER_UNSEEN_AFTER_NS (2ull * 1000000000ull)

struct cover_opts {
	int self;		/* our pid: never listed */
};

/* The totals of a report (also in its "summary"). */
struct cover_summary {
	int processes;		/* with TLS-looking or plain LLM connections */
	int covered, partial, uncovered, pending;
	int unseen;		/* TLS connections with bytes and no hooked session */
};

/* Scan /proc for processes with established client TCP connections to
 * non-loopback addresses that look like TLS (first bytes a ClientHello as
 * net saw them, else port 443 or 8443) or carry plain HTTP to an LLM path,
 * and say for each what a (the tracer's, or a dry run's) hooked: its
 * executable and mapped libraries with their attach records, or why none.
 * net (may be NULL: no tracer) says what each socket's first bytes were.
 * Returns the report as a JSON object (see README "llmtap doctor") and
 * fills *sum; NULL when out of memory. */
json_t *cover_scan(const struct attach *a, const struct net_table *net,
		   const struct cover_opts *o, struct cover_summary *sum);

#endif
