/* fuzz_sse.c -- libFuzzer harness: the SSE parser on any bytes, whole and split, must agree and not crash. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "proto/sse.h"

/* A running hash of every event, so the two feeding orders can be compared. */
static void hash_event(void *ud, const struct sse_event *ev)
{
	uint64_t *h = ud;
	size_t i;

	assert(ev->data[ev->data_len] == 0);
	for (i = 0; i < ev->data_len; i++)
		*h = (*h ^ (uint8_t)ev->data[i]) * 1099511628211ull;
	*h = (*h ^ strlen(ev->event) ^ (strlen(ev->id) << 16)) * 1099511628211ull;
	*h = (*h ^ ev->end_offset) * 1099511628211ull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t whole = 14695981039346656037ull, split = whole;
	size_t cut = size ? data[0] % size : 0;
	struct sse_parser *a = sse_parser_new(hash_event, &whole);
	struct sse_parser *b = sse_parser_new(hash_event, &split);

	if (a && b) {
		sse_parser_feed(a, (const char *)data, size);
		sse_parser_feed(b, (const char *)data, cut);
		sse_parser_feed(b, (const char *)data + cut, size - cut);
		sse_parser_finish(a);
		sse_parser_finish(b);
		assert(whole == split);
	}
	sse_parser_free(a);
	sse_parser_free(b);
	return 0;
}
