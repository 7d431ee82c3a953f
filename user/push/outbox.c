/* outbox.c -- the push outbox: the tables a target reads, its cursors in push_state, one batch and one round of batches.
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
 * rowid is never deleted; retention (db/retention.c) keeps it. */
#include "push/push_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "base/util.h"

/* ---- tables ---- */

/* Free tab's columns and statement; tab is left empty (freeing it again is a no-op). */
static void outbox_tab_free(struct push_tab *tab)
{
	int i;

	for (i = 0; i < tab->ncols; i++)
		free((char *)tab->cols[i].name);
	free(tab->cols);
	sqlite3_finalize(tab->sel);
	memset(tab, 0, sizeof(*tab));
}

/* The index of column name in tab; -1 when none (or name is NULL). */
static int outbox_col_find(const struct push_tab *tab, const char *name)
{
	int i;

	for (i = 0; name && i < tab->ncols; i++)
		if (!strcmp(tab->cols[i].name, name))
			return i;
	return -1;
}

/* Read the columns of table d into tab (types, time column, dedup key) and
 * prepare its batch SELECT. Returns 0, 1 when the database has no such
 * table, -1 on error. */
static int outbox_tab_load(sqlite3 *db, const struct db_table *d, struct push_tab *tab)
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
			outbox_tab_free(tab);
			return -1;
		}
		c[tab->ncols].name = strdup(name);
		c[tab->ncols].type = pcol_type_of(decl, name);
		c[tab->ncols].nullable = 1;
		if (!c[tab->ncols].name) {
			sqlite3_finalize(st);
			outbox_tab_free(tab);
			return -1;
		}
		tab->ncols++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		outbox_tab_free(tab);
		return -1;
	}
	if (!tab->ncols)
		return 1;
	for (i = 0; i < 3 && d->time_cols[i] && !tab->time_col; i++)
		if (outbox_col_find(tab, d->time_cols[i]) >= 0)
			tab->time_col = d->time_cols[i];
	if ((i = outbox_col_find(tab, "id")) >= 0) {
		tab->key[tab->nkey++] = i;
	} else {
		for (i = 0; i < 3 && d->alt_key[i]; i++)
			if (outbox_col_find(tab, d->alt_key[i]) < 0)
				break;
		if (i && (i == 3 || !d->alt_key[i]))
			for (i = 0; i < 3 && d->alt_key[i]; i++)
				tab->key[tab->nkey++] = outbox_col_find(tab, d->alt_key[i]);
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
		outbox_tab_free(tab);
		return -1;
	}
	buf_free(&sql);
	return 0;
}

int push_is_body(const char *table, const char *name)
{
	if (!strcmp(table, "agent_steps"))	/* a tool call's arguments, and the command in them */
		return !strcmp(name, "arguments") || !strcmp(name, "command");
	return !strcmp(table, "llm_calls") &&
	       (!strcmp(name, "request_body") || !strcmp(name, "response_body") ||
		!strcmp(name, "response_text"));
}

