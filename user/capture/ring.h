/* ring.h -- the reader of the BPF ring buffers: each ring's data pages mapped once (not twice, as libbpf does), records that wrap copied out, one epoll for all, and a thread that spools a ring the reader is behind on to disk. */
#ifndef LLMTAP_RING_H
#define LLMTAP_RING_H

#include <stddef.h>
#include <stdint.h>

#include "capture/spool.h"

/* Called for each record, in order; the data is valid during the call only. */
typedef int (*ring_fn)(void *ctx, void *data, size_t size);

struct rings;

/* An empty set of rings. Returns 0 and *out, or a negative errno. */
int rings_new(struct rings **out);

/* Add the BPF_MAP_TYPE_RINGBUF map_fd with size data bytes (its
 * max_entries), whose records go to fn. Returns 0 or a negative errno. */
int rings_add(struct rings *rs, int map_fd, size_t size, ring_fn fn, void *ctx);

/* Wait up to timeout_ms for a wakeup of any ring, then deliver what every
 * ring holds, up to a bounded number of records per ring (a ring with more
 * left makes the next poll return at once). Returns the records delivered
 * or a negative errno (-EINTR on a signal). */
int rings_poll(struct rings *rs, int timeout_ms);

/* Note where every ring's producer is now: what rings_consume() delivers. */
void rings_mark(struct rings *rs);

/* Deliver, without waiting, the next piece of what every ring held at the
 * last rings_mark(): as much of each ring as one rings_poll() takes at
 * most. Returns the records delivered, 0 once all of it is, or a negative
 * errno. */
int rings_consume(struct rings *rs);

/* Did the last rings_poll() or rings_consume() leave records behind (a
 * limit reached, or a spool not read to its end)? The next poll then
 * does not wait. */
int rings_behind(const struct rings *rs);

/* Start a thread that keeps the rings from filling while the reader is
 * behind: woken when a quarter of a ring waits, it moves that ring's
 * oldest records into a spool file of its own in dir (unlinked; up to cap
 * bytes each), which the reader reads before the ring. Call once every
 * ring is added (no ring can be added after). cap 0: no thread. Returns 0
 * or a negative errno (the rings work as before). */
int rings_spool(struct rings *rs, const char *dir, uint64_t cap);

/* What the spools of every ring took (capture/spool.h; unread: ask from
 * the reader's thread). */
void rings_spool_stats(const struct rings *rs, struct spool_stats *st);

/* Stop the spool thread, unmap every ring and free rs; NULL is fine. */
void rings_free(struct rings *rs);

#endif
