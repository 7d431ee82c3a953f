/* fuzz_jparse.c -- libFuzzer harness: jparse_loadb() and jparse_loadb_first() give json_loadb()'s document (and position) on any bytes, or both none. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/jparse.h"

/* a and b (either may be NULL) are the same document, key order too. */
static void same_doc(json_t *a, json_t *b)
{
	char *da, *db;

	assert(!a == !b);
	if (!a)
		return;
	assert(json_equal(a, b));
	da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
	db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
	assert(da && db && !strcmp(da, db));
	free(da);
	free(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t flags[4] = { 0, JSON_ALLOW_NUL, JSON_REJECT_DUPLICATES,
					 JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES };
	size_t f = size ? flags[data[0] & 3] : 0;
	const char *doc = size ? (const char *)data + 1 : "";
	size_t n = size ? size - 1 : 0;
	json_t *a = jparse_loadb(doc, n, f, NULL), *b = json_loadb(doc, n, f, NULL);
	json_error_t err;
	size_t used;

	same_doc(a, b);
	json_decref(a);
	json_decref(b);
	/* the first document of a stream, and where it ends */
	a = jparse_loadb_first(doc, n, f, &used);
	b = json_loadb(doc, n, f | JSON_DISABLE_EOF_CHECK, &err);
	same_doc(a, b);
	assert(!a || used == (size_t)err.position);
	json_decref(a);
	json_decref(b);
	return 0;
}
