/* fuzz_h2.c -- libFuzzer harness: the HTTP/2 parser (both sides), input split where the first byte says, same result unsplit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/h2.h"

struct tally { size_t heads, fields, namebytes, body, ends, resets, goaways; };

static void on_headers(void *ud, uint32_t s, const struct h2_header *h, size_t n, int es)
{
	struct tally *t = ud;
	size_t i;

	(void)s;
	t->heads++;
	t->fields += n;
	t->ends += es;
	for (i = 0; i < n; i++)
		t->namebytes += strlen(h[i].name) + strlen(h[i].value);
}
static void on_data(void *ud, uint32_t s, const uint8_t *d, size_t n, int es)
{
	(void)s;
	if (n)
		(void)d[n - 1];
	((struct tally *)ud)->body += n;
	((struct tally *)ud)->ends += es;
}
static void on_reset(void *ud, uint32_t s, uint32_t c) { (void)s; (void)c; ((struct tally *)ud)->resets++; }
static void on_goaway(void *ud, uint32_t s, uint32_t c) { (void)s; (void)c; ((struct tally *)ud)->goaways++; }

static long run(int client, const uint8_t *d, size_t n, size_t cut, struct tally *t)
{
	static const struct h2_callbacks cb = { on_headers, on_data, on_reset, on_goaway };
	struct h2_parser *p = h2_parser_new(client, &cb, t), *peer = h2_parser_new(!client, &cb, t);
	long r;

	if (!p || !peer) {
		h2_parser_free(p);
		h2_parser_free(peer);
		return H2_ERR_NOMEM;
	}
	h2_parser_link(p, peer);
	r = h2_parser_feed(p, d, cut);
	if (r >= 0)
		r = h2_parser_feed(p, d + cut, n - cut);
	h2_parser_free(p);
	h2_parser_free(peer);
	return r < 0 ? r : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = (size - 1) * data[0] / 255;
	for (int client = 0; client <= 1; client++) {
		struct tally a = { 0 }, b = { 0 };
		long ra = run(client, data + 1, size - 1, size - 1, &a);
		long rb = run(client, data + 1, size - 1, cut, &b);
		if (ra != rb || memcmp(&a, &b, sizeof(a)) != 0)
			abort();	/* a split changed what the parser saw */
	}
	return 0;
}
