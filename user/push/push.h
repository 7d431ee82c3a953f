/* push.h -- fleet push: rows delivered from the database (the outbox) to ClickHouse, OTLP and JSON targets, one worker thread per target, and the retention thread. */
#ifndef LLMTAP_PUSH_H
#define LLMTAP_PUSH_H

#include <jansson.h>
#include <stdint.h>

#define PUSH_TARGETS_MAX 8

struct push_opts {
	const char *db_path;
	const char *urls[PUSH_TARGETS_MAX];
	int nurls;
	const char *host_id;	/* NULL: /etc/machine-id */
	const char *ca_file;	/* NULL: the system's CA bundle */
	const char *token;	/* bearer token of http(s) JSON targets (never logged) */
	int batch_rows;		/* rows per batch (500) */
	double interval_s;	/* push at least this often when rows wait (5) */
	int bodies;		/* 1: push request/response bodies and response_text */
	double retain_days;	/* delete pushed rows older than this; 0 = keep (7) */
	uint64_t max_db_bytes;	/* cap on the database's used pages; 0 = none */
	double max_disk_pct;	/* keep the database's volume below this full; 0 = none */
	/* retention's events rows (what it deleted for space); may be NULL */
	void (*notice)(void *ud, const char *severity, const char *name, json_t *attrs);
	void *notice_ud;
};

struct pusher;

/* Check a --push URL. Returns 0, or -1 with the reason printed. */
int push_check_url(const char *url);

/* Start the workers on the database at o->db_path (already created and
 * migrated): one thread per target, each with its own SQLite connection,
 * and one for retention. Returns 0 and *out, or -1 (message printed). */
int push_start(struct pusher **out, const struct push_opts *o);

/* The main thread wrote rows (wakes a worker once a batch is waiting). */
void push_notify(struct pusher *p, unsigned rows);

/* The WAL has grown (store_on_wal()'s kick, on the writing thread): the
 * retention thread checkpoints it now, on its own connection (nothing
 * happens when that thread does not run: the writer's own fallback in
 * store.c then checkpoints). NULL-safe. */
void push_checkpoint(struct pusher *p);

/* Last push attempt of what is in the database, bounded by deadline_ns
 * (CLOCK_MONOTONIC), then stop and free. NULL-safe. */
void push_stop(struct pusher *p, uint64_t deadline_ns);

/* A target's state as the health endpoint shows it (a copy; no secret in it). */
struct push_status {
	char target[256];		/* the URL without password and query */
	int64_t backlog_rows;		/* rows waiting, as counted at the target's last attempt */
	uint64_t last_success_ns;	/* Unix epoch ns of the last batch accepted (this run or
					 * an earlier one); 0 when none */
	uint64_t failing_since_ns;	/* CLOCK_MONOTONIC of the first failed attempt in a row;
					 * 0 when the last attempt succeeded */
	char last_error[256];		/* why the last attempt failed; "" when it did not */
};

/* Copy the status of up to max targets into out, from memory under the
 * pusher's lock (never the database, never blocking on a target).
 * Returns the number of targets copied; 0 for NULL. */
int push_status(struct pusher *p, struct push_status *out, int max);

#endif
