/* fuzz_sigpat.c -- libFuzzer harness: a byte signature (the input's first line, when well formed) matched against the rest, never reading past it. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/sigpat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t plen = nl ? (size_t)(nl - data) : size;
	uint8_t *code;
	char *pat;
	long n;

	/* short patterns: backtracking over many optional groups is exponential by design */
	if (plen > 80)
		return 0;
	pat = malloc(plen + 1);
	memcpy(pat, data, plen);
	pat[plen] = 0;
	if (sigpat_valid(pat)) {
		size_t clen = nl ? size - plen - 1 : 0;

		code = malloc(clen ? clen : 1);
		memcpy(code, nl ? nl + 1 : data, clen);
		n = sigpat_match(pat, code, clen);
		assert(n == -1 || (n >= 0 && (size_t)n <= clen));
		free(code);
	}
	free(pat);
	return 0;
}
