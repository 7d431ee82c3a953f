/* htab.h -- the one hash table of the trackers: intrusive, chained, keyed by two 64-bit words, growing by doubling. */
#ifndef LLMTAP_HTAB_H
#define LLMTAP_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* Embed one in each entry; the table links entries through it and never
 * allocates or frees them (the owner does, after htab_del()). */
struct htab_node {
	struct htab_node *next;
	uint64_t k1, k2;	/* the key: e.g. (tgid, SSL*), (cookie, 0), (pid, 0) */
};

struct htab {
	struct htab_node **b;
	size_t nb;		/* buckets: a power of two, 0 before the first insert */
	size_t count;
};

/* The entry of type `type` whose member `member` is node n. */
#define htab_entry(n, type, member) \
	((type *)(void *)((char *)(n) - offsetof(type, member)))

/* Set up an empty table (no memory until the first insert). */
void htab_init(struct htab *h);

/* Free the bucket array; the entries are the owner's (free them first,
 * e.g. while iterating with htab_next()). */
void htab_fini(struct htab *h);

/* Link n under key (k1, k2); keys need not be unique (htab_find() returns
 * the most recently added). Returns 0, or -1 when out of memory for the
 * first bucket array (n not linked). A failed growth later only makes the
 * chains longer. */
int htab_add(struct htab *h, struct htab_node *n, uint64_t k1, uint64_t k2);

/* The entry with key (k1, k2), or NULL. */
struct htab_node *htab_find(const struct htab *h, uint64_t k1, uint64_t k2);

/* Unlink n (which must be in h). */
void htab_del(struct htab *h, struct htab_node *n);

/* Iteration that tolerates htab_del() of the entry just returned: start
 * with HTAB_ITER_INIT; returns each entry once, then NULL. No htab_add()
 * during an iteration (growing rehashes the buckets). */
struct htab_iter {
	size_t bucket;
	struct htab_node *next;
};
#define HTAB_ITER_INIT { 0, NULL }
struct htab_node *htab_next(const struct htab *h, struct htab_iter *it);

#endif
