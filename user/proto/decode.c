/* decode.c -- pure streaming Content-Encoding decoder: gzip, deflate, br, zstd. */
#include "proto/decode.h"
#include "proto/http1.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* RFC 9659: zstd as a Content-Encoding never needs a window over 8 MiB, so a
 * frame asking for more is refused instead of allocating up to 128 MiB. */
#define ZSTD_WINDOW_LOG_MAX 23

/* Output is produced through a stack buffer of this size, so a bomb costs
 * no more than max_out bytes of memory. */
#define CHUNK 16384

struct decoder {
	enum decode_enc enc;
	int err;		/* 0, or the sticky DECODE_ERR_* */
	int started;		/* some input was fed */
	int ended;		/* the compressed stream is complete so far */

	z_stream zs;
	int z_live;		/* zs initialised */
	int z_gzip;		/* zs reads gzip members (may be several) */
	uint8_t probe[2];	/* deflate: first bytes, to tell zlib from raw */
	size_t n_probe;

	BrotliDecoderState *br;

	ZSTD_DStream *zd;
	int z_in_frame;		/* zstd has a frame header; frame not ended */
	uint8_t z_hdr[18];	/* the next frame header, gathered */
	size_t z_hdr_len;
	size_t z_hdr_need;	/* its full size, once known (0: need 5 bytes) */
};

/* Returns the encoding a Content-Encoding value names; "identity" entries
 * of a list are ignored, two real codings or an unknown one give DEC_UNKNOWN. */
enum decode_enc decode_parse_encoding(const char *value)
{
	enum decode_enc enc = DEC_IDENTITY;
	const char *s = value, *b;
	size_t n;

	if (!s)
		return DEC_IDENTITY;
	/* a list of codings: all but one "identity" means we cannot undo it */
	while (http1_list_next(&s, &b, &n)) {
		enum decode_enc one;

		if (n == 0 || (n == 8 && strncasecmp(b, "identity", 8) == 0))
			continue;
		if ((n == 4 && strncasecmp(b, "gzip", 4) == 0) ||
		    (n == 6 && strncasecmp(b, "x-gzip", 6) == 0))
			one = DEC_GZIP;
		else if (n == 7 && strncasecmp(b, "deflate", 7) == 0)
			one = DEC_DEFLATE;
		else if (n == 2 && strncasecmp(b, "br", 2) == 0)
			one = DEC_BR;
		else if (n == 4 && strncasecmp(b, "zstd", 4) == 0)
			one = DEC_ZSTD;
		else
			return DEC_UNKNOWN;
		if (enc != DEC_IDENTITY)
			return DEC_UNKNOWN;
		enc = one;
	}
	return enc;
}

/* Returns the static token for enc ("unknown" for anything else). */
const char *decode_enc_name(enum decode_enc enc)
{
	switch (enc) {
	case DEC_IDENTITY:
		return "identity";
	case DEC_GZIP:
		return "gzip";
	case DEC_DEFLATE:
		return "deflate";
	case DEC_BR:
		return "br";
	case DEC_ZSTD:
		return "zstd";
	default:
		return "unknown";
	}
}

/* Returns a new decoder (an out-of-range enc acts as DEC_UNKNOWN), or NULL
 * when out of memory. */
struct decoder *decoder_new(enum decode_enc enc)
{
	struct decoder *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (enc < DEC_IDENTITY || enc > DEC_UNKNOWN)
		enc = DEC_UNKNOWN;
	d->enc = enc;
	switch (enc) {
	case DEC_GZIP:
		if (inflateInit2(&d->zs, 16 + MAX_WBITS) != Z_OK)
			goto out_free;
		d->z_live = 1;
		d->z_gzip = 1;
		break;
	case DEC_BR:
		d->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
		if (!d->br)
			goto out_free;
		break;
	case DEC_ZSTD:
		d->zd = ZSTD_createDStream();
		if (!d->zd)
			goto out_free;
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax,
							ZSTD_WINDOW_LOG_MAX)))
			goto out_free_zstd;
		break;
	default:
		break;	/* deflate initialises on its first two bytes */
	}
	return d;

out_free_zstd:
	ZSTD_freeDStream(d->zd);
out_free:
	free(d);
	return NULL;
}

/* Frees the decoder and its library state; NULL is fine. */
void decoder_free(struct decoder *d)
{
	if (!d)
		return;
	if (d->z_live)
		inflateEnd(&d->zs);
	if (d->br)
		BrotliDecoderDestroyInstance(d->br);
	if (d->zd)
		ZSTD_freeDStream(d->zd);
	free(d);
}

/* Appends n bytes to out without passing max_out. Returns 0, or
 * DECODE_ERR_LIMIT after appending what fits, or DECODE_ERR_NOMEM. */
static int emit(struct buf *out, const uint8_t *p, size_t n, size_t max_out)
{
	size_t room = out->len < max_out ? max_out - out->len : 0;

	if (n <= room)
		return buf_append(out, p, n) ? DECODE_ERR_NOMEM : 0;
	if (room && buf_append(out, p, room))
		return DECODE_ERR_NOMEM;
	return DECODE_ERR_LIMIT;
}

