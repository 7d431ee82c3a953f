/* store.h -- SQLite storage: schema, migrations, batched writes of call rows. */
#ifndef LLMTAP_STORE_H
#define LLMTAP_STORE_H

#include <stddef.h>

#include "db/rows.h"

struct store;

/* Open (creating with modes 0600, and the directory 0700, when missing) the
 * database at path, in WAL mode, with the schema migrated. Returns 0 and
 * *out, or -1 with a message printed. */
int store_open(struct store **out, const char *path, int readonly);

/* Queue a row of table kind for the next flush; the store owns it from here. */
void store_add(struct store *s, enum row_kind kind, void *row);

/* Rows queued and not yet flushed. */
size_t store_pending(const struct store *s);
/* Write every queued row in one transaction. Returns rows written or -1
 * (rows stay queued, message printed, retried at the next flush). */
int store_flush(struct store *s);
/* Rows written since open. */
unsigned long long store_written(const struct store *s);

/* Why the store's last SQLite call failed (db/query.h's queries included). */
const char *store_errmsg(struct store *s);

/* Flush and close. */
void store_close(struct store *s);

#endif
