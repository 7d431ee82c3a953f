/* test_spool.c -- unit tests of a ring's disk spool: records back in order and whole (every size, split in two parts, past the read buffer), a mark, the cap, a rollback, starting over. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "capture/spool.h"
#include "harness.h"

/* Record i's bytes: its size and a pattern that names it. */
static uint32_t rec_size(uint32_t i)
{
	static const uint32_t sizes[] = { 0, 1, 7, 8, 9, 100, 4096, 16384, 16391, 300000 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

static void rec_fill(uint8_t *p, uint32_t i, uint32_t size)
{
	uint32_t k;

	for (k = 0; k < size; k++)
		p[k] = (uint8_t)(i * 31 + k * 7);
}

/* The bytes of records put and not yet synced: the spool reads them at
 * spool_sync() (as it reads a ring's), so they stay until then. */
static uint8_t *kept[1024];
static size_t nkept;

static void kept_free(void)
{
	while (nkept)
		free(kept[--nkept]);
}

/* Put record i (position 1000 + i), in two parts split at cut % size.
 * buf is unused: each record gets bytes of its own, kept until synced. */
static int put_rec(struct spool *s, uint8_t *buf, uint32_t i, uint32_t cut)
{
	uint32_t size = rec_size(i), n1 = size ? cut % (size + 1) : 0;
	uint8_t *p = malloc(size + 1);

	(void)buf;
	if (!p || nkept == sizeof(kept) / sizeof(kept[0]))
		return -1;
	kept[nkept++] = p;
	rec_fill(p, i, size);
	return spool_put(s, 1000 + i, p, n1, p + n1, size - n1);
}

static int sync_all(struct spool *s)
{
	int err = spool_sync(s);

	kept_free();
	return err;
}

/* Take the next record and check it is record i. Returns 1 when it is. */
static int take_is(struct spool *s, uint64_t end, uint32_t i, uint8_t *want)
{
	struct spool_rec r;
	uint32_t size = rec_size(i);
	int k = spool_take(s, end, 0, &r);

	CHECKF(k == 1, "record %u: take returned %d", i, k);
	if (k != 1)
		return 0;
	rec_fill(want, i, size);
	CHECKF(r.pos == 1000 + i && r.size == size, "record %u: pos %llu size %u", i,
	       (unsigned long long)r.pos, r.size);
	CHECKF(r.size == size && memcmp(r.data, want, size) == 0, "record %u: bytes differ", i);
	return r.pos == 1000 + i && r.size == size && memcmp(r.data, want, size) == 0;
}

/* Writer and reader taking turns: puts in runs of every length (past the
 * gathered-records limit too), each run synced, read back in the same turn
 * or a later one; every record whole, in order. */
static void test_order(void)
{
	uint8_t *buf = malloc(300000), *want = malloc(300000);
	struct spool *s;
	uint32_t next = 0, got = 0, run, k, ok = 0;
	struct spool_rec r;

	CHECK(spool_new(&s, "/tmp", 1ull << 32) == 0);
	CHECK(spool_end(s) == 0);
	CHECK(spool_take(s, spool_end(s), 0, &r) == 0);
	for (run = 1; run <= 600; run += 37) {
		for (k = 0; k < run; k++)
			CHECK(put_rec(s, buf, next++, k * 13) == 0);
		CHECK(sync_all(s) == 0);
		/* every other turn the reader waits, then reads two turns' worth */
		if ((run / 37) % 2)
			continue;
		while (spool_pending(s, spool_end(s)))
			ok += take_is(s, spool_end(s), got++, want);
	}
	CHECK(sync_all(s) == 0);
	while (spool_pending(s, spool_end(s)))
		ok += take_is(s, spool_end(s), got++, want);
	CHECKF(got == next && ok == next, "%u of %u records back whole", ok, next);
	{
		struct spool_stats st = { 0 };

		spool_stats_add(s, &st);
		CHECK(st.records == next);
		CHECK(st.lost == 0);
		CHECK(st.unread == 0);
		CHECK(st.peak >= spool_end(s));
	}
	/* all read: start over, and again in order */
	spool_reset(s);
	CHECK(spool_end(s) == 0);
	CHECK(put_rec(s, buf, 3, 0) == 0 && sync_all(s) == 0);
	CHECK(take_is(s, spool_end(s), 3, want));
	CHECK(spool_take(s, spool_end(s), 0, &r) == 0);
	spool_free(s);
	free(buf);
	free(want);
}

/* A record not synced is not before spool_end(); one past the mark waits. */
static void test_end_and_mark(void)
{
	uint8_t buf[64], want[64];
	struct spool *s;
	struct spool_rec r;

	CHECK(spool_new(&s, "/tmp", 1 << 20) == 0);
	CHECK(put_rec(s, buf, 1, 1) == 0);
	CHECK(spool_end(s) == 0);	/* gathered, not written */
	CHECK(sync_all(s) == 0);
	CHECK(spool_end(s) > 0);
	CHECK(put_rec(s, buf, 2, 1) == 0 && put_rec(s, buf, 3, 1) == 0 && sync_all(s) == 0);
	/* the mark at record 3's position: 1 and 2 come, 3 waits */
	CHECK(take_is(s, spool_end(s), 1, want));
	CHECK(spool_take(s, spool_end(s), 1003, &r) == 1 && r.pos == 1002);
	CHECK(spool_take(s, spool_end(s), 1003, &r) == 0);
	CHECK(spool_pending(s, spool_end(s)));
	CHECK(take_is(s, spool_end(s), 3, want));
	CHECK(!spool_pending(s, spool_end(s)));
	spool_free(s);
}

/* The cap refuses a record whole; after a reset there is room again. A
 * rollback forgets what was put since, and the reader never sees it. */
static void test_cap_and_rollback(void)
{
	uint8_t buf[16384], want[16384];
	struct spool *s;
	struct spool_rec r;
	uint64_t end;
	int n = 0, err;

	CHECK(spool_new(&s, "/tmp", 64 << 10) == 0);
	while ((err = put_rec(s, buf, 7, 0)) == 0)	/* 16 KiB records */
		n++;
	CHECKF(err == -ENOSPC && n == 3, "%d records of 16 KiB in 64 KiB, then %d", n, err);
	CHECK(sync_all(s) == 0);
	while (spool_take(s, spool_end(s), 0, &r) == 1)
		n--;
	CHECK(n == 0);
	spool_reset(s);
	CHECK(put_rec(s, buf, 7, 0) == 0 && sync_all(s) == 0);
	end = spool_end(s);
	CHECK(put_rec(s, buf, 5, 0) == 0 && sync_all(s) == 0);
	CHECK(put_rec(s, buf, 6, 0) == 0);
	spool_rollback(s, end);
	kept_free();
	CHECK(spool_end(s) == end);
	CHECK(sync_all(s) == 0);
	CHECK(take_is(s, spool_end(s), 7, want));
	CHECK(spool_take(s, spool_end(s), 0, &r) == 0);
	spool_free(s);
}

/* What reaches the file is not the plaintext: a header value put in a
 * record appears nowhere in it, and the record comes back whole. */
static void test_encrypted(void)
{
	static const char secret[] = "authorization: Bearer sk-llmtap-test-NOT-ON-DISK";
	char link[256], path[300], raw[8192];
	uint8_t want[sizeof(secret)];
	struct spool *s;
	struct spool_rec r;
	struct dirent *d;
	DIR *dir;
	int fd, found = 0, leaked = 0, k;
	ssize_t n;

	CHECK(spool_new(&s, "/tmp", 1 << 20) == 0);
	for (k = 0; k < 8; k++)
		CHECK(spool_put(s, (uint64_t)k, secret, sizeof(secret), NULL, 0) == 0);
	CHECK(spool_sync(s) == 0);
	/* the spool's file: the only unlinked one in /tmp this process holds */
	dir = opendir("/proc/self/fd");
	while (dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strncmp(link, "/tmp/", 5) || !strstr(link, "(deleted)"))
			continue;
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? pread(fd, raw, sizeof(raw), 0) : -1;
		if (fd >= 0)
			close(fd);
		found += n > 8 * (ssize_t)sizeof(secret);
		leaked += n > 0 && memmem(raw, (size_t)n, "sk-llmtap-test", 14) != NULL;
	}
	if (dir)
		closedir(dir);
	CHECKF(found == 1, "the spool file seen among the open files (%d)", found);
	CHECK(leaked == 0);
	memcpy(want, secret, sizeof(secret));
	for (k = 0; k < 8; k++)
		CHECK(spool_take(s, spool_end(s), 0, &r) == 1 && r.pos == (uint64_t)k && r.size == sizeof(secret) &&
		      memcmp(r.data, want, sizeof(secret)) == 0);
	/* started over: a new nonce, and the records still come back */
	spool_reset(s);
	CHECK(spool_put(s, 9, secret, sizeof(secret), NULL, 0) == 0 && spool_sync(s) == 0);
	CHECK(spool_take(s, spool_end(s), 0, &r) == 1 && r.pos == 9 && memcmp(r.data, want, sizeof(secret)) == 0);
	spool_free(s);
}

/* A directory that cannot hold the file: the spool goes to /var/tmp. */
static void test_fallback_dir(void)
{
	uint8_t buf[16], want[16];
	struct spool *s;

	CHECK(spool_new(&s, "/nonexistent/llmtap", 1 << 20) == 0);
	CHECK(put_rec(s, buf, 4, 2) == 0 && sync_all(s) == 0);
	CHECK(take_is(s, spool_end(s), 4, want));
	spool_free(s);
	spool_free(NULL);
}

int main(void)
{
	test_order();
	test_end_and_mark();
	test_cap_and_rollback();
	test_encrypted();
	test_fallback_dir();
	return harness_done("test_spool");
}
