/* fuzz_ws.c -- libFuzzer harness: the WebSocket parser (with and without permessage-deflate), input split where the first bytes say, same messages unsplit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"

struct tally { size_t msgs, bytes, closes; uint32_t sum; int cut; };

/* Callbacks only count and checksum what they are given. */
static void on_message(void *ud, int op, const uint8_t *d, size_t n, int cut)
{
	struct tally *t = ud;

	t->msgs++;
	t->bytes += n;
	t->cut += cut;
	t->sum = t->sum * 31 + (uint32_t)op;
	for (size_t i = 0; i < n; i++)
		t->sum = t->sum * 31 + d[i];
}

static void on_close(void *ud, int code) { ((struct tally *)ud)->closes += 1 + (size_t)code; }

/* Feeds d[0..cut) and d[cut..n) to a parser set up by flags; returns the first error or 0. */
static long run(uint8_t flags, const uint8_t *d, size_t n, size_t cut, struct tally *t)
{
	static const struct ws_callbacks cb = { on_message, on_close };
	struct ws_parser *p = ws_parser_new(&cb, t, flags & 4 ? 64 : 1 << 16);
	long r;

	if (!p)
		return WS_ERR_NOMEM;
	if (flags & 1)
		ws_parser_deflate(p, flags & 2);
	r = ws_parser_feed(p, d, cut);
	if (r >= 0)
		r = ws_parser_feed(p, d + cut, n - cut);
	ws_parser_free(p);
	return r < 0 ? r : 0;
}

/* Unsplit and split at a cut the second byte picks must agree. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally a = { 0 }, b = { 0 };
	size_t cut;
	long ra, rb;

	if (size < 2)
		return 0;
	cut = (size - 2) * data[1] / 255;
	ra = run(data[0], data + 2, size - 2, 0, &a);
	rb = run(data[0], data + 2, size - 2, cut, &b);
	if (ra != rb || memcmp(&a, &b, sizeof(a)))
		abort();	/* a split changed what the parser saw */
	return 0;
}
