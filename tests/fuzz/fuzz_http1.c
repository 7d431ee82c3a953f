/* fuzz_http1.c -- libFuzzer harness: both parsers, input split where the first byte says, same result unsplit. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/http1.h"

struct tally { size_t heads, body, dones; };

/* Callbacks only count; on_head says "no body" for heads with an odd header count. */
static int on_head(void *ud, const struct http1_head *h) { ((struct tally *)ud)->heads++; return h->n_headers & 1; }
static void on_body(void *ud, const uint8_t *d, size_t n) { (void)d; ((struct tally *)ud)->body += n; }
static void on_done(void *ud) { ((struct tally *)ud)->dones++; }

/* Feeds d[0..cut) and d[cut..n) and finishes; returns the first error or finish result. */
static long run(enum http1_type type, const uint8_t *d, size_t n, size_t cut, struct tally *t)
{
	static const struct http1_callbacks cb = { on_head, on_body, on_done };
	struct http1_parser *p = http1_parser_new(type, &cb, t);
	long r;

	if (!p)
		return HTTP1_ERR_NOMEM;
	r = http1_parser_feed(p, d, cut);

	if (r >= 0)
		r = http1_parser_feed(p, d + cut, n - cut);
	r = r < 0 ? r : http1_parser_finish(p);
	http1_parser_free(p);
	return r;
}

/* Both parsers, unsplit and split at a cut the first byte picks, must agree. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = (size - 1) * data[0] / 255;
	for (int type = HTTP1_REQUEST; type <= HTTP1_RESPONSE; type++) {
		struct tally a = { 0 }, b = { 0 };
		long ra = run(type, data + 1, size - 1, 0, &a), rb = run(type, data + 1, size - 1, cut, &b);
		if (ra != rb || a.heads != b.heads || a.body != b.body || a.dones != b.dones)
			abort();	/* a split changed what the parser saw */
	}
	return 0;
}
