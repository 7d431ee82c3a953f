/* store_write.c -- writing the queued rows: bounded transactions, a bounded backlog, and a database that refuses writes or disappears.
 *
 * Rows wait in per-table queues until store_flush(). A flush writes them in
 * transactions of at most STORE_TXN_ROWS rows / STORE_TXN_BYTES, so a disk
 * with a little room left takes what fits, and a flush does at most
 * STORE_FLUSH_TXNS of them so the capture loop keeps its pace. When the
 * database refuses (full disk, I/O error, read-only or immutable files),
 * rows stay queued, one line says so, and writing is tried again every
 * STORE_RETRY_NS; when it works again, one line says that. The queue is
 * bounded (README "When the disk fills"): past half its bytes, new call
 * rows lose their bodies; past its bounds, new rows are dropped and
 * counted. A database deleted or replaced while running is noticed at the
 * next flush and created again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "db/rows.h"
#include "db/store_int.h"
#include "db/vfs_guard.h"

/* While the database refuses writes (disk full, I/O errors, a file made
 * immutable), rows wait in memory up to these bounds; past half the bytes,
 * new call rows keep their fields but lose their bodies; past the bounds,
 * new rows are dropped and counted. */
#define STORE_QUEUE_MAX 100000
#define STORE_BACKLOG_BYTES (64u << 20)
#define STORE_TXN_ROWS 256		/* rows per transaction ... */
#define STORE_TXN_BYTES (1u << 20)	/* ... and bytes: a full disk takes what fits, and a
					 * transaction stays inside SQLite's 2 MB page cache
					 * (a larger one spilled pages to the WAL, and read
					 * them back, at 16 KB bodies) */
#define STORE_FLUSH_TXNS 8		/* transactions per store_flush(): capture keeps its pace */
#define STORE_RETRY_NS 1000000000ull	/* a refusing database is tried again this often */
#define STORE_ROW_BYTES 256		/* what a row other than a call counts for */

/* Bytes a queued row holds (its texts, for calls). */
static size_t row_size(int k, const void *row)
{
	const struct call_row *r = row;
	const char *texts[5];
	size_t n = sizeof(*r), i;

	if (k != ROW_CALL)
		return STORE_ROW_BYTES;
	texts[0] = r->response_text;
	texts[1] = r->request_headers;
	texts[2] = r->response_headers;
	texts[3] = r->error;
	texts[4] = r->exe;
	n += r->request_body_len ? r->request_body_len : r->request_body ? strlen(r->request_body) : 0;
	n += r->response_body_len ? r->response_body_len : r->response_body ? strlen(r->response_body) : 0;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		n += texts[i] ? strlen(texts[i]) : 0;
	return n;
}

/* Keep a call row without its bodies (the backlog is half full). */
static void row_strip(struct store *s, struct call_row *r)
{
	free(r->request_body);
	free(r->response_body);
	r->request_body = r->response_body = NULL;
	r->request_body_len = r->response_body_len = 0;
	if (!r->error)
		r->error = strdup("bodies not kept: the database could not be written");
	s->stripped++;
}

/* Queue row for table k; the store owns it from here. Past the backlog's
 * bounds it is dropped and counted (one line when that starts). */
static void rowq_push(struct store *s, int k, void *row)
{
	struct rowq *q = &s->q[k];
	size_t pending = store_pending(s), size;

	if (k == ROW_CALL && s->queued_bytes > STORE_BACKLOG_BYTES / 2)
		row_strip(s, row);
	size = row_size(k, row);
	if (q->head && q->n == q->cap) {
		memmove(q->rows, q->rows + q->head, (q->n - q->head) * sizeof(*q->rows));
		q->n -= q->head;
		q->head = 0;
	}
	if (pending >= STORE_QUEUE_MAX || s->queued_bytes + size > STORE_BACKLOG_BYTES)
		goto out_drop;
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		void **rows = realloc(q->rows, cap * sizeof(*rows));

		if (!rows)
			goto out_drop;
		q->rows = rows;
		q->cap = cap;
	}
	q->rows[q->n++] = row;
	s->queued_bytes += size;
	return;

