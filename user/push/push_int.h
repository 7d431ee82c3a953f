/* push_int.h -- what the files of push/ share: the pusher and its targets, the outbox (outbox.c), HTTP (http.c), the target kinds (target_*.c). */
#ifndef LLMTAP_PUSH_INT_H
#define LLMTAP_PUSH_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "base/buf.h"
#include "push/push.h"
#include "push/format.h"

#define PUSH_TABLES_MAX 16
#define PUSH_BATCH_BYTES (4u << 20)	/* a batch stops growing past this (one row at least) */
#define PUSH_RESP_MAX 65536		/* response bytes kept */

/* A table of the database as a target pushes it (read by the target's own connection). */
struct push_tab {
	const char *name;
	const char *time_col;		/* epoch-ns column giving the row's time; NULL if none */
	struct pcol *cols;		/* every column, in table order (names owned) */
	int ncols;
	int key[3], nkey;		/* columns of the dedup key (indexes into cols); none: rowid */
	sqlite3_stmt *sel;		/* rowid, cols... WHERE rowid > ?1 AND rowid <= ?2 LIMIT ?3 */
};

enum push_outcome { PUSH_OK, PUSH_RETRY, PUSH_DROP };

struct push_result {
	enum push_outcome outcome;
	double retry_after;		/* seconds the server asked for; < 0 none */
	char err[256];
};

struct push_target;

/* A target kind. */
struct push_kind_ops {
	const char *name;
	const char *const *tables;	/* the tables it pushes (NULL-ended); NULL: every table */
	/* Prepare the target (ClickHouse: database and tables); NULL when none. */
	int (*setup)(struct push_target *t, struct push_result *r);
	/* Step st (bound by the caller) and append its rows to body, stopping
	 * after PUSH_BATCH_BYTES; *last is the rowid of the last row taken.
	 * Returns 0 when st ran out, 1 when the batch is full, -1 on error. */
	int (*build)(struct push_target *t, struct push_tab *tab, sqlite3_stmt *st,
		     const char *batch_id, struct buf *body, int64_t *last, int *nrows);
	/* POST body (nrows rows of tab, batch batch_id) and say in r whether
	 * the target took it, wants it again, or will never take it. */
	void (*send)(struct push_target *t, struct push_tab *tab, const struct buf *body,
		     const char *batch_id, int nrows, struct push_result *r);
};

struct push_target {
	struct pusher *p;
	struct push_url url;
	const struct push_kind_ops *ops;
	pthread_t thread;
	int started;
	sqlite3 *db;
	void *curl;			/* its libcurl easy handle (a CURL *; only http.c sees curl) */
	struct push_tab tabs[PUSH_TABLES_MAX];
	int ntabs;
	int ready;			/* setup done since the last failure */
	int failures;			/* consecutive */
	uint64_t next_ns;		/* next attempt (monotonic) */
	unsigned long long seen_seq;
	char last_error[256];
	uint64_t delivered_ns;		/* Unix epoch ns of the last batch accepted; 0 none */
	uint64_t counted_ns;		/* monotonic: when the backlog was last counted */
	struct push_status status;	/* what push_status() reports; under p->mu */
};

/* The pusher: its settings (read-only once the threads run) and targets. */
struct pusher {
	struct push_opts o;
	char *urls[PUSH_TARGETS_MAX];
	char *db_path, *ca_file, *token;
	char host_id[128];
	char host_name[256];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;			/* under mu; read by progress callbacks atomically */
	uint64_t deadline_ns;		/* final push deadline once stopping */
	unsigned long long seq;		/* rows written by the main thread */
	struct push_target *targets;
	int ntargets;
	pthread_t maint;
	int maint_started;
	int ckpt_now;			/* push_checkpoint(): the retention thread checkpoints now */
};

/* 1 once push_stop() began (any thread may ask, without the lock). */
int push_stopping(struct pusher *p);

/* Shared settings, read-only once the threads run. */
const struct push_opts *push_opts_of(const struct pusher *p);
const char *push_host_id(const struct pusher *p);
const char *push_host_name(const struct pusher *p);

/* ---- HTTP (http.c) ---- */

/* One POST through the target's curl handle. */
struct push_http {
	const char *url;
	const char *content_type;
	const void *body;
	size_t len;
	const char *idempotency_key;	/* NULL: none */
	int bearer;			/* send the token as Authorization: Bearer */
	/* results */
	long status;			/* 0: no HTTP answer (err says why) */
	struct buf resp;		/* the start of the response body */
	double retry_after;		/* < 0: no Retry-After */
	char err[256];
};

/* POST h->body to h->url with t's handle (gzip'd when gzip is 1), within
 * the exit deadline once the pusher stops. Returns 0 when an HTTP answer
 * came (h->status), -1 otherwise (h->err). Free h->resp with buf_free(). */
int push_http_post(struct push_target *t, struct push_http *h, int gzip);

/* libcurl's global state, once per pusher with targets. Returns 0, -1 (message printed). */
int push_http_global_init(void);
void push_http_global_cleanup(void);

/* Create t's easy handle. Returns 0, -1 (message printed). */
int push_http_open(struct push_target *t);
/* Free t's easy handle (none: nothing). */
void push_http_close(struct push_target *t);

/* Copy msg into r->err, keeping it printable and free of the target's
 * secrets (password, token). */
void push_set_error(struct push_target *t, struct push_result *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- the outbox (outbox.c) ---- */

/* Open t's own connection and read the columns of the tables its kind
 * pushes. Returns 0, -1 (message printed). */
int push_outbox_open(struct push_target *t);
/* Free t's tables and close its connection. */
void push_outbox_close(struct push_target *t);

/* Set up the target when needed, then push one batch of every table.
 * Returns 1 when rows are left, 0 when every table is drained, -1 on
 * failure (r says why; recorded in push_state). */
int push_outbox_round(struct push_target *t, struct push_result *r);

/* Rows waiting after each of t's cursors (a table without a cursor yet
 * waits whole); reads only. */
int64_t push_outbox_backlog(struct push_target *t);

/* Unix epoch ns of the last batch t delivered, in this run or an earlier
 * one; 0 when none. */
uint64_t push_outbox_last_success(struct push_target *t);

/* The values of the current row of st (columns 1..ncols) into vals; without
 * bodies, llm_calls' request_body, response_body and response_text are NULL. */
void push_row_vals(sqlite3_stmt *st, const struct push_tab *tab, struct pval *vals, int bodies);

/* 1 when column name of table is content that only --push-bodies sends. */
int push_is_body(const char *table, const char *name);

/* ---- the target kinds (target_*.c) ---- */

extern const struct push_kind_ops push_clickhouse_ops, push_otlp_ops, push_json_ops;

#endif
