/* target_clickhouse.c -- the ClickHouse target: tables created if missing (ReplacingMergeTree), rows inserted as JSONEachRow over HTTP.
 *
 * Written for ClickHouse 18.16 (Debian bookworm) and later: no DateTime64
 * (ns columns are UInt64, the row's time a DateTime), no ADD COLUMN IF NOT
 * EXISTS (missing columns are found in system.columns). A gzip'd request
 * body (Content-Encoding: gzip) is accepted by 18.16 without any setting. */
#include "push/push_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Columns every ClickHouse table has before the SQLite ones. */
#define CH_FIRST_COLS "`host_id` String, `time` DateTime, `row_version` UInt64"
#define CH_NFIRST 3

/* A query sent as the POST body (DDL, SELECT). Returns 0, or -1 with r set. */
static int ch_query(struct push_target *t, const char *sql, struct buf *resp, struct push_result *r)
{
	struct push_http h = { 0 };
	int rc = -1;

	h.url = t->url.endpoint;
	h.content_type = "text/plain; charset=utf-8";
	h.body = sql;
	h.len = strlen(sql);
	if (push_http_post(t, &h, 0)) {
		push_set_error(t, r, "ClickHouse: %s", h.err);
	} else if (h.status != 200) {
		push_set_error(t, r, "ClickHouse: HTTP %ld: %.200s", h.status,
			       h.resp.data ? (const char *)h.resp.data : "");
	} else {
		rc = 0;
		if (resp) {
			*resp = h.resp;
			return 0;
		}
	}
	buf_free(&h.resp);
	r->outcome = PUSH_RETRY;
	r->retry_after = h.retry_after;
	return rc;
}

/* The ORDER BY of a table: host_id and its dedup key (else the rowid). */
static void ch_order_by(const struct push_tab *tab, struct buf *b)
{
	int i;

	buf_puts(b, "`host_id`");
	for (i = 0; i < tab->nkey; i++) {
		buf_puts(b, ", `");
		buf_puts(b, tab->cols[tab->key[i]].name);
		buf_puts(b, "`");
	}
	if (!tab->nkey)
		buf_puts(b, ", `row_version`");
}

/* Is name a line of the TabSeparated list in resp? */
static int has_line(const struct buf *resp, const char *name)
{
	const char *p = resp->data ? (const char *)resp->data : "";
	size_t n = strlen(name);

	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !memcmp(p, name, n))
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

/* Create the database and the tables when missing, and add the columns an
 * older llmtap's tables lack. Returns 0, or -1 with r set. */
static int ch_setup(struct push_target *t, struct push_result *r)
{
	struct buf sql = { 0 }, order = { 0 }, cols = { 0 };
	const char *db = t->url.database;
	int i, j, rc = 0;

	buf_puts(&sql, "CREATE DATABASE IF NOT EXISTS `");
	buf_puts(&sql, db);
	buf_puts(&sql, "`");
	if ((rc = ch_query(t, (const char *)sql.data, NULL, r)))
		goto out_free;
	for (i = 0; i < t->ntabs && !rc; i++) {
		struct push_tab *tab = &t->tabs[i];

		buf_reset(&sql);
		buf_reset(&order);
		ch_order_by(tab, &order);
		if (ch_create_sql(&sql, db, tab->name, CH_FIRST_COLS, tab->cols, tab->ncols,
				  "row_version", "time", (const char *)order.data)) {
			push_set_error(t, r, "out of memory");
			rc = -1;
			break;
		}
		if ((rc = ch_query(t, (const char *)sql.data, NULL, r)))
			break;
		/* A table made by an older llmtap lacks the newer columns. */
		buf_reset(&sql);
		buf_puts(&sql, "SELECT name FROM system.columns WHERE database = '");
		buf_puts(&sql, db);
		buf_puts(&sql, "' AND table = '");
		buf_puts(&sql, tab->name);
		buf_puts(&sql, "' FORMAT TabSeparated");
		buf_free(&cols);
		if ((rc = ch_query(t, (const char *)sql.data, &cols, r)))
			break;
		for (j = 0; j < tab->ncols && !rc; j++) {
			if (has_line(&cols, tab->cols[j].name))
				continue;
			buf_reset(&sql);
			ch_add_column_sql(&sql, db, tab->name, &tab->cols[j]);
			rc = ch_query(t, (const char *)sql.data, NULL, r);
			if (!rc)
				log_warn("push: %s: added column %s.%s", t->url.key, tab->name,
					 tab->cols[j].name);
		}
	}
out_free:
	buf_free(&sql);
	buf_free(&order);
	buf_free(&cols);
	return rc ? -1 : 0;
}

