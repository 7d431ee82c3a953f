/* run_cover.h -- `run`'s coverage report: refreshed every 30 s and when `doctor` asks (SIGUSR1), kept in a state file next to the database, logged when it changes. */
#ifndef LLMTAP_RUN_COVER_H
#define LLMTAP_RUN_COVER_H

#include <stddef.h>

#include "capture/cover.h"

#define RUN_COVER_EVERY_NS (30ull * 1000000000ull)

/* The state file of the tracer writing database db: "DB-doctor.json". */
void run_cover_path(const char *db, char *out, size_t n);

struct run_cover;

/* A new report keeper for the tracer writing db; NULL when out of memory. */
struct run_cover *run_cover_new(const char *db);

/* Scan again when the last report is RUN_COVER_EVERY_NS old or asked is
 * set: write the state file (0600, replaced atomically), log what is newly
 * uncovered, and put the totals in *sum. Returns 1 when it scanned. */
int run_cover_tick(struct run_cover *rc, const struct attach *a, const struct net_table *net,
		   int asked, struct cover_summary *sum);

/* Remove the state file (the tracer is stopping) and free; NULL-safe. */
void run_cover_free(struct run_cover *rc);

#endif
