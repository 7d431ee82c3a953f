/* listen.h -- `run --listen`: /health and /metrics over HTTP, served from a snapshot the capture loop keeps current. */
#ifndef LLMTAP_LISTEN_H
#define LLMTAP_LISTEN_H

#include <stdint.h>

#include "push/push.h"
#include "serve/genai.h"

#define LISTEN_DEFAULT_ADDR "127.0.0.1"
#define LISTEN_DROPS_WINDOW_S 60	/* drops this recent make /health degraded */
#define LISTEN_PUSH_FAIL_S 60		/* so does a push target failing this long */
#define LISTEN_STALE_S 10		/* and a capture loop silent this long */

/* llmtap's own use of the host and its queues (serve/selfstat.c). */
struct listen_self {
	uint64_t rss_bytes;		/* resident memory */
	double cpu_s;			/* user + system CPU since it started */
	int64_t fds, threads;
	uint64_t rows_pending;		/* rows waiting for the next database write */
	uint64_t inbox_queued;		/* events and spans queued for the main loop */
	uint64_t inbox_dropped;		/* ... dropped because that queue was full */
	uint64_t spans_waiting;		/* agent spans held for their join to calls */
	uint64_t procs_tracked;		/* processes in the process table */
	uint64_t open_conns;		/* TLS connections being reassembled (as open_conns) */
	double db_fs_used_pct;		/* the database's filesystem; < 0 unknown */
	double max_disk_pct;		/* --max-disk-pct; 0 none */
};

/* What the capture loop publishes; the HTTP thread reads only a copy of it. */
struct listen_stats {
	unsigned long long calls;	/* llm_calls rows recorded by this run */
	uint64_t events;		/* events the BPF programs submitted */
	uint64_t drops;			/* events lost: ring buffer full */
	int files;			/* files with the TLS uprobes attached */
	uint64_t open_conns;		/* TLS connections being reassembled */
	int uncovered;			/* processes with TLS connections llmtap cannot see */
	int unseen;			/* TLS connections with bytes and no hooked session */
	struct push_status push[PUSH_TARGETS_MAX];
	int npush;
	struct genai_metrics *genai;	/* the GenAI histograms (their own mutex); may be NULL */
	struct listen_self self;
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

struct ingest;
/* Serve POST /v1/events, /v1/traces and /v1/logs through in (borrowed;
 * set before listen_start()). */
void listen_set_ingest(struct listener *l, struct ingest *in);

/* 1 when the listener is bound to a loopback address. */
int listen_is_loopback(const struct listener *l);

/* Stop the thread, close the socket, free. NULL-safe. */
void listen_close(struct listener *l);

#endif
