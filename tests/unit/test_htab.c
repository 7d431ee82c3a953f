/* test_htab.c -- unit tests of the trackers' hash table: find, duplicates, delete while iterating, growth. */
#include <stdlib.h>

#include "base/htab.h"
#include "harness.h"

struct item {
	int v;
	struct htab_node node;
};

/* Insert n items keyed (i, i*7), find each, miss the absent, count by iteration. */
static void test_many(size_t n)
{
	struct item *it = calloc(n, sizeof(*it));
	struct htab h;
	struct htab_iter iter = HTAB_ITER_INIT;
	struct htab_node *x;
	size_t i, seen = 0, found = 0;

	htab_init(&h);
	CHECK(htab_find(&h, 1, 7) == NULL);
	for (i = 0; i < n; i++) {
		it[i].v = (int)i;
		CHECK(htab_add(&h, &it[i].node, i, i * 7) == 0);
	}
	CHECK(h.count == n);
	CHECK(h.nb >= n);
	for (i = 0; i < n; i++) {
		x = htab_find(&h, i, i * 7);
		found += x && htab_entry(x, struct item, node)->v == (int)i;
	}
	CHECKF(found == n, "found %zu of %zu", found, n);
	CHECK(htab_find(&h, n, n * 7) == NULL);
	CHECK(htab_find(&h, 1, 8) == NULL);
	while ((x = htab_next(&h, &iter)))
		seen++;
	CHECKF(seen == n, "iterated %zu of %zu", seen, n);
	htab_fini(&h);
	free(it);
}

/* Delete every odd entry while iterating; the even ones stay findable. */
static void test_delete_while_iterating(void)
{
	struct item it[300];
	struct htab h;
	struct htab_iter iter = HTAB_ITER_INIT;
	struct htab_node *x;
	int i, ok = 1;

	htab_init(&h);
	for (i = 0; i < 300; i++) {
		it[i].v = i;
		htab_add(&h, &it[i].node, (uint64_t)i << 40, 0);
	}
	while ((x = htab_next(&h, &iter)))
		if (htab_entry(x, struct item, node)->v & 1)
			htab_del(&h, x);
	CHECK(h.count == 150);
	for (i = 0; i < 300; i++)
		ok &= !!htab_find(&h, (uint64_t)i << 40, 0) == !(i & 1);
	CHECK(ok);
	htab_fini(&h);
	CHECK(h.count == 0 && h.nb == 0 && h.b == NULL);
}

/* The same key twice: the newer is found first, then the older after deleting it. */
static void test_duplicates(void)
{
	struct item a = { .v = 1 }, b = { .v = 2 };
	struct htab h;

	htab_init(&h);
	htab_add(&h, &a.node, 5, 5);
	htab_add(&h, &b.node, 5, 5);
	CHECK(htab_find(&h, 5, 5) == &b.node);
	htab_del(&h, &b.node);
	CHECK(htab_find(&h, 5, 5) == &a.node);
	htab_del(&h, &a.node);
	CHECK(htab_find(&h, 5, 5) == NULL);
	CHECK(h.count == 0);
	htab_fini(&h);
}

int main(void)
{
	test_many(0);
	test_many(1);
	test_many(63);
	test_many(64);
	test_many(65);
	test_many(10000);
	test_delete_while_iterating();
	test_duplicates();
	return harness_done("test_htab");
}
