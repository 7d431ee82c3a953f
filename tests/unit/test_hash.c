/* test_hash.c -- unit tests of hash64(): every bit and every length counts, lanes and tails alike, chaining, no clusters in a table's low bits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "harness.h"

#define N 200	/* past several 32-byte steps, with every tail length */

/* Flipping any one bit of an n-byte buffer changes the hash, for every n
 * up to N: each lane, the 8-byte words after them and the last bytes. */
static void test_every_bit(void)
{
	unsigned char b[N];
	size_t n, i;
	int bit, same;
	uint64_t h0;

	for (i = 0; i < N; i++)
		b[i] = (unsigned char)(i * 37 + 11);
	for (n = 1; n <= N; n++) {
		h0 = hash64(b, n, HASH64_INIT);
		same = 0;
		for (i = 0; i < n; i++)
			for (bit = 0; bit < 8; bit++) {
				b[i] ^= (unsigned char)(1u << bit);
				same += hash64(b, n, HASH64_INIT) == h0;
				b[i] ^= (unsigned char)(1u << bit);
			}
		CHECKF(same == 0, "n %zu: %d flips kept the hash", n, same);
		CHECKF(hash64(b, n, HASH64_INIT) == h0, "n %zu: not the same twice", n);
	}
}

/* Prefixes of one buffer (zeros, so only the length tells them apart) hash
 * apart; a part's end moved between two chained calls too. */
static void test_lengths_and_chains(void)
{
	unsigned char z[N] = { 0 };
	uint64_t h[N + 1], a, b;
	size_t i, j, dup = 0;

	for (i = 0; i <= N; i++)
		h[i] = hash64(z, i, HASH64_INIT);
	for (i = 0; i <= N; i++)
		for (j = i + 1; j <= N; j++)
			dup += h[i] == h[j];
	CHECKF(dup == 0, "%zu pairs of zero prefixes hash alike", dup);
	CHECK(hash64("a", 1, HASH64_INIT) != hash64("a", 2, HASH64_INIT));	/* "a" vs "a\0" */
	a = hash64("ab", 2, hash64("c", 1, HASH64_INIT));
	b = hash64("b", 1, hash64("ca", 2, HASH64_INIT));
	CHECK(a != b);
	CHECK(hash64("x", 1, 1) != hash64("x", 1, 2));	/* the seed counts */
}

/* 64 Ki short keys that differ in one counter (as message ids and SSE
 * events do) spread over a 4096-slot table's low bits: no slot holds more
 * than three times its share. */
static void test_spread(void)
{
	static unsigned counts[4096];
	char key[64];
	unsigned i, max = 0;
	int n;

	for (i = 0; i < 65536; i++) {
		n = snprintf(key, sizeof(key), "{\"id\":\"chatcmpl-%u\",\"object\":\"chunk\"}", i);
		counts[hash64(key, (size_t)n, HASH64_INIT) & 4095]++;
	}
	for (i = 0; i < 4096; i++)
		if (counts[i] > max)
			max = counts[i];
	CHECKF(max <= 48, "fullest slot %u (16 each on average)", max);
}

int main(void)
{
	test_every_bit();
	test_lengths_and_chains();
	test_spread();
	return harness_done("test_hash");
}