/* 1 when target kind ops pushes table name. */
static int outbox_pushes(const struct push_kind_ops *ops, const char *name)
{
	const char *const *t;

	if (!ops->tables)
		return 1;
	for (t = ops->tables; *t; t++)
		if (!strcmp(*t, name))
			return 1;
	return 0;
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

/* A (target, table) row of push_state: the cursor and the batch in flight. */
struct outbox_state {
	int64_t last_rowid, inflight_rowid;
	char inflight_id[40];
};

/* Run one statement of push_state: ?1 target, ?2 table, ?3.. the ints, then
 * the text. Returns 0, -1 on error. */
static int outbox_exec(sqlite3 *db, const char *sql, const char *target, const char *tbl,
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

/* Read t's cursor of tab into *ps (creating its push_state row when
 * missing). Returns 0, -1 on a database error. */
static int outbox_state_load(struct push_target *t, const struct push_tab *tab,
			     struct outbox_state *ps)
{
	sqlite3_stmt *st;
	int rc = -1;

	memset(ps, 0, sizeof(*ps));
	if (outbox_exec(t->db, "INSERT OR IGNORE INTO push_state (target, tbl) VALUES (?1, ?2)",
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

/* Record err as the last error of t's tab (NULL: of every table of t). */
static void outbox_state_error(struct push_target *t, const struct push_tab *tab, const char *err)
{
	int64_t now = (int64_t)real_ns();

	outbox_exec(t->db, "UPDATE push_state SET last_error = ?4, last_error_ns = ?3,"
			   " last_attempt_ns = ?3 WHERE target = ?1 AND tbl = ?2",
		    t->url.key, tab ? tab->name : "", 1, &now, err);
	if (!tab) {
		/* a setup failure concerns every table of the target */
		int i;

		for (i = 0; i < t->ntabs; i++)
			outbox_state_error(t, &t->tabs[i], err);
	}
}

/* Record how many rows of tab wait after the cursor. */
static void outbox_state_backlog(struct push_target *t, const struct push_tab *tab)
{
	struct outbox_state ps;
	int64_t n;

	if (outbox_state_load(t, tab, &ps))
		return;
	n = db_count_after(t->db, tab->name, ps.last_rowid);
	outbox_exec(t->db, "UPDATE push_state SET backlog = ?3 WHERE target = ?1 AND tbl = ?2",
		    t->url.key, tab->name, 1, &n, NULL);
}

/* Move t's cursor of tab past the batch of nrows rows up to rowid last that
 * the target took (r->outcome PUSH_OK) or rejected for good (PUSH_DROP,
 * counted and said). Of an in-flight batch rebuilt after a restart, rows
 * past last were deleted or are left for the next batch. */
static void outbox_state_sent(struct push_target *t, const struct push_tab *tab,
			      const struct push_result *r, int nrows, int64_t last)
{
	int64_t now = (int64_t)real_ns(), v[3] = { now, nrows, last };

	if (r->outcome == PUSH_OK) {
		t->delivered_ns = (uint64_t)now;
		if (outbox_exec(t->db, "UPDATE push_state SET last_rowid = ?5, inflight_rowid = NULL,"
				       " inflight_id = NULL, pushed_rows = pushed_rows + ?4,"
				       " last_success_ns = ?3, last_attempt_ns = ?3"
				       " WHERE target = ?1 AND tbl = ?2",
				t->url.key, tab->name, 3, v, NULL))
			log_warn("push: %s: cannot record the delivery of %d row(s) of %s (%s); "
				 "they will be sent again", t->url.key, nrows, tab->name,
				 sqlite3_errmsg(t->db));
		return;
	}
	log_warn("push: %s: %d row(s) of %s rejected and dropped: %s", t->url.key, nrows,
		 tab->name, r->err);
	outbox_exec(t->db, "UPDATE push_state SET last_rowid = ?5, inflight_rowid = NULL,"
			   " inflight_id = NULL, dropped_rows = dropped_rows + ?4, last_error = ?6,"
			   " last_error_ns = ?3, last_attempt_ns = ?3 WHERE target = ?1 AND tbl = ?2",
		    t->url.key, tab->name, 3, v, r->err);
}

/* ---- one batch ---- */

/* Push one batch of tab. Returns rows delivered or dropped (0: nothing to
 * push), -1 on failure (r says why); *more says rows are left. */
static int outbox_batch(struct push_target *t, struct push_tab *tab, struct push_result *r,
			int *more)
{
	const struct push_opts *o = &t->p->o;
	struct buf body = { 0 };
	struct outbox_state ps;
	int64_t last = 0;
	int nrows = 0, inflight, full;
	char id[40];

	*more = 0;
	r->outcome = PUSH_OK;
	r->retry_after = -1;
	r->err[0] = 0;
	if (outbox_state_load(t, tab, &ps)) {
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
			outbox_exec(t->db, "UPDATE push_state SET last_rowid = ?3, inflight_rowid = NULL,"
					   " inflight_id = NULL WHERE target = ?1 AND tbl = ?2",
				    t->url.key, tab->name, 1, &ps.inflight_rowid, NULL);
			*more = 1;
		}
		return 0;
	}
	if (!inflight &&
	    outbox_exec(t->db, "UPDATE push_state SET inflight_rowid = ?3, inflight_id = ?4"
			       " WHERE target = ?1 AND tbl = ?2", t->url.key, tab->name, 1, &last, id)) {
		buf_free(&body);
		push_set_error(t, r, "database: %s", sqlite3_errmsg(t->db));
		r->outcome = PUSH_RETRY;
		return -1;
	}
	/* rows the target does not take yet (OTLP: runs still going) make an
	 * empty batch: the cursor passes them, their later rows will go */
	if (body.len)
		t->ops->send(t, tab, &body, id, nrows, r);
	buf_free(&body);
	if (r->outcome == PUSH_RETRY) {
		outbox_state_error(t, tab, r->err);
		return -1;
	}
	outbox_state_sent(t, tab, r, nrows, last);
	/* More waits when the batch was full (or a replayed one); rows that came
	 * while it was sent wait for the interval or a full batch. */
	*more = full || inflight || nrows >= o->batch_rows;
	return nrows;
}

/* One batch of every table. Returns 1 when rows are left, 0 when every
 * table is drained, -1 on failure (r says why). */
int push_outbox_round(struct push_target *t, struct push_result *r)
{
	int i, more, any = 0, n;

	if (!t->ready && t->ops->setup) {
		r->retry_after = -1;
		if (t->ops->setup(t, r)) {
			outbox_state_error(t, NULL, r->err);
			return -1;
		}
	}
	t->ready = 1;
	for (i = 0; i < t->ntabs; i++) {
		n = outbox_batch(t, &t->tabs[i], r, &more);
		if (n < 0) {
			t->ready = 0;
			return -1;
		}
		if (n > 0)
			t->failures = 0;	/* the target takes rows: backoff starts over */
		if (more)
			any = 1;
		else
			outbox_state_backlog(t, &t->tabs[i]);
	}
	return any;
}

/* Rows waiting after each table's cursor, on the worker's own connection
 * (reads only: a table without a cursor yet waits whole). */
int64_t push_outbox_backlog(struct push_target *t)
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

uint64_t push_outbox_last_success(struct push_target *t)
{
	sqlite3_stmt *st;
	uint64_t ns = 0;

	if (sqlite3_prepare_v2(t->db, "SELECT max(last_success_ns) FROM push_state WHERE target = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, t->url.key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		ns = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return ns;
}

int push_outbox_open(struct push_target *t)
{
	size_t i;
	int rc;

	if (db_open("push", t->p->db_path, &t->db))
		return -1;
	for (i = 0; i < DB_TABLES && t->ntabs < PUSH_TABLES_MAX; i++) {
		if (!outbox_pushes(t->ops, db_tables[i].name))
			continue;
		rc = outbox_tab_load(t->db, &db_tables[i], &t->tabs[t->ntabs]);
		if (rc < 0) {
			log_warn("push: %s: cannot read table %s: %s", t->url.key, db_tables[i].name,
				 sqlite3_errmsg(t->db));
			return -1;
		}
		if (!rc)
			t->ntabs++;
	}
	return 0;
}

void push_outbox_close(struct push_target *t)
{
	int i;

	for (i = 0; i < t->ntabs; i++)
		outbox_tab_free(&t->tabs[i]);
	t->ntabs = 0;
	sqlite3_close(t->db);
	t->db = NULL;
}
