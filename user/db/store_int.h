/* store_int.h -- what store.c lends the other files of db/: the store's own SQLite connection. */
#ifndef LLMTAP_STORE_INT_H
#define LLMTAP_STORE_INT_H

#include <sqlite3.h>

#include "db/store.h"

/* The connection of s (the main thread's; the read-side commands read through it). */
sqlite3 *store_sqlite(struct store *s);

#endif
