/* push.c -- fleet push: the outbox in SQLite (push_state), one worker thread per target, retention of the database (HTTP in http.c).
 *
 * The outbox is the database itself: for each (target, table) push_state
 * holds the rowid up to which rows were delivered. A worker reads the rows
 * after it, one batch at a time, on its own SQLite connection (WAL: it reads
 * while the main thread writes), records the batch as in flight (its last
 * rowid and batch id) before sending it, and moves the cursor once the
 * target said yes. After a crash the in-flight batch is re-sent with the
 * same id and the same rows, so delivery is at least once and every target
 * deduplicates (ClickHouse ReplacingMergeTree by id, OTLP span ids derived
 * from the call id, the JSON batch id as Idempotency-Key).
 *
 * Rowids only grow: SQLite gives a new row max(rowid)+1 (INSERT OR REPLACE
 * too), so a cursor never skips a row as long as the row holding the largest
 * rowid is never deleted; retention keeps it. */
#include "push/push_int.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/retention.h"
#include "base/util.h"

#define BACKOFF_BASE_S 1.0
#define BACKOFF_MAX_S 60.0
#define RETRY_AFTER_MAX_S 300.0
#define RETAIN_FIRST_S 10		/* first retention pass after start */
#define RETAIN_EVERY_S 60
#define STATUS_COUNT_EVERY_NS 5000000000ull	/* backlog recount while draining */

const struct push_opts *push_opts_of(const struct pusher *p)
{
	return &p->o;
}

const char *push_host_id(const struct pusher *p)
{
	return p->host_id;
}

const char *push_host_name(const struct pusher *p)
{
	return p->host_name;
}

int push_stopping(struct pusher *p)
{
	return __atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE);
}

/* push_stopping() as retention asks it. */
static int maint_stopping(void *p)
{
	return push_stopping(p);
}

static const struct push_kind_ops *kind_ops(enum push_kind k)
{
	switch (k) {
	case PUSH_CLICKHOUSE: return &push_clickhouse_ops;
	case PUSH_OTLP: return &push_otlp_ops;
	default: return &push_json_ops;
	}
}

int push_check_url(const char *url)
{
	struct push_url u;
	char err[128];

	if (push_url_parse(url, &u, err, sizeof(err))) {
		fprintf(stderr, "llmtap: bad --push URL: %s\n", err);
		return -1;
	}
	push_url_free(&u);
	return 0;
}

/* /etc/machine-id (or D-Bus's copy), else the host name. */
static void host_id_load(const char *override, char *out, size_t n)
{
	static const char *const files[] = { "/etc/machine-id", "/var/lib/dbus/machine-id" };
	size_t i, len;
	FILE *f;

	if (override && *override) {
		snprintf(out, n, "%s", override);
		return;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		f = fopen(files[i], "r");
		if (!f)
			continue;
		out[0] = 0;
		if (fgets(out, (int)n, f)) {
			len = strcspn(out, " \t\r\n");
			out[len] = 0;
		}
		fclose(f);
		if (out[0])
			return;
	}
	if (gethostname(out, n) || !out[0])
		snprintf(out, n, "unknown");
	out[n - 1] = 0;
}

static uint32_t rnd32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)mono_ns();
	return r;
}

/* ---- tables ---- */

static void tab_free(struct push_tab *tab)
{
	int i;

	for (i = 0; i < tab->ncols; i++)
		free((char *)tab->cols[i].name);
	free(tab->cols);
	sqlite3_finalize(tab->sel);
	memset(tab, 0, sizeof(*tab));
}

static int col_find(const struct push_tab *tab, const char *name)
{
	int i;

	for (i = 0; name && i < tab->ncols; i++)
		if (!strcmp(tab->cols[i].name, name))
			return i;
	return -1;
}

