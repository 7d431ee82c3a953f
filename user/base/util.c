/* util.c -- small helpers for the daemon side: clocks, ids, logging, /proc lookups. */
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

int verbose;

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("llmtap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fputs("llmtap: debug: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t mono_to_epoch_ns(uint64_t mono)
{
	/* The offset is re-read each time: it moves when the wall clock is set. */
	return mono + (real_ns() - mono_ns());
}

uint32_t dev_kernel(dev_t dev)
{
	return (uint32_t)((major(dev) << 20) | minor(dev));
}

int file_is(const char *path, uint32_t kdev, uint64_t ino)
{
	struct stat st;

	return !stat(path, &st) && st.st_ino == ino && dev_kernel(st.st_dev) == kdev;
}

/* Random bits for ids: a thread's 128-bit xorshift state, seeded by
 * getrandom() and again every UUID_RESEED ids. A getrandom() call and 16
 * sprintf()s per row were 4 % of the reader's time per call. A forked
 * child that made ids would repeat its parent's: llmtap's one fork
 * (loader_detach_later()) makes none. */
#define UUID_RESEED 4096

struct uuid_rng {
	uint64_t s[2];
	unsigned left;
};

static __thread struct uuid_rng uuid_rng;

/* 64 random bits from this thread's generator (xorshift128+). */
static uint64_t uuid_bits(void)
{
	struct uuid_rng *r = &uuid_rng;
	uint64_t a, b;

	if (!r->left) {
		if (getrandom(r->s, sizeof(r->s), 0) != sizeof(r->s)) {
			/* getrandom on Linux >= 3.17 does not fail for 16 bytes; stay unique anyway */
			r->s[0] ^= mono_ns() ^ ((uint64_t)getpid() << 32);
			r->s[1] ^= real_ns() ^ (uint64_t)(uintptr_t)r;
		}
		if (!r->s[0] && !r->s[1])
			r->s[1] = 1;	/* the one state xorshift never leaves */
		r->left = UUID_RESEED;
	}
	r->left--;
	a = r->s[0];
	b = r->s[1];
	r->s[0] = b;
	a ^= a << 23;
	r->s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return r->s[1] + b;
}

void uuid7(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	uint64_t ms = real_ns() / 1000000, x;
	int i, o = 0;

	x = uuid_bits();
	memcpy(b, &x, 8);
	x = uuid_bits();
	memcpy(b + 8, &x, 8);
	for (i = 0; i < 6; i++)
		b[i] = ms >> (40 - 8 * i);
	b[6] = (b[6] & 0x0f) | 0x70;	/* version 7 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = 0;
}

int parse_duration(const char *s, double *secs)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 0: case 's': break;
	case 'm': v *= 60; break;
	case 'h': v *= 3600; break;
	case 'd': v *= 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	*secs = v;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': v <<= 10; break;
	case 'M': v <<= 20; break;
	case 'G': v <<= 30; break;
	default: return -1;
	}
	if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]) &&
	    !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' && !end[3]))
		return -1;
	*bytes = v;
	return 0;
}
