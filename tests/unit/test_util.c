/* test_util.c -- base/util.c: UUIDv7 ids are well formed, time-ordered and distinct, on every thread; device numbers in the kernel's encoding; base/buf.c's truncation. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/buf.h"
#include "base/util.h"
#include "harness.h"

#define IDS 20000	/* more than one reseed of the generator */

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* 1 when id is 8-4-4-4-12 lower-case hex, version 7, RFC 4122 variant. */
static int well_formed(const char *id)
{
	int i;

	if (strlen(id) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (id[i] != '-')
				return 0;
		} else if (!strchr("0123456789abcdef", id[i])) {
			return 0;
		}
	}
	return id[14] == '7' && strchr("89ab", id[19]);
}

static void *make_ids(void *out)
{
	char (*ids)[37] = out;
	int i;

	for (i = 0; i < IDS; i++)
		uuid7(ids[i]);
	return NULL;
}

static void test_uuid7(void)
{
	char (*ids)[37] = malloc(2 * IDS * sizeof(*ids));
	pthread_t th;
	int i, bad = 0, dup = 0, order = 0;
	char ms[13];

	CHECK(ids != NULL);
	if (!ids)
		return;
	/* this thread's ids and another thread's at the same time */
	CHECK(!pthread_create(&th, NULL, make_ids, ids + IDS));
	make_ids(ids);
	pthread_join(th, NULL);
	for (i = 0; i < 2 * IDS; i++)
		bad += !well_formed(ids[i]);
	/* the first 48 bits are the time in ms: never going back on one thread */
	for (i = 1; i < IDS; i++)
		order += strncmp(ids[i - 1], ids[i], 8) > 0;
	memcpy(ms, ids[0], 8);
	ms[8] = 0;
	CHECKF(bad == 0, "%d ids not well formed (e.g. %s)", bad, ids[0]);
	CHECKF(order == 0, "%d ids earlier than the one before", order);
	CHECK(labs(strtol(ms, NULL, 16) - (long)((real_ns() / 1000000) >> 16)) <= 1);
	qsort(ids, 2 * IDS, sizeof(*ids), cmp);
	for (i = 1; i < 2 * IDS; i++)
		dup += !strcmp(ids[i - 1], ids[i]);
	CHECKF(dup == 0, "%d ids repeated", dup);
	free(ids);
}

/* dev_kernel() matches what a BPF program reads as s_dev: MKDEV(major, minor). */
static void test_dev_kernel(void)
{
	struct stat st;

	CHECK(dev_kernel(makedev(8, 1)) == ((8u << 20) | 1));
	CHECK(dev_kernel(makedev(259, 70000)) == ((259u << 20) | 70000));
	CHECK(dev_kernel(makedev(0, 0)) == 0);
	/* /proc is a pseudo filesystem: major 0, its minor the anonymous one */
	CHECK(stat("/proc/self", &st) == 0 && dev_kernel(st.st_dev) == minor(st.st_dev));
	/* file_is(): the path's file by the kernel's names for it */
	CHECK(stat("/bin/sh", &st) == 0 && file_is("/bin/sh", dev_kernel(st.st_dev), st.st_ino));
	CHECK(!file_is("/bin/sh", dev_kernel(st.st_dev), st.st_ino + 1));
	CHECK(!file_is("/bin/sh", dev_kernel(st.st_dev) + 1, st.st_ino));
	CHECK(!file_is("/nonexistent/llmtap", dev_kernel(st.st_dev), st.st_ino));
}

/* buf_truncate() keeps a prefix, NUL-terminated; past the end it changes nothing. */
static void test_buf_truncate(void)
{
	struct buf b = { 0 };

	buf_truncate(&b, 0);	/* an empty buffer, no memory */
	CHECK(b.len == 0 && !b.data);
	CHECK(buf_puts(&b, "abcdef") == 0);
	buf_truncate(&b, 9);
	CHECK_STR((char *)b.data, "abcdef");
	buf_truncate(&b, 3);
	CHECK(b.len == 3);
	CHECK_STR((char *)b.data, "abc");
	CHECK(buf_puts(&b, "xy") == 0);
	CHECK_STR((char *)b.data, "abcxy");
	buf_reset(&b);
	CHECK(b.len == 0 && b.data && !b.data[0]);
	buf_free(&b);
}

int main(void)
{
	test_uuid7();
	test_dev_kernel();
	test_buf_truncate();
	return harness_done("test_util");
}
