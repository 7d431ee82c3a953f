/* hash.c -- a fast 64-bit hash of bytes, for lookups and comparisons in memory (never stored). */
#include "base/hash.h"

#include <string.h>

#define MUL 0x9e3779b97f4a7c15ull	/* odd: the multiply is a bijection */

/* One word into a lane: xor, multiply, and the high bits the multiply
 * made folded back down where the next word lands. */
static inline uint64_t lane(uint64_t a, uint64_t w)
{
	a = (a ^ w) * MUL;
	return a ^ (a >> 29);
}

uint64_t hash64(const void *s, size_t n, uint64_t h)
{
	const unsigned char *p = s;
	uint64_t w[4], a, b, c, d;
	size_t len = n;

	if (n >= 32) {
		a = h;
		b = h + MUL;
		c = h ^ 0x100000001b3ull;
		d = ~h;
		for (; n >= 32; p += 32, n -= 32) {
			memcpy(w, p, sizeof(w));
			a = lane(a, w[0]);
			b = lane(b, w[1]);
			c = lane(c, w[2]);
			d = lane(d, w[3]);
		}
		h = lane(lane(lane(lane(h, a), b), c), d);
	}
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w[0], p, 8);
		h = lane(h, w[0]);
	}
	if (n) {
		w[0] = 0;
		memcpy(&w[0], p, n);
		h = lane(h, w[0]);
	}
	/* the length last: "a" and "a\0", or a part that ends where the
	 * next one begins, hash apart */
	return lane(h, len);
}
