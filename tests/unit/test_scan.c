/* test_scan.c -- the executable scanners on damaged ELF files, under ASan: this test's own executable (and any files given, e.g. the stacks suite's clients) truncated at many lengths and with bytes changed must give an error or a result, never a crash or a read out of bounds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/scan.h"
#include "harness.h"

/*
 * Usage: test_scan [FILE...]   (no FILE: its own executable)
 * A FILE is copied to a temporary file that is then damaged in place.
 */

/* Copy src to dst. Returns the size, or -1. */
static long file_copy(const char *src, const char *dst)
{
	char buf[1 << 16];
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	long total = 0;
	ssize_t n;

	if (in < 0 || out < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, n) != n) {
			total = -1;
			goto out;
		}
		total += n;
	}
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return in < 0 || out < 0 ? -1 : total;
}

/* Change 4 bytes of the copy at path (size len) with the generator *seed,
 * scan it, put the bytes back. Returns 1 when the scan ended cleanly. */
static int scan_changed(const char *path, size_t len, unsigned *seed, int headers)
{
	size_t at[4], lim = headers && len > 4096 ? 4096 : len;
	uint8_t old[4], b;
	struct scan_result r;
	int fd = open(path, O_RDWR), k, rc;

	if (fd < 0)
		return 0;
	for (k = 0; k < 4; k++) {
		*seed = *seed * 1103515245 + 12345;
		at[k] = (*seed >> 8) % lim;
		*seed = *seed * 1103515245 + 12345;
		b = (uint8_t)(*seed >> 16);
		if (pread(fd, &old[k], 1, at[k]) != 1 || pwrite(fd, &b, 1, at[k]) != 1)
			return close(fd), 0;
	}
	rc = scan_path(path, &r);
	for (k = 3; k >= 0; k--)
		if (pwrite(fd, &old[k], 1, at[k]) != 1)
			return close(fd), 0;
	close(fd);
	return rc <= 0;
}

/* Damage a copy of src: changed bytes (in the headers, anywhere), then
 * truncations from the end down to nothing. */
static void test_file(const char *src, const char *path)
{
	struct scan_result r;
	unsigned seed = 12345;
	long len = file_copy(src, path), n, step;
	int i, ok = 1, big, err, found = 0;

	if (!(len > 0)) {
		CHECKF(0, "cannot copy %s", src);
		return;
	}
	big = len > (32 << 20);
	err = scan_path(path, &r);
	CHECKF(err == 0, "%s: scan_path %d", src, err);
	for (i = 0; i < SCAN_NLIBS; i++)
		found += r.libs[i].status == SCAN_FOUND;
	printf("test_scan: %s: %d stack(s) found, %.0f ms\n", src, found, r.ms);
	for (i = 0; i < (big ? 24 : 400); i++)
		ok &= scan_changed(path, len, &seed, i & 1);
	CHECKF(ok, "%s: a scan of a changed copy did not end cleanly", src);
	step = len / (big ? 8 : 64) + 1;
	for (n = len; n >= 0; n -= n <= 256 ? 1 : step) {
		int fd = open(path, O_RDWR);

		if (fd < 0 || ftruncate(fd, n)) {
			ok = 0;
			break;
		}
		close(fd);
		err = scan_path(path, &r);
		ok &= err == 0 || err == -ENOEXEC;
		if (n <= 256 && big)
			break;
	}
	CHECKF(ok, "%s: a truncated copy did not scan cleanly", src);
}

int main(int argc, char **argv)
{
	char path[] = "/tmp/llmtap-test-scan.XXXXXX";
	struct scan_result r;
	int fd = mkstemp(path), i;

	if (fd < 0)
		return 1;
	close(fd);
	if (argc < 2) {
		/* this program: ELF without any of the stacks; a script is no ELF */
		CHECK(scan_path("/proc/self/exe", &r) == 0);
		for (i = 0; i < SCAN_NLIBS; i++)
			CHECKF(r.libs[i].status == SCAN_ABSENT, "stack %s: %d (%s)", scan_lib_name(i),
			       r.libs[i].status, r.libs[i].reason);
		fd = open(path, O_WRONLY | O_TRUNC);
		CHECK(fd >= 0 && write(fd, "#!/bin/sh\n", 10) == 10);
		close(fd);
		CHECK(scan_path(path, &r) == -ENOEXEC && r.err == -ENOEXEC);
		test_file("/proc/self/exe", path);
	}
	for (i = 1; i < argc; i++)
		test_file(argv[i], path);
	unlink(path);
	return harness_done("test_scan");
}
