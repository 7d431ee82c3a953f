/* htab.c -- the one hash table of the trackers: intrusive, chained, keyed by two 64-bit words, growing by doubling. */
#include "base/htab.h"

#include <stdlib.h>

#define HTAB_MIN_BUCKETS 64

/* Mix the key so that sequential pids and aligned pointers spread. */
static size_t htab_slot(uint64_t k1, uint64_t k2, size_t nb)
{
	uint64_t x = k1 * 0x9e3779b97f4a7c15ull ^ (k2 + 0x632be59bd9b4e019ull + (k1 << 6));

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (size_t)(x & (nb - 1));
}

void htab_init(struct htab *h)
{
	h->b = NULL;
	h->nb = 0;
	h->count = 0;
}

void htab_fini(struct htab *h)
{
	free(h->b);
	htab_init(h);
}

/* Rehash into nb buckets. Returns 0, or -1 when out of memory (unchanged). */
static int htab_resize(struct htab *h, size_t nb)
{
	struct htab_node **b = calloc(nb, sizeof(*b)), *n, *next;
	size_t i, s;

	if (!b)
		return -1;
	for (i = 0; i < h->nb; i++) {
		for (n = h->b[i]; n; n = next) {
			next = n->next;
			s = htab_slot(n->k1, n->k2, nb);
			n->next = b[s];
			b[s] = n;
		}
	}
	free(h->b);
	h->b = b;
	h->nb = nb;
	return 0;
}

int htab_add(struct htab *h, struct htab_node *n, uint64_t k1, uint64_t k2)
{
	size_t s;

	if (!h->nb && htab_resize(h, HTAB_MIN_BUCKETS))
		return -1;
	if (h->count >= h->nb)
		(void)htab_resize(h, h->nb * 2);	/* on failure the chains only get longer */
	n->k1 = k1;
	n->k2 = k2;
	s = htab_slot(k1, k2, h->nb);
	n->next = h->b[s];
	h->b[s] = n;
	h->count++;
	return 0;
}

struct htab_node *htab_find(const struct htab *h, uint64_t k1, uint64_t k2)
{
	struct htab_node *n;

	if (!h->nb)
		return NULL;
	for (n = h->b[htab_slot(k1, k2, h->nb)]; n; n = n->next)
		if (n->k1 == k1 && n->k2 == k2)
			return n;
	return NULL;
}

void htab_del(struct htab *h, struct htab_node *n)
{
	struct htab_node **pp = &h->b[htab_slot(n->k1, n->k2, h->nb)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			h->count--;
			return;
		}
	}
}

struct htab_node *htab_next(const struct htab *h, struct htab_iter *it)
{
	struct htab_node *n = it->next;

	while (!n && it->bucket < h->nb)
		n = h->b[it->bucket++];
	if (n)
		it->next = n->next;
	return n;
}