/* The rows of st as JSONEachRow lines, each led by host_id, time and
 * row_version (its rowid). As push_kind_ops.build. */
static int ch_build(struct push_target *t, struct push_tab *tab, sqlite3_stmt *st,
		    const char *batch_id, struct buf *body, int64_t *last, int *nrows)
{
	int n = CH_NFIRST + tab->ncols, i, rc, tcol = -1;
	struct pcol *cols = calloc(n, sizeof(*cols));
	struct pval *vals = calloc(n, sizeof(*vals));
	const char *host = push_host_id(t->p);

	(void)batch_id;
	if (!cols || !vals) {
		free(cols);
		free(vals);
		return -1;
	}
	cols[0] = (struct pcol){ "host_id", PCOL_STRING, 0 };
	cols[1] = (struct pcol){ "time", PCOL_UINT, 0 };	/* a DateTime parses epoch seconds */
	cols[2] = (struct pcol){ "row_version", PCOL_UINT, 0 };
	memcpy(cols + CH_NFIRST, tab->cols, tab->ncols * sizeof(*cols));
	for (i = 0; tab->time_col && i < tab->ncols; i++)
		if (!strcmp(tab->cols[i].name, tab->time_col))
			tcol = i;
	vals[0].s = host;
	vals[0].n = strlen(host);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		push_row_vals(st, tab, vals + CH_NFIRST, push_opts_of(t->p)->bodies);
		/* the row's time (fixed per row: the partition must not move between re-sends) */
		vals[1].i = tcol >= 0 && !vals[CH_NFIRST + tcol].null && vals[CH_NFIRST + tcol].i > 0 ?
			    vals[CH_NFIRST + tcol].i / 1000000000 : 0;
		vals[2].i = sqlite3_column_int64(st, 0);
		if (push_row_json(body, cols, vals, n) || buf_append(body, "\n", 1)) {
			rc = SQLITE_NOMEM;
			break;
		}
		*last = sqlite3_column_int64(st, 0);
		(*nrows)++;
		if (body->len >= PUSH_BATCH_BYTES) {
			rc = SQLITE_FULL;
			break;
		}
	}
	free(cols);
	free(vals);
	return rc == SQLITE_DONE ? 0 : rc == SQLITE_FULL ? 1 : -1;
}

/* INSERT the batch into its table; any failure is retried. As push_kind_ops.send. */
static void ch_send(struct push_target *t, struct push_tab *tab, const struct buf *body,
		    const char *batch_id, int nrows, struct push_result *r)
{
	struct push_http h = { 0 };
	struct buf url = { 0 };

	(void)batch_id;
	(void)nrows;
	r->outcome = PUSH_RETRY;
	if (buf_puts(&url, t->url.endpoint) || buf_puts(&url, "?") ||
	    ch_insert_query(&url, t->url.database, tab->name)) {
		buf_free(&url);
		push_set_error(t, r, "out of memory");
		return;
	}
	h.url = (const char *)url.data;
	h.content_type = "application/x-ndjson";
	h.body = body->data;
	h.len = body->len;
	if (push_http_post(t, &h, 1)) {
		push_set_error(t, r, "ClickHouse: %s", h.err);
	} else if (h.status == 200) {
		r->outcome = PUSH_OK;
	} else {
		/* ClickHouse errors are retried: a table or column may be missing again, the
		 * server may be overloaded; at least once means never dropping rows here. */
		push_set_error(t, r, "ClickHouse: HTTP %ld: %.200s", h.status,
			       h.resp.data ? (const char *)h.resp.data : "");
		r->retry_after = h.retry_after;
	}
	buf_free(&h.resp);
	buf_free(&url);
}

const struct push_kind_ops push_clickhouse_ops = {
	.name = "clickhouse",
	.tables = NULL,
	.setup = ch_setup,
	.build = ch_build,
	.send = ch_send,
};