/* Runs inflate over in[0..n). A gzip stream may hold several members; any
 * other zlib or raw stream must end with its last byte. Returns 0 or DECODE_ERR_*. */
static int z_run(struct decoder *d, const uint8_t *in, size_t n,
		 struct buf *out, size_t max_out)
{
	uint8_t tmp[CHUNK];
	int ret, err = 0;

	if (n == 0)
		return 0;
	if (d->ended) {
		if (!d->z_gzip)
			return DECODE_ERR_CORRUPT;	/* bytes after the end */
		if (inflateReset(&d->zs) != Z_OK)
			return DECODE_ERR_CORRUPT;
		d->ended = 0;
	}
	d->zs.next_in = (Bytef *)in;
	d->zs.avail_in = n;
	for (;;) {
		d->zs.next_out = tmp;
		d->zs.avail_out = sizeof(tmp);
		ret = inflate(&d->zs, Z_NO_FLUSH);
		/* what came out before an error is kept, so splits agree */
		err = emit(out, tmp, sizeof(tmp) - d->zs.avail_out, max_out);
		if (err)
			break;
		if (ret == Z_STREAM_END) {
			d->ended = 1;
			if (!d->zs.avail_in)
				break;
			/* another gzip member follows */
			if (!d->z_gzip || inflateReset(&d->zs) != Z_OK) {
				err = DECODE_ERR_CORRUPT;
				break;
			}
			d->ended = 0;
			continue;
		}
		if (ret == Z_OK && (d->zs.avail_in || !d->zs.avail_out))
			continue;
		if (ret == Z_OK || ret == Z_BUF_ERROR)
			break;	/* all input taken, all output flushed */
		err = ret == Z_MEM_ERROR ? DECODE_ERR_NOMEM : DECODE_ERR_CORRUPT;
		break;
	}
	/* keep no pointer into the caller's memory */
	d->zs.next_in = NULL;
	d->zs.avail_in = 0;
	return err;
}

/* Returns 1 when b[0], b[1] make a valid zlib header using deflate. */
static int zlib_header(const uint8_t *b)
{
	return (b[0] & 0x0f) == Z_DEFLATED && (b[0] >> 4) <= 7 &&
	       ((b[0] << 8) | b[1]) % 31 == 0;
}

/* Feeds gzip or deflate input. Deflate waits for two bytes, then picks
 * zlib-wrapped, raw deflate, or (a misconfigured server) gzip. */
static int z_feed(struct decoder *d, const uint8_t *in, size_t n,
		  struct buf *out, size_t max_out)
{
	int wbits, err;
	size_t take;

	if (d->z_live)
		return z_run(d, in, n, out, max_out);
	take = sizeof(d->probe) - d->n_probe;
	if (take > n)
		take = n;
	memcpy(d->probe + d->n_probe, in, take);
	d->n_probe += take;
	if (d->n_probe < sizeof(d->probe))
		return 0;
	if (d->probe[0] == 0x1f && d->probe[1] == 0x8b)
		wbits = 16 + MAX_WBITS;
	else if (zlib_header(d->probe))
		wbits = MAX_WBITS;
	else
		wbits = -MAX_WBITS;
	switch (inflateInit2(&d->zs, wbits)) {
	case Z_OK:
		break;
	case Z_MEM_ERROR:
		return DECODE_ERR_NOMEM;
	default:
		return DECODE_ERR_CORRUPT;
	}
	d->z_live = 1;
	d->z_gzip = wbits > MAX_WBITS;
	err = z_run(d, d->probe, sizeof(d->probe), out, max_out);
	if (err)
		return err;
	return z_run(d, in + take, n - take, out, max_out);
}

/* Feeds brotli input; a brotli stream cannot be followed by more bytes. */
static int br_feed(struct decoder *d, const uint8_t *in, size_t n,
		   struct buf *out, size_t max_out)
{
	uint8_t tmp[CHUNK];
	const uint8_t *next_in = in;
	size_t avail_in = n;

	if (d->ended)
		return DECODE_ERR_CORRUPT;
	for (;;) {
		uint8_t *next_out = tmp;
		size_t avail_out = sizeof(tmp);
		BrotliDecoderResult res;
		int err, code;

		res = BrotliDecoderDecompressStream(d->br, &avail_in, &next_in,
						    &avail_out, &next_out, NULL);
		err = emit(out, tmp, sizeof(tmp) - avail_out, max_out);
		if (err)
			return err;
		switch (res) {
		case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
			continue;
		case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
			return 0;
		case BROTLI_DECODER_RESULT_SUCCESS:
			d->ended = 1;
			return avail_in ? DECODE_ERR_CORRUPT : 0;
		default:
			code = BrotliDecoderGetErrorCode(d->br);
			if (code <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
			    code >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES)
				return DECODE_ERR_NOMEM;
			return DECODE_ERR_CORRUPT;
		}
	}
}

