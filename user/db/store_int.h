/* store_int.h -- what the files of db/ share: the store's own SQLite connection, the host view's statements and binds. */
#ifndef LLMTAP_STORE_INT_H
#define LLMTAP_STORE_INT_H

#include <sqlite3.h>

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

/* The connection of s (the main thread's; the read-side commands read through it). */
sqlite3 *store_sqlite(struct store *s);

#endif
