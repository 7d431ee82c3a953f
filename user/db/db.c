/* db.c -- what the SQLite users besides the store share: the tables push and retention work on, a thread's own connection, row counts. */
#include "db/db.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

#define DB_BUSY_TIMEOUT_MS 2000

const struct db_table db_tables[DB_TABLES] = {
	{ "llm_calls", { "start_ns" }, { NULL } },
	{ "connections", { "start_ns", "close_ns" }, { NULL } },
	{ "dns_lookups", { "start_ns" }, { NULL } },
	{ "cpu_samples", { "ts_ns" }, { "pid", "ts_ns" } },
	{ "processes", { "start_ns", "exec_ns", "updated_ns" }, { "pid", "start_ns" } },
	{ "host_samples", { "ts_ns" }, { "ts_ns" } },
	{ "fs_samples", { "ts_ns" }, { "path", "ts_ns" } },
	{ "disk_samples", { "ts_ns" }, { "device", "ts_ns" } },
	{ "net_samples", { "ts_ns" }, { "iface", "ts_ns" } },
	{ "events", { "ts_ns" }, { NULL } },
	{ "agent_spans", { "start_ns", "received_ns" }, { NULL } },
	{ "agent_runs", { "start_ns" }, { NULL } },
	{ "agent_steps", { "start_ns" }, { NULL } },
};

const struct db_table *db_table_find(const char *name)
{
	int i;

	for (i = 0; i < DB_TABLES; i++)
		if (!strcmp(db_tables[i].name, name))
			return &db_tables[i];
	return NULL;
}

int db_open(const char *who, const char *path, sqlite3 **db)
{
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warn("%s: cannot open database %s: %s", who, path, sqlite3_errmsg(*db));
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, DB_BUSY_TIMEOUT_MS);
	return 0;
}

int64_t db_count_after(sqlite3 *db, const char *table, int64_t rowid)
{
	sqlite3_stmt *st;
	char q[128];
	int64_t v = 0;

	snprintf(q, sizeof(q), "SELECT count(*) FROM \"%s\" WHERE rowid > ?1", table);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, rowid);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