/* Runs the zstd stream decoder over in[0..n) until the input is used up
 * or the current frame ends (zstd stops there). Sets *used to the bytes
 * taken. Returns 0 or DECODE_ERR_*. Pending output is drained with empty
 * input before zstd gets more: on an error libzstd drops what that call
 * had flushed, so flushing first keeps the most output. */
static int zstd_run(struct decoder *d, const uint8_t *in, size_t n, size_t *used,
		    struct buf *out, size_t max_out)
{
	uint8_t tmp[CHUNK];
	ZSTD_inBuffer ib = { in, n, 0 };
	int full = 0;

	for (;;) {
		ZSTD_outBuffer ob = { tmp, sizeof(tmp), 0 };
		ZSTD_inBuffer none = { in, 0, 0 };
		size_t ret = ZSTD_decompressStream(d->zd, &ob, full ? &none : &ib);
		int err = emit(out, tmp, ob.pos, max_out);

		*used = ib.pos;
		if (err)
			return err;	/* output before the error passed the limit */
		if (ZSTD_isError(ret))
			return ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ?
				       DECODE_ERR_NOMEM : DECODE_ERR_CORRUPT;
		if (ret == 0) {
			/* a frame ended and everything was flushed */
			d->z_in_frame = 0;
			d->ended = 1;
			return 0;
		}
		full = ob.pos == ob.size;
		if (!full && ib.pos == ib.size)
			return 0;
	}
}

/* Returns the size of the zstd frame header starting with the 5 bytes at h
 * (magic and descriptor), 8 for a skippable frame, or 0 when h starts no
 * frame we accept (RFC 8878; legacy pre-1.0 formats are refused). */
static size_t zstd_header_size(const uint8_t *h)
{
	static const uint8_t dict_len[4] = { 0, 1, 2, 4 }, fcs_len[4] = { 0, 2, 4, 8 };
	uint32_t magic = h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24;
	uint8_t fhd = h[4];
	int single = (fhd >> 5) & 1;

	if ((magic & 0xfffffff0) == 0x184d2a50)
		return 8;
	if (magic != 0xfd2fb528 || (fhd & 0x08))
		return 0;	/* not zstd, or the reserved bit set */
	return 5 + !single + dict_len[fhd & 3] + (fhd >> 6 ? fcs_len[fhd >> 6] : single);
}

/* Feeds zstd input; several frames (and skippable frames) may follow each
 * other. Each frame header is gathered here and handed to zstd in one
 * piece: libzstd (1.5.4, built with legacy support) otherwise takes a
 * header split across calls differently from a whole one. */
static int zstd_feed(struct decoder *d, const uint8_t *in, size_t n,
		     struct buf *out, size_t max_out)
{
	while (n) {
		size_t need, take, used;
		int err;

		if (d->z_in_frame) {
			err = zstd_run(d, in, n, &used, out, max_out);
			if (err)
				return err;
			in += used;
			n -= used;
			continue;
		}
		d->ended = 0;
		need = d->z_hdr_need ? d->z_hdr_need : 5;
		take = need - d->z_hdr_len < n ? need - d->z_hdr_len : n;
		memcpy(d->z_hdr + d->z_hdr_len, in, take);
		d->z_hdr_len += take;
		in += take;
		n -= take;
		if (d->z_hdr_len < need)
			return 0;
		if (!d->z_hdr_need) {
			d->z_hdr_need = zstd_header_size(d->z_hdr);
			if (!d->z_hdr_need)
				return DECODE_ERR_CORRUPT;
		}
		if (d->z_hdr_len < d->z_hdr_need)
			continue;
		need = d->z_hdr_len;
		d->z_in_frame = 1;
		d->z_hdr_need = 0;
		d->z_hdr_len = 0;
		err = zstd_run(d, d->z_hdr, need, &used, out, max_out);
		if (err)
			return err;
	}
	return 0;
}

/* Decodes n more input bytes into out under max_out. Returns 0 or the
 * sticky DECODE_ERR_*; on LIMIT out holds exactly max_out bytes. */
int decoder_feed(struct decoder *d, const uint8_t *in, size_t n,
		 struct buf *out, size_t max_out)
{
	int err;

	if (d->err)
		return d->err;
	if (n == 0)
		return 0;
	d->started = 1;
	switch (d->enc) {
	case DEC_GZIP:
	case DEC_DEFLATE:
		err = z_feed(d, in, n, out, max_out);
		break;
	case DEC_BR:
		err = br_feed(d, in, n, out, max_out);
		break;
	case DEC_ZSTD:
		err = zstd_feed(d, in, n, out, max_out);
		break;
	default:
		err = emit(out, in, n, max_out);
		break;
	}
	d->err = err;
	return err;
}

/* Returns 0 when the stream was complete (or never started: an empty
 * body), DECODE_ERR_CORRUPT when truncated, or the sticky error. */
int decoder_finish(struct decoder *d)
{
	if (d->err)
		return d->err;
	/* pass-through, or no body at all (e.g. 304 with Content-Encoding) */
	if (d->enc == DEC_IDENTITY || d->enc == DEC_UNKNOWN || !d->started)
		return 0;
	if (!d->ended)
		d->err = DECODE_ERR_CORRUPT;
	return d->err;
}
