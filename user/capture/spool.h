/* spool.h -- a ring's overflow on disk: records moved out of a BPF ring that the reader is behind on, kept in order in an unlinked file (encrypted: spool_cipher.c), read back before the ring. */
#ifndef LLMTAP_SPOOL_H
#define LLMTAP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* One record read back: its ring position (what rings_mark() compares),
 * its bytes (valid until the next spool_take() or spool_fill()). */
struct spool_rec {
	uint64_t pos;
	const void *data;
	uint32_t size;
};

struct spool;

/* An empty spool in directory dir (an unlinked file, made there at the
 * first record), holding cap bytes of records at most. Returns 0 and *out,
 * or -ENOMEM. */
int spool_new(struct spool **out, const char *dir, uint64_t cap);

/* Writer side (the caller serialises it with the reader's spool_end() and
 * spool_reset()). Gather the record of ring position pos, bytes p1 then
 * p2 (a record that wraps around the ring's end: n2 may be 0), copied and
 * encrypted into the write buffer, written out with the others by
 * spool_sync() (or when the buffer is full). Returns 0, -ENOSPC when cap
 * would be passed (nothing gathered), or a negative errno from making the
 * file or its cipher (-ELIBACC: no libcrypto) or writing (then
 * spool_rollback()). */
int spool_put(struct spool *s, uint64_t pos, const void *p1, uint32_t n1, const void *p2, uint32_t n2);

/* Write the gathered records out: spool_end() covers them after this.
 * Returns 0 or a negative errno (then spool_rollback()). */
int spool_sync(struct spool *s);

/* Where the written records end (writer's side, serialised). Records
 * before it are in the file and never change. */
uint64_t spool_end(const struct spool *s);

/* Reader side. Is a record left before end (spool_end() as last seen)? */
int spool_pending(const struct spool *s, uint64_t end);

/* The next record before end into *r: 1, 0 when none is left before end
 * or the next one's ring position is upto or later (upto 0: no limit),
 * or a negative errno (a failed read; the records before end are then
 * skipped and counted: spool_stats_add()). Needs no lock: the file before end
 * does not change. */
int spool_take(struct spool *s, uint64_t end, uint64_t upto, struct spool_rec *r);

/* Writer side: a write failed; forget the records after end (spool_end()
 * before they were put: the ring still holds them) and what is buffered. */
void spool_rollback(struct spool *s, uint64_t end);

/* Start over once every record has been read (serialised with the writer):
 * the file is emptied, its pages dropped. */
void spool_reset(struct spool *s);

/* What spools took: records and bytes ever put; the largest a file grew
 * (between two resets); bytes lost to a failed read; bytes put and not
 * read yet. */
struct spool_stats {
	uint64_t records, bytes, peak, lost, unread;
};

/* Add s's counters to st (peak: the larger one). Serialised with the
 * writer; unread is the reader's to ask. */
void spool_stats_add(const struct spool *s, struct spool_stats *st);

/* Close the file and free s; NULL is fine. */
void spool_free(struct spool *s);

#endif
