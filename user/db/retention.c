/* retention.c -- keeping the database small: pushed rows older than --retain-days go, then the oldest rows while over --max-db-mb.
 *
 * A row is deleted by age only once every push target that pushes its
 * table has delivered it (push_state.last_rowid), and the row holding a
 * table's largest rowid never is: SQLite gives a new row max(rowid)+1, so
 * keeping it keeps the push cursors from skipping rows. The messages keep
 * the "push:" prefix they always had (retention runs on the pusher's
 * thread and guards what it has not delivered). */
#include "db/retention.h"

#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/store.h"
#include "base/util.h"

#define RETAIN_CHUNK 2000		/* rows per DELETE transaction (by age) */
#define CAP_CHUNK 100			/* rows per table and DELETE (over --max-db-mb) */
#define RETAIN_WARN_EVERY_S 3600

/* A table of db_tables the database has. */
struct retention_table {
	const char *name;
	const char *time_col;		/* epoch-ns column giving the row's time; NULL if none */
};

struct retention {
	struct retention_opts o;	/* o.targets points to targets */
	struct retention_target *targets;
	int ntargets;
	sqlite3 *db;
	struct retention_table tabs[DB_TABLES];
	int ntabs;
	uint64_t warned_old_ns;		/* when "not pushed yet" was last said */
	char dir[PATH_MAX];		/* the database's directory (its volume) */
	int auto_vacuum;		/* 2: incremental, freed pages can go back */
	int warned_no_vacuum;
};

/* How one shrinking pass measures "too big", and what it deleted. */
struct shrink {
	const char *reason;		/* "max-db-mb" or "max-disk-pct" */
	int (*over)(struct retention *r, double *now);	/* 1 while over; *now the measure */
	int64_t deleted[DB_TABLES];
	int64_t unpushed;		/* of which not delivered yet */
};

/* 1 when the pass should end now (the pusher stops). */
static int retention_stopping(struct retention *r)
{
	return r->o.stopping && r->o.stopping(r->o.ud);
}

/* Find whether the database has table d and which of its time columns
 * comes first. Returns 0 and *tab, 1 when there is no such table, -1 on
 * error. */
static int retention_table_load(sqlite3 *db, const struct db_table *d, struct retention_table *tab)
{
	sqlite3_stmt *st;
	char q[128];
	int rc, i, best = 3, ncols = 0;

	snprintf(q, sizeof(q), "PRAGMA table_info(\"%s\")", d->name);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);

		if (!name)
			break;
		ncols++;
		for (i = 0; i < best && d->time_cols[i]; i++)
			if (!strcmp(name, d->time_cols[i]))
				best = i;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (!ncols)
		return 1;
	tab->name = d->name;
	tab->time_col = best < 3 ? d->time_cols[best] : NULL;
	return 0;
}

