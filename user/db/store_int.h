/* store_int.h -- what the files of db/ share: the store itself, its SQLite connection, the host view's statements and binds. */
#ifndef LLMTAP_STORE_INT_H
#define LLMTAP_STORE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "db/dbfile.h"
#include "db/store.h"

/* The host view's tables (store_host.c): their migration, insert statements
 * and binds (statement parameters from 1, in the statement's order). */
extern const char store_schema_host[];
extern const char store_host_sql[], store_fs_sql[], store_disk_sql[], store_net_sql[];
extern const char store_event_sql[], store_span_sql[];
void store_bind_host(sqlite3_stmt *st, const void *row);
void store_bind_fs(sqlite3_stmt *st, const void *row);
void store_bind_disk(sqlite3_stmt *st, const void *row);
void store_bind_net(sqlite3_stmt *st, const void *row);
void store_bind_event(sqlite3_stmt *st, const void *row);
void store_bind_span(sqlite3_stmt *st, const void *row);
/* Bind the resource columns rss_bytes, vms_bytes, num_threads, fds, state,
 * read_bytes, write_bytes, disk_read_bytes, disk_write_bytes from parameter
 * i on. Returns the next parameter. */
int store_bind_res(sqlite3_stmt *st, int i, const struct proc_res *r);
/* Rows of one table waiting to be written: rows[head, n). */
struct rowq {
	sqlite3_stmt *insert;
	void **rows;
	size_t head, n, cap;
};

struct store {
	sqlite3 *db;
	struct dbfile file;		/* the tracer's own database: its lock */
	char *path;			/* as given, for messages and a re-creation */
	struct rowq q[ROW_KINDS];
	size_t queued_bytes;
	unsigned long long written[ROW_KINDS];	/* rows committed */
	unsigned long long dropped[ROW_KINDS];	/* rows given up: backlog full, or refused */
	unsigned long long stripped;	/* call rows kept without their bodies */
	int bind_oom;			/* a text could not be redacted: the insert fails */
	/* trouble, reported once per state change */
	int failing;			/* the database refuses writes */
	char why[256];			/* why, as last reported */
	uint64_t fail_since, retry_at;	/* monotonic ns */
	int full;			/* the backlog is at its bounds: rows are dropped */
	int generation;			/* bumped when the database is created again */
	int turn;			/* the table a transaction starts with */
	void (*wal_kick)(void *ud);	/* asks another thread to checkpoint (store_on_wal) */
	int64_t page_size;		/* the database's, in bytes */
	void *wal_kick_ud;
};

/* The connection of s (the main thread's; the read-side commands read through it). */
sqlite3 *store_sqlite(struct store *s);

/* Insert one row of table k with the prepared statement. Returns
 * SQLITE_DONE or SQLite's (extended) error code. */
int store_insert(struct store *s, int k, const void *row);

/* Open the SQLite connection of s on path: WAL, schema, statements (none
 * of these when readonly). Returns 0, or -1 (message printed, s->db NULL). */
int store_connect(struct store *s, const char *path, int readonly);

/* Close the connection and then the file of s (rows stay queued). */
void store_disconnect(struct store *s);

/* Free every queued row (store_write.c). */
void store_queue_free(struct store *s);

#endif