/* Read the table's columns. Returns 0, 1 when the database has no such table, -1 on error. */
static int tab_load(sqlite3 *db, const struct db_table *d, struct push_tab *tab)
{
	struct buf sql = { 0 };
	sqlite3_stmt *st;
	char q[128];
	int i, rc;

	memset(tab, 0, sizeof(*tab));
	tab->name = d->name;
	snprintf(q, sizeof(q), "PRAGMA table_info(\"%s\")", d->name);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *decl = (const char *)sqlite3_column_text(st, 2);
		struct pcol *c = realloc(tab->cols, (tab->ncols + 1) * sizeof(*c));

		if (c)
			tab->cols = c;
		if (!c || !name) {
			sqlite3_finalize(st);
			tab_free(tab);
			return -1;
		}
		c[tab->ncols].name = strdup(name);
		c[tab->ncols].type = pcol_type_of(decl, name);
		c[tab->ncols].nullable = 1;
		if (!c[tab->ncols].name) {
			sqlite3_finalize(st);
			tab_free(tab);
			return -1;
		}
		tab->ncols++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		tab_free(tab);
		return -1;
	}
	if (!tab->ncols)
		return 1;
	for (i = 0; i < 3 && d->time_cols[i] && !tab->time_col; i++)
		if (col_find(tab, d->time_cols[i]) >= 0)
			tab->time_col = d->time_cols[i];
	if ((i = col_find(tab, "id")) >= 0) {
		tab->key[tab->nkey++] = i;
	} else {
		for (i = 0; i < 3 && d->alt_key[i]; i++)
			if (col_find(tab, d->alt_key[i]) < 0)
				break;
		if (i && (i == 3 || !d->alt_key[i]))
			for (i = 0; i < 3 && d->alt_key[i]; i++)
				tab->key[tab->nkey++] = col_find(tab, d->alt_key[i]);
	}
	for (i = 0; i < tab->nkey; i++)
		tab->cols[tab->key[i]].nullable = 0;
	rc = buf_puts(&sql, "SELECT rowid");
	for (i = 0; i < tab->ncols; i++) {
		rc |= buf_puts(&sql, ", \"");
		rc |= buf_puts(&sql, tab->cols[i].name);
		rc |= buf_puts(&sql, "\"");
	}
	rc |= buf_puts(&sql, " FROM \"");
	rc |= buf_puts(&sql, d->name);
	rc |= buf_puts(&sql, "\" WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid LIMIT ?3");
	if (rc || sqlite3_prepare_v2(db, (const char *)sql.data, -1, &tab->sel, NULL) != SQLITE_OK) {
		buf_free(&sql);
		tab_free(tab);
		return -1;
	}
	buf_free(&sql);
	return 0;
}

int push_is_body(const char *table, const char *name)
{
	return !strcmp(table, "llm_calls") &&
	       (!strcmp(name, "request_body") || !strcmp(name, "response_body") ||
		!strcmp(name, "response_text"));
}

void push_row_vals(sqlite3_stmt *st, const struct push_tab *tab, struct pval *vals, int bodies)
{
	int i;

	for (i = 0; i < tab->ncols; i++) {
		struct pval *v = &vals[i];
		int c = i + 1;

		memset(v, 0, sizeof(*v));
		if (sqlite3_column_type(st, c) == SQLITE_NULL ||
		    (!bodies && push_is_body(tab->name, tab->cols[i].name))) {
			v->null = 1;
			continue;
		}
		switch (tab->cols[i].type) {
		case PCOL_INT:
		case PCOL_UINT:
			v->i = sqlite3_column_int64(st, c);
			break;
		case PCOL_FLOAT:
			v->d = sqlite3_column_double(st, c);
			break;
		case PCOL_STRING:
			v->s = (const char *)sqlite3_column_text(st, c);
			v->n = (size_t)sqlite3_column_bytes(st, c);
			break;
		}
	}
}

/* ---- push_state ---- */

struct pstate {
	int64_t last_rowid, inflight_rowid;
	char inflight_id[40];
};

