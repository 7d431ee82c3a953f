/* test_merge.c -- unit tests of the rings' merge: small records handed on in time order with the data records, and held past a drain while data older than them is still behind. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/merge.h"
#include "events.h"
#include "harness.h"

static char seen[64];	/* the records handed on, one letter each */
static size_t nseen;

static int record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)size;
	if (nseen < sizeof(seen) - 1)
		seen[nseen++] = (char)((struct lt_hdr *)data)->pad;
	return 0;
}

/* A small record (an exit) named c, at time ts. */
static void hold(struct merge *m, char c, uint64_t ts)
{
	struct lt_hdr h = { .type = LT_EV_EXIT, .pad = (unsigned char)c, .ts_ns = ts };

	merge_hold(m, &h, sizeof(h));
}

/* A data record named c, returned at time ts. */
static void pass(struct merge *m, char c, uint64_t ts)
{
	struct lt_data_event d;

	memset(&d, 0, sizeof(d));
	d.hdr.type = LT_EV_DATA;
	d.hdr.pad = (unsigned char)c;
	d.hdr.ts_ns = ts - 1;
	d.ts_end_ns = ts;
	merge_pass(m, &d, offsetof(struct lt_data_event, data));
}

static void reset(void)
{
	memset(seen, 0, sizeof(seen));
	nseen = 0;
}

/* Both tests' start: x (50) and w (20) held, then data a (30), which
 * hands w on before it. NULL when the merge cannot be made. */
static struct merge *merge_started(void)
{
	struct merge *m;
	int err;

	reset();
	err = merge_new(&m, record, NULL);
	CHECK(err == 0);
	if (err)
		return NULL;
	hold(m, 'x', 50);
	hold(m, 'w', 20);
	pass(m, 'a', 30);
	return m;
}

/* Nothing behind: a drain ends with everything handed on, in time order. */
static void test_drain(void)
{
	struct merge *m = merge_started();

	if (!m)
		return;
	pass(m, 'b', 40);
	CHECK_STR(seen, "wab");
	merge_flush(m, 0);
	CHECK_STR(seen, "wabx");
	merge_free(m);
}

/* Data behind (a spool, a ring's budget): an exit newer than the data
 * handed on waits for the data before it, across drains. */
static void test_behind(void)
{
	struct merge *m = merge_started();

	if (!m)
		return;
	merge_flush(m, 1);
	CHECK_STR(seen, "wa");		/* x waits: data up to 50 may still come */
	/* the next drain: a newer small record, then the data behind */
	hold(m, 'y', 45);
	pass(m, 'b', 40);
	CHECK_STR(seen, "wab");
	merge_flush(m, 1);
	CHECK_STR(seen, "wab");
	pass(m, 'c', 60);
	CHECK_STR(seen, "wabyxc");
	hold(m, 'z', 90);
	merge_flush(m, 0);		/* caught up: all of it */
	CHECK_STR(seen, "wabyxcz");
	/* and a record held when the merge is freed is freed with it */
	hold(m, 'q', 100);
	merge_free(m);
	merge_free(NULL);
}

int main(void)
{
	test_drain();
	test_behind();
	return harness_done("test_merge");
}
