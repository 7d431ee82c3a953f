/* listen.h -- `run --listen`: /health and /metrics over HTTP, served from a snapshot the capture loop keeps current. */
#ifndef LLMTAP_LISTEN_H
#define LLMTAP_LISTEN_H

#include <stdint.h>

#include "push/push.h"

#define LISTEN_DEFAULT_ADDR "127.0.0.1"
#define LISTEN_DROPS_WINDOW_S 60	/* drops this recent make /health degraded */
#define LISTEN_PUSH_FAIL_S 60		/* so does a push target failing this long */
#define LISTEN_STALE_S 10		/* and a capture loop silent this long */

/* What the capture loop publishes; the HTTP thread reads only a copy of it. */
struct listen_stats {
	unsigned long long calls;	/* llm_calls rows recorded by this run */
	uint64_t events;		/* events the BPF programs submitted */
	uint64_t drops;			/* events lost: ring buffer full */
	int files;			/* files with the TLS uprobes attached */
	uint64_t open_conns;		/* TLS connections being reassembled */
	struct push_status push[PUSH_TARGETS_MAX];
	int npush;
	uint64_t db_waiting;		/* rows waiting in memory for the database */
	uint64_t db_dropped;		/* rows dropped: the database refused too long */
	char db_problem[256];		/* why the database cannot be written; "" when it can */
};

struct listener;

/* Check a --listen value: "[ADDR:]PORT", ADDR a numeric IPv4 address,
 * "[IPv6]" or "localhost"; LISTEN_DEFAULT_ADDR when only a port is given.
 * Returns 0, or -1 with the reason printed (a usage error). */
int listen_check(const char *spec);

/* Bind and listen on spec (already checked), before anything slow: a port
 * in use or an address not on this host fails here. db is the database
 * path /health names. Returns 0 and *out, or -1 after one line on stderr. */
int listen_open(struct listener **out, const char *spec, const char *db);

/* Start answering, in libmicrohttpd's own thread (SIGINT and SIGTERM stay
 * with the caller's thread). Until then connections wait in the backlog.
 * Returns 0, or -1 after one line on stderr. */
int listen_start(struct listener *l);

/* Replace the snapshot (a copy, under the listener's mutex); the first
 * call and every growth of s->drops are stamped with the time. NULL-safe. */
void listen_update(struct listener *l, const struct listen_stats *s);

/* Stop the thread, close the socket, free. NULL-safe. */
void listen_close(struct listener *l);

#endif