/* Run one statement of push_state: ?1 target, ?2 table, ?3.. the ints, then the text. */
static int exec1(sqlite3 *db, const char *sql, const char *target, const char *tbl,
		 int nints, const int64_t *ints, const char *text)
{
	sqlite3_stmt *st;
	int rc, i;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tbl, -1, SQLITE_STATIC);
	for (i = 0; i < nints; i++)
		sqlite3_bind_int64(st, 3 + i, ints[i]);
	if (text)
		sqlite3_bind_text(st, 3 + nints, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int state_load(struct push_target *t, const struct push_tab *tab, struct pstate *ps)
{
	sqlite3_stmt *st;
	int rc = -1;

	memset(ps, 0, sizeof(*ps));
	if (exec1(t->db, "INSERT OR IGNORE INTO push_state (target, tbl) VALUES (?1, ?2)",
		  t->url.key, tab->name, 0, NULL, NULL))
		return -1;
	if (sqlite3_prepare_v2(t->db, "SELECT last_rowid, inflight_rowid, inflight_id FROM push_state"
			       " WHERE target = ?1 AND tbl = ?2", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, t->url.key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tab->name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		ps->last_rowid = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL && sqlite3_column_type(st, 2) != SQLITE_NULL) {
			ps->inflight_rowid = sqlite3_column_int64(st, 1);
			snprintf(ps->inflight_id, sizeof(ps->inflight_id), "%s",
				 (const char *)sqlite3_column_text(st, 2));
		}
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static void state_error(struct push_target *t, const struct push_tab *tab, const char *err)
{
	int64_t now = (int64_t)real_ns();

	exec1(t->db, "UPDATE push_state SET last_error = ?4, last_error_ns = ?3, last_attempt_ns = ?3"
		     " WHERE target = ?1 AND tbl = ?2", t->url.key, tab ? tab->name : "", 1, &now, err);
	if (!tab) {
		/* a setup failure concerns every table of the target */
		int i;

		for (i = 0; i < t->ntabs; i++)
			state_error(t, &t->tabs[i], err);
	}
}

/* Record how many rows of tab wait after the cursor. */
static void state_backlog(struct push_target *t, const struct push_tab *tab)
{
	struct pstate ps;
	int64_t n;

	if (state_load(t, tab, &ps))
		return;
	n = db_count_after(t->db, tab->name, ps.last_rowid);

	exec1(t->db, "UPDATE push_state SET backlog = ?3 WHERE target = ?1 AND tbl = ?2",
	      t->url.key, tab->name, 1, &n, NULL);
}

/* ---- one batch ---- */

/* Push one batch of tab. Returns rows delivered or dropped (0: nothing to
 * push), -1 on failure (r says why); *more says rows are left. */
static int push_batch(struct push_target *t, struct push_tab *tab, struct push_result *r, int *more)
{
	const struct push_opts *o = &t->p->o;
	struct buf body = { 0 };
	struct pstate ps;
	int64_t last = 0, now;
	int nrows = 0, inflight, full;
	char id[40];

	*more = 0;
	r->outcome = PUSH_OK;
	r->retry_after = -1;
	r->err[0] = 0;
	if (state_load(t, tab, &ps)) {
		push_set_error(t, r, "database: %s", sqlite3_errmsg(t->db));
		r->outcome = PUSH_RETRY;
		return -1;
	}
	inflight = ps.inflight_rowid > ps.last_rowid;
	if (inflight)
		snprintf(id, sizeof(id), "%s", ps.inflight_id);
	else
		uuid7(id);
	sqlite3_reset(tab->sel);
	sqlite3_bind_int64(tab->sel, 1, ps.last_rowid);
	sqlite3_bind_int64(tab->sel, 2, inflight ? ps.inflight_rowid : INT64_MAX);
	sqlite3_bind_int64(tab->sel, 3, inflight ? INT64_MAX : o->batch_rows);
	full = t->ops->build(t, tab, tab->sel, id, &body, &last, &nrows);
	if (full < 0) {
		sqlite3_reset(tab->sel);
		buf_free(&body);
		push_set_error(t, r, "building the batch failed (%s)", sqlite3_errmsg(t->db));
		r->outcome = PUSH_RETRY;
		return -1;
	}
	sqlite3_reset(tab->sel);
	if (!nrows) {
		buf_free(&body);
		if (inflight) {	/* its rows were deleted meanwhile */
			exec1(t->db, "UPDATE push_state SET last_rowid = ?3, inflight_rowid = NULL,"
				     " inflight_id = NULL WHERE target = ?1 AND tbl = ?2",
			      t->url.key, tab->name, 1, &ps.inflight_rowid, NULL);
			*more = 1;
		}
		return 0;
	}
	if (!inflight &&
	    exec1(t->db, "UPDATE push_state SET inflight_rowid = ?3, inflight_id = ?4"
			 " WHERE target = ?1 AND tbl = ?2", t->url.key, tab->name, 1, &last, id)) {
		buf_free(&body);
		push_set_error(t, r, "database: %s", sqlite3_errmsg(t->db));
		r->outcome = PUSH_RETRY;
		return -1;
	}
	t->ops->send(t, tab, &body, id, nrows, r);
	buf_free(&body);
	now = (int64_t)real_ns();
	if (r->outcome == PUSH_RETRY) {
		state_error(t, tab, r->err);
		return -1;
	}
	/* The cursor moves to the last row sent (of an in-flight batch rebuilt
	 * after a restart, rows past it were deleted or are left for the next). */
	{
		int64_t v[3] = { now, nrows, last };

		if (r->outcome == PUSH_OK) {
			t->delivered_ns = (uint64_t)now;
			if (exec1(t->db, "UPDATE push_state SET last_rowid = ?5, inflight_rowid = NULL,"
					 " inflight_id = NULL, pushed_rows = pushed_rows + ?4, last_success_ns = ?3,"
					 " last_attempt_ns = ?3 WHERE target = ?1 AND tbl = ?2",
				  t->url.key, tab->name, 3, v, NULL))
				log_warn("push: %s: cannot record the delivery of %d row(s) of %s (%s); "
					 "they will be sent again", t->url.key, nrows, tab->name,
					 sqlite3_errmsg(t->db));
		} else {
			log_warn("push: %s: %d row(s) of %s rejected and dropped: %s", t->url.key, nrows,
				 tab->name, r->err);
			exec1(t->db, "UPDATE push_state SET last_rowid = ?5, inflight_rowid = NULL,"
				     " inflight_id = NULL, dropped_rows = dropped_rows + ?4, last_error = ?6,"
				     " last_error_ns = ?3, last_attempt_ns = ?3 WHERE target = ?1 AND tbl = ?2",
			      t->url.key, tab->name, 3, v, r->err);
		}
	}
	/* More waits when the batch was full (or a replayed one); rows that came
	 * while it was sent wait for the interval or a full batch. */
	*more = full || inflight || nrows >= o->batch_rows;
	return nrows;
}

/* One batch of every table. Returns 1 when rows are left, 0 when every
 * table is drained, -1 on failure (r says why). */
static int push_round(struct push_target *t, struct push_result *r)
{
	int i, more, any = 0, n;

	if (!t->ready && t->ops->setup) {
		r->retry_after = -1;
		if (t->ops->setup(t, r)) {
			state_error(t, NULL, r->err);
			return -1;
		}
	}
	t->ready = 1;
	for (i = 0; i < t->ntabs; i++) {
		n = push_batch(t, &t->tabs[i], r, &more);
		if (n < 0) {
			t->ready = 0;
			return -1;
		}
		if (n > 0)
			t->failures = 0;	/* the target takes rows: backoff starts over */
		if (more)
			any = 1;
		else
			state_backlog(t, &t->tabs[i]);
	}
	return any;
}

/* ---- status (push_status) ---- */

/* Rows waiting after each table's cursor, on the worker's own connection
 * (reads only: a table without a cursor yet waits whole). */
static int64_t target_backlog(struct push_target *t)
{
	sqlite3_stmt *st;
	int64_t n = 0, last;
	int i;

	if (sqlite3_prepare_v2(t->db, "SELECT last_rowid FROM push_state WHERE target = ?1 AND tbl = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	for (i = 0; i < t->ntabs; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, t->url.key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t->tabs[i].name, -1, SQLITE_STATIC);
		last = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		n += db_count_after(t->db, t->tabs[i].name, last);
	}
	sqlite3_finalize(st);
	return n;
}

/* The status a target starts with: its last delivery (of an earlier run
 * too) and the backlog it finds. */
static void status_load(struct push_target *t)
{
	sqlite3_stmt *st;
	int64_t backlog;

	if (sqlite3_prepare_v2(t->db, "SELECT max(last_success_ns) FROM push_state WHERE target = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, t->url.key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			t->delivered_ns = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	backlog = target_backlog(t);
	t->counted_ns = mono_ns();
	pthread_mutex_lock(&t->p->mu);
	t->status.backlog_rows = backlog;
	t->status.last_success_ns = t->delivered_ns;
	pthread_mutex_unlock(&t->p->mu);
}

/* Publish the outcome of one attempt (rc of push_round(), begun at
 * started_ns). The backlog is recounted after an attempt that drained or
 * failed, and at most every STATUS_COUNT_EVERY_NS while a backlog drains
 * (each count reads the rows waiting). */
static void status_publish(struct push_target *t, int rc, const struct push_result *r,
			   uint64_t started_ns)
{
	uint64_t now = mono_ns();
	int64_t backlog = -1;

	if (rc != 1 || now - t->counted_ns >= STATUS_COUNT_EVERY_NS) {
		backlog = target_backlog(t);
		t->counted_ns = now;
	}
	pthread_mutex_lock(&t->p->mu);
	if (backlog >= 0)
		t->status.backlog_rows = backlog;
	t->status.last_success_ns = t->delivered_ns;
	if (rc < 0) {
		if (!t->status.failing_since_ns)
			t->status.failing_since_ns = started_ns;
		snprintf(t->status.last_error, sizeof(t->status.last_error), "%s", r->err);
	} else {
		t->status.failing_since_ns = 0;
		t->status.last_error[0] = 0;
	}
	pthread_mutex_unlock(&t->p->mu);
}

int push_status(struct pusher *p, struct push_status *out, int max)
{
	int i, n = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->ntargets && n < max; i++)
		out[n++] = p->targets[i].status;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* ---- the target thread ---- */

static void on_failure(struct push_target *t, const struct push_result *r)
{
	double wait = push_backoff_s(++t->failures, BACKOFF_BASE_S, BACKOFF_MAX_S, rnd32());

	if (r->retry_after >= 0)
		wait = r->retry_after < RETRY_AFTER_MAX_S ? r->retry_after : RETRY_AFTER_MAX_S;
	if (t->failures == 1 || strcmp(t->last_error, r->err))
		log_warn("push: %s: %s (retry in %.1f s)", t->url.key, r->err, wait);
	else
		log_debug("push: %s: %s (failure %d, retry in %.1f s)", t->url.key, r->err,
			  t->failures, wait);
	snprintf(t->last_error, sizeof(t->last_error), "%s", r->err);
	t->next_ns = mono_ns() + (uint64_t)(wait * 1e9);
}

static void on_success(struct push_target *t, int more)
{
	const struct push_opts *o = &t->p->o;

	if (t->failures)
		log_warn("push: %s: delivering again after %d failed attempt(s)", t->url.key, t->failures);
	t->failures = 0;
	t->last_error[0] = 0;
	t->next_ns = more ? mono_ns() : mono_ns() + (uint64_t)(o->interval_s * 1e9);
}

static void *target_main(void *arg)
{
	struct push_target *t = arg;
	struct pusher *p = t->p;
	struct push_result r;
	struct timespec ts;
	uint64_t now, deadline, started;
	int i, rc, stop;

	status_load(t);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		for (;;) {
			now = mono_ns();
			if (p->stopping || now >= t->next_ns ||
			    (!t->failures && p->seq - t->seen_seq >= (unsigned long long)p->o.batch_rows))
				break;
			clock_gettime(CLOCK_REALTIME, &ts);
			{
				uint64_t wake = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec +
						(t->next_ns - now);

				ts.tv_sec = wake / 1000000000ull;
				ts.tv_nsec = wake % 1000000000ull;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		stop = p->stopping;
		deadline = p->deadline_ns;
		t->seen_seq = p->seq;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		started = mono_ns();
		rc = push_round(t, &r);
		if (rc < 0)
			on_failure(t, &r);
		else
			on_success(t, rc);
		status_publish(t, rc, &r, started);
	}
	/* The last attempt: whatever the backoff said, until drained, a failure or the deadline. */
	while (mono_ns() < deadline) {
		rc = push_round(t, &r);
		if (rc < 0) {
			log_warn("push: %s: last attempt failed: %s; the rows stay in the database "
				 "for the next run", t->url.key, r.err);
			break;
		}
		if (!rc)
			break;
	}
	for (i = 0; i < t->ntabs; i++)
		tab_free(&t->tabs[i]);
	t->ntabs = 0;
	return NULL;
}

/* The retention thread: a pass RETAIN_FIRST_S after start, then every
 * RETAIN_EVERY_S, until the pusher stops. */
static void *maint_main(void *arg)
{
	struct pusher *p = arg;
	struct retention_target *rt = calloc(p->ntargets ? p->ntargets : 1, sizeof(*rt));
	struct retention_opts ro = {
		.retain_days = p->o.retain_days,
		.max_db_bytes = p->o.max_db_bytes,
		.targets = rt,
		.ntargets = p->ntargets,
		.stopping = maint_stopping,
		.ud = p,
	};
	struct retention *r;
	struct timespec ts;
	uint64_t next = mono_ns() + RETAIN_FIRST_S * 1000000000ull, now;
	int i;

	if (!rt)
		return NULL;
	for (i = 0; i < p->ntargets; i++) {
		rt[i].key = p->targets[i].url.key;
		rt[i].all_tables = p->targets[i].ops->all_tables;
	}
	if (retention_open(&r, p->db_path, &ro))
		goto out_free;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->stopping && (now = mono_ns()) < next) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)((next - now) / 1000000000ull) + 1;
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		pthread_mutex_unlock(&p->mu);
		if (push_stopping(p))
			break;
		retention_run(r);
		next = mono_ns() + RETAIN_EVERY_S * 1000000000ull;
	}
	retention_close(r);
out_free:
	free(rt);
	return NULL;
}

/* ---- start and stop ---- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void pusher_free(struct pusher *p)
{
	int i;

	for (i = 0; i < p->ntargets; i++) {
		struct push_target *t = &p->targets[i];

		push_http_close(t);
		sqlite3_close(t->db);
		push_url_free(&t->url);
	}
	free(p->targets);
	for (i = 0; i < p->o.nurls; i++)
		free(p->urls[i]);
	free(p->db_path);
	free(p->ca_file);
	if (p->token)
		memset(p->token, 0, strlen(p->token));
	free(p->token);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

/* The target's own connection and tables, in the calling thread. */
static int target_open(struct push_target *t)
{
	size_t i;
	int rc;

	if (db_open("push", t->p->db_path, &t->db))
		return -1;
	for (i = 0; i < DB_TABLES && t->ntabs < PUSH_TABLES_MAX; i++) {
		if (!t->ops->all_tables && strcmp(db_tables[i].name, "llm_calls"))
			continue;
		rc = tab_load(t->db, &db_tables[i], &t->tabs[t->ntabs]);
		if (rc < 0) {
			log_warn("push: %s: cannot read table %s: %s", t->url.key, db_tables[i].name,
				 sqlite3_errmsg(t->db));
			return -1;
		}
		if (!rc)
			t->ntabs++;
	}
	return push_http_open(t);
}

int push_start(struct pusher **out, const struct push_opts *o)
{
	struct pusher *p = calloc(1, sizeof(*p));
	sigset_t block, old;
	char err[128];
	int i;

	*out = NULL;
	if (!p)
		return -1;
	p->o = *o;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->db_path = dup_or_null(o->db_path);
	p->ca_file = dup_or_null(o->ca_file);
	p->token = dup_or_null(o->token);
	p->o.db_path = p->db_path;
	p->o.ca_file = p->ca_file;
	p->o.token = NULL;	/* only p->token holds it */
	if (p->o.batch_rows <= 0)
		p->o.batch_rows = 500;
	if (p->o.interval_s <= 0)
		p->o.interval_s = 5;
	host_id_load(o->host_id, p->host_id, sizeof(p->host_id));
	p->o.host_id = p->host_id;
	if (gethostname(p->host_name, sizeof(p->host_name)))
		p->host_name[0] = 0;
	p->host_name[sizeof(p->host_name) - 1] = 0;
	if (o->nurls && push_http_global_init()) {
		pusher_free(p);
		return -1;
	}
	p->targets = calloc(o->nurls ? o->nurls : 1, sizeof(*p->targets));
	if (!p->targets) {
		pusher_free(p);
		return -1;
	}
	for (i = 0; i < o->nurls; i++) {
		struct push_target *t = &p->targets[i];
		int j;

		p->urls[i] = strdup(o->urls[i]);
		p->o.urls[i] = p->urls[i];
		t->p = p;
		if (push_url_parse(o->urls[i], &t->url, err, sizeof(err))) {
			log_warn("bad --push URL: %s", err);
			p->ntargets = i;
			pusher_free(p);
			return -1;
		}
		p->ntargets = i + 1;
		for (j = 0; j < i; j++) {
			if (!strcmp(p->targets[j].url.key, t->url.key)) {
				log_warn("--push %s given twice", t->url.key);
				pusher_free(p);
				return -1;
			}
		}
		t->ops = kind_ops(t->url.kind);
		snprintf(t->status.target, sizeof(t->status.target), "%s", t->url.key);
		if (target_open(t)) {
			pusher_free(p);
			return -1;
		}
	}
	/* The workers leave SIGINT and SIGTERM to the main thread (they inherit this mask). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < p->ntargets; i++) {
		struct push_target *t = &p->targets[i];

		if (pthread_create(&t->thread, NULL, target_main, t)) {
			log_warn("push: cannot start a thread: %s", strerror(errno));
			break;
		}
		t->started = 1;
		log_debug("push: %s (%s), host id %s, batches of %d rows every %.1f s", t->url.key,
			  t->ops->name, p->host_id, p->o.batch_rows, p->o.interval_s);
	}
	if (!pthread_create(&p->maint, NULL, maint_main, p))
		p->maint_started = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (i < p->ntargets) {
		push_stop(p, mono_ns());
		return -1;
	}
	*out = p;
	return 0;
}

void push_notify(struct pusher *p, unsigned rows)
{
	if (!p || !rows)
		return;
	pthread_mutex_lock(&p->mu);
	p->seq += rows;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void push_stop(struct pusher *p, uint64_t deadline_ns)
{
	struct timespec ts;
	uint64_t now;
	int i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->deadline_ns = deadline_ns;
	__atomic_store_n(&p->stopping, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->ntargets; i++) {
		if (!p->targets[i].started)
			continue;
		/* The worker ends by the deadline (curl is bounded by it); allow a little more. */
		now = mono_ns();
		clock_gettime(CLOCK_REALTIME, &ts);
		{
			uint64_t wake = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec +
					(deadline_ns > now ? deadline_ns - now : 0) + 500000000ull;

			ts.tv_sec = wake / 1000000000ull;
			ts.tv_nsec = wake % 1000000000ull;
		}
		if (pthread_timedjoin_np(p->targets[i].thread, NULL, &ts)) {
			log_warn("push: %s: still busy at exit; its batch is sent again next run",
				 p->targets[i].url.key);
			return;	/* the thread still uses p: leave it to the exit */
		}
	}
	if (p->maint_started)
		pthread_join(p->maint, NULL);
	if (p->ntargets)
		push_http_global_cleanup();
	pusher_free(p);
}

/* ---- llmtap stats ---- */

static void fmt_when(sqlite3_stmt *st, int col, char *out, size_t n)
{
	time_t t;
	struct tm tm;

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		snprintf(out, n, "-");
		return;
	}
	t = (time_t)(sqlite3_column_int64(st, col) / 1000000000);
	localtime_r(&t, &tm);
	strftime(out, n, "%m-%d %H:%M:%S", &tm);
}

int push_stats_print(void *dbv, int json)
{
	sqlite3 *db = dbv;
	sqlite3_stmt *st;
	int rc, header = 0;

	if (sqlite3_prepare_v2(db, "SELECT target, tbl, last_rowid, pushed_rows, dropped_rows,"
			       " last_success_ns, last_error, last_error_ns, last_attempt_ns FROM push_state"
			       " ORDER BY target, tbl", -1, &st, NULL) != SQLITE_OK)
		return 0;	/* a database from before push */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *target = (const char *)sqlite3_column_text(st, 0);
		const char *tbl = (const char *)sqlite3_column_text(st, 1);
		const char *err = (const char *)sqlite3_column_text(st, 6);
		int64_t backlog = 0;
		char ok[32], bad[32];

		if (!target || !tbl || !db_table_find(tbl))
			continue;
		backlog = db_count_after(db, tbl, sqlite3_column_int64(st, 2));
		if (json) {
			struct buf b = { 0 };

			buf_puts(&b, "{\"push_target\":");
			jw_cstr(&b, target);
			buf_puts(&b, ",\"table\":");
			jw_cstr(&b, tbl);
			buf_puts(&b, ",\"pushed_rows\":");
			jw_int(&b, sqlite3_column_int64(st, 3));
			buf_puts(&b, ",\"backlog\":");
			jw_int(&b, backlog);
			buf_puts(&b, ",\"dropped_rows\":");
			jw_int(&b, sqlite3_column_int64(st, 4));
			buf_puts(&b, ",\"last_success_ns\":");
			if (sqlite3_column_type(st, 5) == SQLITE_NULL)
				buf_puts(&b, "null");
			else
				jw_int(&b, sqlite3_column_int64(st, 5));
			buf_puts(&b, ",\"last_error\":");
			jw_cstr(&b, err);
			buf_puts(&b, ",\"last_error_ns\":");
			if (sqlite3_column_type(st, 7) == SQLITE_NULL)
				buf_puts(&b, "null");
			else
				jw_int(&b, sqlite3_column_int64(st, 7));
			buf_puts(&b, "}");
			if (b.data)
				puts((const char *)b.data);
			buf_free(&b);
			continue;
		}
		if (!header++)
			printf("\npush targets\n%-44s %-12s %9s %8s %7s %-14s %s\n", "TARGET", "TABLE",
			       "PUSHED", "BACKLOG", "DROPPED", "LAST_SUCCESS", "LAST_ERROR");
		fmt_when(st, 5, ok, sizeof(ok));
		fmt_when(st, 7, bad, sizeof(bad));
		printf("%-44s %-12s %9lld %8lld %7lld %-14s %s%s%s\n", target, tbl,
		       (long long)sqlite3_column_int64(st, 3), (long long)backlog,
		       (long long)sqlite3_column_int64(st, 4), ok, err ? bad : "-", err ? " " : "",
		       err ? err : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
