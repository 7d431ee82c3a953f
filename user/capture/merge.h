/* merge.h -- the records of several rings handed on in the order they happened: the small records of the connection, process and lookup rings held, and let through before each data record that is newer than they are. */
#ifndef LLMTAP_MERGE_H
#define LLMTAP_MERGE_H

#include <stddef.h>

/* Where records go, in time order (the loader's sample callback). */
typedef int (*merge_fn)(void *ctx, void *data, size_t size);

struct merge;

/* A merge handing records to fn(ctx, ...). Returns 0 and *out, or -ENOMEM. */
int merge_new(struct merge **out, merge_fn fn, void *ctx);

/* Ring callback (ctx: the merge) for a ring of small records (TCP, process,
 * DNS): the record is copied and held until merge_pass() or merge_flush()
 * lets it through. Rings read after a data ring's records were handed on
 * in this drain are handed on at once. Returns fn's result or 0. */
int merge_hold(void *ctx, void *data, size_t size);

/* Ring callback (ctx: the merge) for a data ring (TLS plaintext, plain
 * HTTP): the held records older than this one first, then it. */
int merge_pass(void *ctx, void *data, size_t size);

/* The end of a drain: hand on everything still held, oldest first; with
 * behind (records of the data rings left for the next drain), only those
 * no newer than the last data record handed on: the rest wait for it. */
void merge_flush(struct merge *m, int behind);

/* Free m and what it holds; NULL is fine. */
void merge_free(struct merge *m);

#endif
