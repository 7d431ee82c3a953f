/* query_int.h -- what query.c lends the other read-side files of db/ (stats.c): the query struct and its preparation. */
#ifndef LLMTAP_QUERY_INT_H
#define LLMTAP_QUERY_INT_H

#include <sqlite3.h>

#include "db/query.h"

struct query {
	sqlite3 *db;
	sqlite3_stmt *st;
};

/* Prepare sql on s's connection into a new query. Returns 0 and *out, -1. */
int query_prepare(struct query **out, struct store *s, const char *sql);

#endif
