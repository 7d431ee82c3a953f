/* store.h -- SQLite storage: schema, migrations, batched writes of every table's rows, and what happens when the disk refuses them. */
#ifndef LLMTAP_STORE_H
#define LLMTAP_STORE_H

#include <stddef.h>

#include "db/rows.h"

struct store;

/* Open the database at path, in WAL mode, with the schema migrated. For
 * the tracer (!readonly) the file goes through dbfile_open(): no link,
 * root's own file in root's own directories (missing ones made 0700), modes
 * 0600, one tracer per file. Returns 0 and *out, or -1 with a message. */
int store_open(struct store **out, const char *path, int readonly);

/* Queue a row of table kind for the next flush; the store owns it from here. */
void store_add(struct store *s, enum row_kind kind, void *row);

/* Rows queued and not yet written. */
size_t store_pending(const struct store *s);
/* What they hold: a call row's texts, 256 bytes for any other row. */
size_t store_pending_bytes(const struct store *s);
/* Write queued rows: transactions of at most 256 rows / 1 MiB, at most 8 of
 * them per call. Returns rows written, or -1 when the database refused
 * (rows stay queued; one line on stderr when that starts or its reason
 * changes, one when it ends; tried again no sooner than 1 s later). A
 * database deleted or replaced meanwhile is created again first. */
int store_flush(struct store *s);
/* Write everything queued now, ignoring the retry delay (the tracer stops). */
void store_drain(struct store *s);
/* llm_calls rows really written since open. */
unsigned long long store_written(const struct store *s);
/* llm_calls rows not written: dropped (backlog full) or still queued. */
unsigned long long store_unstored(const struct store *s);
/* Rows dropped since open (all tables): the backlog was full, or refused. */
unsigned long long store_dropped(const struct store *s);
/* NULL while writing works; else one line saying what is wrong, in buf. */
const char *store_problem(const struct store *s, char *buf, size_t n);
/* Is the database still the file that was opened? Returns 0 yes, 1 it was
 * deleted or replaced and a new one was created (store_generation() grows),
 * -1 it is gone and cannot be created now (retried at the next flush). */
int store_check(struct store *s);
/* How many times the database was created again since open. */
int store_generation(const struct store *s);

/* Why the store's last SQLite call failed (db/query.h's queries included). */
const char *store_errmsg(struct store *s);

/* Flush and close. */
void store_close(struct store *s);

/* Checkpoints elsewhere: once the WAL holds STORE_WAL_KICK bytes of pages
 * after a commit, kick(ud) is called (on the writing thread; it must only
 * wake the thread that checkpoints, through its own connection). Past
 * STORE_WAL_INLINE bytes the writing thread checkpoints too (PASSIVE; then
 * the WAL file starts over). Without a kick it checkpoints itself every
 * STORE_WAL_KICK bytes, as SQLite's own autocheckpoint does (1000 pages of
 * 4 KiB). */
#define STORE_WAL_KICK (4u << 20)
#define STORE_WAL_INLINE (16u << 20)
/* Past this the writing thread's checkpoint waits for another one to end
 * (STORE_WAL_WAITS sleeps of STORE_WAL_WAIT_US at most) rather than let the
 * WAL file grow while it runs. */
#define STORE_WAL_HARD (48u << 20)
#define STORE_WAL_WAITS 250
#define STORE_WAL_WAIT_US 2000
/* The WAL file is cut back to this many bytes when it starts over: above
 * STORE_WAL_INLINE, so a file the checkpoints keep in check keeps its
 * pages (cached, not allocated again at every round), 4 MiB of slack. A
 * decimal literal: it is pasted into a PRAGMA. */
#define STORE_WAL_JOURNAL_LIMIT 20971520
_Static_assert(STORE_WAL_JOURNAL_LIMIT > STORE_WAL_INLINE, "WAL limit above the inline checkpoint");
/* A new database's page size. Bodies of LLM calls run to tens of KiB: in
 * pages of 4 KiB a 16 KiB call's row was a chain of a dozen pages, each
 * written to the WAL in two syscalls and copied back in two more; in
 * pages of 16 KiB it is three, and the reader spent about a quarter less
 * per such call here (32 KiB gained less; a row of 8-16 KiB may take a
 * page of its own). An existing database keeps its own page size. */
#define STORE_PAGE_SIZE 16384
/* A number macro as a string literal (for PRAGMAs). */
#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)
void store_on_wal(struct store *s, void (*kick)(void *ud), void *ud);

#endif
