/* fuzz_redact.c -- libFuzzer harness: redaction of any bytes (text, stream bodies against an assembled text, argv) must not crash, and a known key planted anywhere never survives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/redact.h"

/* A key the shape rules must always remove, planted into the input. */
static const char key[] = "sk-proj-FUZZfuzzFUZZfuzzFUZZ0123";

/* How many times the n bytes at p contain the key. */
static size_t keys_in(const char *p, size_t n)
{
	const char *e = p + n, *k;
	size_t c = 0;

	while ((k = memmem(p, e - p, key, sizeof(key) - 1))) {
		c++;
		p = k + 1;
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut, outn = 0, n;
	char *text, *out, *planted;
	enum redact_argv_state st = REDACT_ARG_PLAIN;

	if (size < 2)
		return 0;
	cut = (size - 2) * data[1] / 255;

	/* whole input as text, NUL bytes and all */
	out = redact_textn((const char *)data + 2, size - 2, &outn);
	if (out && out[outn] != 0)
		abort();
	free(out);

	/* the key between two halves, a word boundary each side: that copy must
	 * go (the input may hold more, not at word boundaries) */
	n = size - 2 + sizeof(key) + 1;
	planted = malloc(n);
	if (!planted)
		return 0;
	memcpy(planted, data + 2, cut);
	planted[cut] = ' ';
	memcpy(planted + cut + 1, key, sizeof(key) - 1);
	planted[cut + sizeof(key)] = ' ';
	memcpy(planted + cut + sizeof(key) + 1, data + 2 + cut, size - 2 - cut);
	out = redact_textn(planted, n, &outn);
	if (out && keys_in(out, outn) > keys_in((const char *)data + 2, size - 2))
		abort();
	free(out);
	free(planted);

	/* a stream body and the text assembled from it, split where data[1] says */
	text = strndup((const char *)data + 2 + cut, size - 2 - cut);
	if (text) {
		out = redact_stream_body((const char *)data + 2, cut, text, &outn);
		if (out && out[outn] != 0)
			abort();
		free(out);
		free(text);
	}

	/* argv: NUL-separated arguments, the state carried across them */
	text = strndup((const char *)data + 2, size - 2);
	if (text) {
		char *arg = text;

		if (data[0] & 1)
			st = REDACT_ARG_SECRET;
		while (arg < text + strlen(text)) {
			char *sp = strchr(arg, ' ');

			if (sp)
				*sp = 0;
			free(redact_arg(arg, &st));
			arg += strlen(arg) + 1;
		}
		free(text);
	}
	return 0;
}