out_drop:
	if (!s->full)
		log_warn("database: %zu rows (%zu MiB) wait in memory, the most it keeps: new rows are "
			 "dropped and counted until it can write again", pending, s->queued_bytes >> 20);
	s->full = 1;
	s->dropped[k]++;
	row_free(k, row);
}

/* See store_int.h. */
void store_queue_free(struct store *s)
{
	size_t i;
	int k;

	for (k = 0; k < ROW_KINDS; k++) {
		for (i = s->q[k].head; i < s->q[k].n; i++)
			row_free(k, s->q[k].rows[i]);
		s->q[k].head = s->q[k].n = 0;
	}
	s->queued_bytes = 0;
}

void store_add(struct store *s, enum row_kind kind, void *row)
{
	if (kind >= ROW_KINDS) {
		row_free(kind, row);
		return;
	}
	rowq_push(s, kind, row);
}

size_t store_pending(const struct store *s)
{
	size_t n = 0;
	int k;

	for (k = 0; k < ROW_KINDS; k++)
		n += s->q[k].n - s->q[k].head;
	return n;
}

/* 1 for errors that say the database cannot be written now (retry later),
 * 0 for a row the database refuses for itself (drop that row). */
static int store_transient(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_READONLY: case SQLITE_CANTOPEN:
	case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_NOMEM: case SQLITE_PERM:
	case SQLITE_CORRUPT: case SQLITE_NOTADB: case SQLITE_PROTOCOL:
		return 1;
	default:
		return 0;
	}
}

/* The database refused writes: say so once (and again when the reason
 * changes), retry later. */
static void store_fault(struct store *s, int rc)
{
	const char *guard = vfs_guard_fault();
	char why[sizeof(s->why)];

	snprintf(why, sizeof(why), "%s", guard ? guard : rc == SQLITE_NOMEM ? "out of memory" :
		 s->db ? sqlite3_errstr(rc) : "no database");
	if (!s->db)
		snprintf(why, sizeof(why), "%s", s->why[0] ? s->why : "cannot be opened");
	if (!s->failing || strcmp(why, s->why)) {
		log_warn("database %s: cannot write (%s); rows wait in memory (%zu now, up to %u or "
			 "%u MiB) and writing is retried every %llu s", s->path, why, store_pending(s),
			 STORE_QUEUE_MAX, STORE_BACKLOG_BYTES >> 20, STORE_RETRY_NS / 1000000000ull);
		snprintf(s->why, sizeof(s->why), "%s", why);
	}
	if (!s->failing) {
		s->failing = 1;
		s->fail_since = mono_ns();
	}
	s->retry_at = mono_ns() + STORE_RETRY_NS;
}

/* Writing works (again): one line when it had not. */
static void store_recovered(struct store *s)
{
	unsigned long long drops = 0;
	int k;

	vfs_guard_clear();
	if (s->failing) {
		for (k = 0; k < ROW_KINDS; k++)
			drops += s->dropped[k];
		log_warn("database %s: writing again after %.0f s (%s); %zu rows still waiting, %llu "
			 "dropped so far", s->path, (mono_ns() - s->fail_since) / 1e9, s->why,
			 store_pending(s), drops);
		s->failing = 0;
		s->why[0] = 0;
	}
	if (s->full && s->queued_bytes < STORE_BACKLOG_BYTES / 4)
		s->full = 0;
}

/* One transaction of at most STORE_TXN_ROWS rows / STORE_TXN_BYTES bytes,
 * tables in turn, each transaction starting at the next one: calls coming
 * faster than they are written never keep the other tables waiting. Returns
 * rows committed (0: nothing queued), or -1 when the database refused
 * (nothing committed, rows still queued). */
