/* redact_int.h -- what redact.c lends redact_stream.c: the scanner that finds every secret of a text. */
#ifndef LLMTAP_REDACT_INT_H
#define LLMTAP_REDACT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* One pass over [s, s + n): the output so far, or (find mode) the spans. */
struct scan {
	const char *s;
	size_t n;
	struct buf out;
	size_t done;		/* s[0, done) is in out */
	int oom;
	size_t (*spans)[2];	/* find mode: where secrets are */
	size_t nspans, cap;
	int find;
};

/* Run every rule over sc->s: the redacted text in sc->out, or (find mode)
 * where the secrets are in sc->spans. sc->oom is set when out of memory. */
void redact_scan(struct scan *sc);

/* How many of the eight bytes of w (as loaded from memory) are ASCII
 * letters or digits before the first that is not: 8 when all are. Below
 * 0x80 no sum carries into the next byte: x + (0x80 - lo) has its top bit
 * set when x >= lo, x + (0x7f - hi) when x > hi. A byte from 0x80 up is
 * no letter, and a carry out of it only reaches bytes after it, which do
 * not count once it stops the run. */
static inline unsigned redact_word_alnum_len(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, highs = ones * 0x80;
	uint64_t l = w | ones * 0x20;	/* 'A'..'Z' onto 'a'..'z', and nothing else there */
	uint64_t letter = (l + ones * (0x80 - 'a')) & ~(l + ones * (0x7f - 'z'));
	uint64_t digit = (w + ones * (0x80 - '0')) & ~(w + ones * (0x7f - '9'));
	uint64_t stop = (w | ~(letter | digit)) & highs;

	if (!stop)
		return 8;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (unsigned)__builtin_clzll(stop) >> 3;
#else
	return (unsigned)__builtin_ctzll(stop) >> 3;
#endif
}

/* Returns 1 when the word [w, w + n) is in list (ASCII case ignored). */
int redact_word_in(const char *w, size_t n, const char *const *list, size_t count);

#endif
