/* db.h -- what the SQLite users besides the store share: the tables push and retention work on, a thread's own connection, row counts. */
#ifndef LLMTAP_DB_H
#define LLMTAP_DB_H

#include <sqlite3.h>
#include <stdint.h>

#define DB_TABLES 13

/* A table rows are pushed from and aged out of. */
struct db_table {
	const char *name;
	const char *time_cols[3];	/* the first that exists gives the row's time */
	const char *alt_key[3];		/* dedup key when the table has no id column */
};

/* The tables, in the order they are pushed and aged out. */
extern const struct db_table db_tables[DB_TABLES];

/* The entry of db_tables named name; NULL when it is none of them. */
const struct db_table *db_table_find(const char *name);

/* Open a connection of the calling thread to the database at path (which
 * exists: the store made it). Returns 0 and *db, or -1 with
 * "<who>: cannot open database ..." printed. */
int db_open(const char *who, const char *path, sqlite3 **db);

/* Rows of table whose rowid is above rowid; 0 when it cannot be counted. */
int64_t db_count_after(sqlite3 *db, const char *table, int64_t rowid);

#endif
