/* retention.h -- keeping the database small: pushed rows older than --retain-days go, then the oldest rows while over --max-db-mb. */
#ifndef LLMTAP_RETENTION_H
#define LLMTAP_RETENTION_H

#include <jansson.h>
#include <stdint.h>

/* A push target whose delivery guards rows from deletion. */
struct retention_target {
	const char *key;		/* its name in push_state (borrowed) */
	const char *const *tables;	/* the tables it pushes (NULL-ended); NULL: every table */
};

struct retention_opts {
	double retain_days;		/* delete pushed rows older than this; 0 = keep */
	uint64_t max_db_bytes;		/* cap on the database's used pages; 0 = none */
	double max_disk_pct;		/* keep the database's volume below this full; 0 = none */
	const struct retention_target *targets;	/* copied */
	int ntargets;
	int (*stopping)(void *ud);	/* 1: give up the pass at once */
	/* what was deleted for space, as an events row (attrs stolen); may be NULL */
	void (*notice)(void *ud, const char *severity, const char *name, json_t *attrs);
	void *ud;			/* of stopping() */
	void *notice_ud;		/* of notice() */
};

struct retention;

/* Open the calling thread's connection to the database at path and find the
 * tables of db_tables it has (and their time column). Returns 0 and *out,
 * or -1 with a message printed. */
int retention_open(struct retention **out, const char *path, const struct retention_opts *o);

/* One pass: with retain_days, delete every table's rows older than that
 * which every target pushing the table has delivered (warning, at most
 * hourly, about old rows not delivered yet); then, with max_db_bytes and
 * while over it, the oldest delivered rows, then with a warning the oldest
 * undelivered ones. The newest row of a table is never deleted (it keeps
 * the push cursors' rowids growing). */
void retention_run(struct retention *r);

/* With max_disk_pct, while the database's volume is fuller than that
 * (counting the database's free pages as free): the oldest delivered rows,
 * then with a warning the oldest undelivered ones, the freed pages handed
 * back to the volume when the database allows it (auto_vacuum, which new
 * databases have). Cheap when the volume is below the threshold (one
 * statvfs()). An events row ("retention.deleted") says what went. */
void retention_disk(struct retention *r);

/* Copy what the write-ahead log holds into the database (a passive
 * checkpoint: it never waits for the tracer's writes). Called about every
 * second, so the tracer's own connection does not stop to do it. */
void retention_checkpoint(struct retention *r);

/* Close the connection and free r. NULL-safe. */
void retention_close(struct retention *r);

#endif