static int store_txn(struct store *s)
{
	size_t rows = 0, bytes = 0, took[ROW_KINDS] = { 0 }, i;
	int j, k, rc;

	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		store_fault(s, sqlite3_extended_errcode(s->db));
		return -1;
	}
	for (j = 0; j < ROW_KINDS && rows < STORE_TXN_ROWS && bytes < STORE_TXN_BYTES; j++) {
		struct rowq *q;

		k = (s->turn + j) % ROW_KINDS;
		q = &s->q[k];

		for (i = q->head; i < q->n && rows < STORE_TXN_ROWS && bytes < STORE_TXN_BYTES; i++) {
			rc = store_insert(s, k, q->rows[i]);
			if (rc != SQLITE_DONE && store_transient(rc))
				goto out_rollback;
			if (rc != SQLITE_DONE) {
				/* this row, never the others: dropped, said once per row */
				log_warn("database: a row of %s refused (%s): dropped", row_table(k),
					 sqlite3_errmsg(s->db));
				s->dropped[k]++;
			}
			took[k]++;
			rows++;
			bytes += row_size(k, q->rows[i]);
		}
	}
	if (!rows) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	s->turn = (s->turn + 1) % ROW_KINDS;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sqlite3_extended_errcode(s->db);
		goto out_rollback;
	}
	for (k = 0; k < ROW_KINDS; k++) {
		struct rowq *q = &s->q[k];

		for (i = 0; i < took[k]; i++) {
			s->queued_bytes -= row_size(k, q->rows[q->head]);
			row_free(k, q->rows[q->head++]);
		}
		s->written[k] += took[k];
		if (q->head == q->n)
			q->head = q->n = 0;
	}
	return (int)rows;

out_rollback:
	/* SQLite may have rolled back already (a full disk): only when still open */
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	store_fault(s, rc);
	return -1;
}

int store_flush(struct store *s)
{
	int n, total = 0, t;

	if (s->failing && mono_ns() < s->retry_at)
		return -1;
	if (store_check(s) < 0 || !s->db)
		return -1;
	for (t = 0; t < STORE_FLUSH_TXNS && store_pending(s); t++) {
		n = store_txn(s);
		if (n < 0)
			return total ? total : -1;
		total += n;
		store_recovered(s);
	}
	return total;
}

void store_drain(struct store *s)
{
	s->retry_at = 0;	/* one last attempt, whatever the backoff says */
	while (store_pending(s) && store_flush(s) > 0)
		;
}

size_t store_pending_bytes(const struct store *s)
{
	return s->queued_bytes;
}

unsigned long long store_written(const struct store *s)
{
	return s->written[ROW_CALL];
}

unsigned long long store_unstored(const struct store *s)
{
	return s->dropped[ROW_CALL] + (s->q[ROW_CALL].n - s->q[ROW_CALL].head);
}

unsigned long long store_dropped(const struct store *s)
{
	unsigned long long n = 0;
	int k;

	for (k = 0; k < ROW_KINDS; k++)
		n += s->dropped[k];
	return n;
}

const char *store_problem(const struct store *s, char *buf, size_t n)
{
	unsigned long long drops = 0;
	int k;

	for (k = 0; k < ROW_KINDS; k++)
		drops += s->dropped[k];
	if (!s->failing && !s->full)
		return NULL;
	snprintf(buf, n, "database cannot be written since %.0f s (%s): %zu rows waiting in memory, "
		 "%llu dropped", s->failing ? (mono_ns() - s->fail_since) / 1e9 : 0.0,
		 s->why[0] ? s->why : "backlog full", store_pending(s), drops);
	return buf;
}

int store_generation(const struct store *s)
{
	return s->generation;
}

int store_check(struct store *s)
{
	if (s->db && !dbfile_gone(&s->file))
		return 0;
	if (s->db) {
		log_warn("database %s was deleted or replaced while running: the %llu calls written to "
			 "it went with it; creating a new one", s->path, s->written[ROW_CALL]);
		store_disconnect(s);
		s->generation++;
	}
	/* quiet after the first try: one line per state change, not per attempt */
	if (dbfile_open(&s->file, s->path, s->failing) || store_connect(s, s->file.path, 0)) {
		dbfile_close(&s->file);
		snprintf(s->why, sizeof(s->why), "%s cannot be created", s->path);
		store_fault(s, SQLITE_CANTOPEN);
		return -1;
	}
	log_warn("database %s created again", s->path);
	return 1;
}

