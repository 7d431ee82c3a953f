/* fuzz_decode.c -- libFuzzer harness: every decoder, input split where the first byte says, same output unsplit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"

/* Decodes d[0..cut) and d[cut..n) into out under a 1 MiB cap; returns the first error or finish result. */
static int run(enum decode_enc enc, const uint8_t *d, size_t n, size_t cut, struct buf *out)
{
	struct decoder *dec = decoder_new(enc);
	int r;

	if (!dec)
		return DECODE_ERR_NOMEM;
	r = decoder_feed(dec, d, cut, out, 1 << 20);

	if (!r)
		r = decoder_feed(dec, d + cut, n - cut, out, 1 << 20);
	r = r ? r : decoder_finish(dec);
	decoder_free(dec);
	return r;
}

/* Every decoder, unsplit and split at a cut the first byte picks, must agree. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = (size - 1) * data[0] / 255;
	for (int enc = DEC_IDENTITY; enc <= DEC_UNKNOWN; enc++) {
		struct buf a = { 0 }, b = { 0 };
		int ra = run(enc, data + 1, size - 1, 0, &a), rb = run(enc, data + 1, size - 1, cut, &b);
		size_t n = a.len < b.len ? a.len : b.len;
		int bad = ra == DECODE_ERR_CORRUPT || rb == DECODE_ERR_CORRUPT;

		/* on corrupt input, how much the library flushed before failing
		 * (and so LIMIT or CORRUPT first) may depend on the split */
		if (bad ? ra >= 0 || rb >= 0 : ra != rb || a.len != b.len)
			abort();
		if (a.len > 1 << 20 || b.len > 1 << 20 || (n && memcmp(a.data, b.data, n)))
			abort();	/* a split changed the output */
		buf_free(&a);
		buf_free(&b);
	}
	return 0;
}
