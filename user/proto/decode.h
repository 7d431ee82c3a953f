/* decode.h -- pure streaming Content-Encoding decoder: gzip, deflate, br, zstd. */
#ifndef LLMTAP_DECODE_H
#define LLMTAP_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum decode_enc {
	DEC_IDENTITY = 0,
	DEC_GZIP,
	DEC_DEFLATE,	/* zlib-wrapped, or raw deflate as some servers send */
	DEC_BR,
	DEC_ZSTD,
	DEC_UNKNOWN,	/* an encoding we cannot decode (kept as is) */
};

#define DECODE_ERR_CORRUPT (-1)
#define DECODE_ERR_LIMIT   (-2)	/* output would exceed max_out */
#define DECODE_ERR_NOMEM   (-3)

/* Map a Content-Encoding header value (NULL, "", "identity", "gzip",
 * "x-gzip", "deflate", "br", "zstd", any case) to an enum decode_enc. */
enum decode_enc decode_parse_encoding(const char *value);
const char *decode_enc_name(enum decode_enc enc);

struct decoder;

/* Returns a new decoder, or NULL when out of memory. DEC_IDENTITY and
 * DEC_UNKNOWN copy bytes through unchanged. */
struct decoder *decoder_new(enum decode_enc enc);
void decoder_free(struct decoder *d);

/* Decode the next n input bytes and append the output to out, never letting
 * out->len exceed max_out. Returns 0, or DECODE_ERR_*; after an error the
 * decoder stays failed. Any split of the input gives the same output. */
int decoder_feed(struct decoder *d, const uint8_t *in, size_t n,
		 struct buf *out, size_t max_out);

/* The input ended. Returns 0 when the compressed stream was complete,
 * DECODE_ERR_CORRUPT when it was truncated. Identity always returns 0. */
int decoder_finish(struct decoder *d);

#endif
