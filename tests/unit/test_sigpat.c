/* test_sigpat.c -- unit tests of the byte-signature matcher: bytes, wildcards, alternatives, optional groups, backtracking, truncated input, malformed patterns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/sigpat.h"
#include "harness.h"

/* Parse "55 48 89 e5" into b; returns the byte count. */
static size_t hex(const char *s, uint8_t *b)
{
	size_t n = 0;

	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		b[n++] = (uint8_t)strtoul((char[]){ s[0], s[1], 0 }, NULL, 16);
		s += 2;
	}
	return n;
}

/* Match pat against the bytes of hexbytes placed at the very end of a heap
 * block (ASan sees any read past them), whole and cut at every length. */
static void check(const char *pat, const char *hexbytes, long want)
{
	uint8_t tmp[512];
	size_t n = hex(hexbytes, tmp), cut;
	uint8_t *b = malloc(n ? n : 1);
	long got;

	memcpy(b, tmp, n);
	got = sigpat_match(pat, b, n);
	CHECKF(got == want, "\"%s\" on \"%s\": got %ld want %ld", pat, hexbytes, got, want);
	/* a prefix shorter than the match never matches (and never reads past its end) */
	for (cut = 0; want > 0 && cut < (size_t)want; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);

		memcpy(c, tmp, cut);
		got = sigpat_match(pat, c, cut);
		CHECKF(got == -1, "\"%s\" on %zu of the bytes: got %ld", pat, cut, got);
		free(c);
	}
	free(b);
}

static void test_match(void)
{
	check("55 48 89 e5", "55 48 89 e5 41", 4);
	check("55 48 89 e5", "55 48 89 e6", -1);
	check("55 .. 89", "55 00 89", 3);
	check("55 .. 89", "55 ff 89 00", 3);
	check("", "55", 0);
	check("(41 57|55 48)", "55 48", 2);
	check("(41 57|55 48)", "41 57", 2);
	check("(41 57|55 48)", "41 48", -1);
	/* alternatives of different lengths, then more */
	check("(89 d5|41 89 d7) 49", "41 89 d7 49", 4);
	check("(89 d5|41 89 d7) 49", "89 d5 49", 3);
	/* optional groups: taken when they match, skipped when not */
	check("55 (48 89 e5)? 41 57", "55 48 89 e5 41 57", 6);
	check("55 (48 89 e5)? 41 57", "55 41 57", 3);
	/* backtracking: the greedy choice must be undone */
	check("(41 56)? 41 56 53", "41 56 53", 3);
	check("(41 56|41)? 41 56 53", "41 41 56 53", 4);
	check("(41|41 56) 53", "41 56 53", 3);
	/* nested groups */
	check("55 (48 (89|8b) e5)? c3", "55 48 8b e5 c3", 5);
	check("55 (48 (89|8b) e5)? c3", "55 c3", 2);
	check("((55 48 89 e5)? (41 56)? 53 (50)? 48 85 ff 74 ..|48 85 ff 74 .. 53) 48 89 fb e8",
	      "55 48 89 e5 53 50 48 85 ff 74 10 48 89 fb e8", 15);
	check("((55 48 89 e5)? (41 56)? 53 (50)? 48 85 ff 74 ..|48 85 ff 74 .. 53) 48 89 fb e8",
	      "48 85 ff 74 10 53 48 89 fb e8", 10);
	/* SSL_read's prologue in Bun 1.4 (frame pointer) and 1.0 (none) */
	check("(41 57 41 56 53|55 48 89 e5 41 57 41 56 53 50) 48 83 bf .. .. 00 00 00 74 ..",
	      "55 48 89 e5 41 57 41 56 53 50 48 83 bf 98 00 00 00 00 74 2e", 20);
	check("(41 57 41 56 53|55 48 89 e5 41 57 41 56 53 50) 48 83 bf .. .. 00 00 00 74 ..",
	      "41 57 41 56 53 48 83 bf 98 00 00 00 00 74 2b", 15);
	check("(41 57 41 56 53|55 48 89 e5 41 57 41 56 53 50) 48 83 bf .. .. 00 00 00 74 ..",
	      "41 57 41 56 53 48 83 bf 98 00 00 01 00 74 2b", -1);
	check("AA bb", "aa BB", 2);
}

static void test_valid(void)
{
	CHECK(sigpat_valid(""));
	CHECK(sigpat_valid("55 48 89 e5"));
	CHECK(sigpat_valid(".. (41 57|55)? (c3)"));
	CHECK(sigpat_valid("((55)? 53|48 .. 53) e8"));
	CHECK(!sigpat_valid("5"));
	CHECK(!sigpat_valid("55 4"));
	CHECK(!sigpat_valid("555"));
	CHECK(!sigpat_valid("zz"));
	CHECK(!sigpat_valid("(55"));
	CHECK(!sigpat_valid("55)"));
	CHECK(!sigpat_valid("55 | 48"));
	CHECK(!sigpat_valid("55?"));
	CHECK(!sigpat_valid("??"));
}

int main(void)
{
	test_match();
	test_valid();
	return harness_done("test_sigpat");
}