/* The integer a one-value PRAGMA returns; -1 on error. */
static int64_t retention_pragma(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int retention_open(struct retention **out, const char *path, const struct retention_opts *o)
{
	struct retention *r = calloc(1, sizeof(*r));
	int i;

	*out = NULL;
	if (!r)
		return -1;
	r->o = *o;
	if (o->ntargets) {
		r->targets = calloc(o->ntargets, sizeof(*r->targets));
		if (!r->targets)
			goto out_free;
		memcpy(r->targets, o->targets, o->ntargets * sizeof(*r->targets));
		r->ntargets = o->ntargets;
	}
	r->o.targets = r->targets;
	if (db_open("push", path, &r->db))
		goto out_free;
	{
		char *dup = strdup(path);

		snprintf(r->dir, sizeof(r->dir), "%s", dup ? dirname(dup) : ".");
		free(dup);
	}
	r->auto_vacuum = (int)retention_pragma(r->db, "PRAGMA auto_vacuum");
	sqlite3_exec(r->db, "PRAGMA journal_size_limit=" STORE_STR(STORE_WAL_JOURNAL_LIMIT), NULL, NULL,
		     NULL);
	for (i = 0; i < DB_TABLES; i++)
		if (retention_table_load(r->db, &db_tables[i], &r->tabs[r->ntabs]) == 0)
			r->ntabs++;
	*out = r;
	return 0;

out_free:
	free(r->targets);
	free(r);
	return -1;
}

void retention_close(struct retention *r)
{
	if (!r)
		return;
	sqlite3_close(r->db);
	free(r->targets);
	free(r);
}

/* 1 when target t pushes table (so its cursor guards the table's rows). */
static int retention_pushes(const struct retention_target *t, const char *table)
{
	const char *const *n;

	if (!t->tables)
		return 1;
	for (n = t->tables; *n; n++)
		if (!strcmp(*n, table))
			return 1;
	return 0;
}

/* The rowid up to which every target that pushes the table has delivered;
 * INT64_MAX when no target pushes it, 0 when push_state cannot be read. */
static int64_t retention_pushed_upto(struct retention *r, const char *table)
{
	sqlite3 *db = r->db;
	sqlite3_stmt *st;
	int64_t upto = INT64_MAX, v;
	int i;

	if (sqlite3_prepare_v2(db, "SELECT last_rowid FROM push_state WHERE target = ?1 AND tbl = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	for (i = 0; i < r->ntargets; i++) {
		const struct retention_target *t = &r->targets[i];

		if (!retention_pushes(t, table))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, t->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
		v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		if (v < upto)
			upto = v;
	}
	sqlite3_finalize(st);
	return upto;
}

/* The bytes of the database's pages in use (not free); -1 on error. */
static int64_t retention_used_bytes(sqlite3 *db)
{
	static const char *const q[] = { "PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size" };
	int64_t v[3] = { 0, 0, 0 };
	sqlite3_stmt *st;
	int i;

	for (i = 0; i < 3; i++) {
		if (sqlite3_prepare_v2(db, q[i], -1, &st, NULL) != SQLITE_OK)
			return -1;
		if (sqlite3_step(st) == SQLITE_ROW)
			v[i] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return (v[0] - v[1]) * v[2];
}

/* Delete up to limit rows of table with rowid <= upto (never the newest
 * row), older than cutoff_ns when time_col is set, oldest first. Returns
 * rows deleted, -1 on error. */
static int retention_delete_chunk(sqlite3 *db, const char *table, const char *time_col,
				  int64_t upto, int64_t cutoff_ns, int limit)
{
	sqlite3_stmt *st;
	char q[512];
	int rc;

	snprintf(q, sizeof(q),
		 "DELETE FROM \"%s\" WHERE rowid IN (SELECT rowid FROM \"%s\" WHERE rowid <= ?1"
		 " AND rowid < (SELECT max(rowid) FROM \"%s\")%s%s%s ORDER BY rowid LIMIT %d)",
		 table, table, table, time_col ? " AND \"" : "", time_col ? time_col : "",
		 time_col ? "\" < ?2" : "", limit);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, upto);
	sqlite3_bind_int64(st, 2, cutoff_ns);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

/* Rows of table after rowid after (not delivered yet) older than cutoff_ns by
 * time_col; 0 when it cannot be counted. */
static int64_t retention_count_old(sqlite3 *db, const char *table, const char *time_col,
				   int64_t after, int64_t cutoff_ns)
{
	sqlite3_stmt *st;
	char q[256];
	int64_t n = 0;

	snprintf(q, sizeof(q), "SELECT count(*) FROM \"%s\" WHERE rowid > ?1 AND \"%s\" < ?2",
		 table, time_col);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, cutoff_ns);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Delete, table by table, the delivered rows older than retain_days, and
 * say (at most every RETAIN_WARN_EVERY_S) when old rows wait for delivery. */
static void retention_by_age(struct retention *r)
{
	const struct retention_opts *o = &r->o;
	uint64_t now = mono_ns();
	int64_t cutoff, upto, old, deleted_total = 0;
	int i, n;

	cutoff = (int64_t)real_ns() - (int64_t)(o->retain_days * 86400e9);
	for (i = 0; i < r->ntabs && !retention_stopping(r); i++) {
		const struct retention_table *tab = &r->tabs[i];

		if (!tab->time_col)
			continue;
		upto = retention_pushed_upto(r, tab->name);
		while ((n = retention_delete_chunk(r->db, tab->name, tab->time_col, upto, cutoff,
						   RETAIN_CHUNK)) > 0 &&
		       !retention_stopping(r))
			deleted_total += n;
		if (upto == INT64_MAX)
			continue;
		old = retention_count_old(r->db, tab->name, tab->time_col, upto, cutoff);
		if (old > 0 && (!r->warned_old_ns ||
				now - r->warned_old_ns > RETAIN_WARN_EVERY_S * 1000000000ull)) {
			log_warn("push: %lld row(s) of %s older than %g day(s) are not pushed yet;"
				 " kept until delivered", (long long)old, tab->name, o->retain_days);
			r->warned_old_ns = now;
		}
	}
	if (deleted_total)
		log_debug("retention: deleted %lld row(s) older than %g day(s)",
			  (long long)deleted_total, o->retain_days);
}

/* --max-db-mb: over while the used pages exceed max_db_bytes. */
static int over_db_size(struct retention *r, double *now)
{
	int64_t used = retention_used_bytes(r->db);

	*now = used / 1048576.0;
	return used >= 0 && (uint64_t)used > r->o.max_db_bytes;
}

/* --max-disk-pct: over while the volume is fuller than max_disk_pct, the
 * database's free pages counted as free. */
static int over_disk(struct retention *r, double *now)
{
	int64_t freelist = retention_pragma(r->db, "PRAGMA freelist_count");
	int64_t page = retention_pragma(r->db, "PRAGMA page_size");
	double used, avail;
	struct statvfs v;

	if (statvfs(r->dir, &v) || !v.f_blocks)
		return 0;
	used = (double)(v.f_blocks - v.f_bfree) * v.f_frsize;
	avail = (double)v.f_bavail * v.f_frsize;
	if (freelist > 0 && page > 0) {
		used -= (double)freelist * page;
		avail += (double)freelist * page;
	}
	*now = used + avail > 0 ? 100.0 * used / (used + avail) : 0;
	return *now > r->o.max_disk_pct;
}

void retention_checkpoint(struct retention *r)
{
	sqlite3_wal_checkpoint_v2(r->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* Hand the database's free pages back to the volume (auto_vacuum
 * databases) and checkpoint, so the file really shrinks. */
static void retention_release(struct retention *r)
{
	if (r->auto_vacuum != 2) {
		if (!r->warned_no_vacuum)
			log_warn("push: the database was made by an older llmtap (no auto_vacuum): rows "
				 "deleted for space free pages inside it, which it reuses, but the file "
				 "does not shrink");
		r->warned_no_vacuum = 1;
		return;
	}
	sqlite3_exec(r->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
	sqlite3_exec(r->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
}

/* The events row of a shrinking pass that deleted rows. */
static void shrink_notice(struct retention *r, const struct shrink *k, double before, double after,
			  double limit)
{
	json_t *rows = json_object(), *a;
	int64_t total = 0;
	int i;

	for (i = 0; i < r->ntabs; i++) {
		total += k->deleted[i];
		if (rows && k->deleted[i])
			json_object_set_new(rows, r->tabs[i].name, json_integer(k->deleted[i]));
	}
	if (!total) {
		json_decref(rows);
		return;
	}
	log_warn("push: deleted %lld row(s) (%lld not pushed yet) for %s: %.1f -> %.1f (limit %g)",
		 (long long)total, (long long)k->unpushed, k->reason, before, after, limit);
	a = json_pack("{s:s, s:f, s:f, s:f, s:I, s:I, s:o*}", "reason", k->reason, "before", before,
		      "after", after, "limit", limit, "rows", (json_int_t)total, "unpushed_rows",
		      (json_int_t)k->unpushed, "tables", rows);
	if (r->o.notice)
		r->o.notice(r->o.notice_ud, k->unpushed ? "warning" : "info", "retention.deleted", a);
	else
		json_decref(a);
}

/* While k->over(): the oldest delivered rows of every table first; then,
 * with a warning, the oldest others. The freed pages go back to the volume
 * after each round. */
static void retention_shrink(struct retention *r, struct shrink *k, double limit)
{
	double before = 0, now = 0;
	int i, n, d, rounds, unpushed = 0;

	if (!k->over(r, &before))
		return;
	now = before;
	for (rounds = 0; rounds < 100000 && !retention_stopping(r); rounds++) {
		if (rounds && !k->over(r, &now))
			break;
		for (i = 0, n = 0; i < r->ntabs; i++) {
			int64_t upto = retention_pushed_upto(r, r->tabs[i].name);

			d = retention_delete_chunk(r->db, r->tabs[i].name, NULL,
						   unpushed ? INT64_MAX : upto, 0, CAP_CHUNK);
			if (d > 0) {
				n += d;
				k->deleted[i] += d;
				if (unpushed && upto != INT64_MAX)
					k->unpushed += d;
			}
		}
		if (n) {
			retention_release(r);
			continue;
		}
		if (unpushed) {
			log_warn("push: still over %s %g (%.1f): nothing left to delete", k->reason, limit, now);
			break;
		}
		unpushed = 1;
		log_warn("push: over %s %g (%.1f) with no pushed row left to delete: deleting the oldest "
			 "rows NOT yet pushed", k->reason, limit, now);
	}
	k->over(r, &now);
	shrink_notice(r, k, before, now, limit);
}

void retention_disk(struct retention *r)
{
	struct shrink k = { .reason = "max-disk-pct", .over = over_disk };

	if (r->o.max_disk_pct > 0)
		retention_shrink(r, &k, r->o.max_disk_pct);
}

void retention_run(struct retention *r)
{
	if (r->o.retain_days > 0)
		retention_by_age(r);
	if (r->o.max_db_bytes) {
		struct shrink k = { .reason = "max-db-mb", .over = over_db_size };

		retention_shrink(r, &k, r->o.max_db_bytes / 1048576.0);
	}
	retention_disk(r);
}
