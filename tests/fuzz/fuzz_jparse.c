/* fuzz_jparse.c -- libFuzzer harness: jparse_loadb() and json_loadb() on any bytes give the same document or both none. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/jparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t flags[4] = { 0, JSON_ALLOW_NUL, JSON_REJECT_DUPLICATES,
					 JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES };
	size_t f = size ? flags[data[0] & 3] : 0;
	const char *doc = size ? (const char *)data + 1 : "";
	size_t n = size ? size - 1 : 0;
	json_t *a = jparse_loadb(doc, n, f, NULL), *b = json_loadb(doc, n, f, NULL);
	char *da, *db;

	assert(!a == !b);
	if (a) {
		assert(json_equal(a, b));
		da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
		db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
		assert(da && db && !strcmp(da, db));	/* key order too */
		free(da);
		free(db);
	}
	json_decref(a);
	json_decref(b);
	return 0;
}
