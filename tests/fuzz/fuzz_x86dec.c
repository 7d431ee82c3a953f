/* fuzz_x86dec.c -- libFuzzer harness: the placement decoder on any bytes: lengths in bounds, never a read past the end, walks that finish. */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include "capture/x86dec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_insn in;
	struct x86_walk w;
	uint8_t *copy;
	size_t off;
	int n, i;

	/* an exact-size copy: ASan catches any read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (off = 0; off < size; off += n > 0 ? (size_t)n : 1) {
		n = x86_decode(copy + off, size - off, &in);
		assert(n >= 0 && n <= 15 && (size_t)n <= size - off);
		if (n)
			assert(in.len == n);
	}
	if (x86_walk_function(copy, size, 0x400000, &w) == 0) {
		assert(w.ncalls >= 0 && w.ncalls <= X86_CALLS_MAX);
		for (i = 0; i < w.ncalls; i++)
			assert(w.calls[i].sites > 0);
	}
	free(copy);
	return 0;
}
