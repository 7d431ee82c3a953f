/* events.h -- the events table's inbox: what llmtap notices and what agents post, queued from any thread and written by the main loop. */
#ifndef LLMTAP_TRACK_EVENTS_H
#define LLMTAP_TRACK_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db/rows.h"

#define EVENTS_QUEUE_MAX 20000	/* rows waiting for the main loop at most */

/* Severities, as stored in events.severity. */
#define SEV_DEBUG "debug"
#define SEV_INFO "info"
#define SEV_WARNING "warning"
#define SEV_ERROR "error"
#define SEV_FATAL "fatal"

/* Queue a row (ROW_EVENT or ROW_SPAN) for the main loop; any thread. The
 * inbox owns the row from here. Returns 0, or -1 when the inbox holds
 * EVENTS_QUEUE_MAX rows (the row is freed and counted as dropped). */
int events_post(enum row_kind kind, void *row);

/* Queue rows[0..n) (all of kind) as one: all are taken, or none when the
 * inbox has not room for them all (then the caller keeps them). Returns 0
 * or -1. */
int events_post_all(enum row_kind kind, void **rows, size_t n);

/* Rows that can still be queued now (a caller checks room for a whole
 * request before posting it). */
size_t events_room(void);

/* Something llmtap noticed: an events row with source "llmtap", now, of
 * the given severity and name, for pid (PROC_NULL: none), with attrs (a
 * JSON object, stolen; NULL for none) as its attributes. Any thread;
 * dropped (counted) when the inbox is full. */
void events_notice(const char *severity, const char *name, int64_t pid, json_t *attrs);

/* Hand every queued row to fn, oldest first (the main loop). Returns how many. */
size_t events_drain(void (*fn)(void *ud, enum row_kind kind, void *row), void *ud);

/* Rows queued now, and rows dropped since the start because the inbox was full. */
size_t events_queued(void);
uint64_t events_dropped(void);

/* Free what is still queued (at exit, after the last drain). */
void events_clear(void);

#endif
