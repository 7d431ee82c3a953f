/* test_decode.c -- unit tests for the Content-Encoding decoder: round trips, every split, truncation, corruption, bombs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "proto/decode.h"
#include "harness.h"

#define NOLIMIT ((size_t)-1)

/* Deterministic text that looks like an SSE stream of chat deltas. */
static void make_text(struct buf *b, size_t n)
{
	static const char *words[] = { "the", "model", "token", "stream", "delta", "Hi",
				       "completion", "usage", "assistant", "42", "\\n", "é" };
	uint32_t x = 12345;

	buf_reset(b);
	while (b->len < n) {
		buf_puts(b, "data: {\"choices\":[{\"delta\":{\"content\":\"");
		for (int i = 0; i < 6; i++) {
			x = x * 1103515245 + 12345;
			buf_puts(b, words[(x >> 16) % 12]);
			buf_puts(b, " ");
		}
		buf_puts(b, "\"}}]}\n\n");
	}
	b->len = n;
	b->data[n] = 0;
}

/* zlib deflate with the given window bits (15 zlib, -15 raw, 31 gzip). */
static void z_compress(struct buf *out, const uint8_t *in, size_t n, int wbits)
{
	z_stream zs;
	uint8_t tmp[16384];
	int ret;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (Bytef *)in;
	zs.avail_in = n;
	do {
		zs.next_out = tmp;
		zs.avail_out = sizeof(tmp);
		ret = deflate(&zs, Z_FINISH);
		buf_append(out, tmp, sizeof(tmp) - zs.avail_out);
	} while (ret == Z_OK || (ret == Z_BUF_ERROR && zs.avail_out == 0));
	if (ret != Z_STREAM_END)
		abort();
	deflateEnd(&zs);
}

/* Appends the brotli encoding of in (quality 5, default window) to out. */
static void br_compress(struct buf *out, const uint8_t *in, size_t n)
{
	size_t cap = BrotliEncoderMaxCompressedSize(n) + 64, len = cap;
	uint8_t *d = malloc(cap);

	if (!d || !BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n, in,
					 &len, d))
		abort();
	buf_append(out, d, len);
	free(d);
}

/* One zstd frame with a checksum; window_log > 0 forces that window with
 * the content size unknown in the header. */
static void zstd_compress(struct buf *out, const uint8_t *in, size_t n, int window_log)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(n) + 64;
	uint8_t *d = malloc(cap);
	ZSTD_inBuffer ib = { in, n, 0 };
	ZSTD_outBuffer ob;
	size_t ret;

	if (!c || !d)
		abort();
	ob = (ZSTD_outBuffer){ d, cap, 0 };
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
	if (window_log)
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
	/* continue then end, so the frame header carries no content size */
	ret = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
	if (ZSTD_isError(ret))
		abort();
	do {
		ret = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
		if (ZSTD_isError(ret))
			abort();
	} while (ret);
	buf_append(out, d, ob.pos);
	free(d);
	ZSTD_freeCCtx(c);
}

/* What a run produced. */
struct drun {
	struct buf out;
	int feed_err;	/* first non-zero decoder_feed() return */
	int fin;
	int bad;	/* an error that was not sticky */
};

/* Decodes d[0..n) cut at the given points (or bytewise), each piece from an
 * exact-size heap copy, then finishes. */
static void drun(enum decode_enc enc, const uint8_t *d, size_t n, const size_t *cuts,
		 size_t ncuts, int bytewise, size_t max_out, struct drun *r)
{
	struct decoder *dec = decoder_new(enc);
	size_t from = 0;

	memset(r, 0, sizeof(*r));
	if (!dec) {
		r->feed_err = DECODE_ERR_NOMEM;
		return;
	}
	for (size_t i = 0; bytewise ? i < n : i <= ncuts; i++) {
		size_t to = bytewise ? i + 1 : i < ncuts ? cuts[i] : n;
		uint8_t *copy = malloc(to - from ? to - from : 1);
		int ret;

		memcpy(copy, d + from, to - from);
		ret = decoder_feed(dec, copy, to - from, &r->out, max_out);
		free(copy);
		if (r->feed_err && ret != r->feed_err)
			r->bad = 1;
		if (!r->feed_err)
			r->feed_err = ret;
		if (r->out.len > max_out)
			r->bad = 1;
		from = to;
	}
	r->fin = decoder_finish(dec);
	if (r->feed_err && r->fin != r->feed_err)
		r->bad = 1;
	decoder_free(dec);
}

/* Returns 1 when the run produced exactly want[0..n). */
static int out_is(const struct drun *r, const uint8_t *want, size_t n)
{
	return r->out.len == n && (n == 0 || memcmp(r->out.data, want, n) == 0);
}

/* Returns 1 when two runs produced the same output and results. */
static int same_run(const struct drun *a, const struct drun *b)
{
	return a->feed_err == b->feed_err && a->fin == b->fin &&
	       out_is(a, b->out.data, b->out.len);
}

/* Cut positions to try: all for small inputs. */
static int want_pos(size_t k, size_t n)
{
	return n <= 6000 || k < 1000 || n - k < 1000 || k % 97 == 0;
}

/* Round trip, every split, bytewise, every truncated prefix. bounds lists
 * the offsets where a complete stream ends (member/frame boundaries). */
static void check_stream(const char *name, enum decode_enc enc, const struct buf *z,
			 const struct buf *plain, const size_t *bounds, size_t nbounds)
{
	struct drun whole, r;

	drun(enc, z->data, z->len, NULL, 0, 0, NOLIMIT, &whole);
	CHECKF(whole.feed_err == 0 && whole.fin == 0 && !whole.bad, "%s: errors %d %d", name,
	       whole.feed_err, whole.fin);
	CHECKF(out_is(&whole, plain->data, plain->len), "%s: round trip (%zu vs %zu bytes)",
	       name, whole.out.len, plain->len);

	drun(enc, z->data, z->len, NULL, 0, 1, NOLIMIT, &r);
	CHECKF(same_run(&whole, &r) && !r.bad, "%s: bytewise differs", name);
	buf_free(&r.out);

	for (size_t k = 0; k <= z->len; k++) {
		if (!want_pos(k, z->len))
			continue;
		drun(enc, z->data, z->len, &k, 1, 0, NOLIMIT, &r);
		CHECKF(same_run(&whole, &r) && !r.bad, "%s: split at %zu differs", name, k);
		buf_free(&r.out);
	}

	for (size_t k = 1; k < z->len; k++) {
		int boundary = 0;

		if (!want_pos(k, z->len))
			continue;
		for (size_t i = 0; i < nbounds; i++)
			if (bounds[i] == k)
				boundary = 1;
		drun(enc, z->data, k, NULL, 0, 0, NOLIMIT, &r);
		CHECKF(r.feed_err == 0, "%s: prefix %zu: feed %d", name, k, r.feed_err);
		CHECKF(r.out.len <= plain->len &&
			       (r.out.len == 0 || memcmp(r.out.data, plain->data, r.out.len) == 0),
		       "%s: prefix %zu: output is not a prefix", name, k);
		if (boundary)
			CHECKF(r.fin == 0, "%s: prefix %zu at a boundary: finish %d", name, k, r.fin);
		else
			CHECKF(r.fin == DECODE_ERR_CORRUPT, "%s: prefix %zu: finish %d", name, k,
			       r.fin);
		buf_free(&r.out);
	}

	/* max_out: exactly enough is fine, one byte less is LIMIT with a full buffer */
	if (plain->len) {
		drun(enc, z->data, z->len, NULL, 0, 0, plain->len, &r);
		CHECKF(r.feed_err == 0 && r.fin == 0 && out_is(&r, plain->data, plain->len),
		       "%s: max_out == size", name);
		buf_free(&r.out);
		drun(enc, z->data, z->len, NULL, 0, 1, plain->len - 1, &r);
		CHECKF(r.feed_err == DECODE_ERR_LIMIT && r.fin == DECODE_ERR_LIMIT && !r.bad &&
			       out_is(&r, plain->data, plain->len - 1),
		       "%s: max_out == size - 1: %d", name, r.feed_err);
		buf_free(&r.out);
	}
	buf_free(&whole.out);
}

/* Every encoding, small and big, multi-member/frame, empty bodies. */
static void test_roundtrips(void)
{
	struct buf plain = { 0 }, big = { 0 }, z = { 0 }, part = { 0 };
	size_t b[4];

	make_text(&plain, 6000);
	make_text(&big, 300000);

	z_compress(&z, plain.data, plain.len, 16 + MAX_WBITS);
	check_stream("gzip", DEC_GZIP, &z, &plain, NULL, 0);
	buf_reset(&z);
	z_compress(&z, big.data, big.len, 16 + MAX_WBITS);
	check_stream("gzip big", DEC_GZIP, &z, &big, NULL, 0);

	/* two gzip members make one body */
	buf_reset(&z);
	z_compress(&z, plain.data, 2500, 16 + MAX_WBITS);
	b[0] = z.len;
	z_compress(&z, plain.data + 2500, plain.len - 2500, 16 + MAX_WBITS);
	check_stream("gzip two members", DEC_GZIP, &z, &plain, b, 1);

	buf_reset(&z);
	z_compress(&z, plain.data, plain.len, MAX_WBITS);
	check_stream("deflate zlib", DEC_DEFLATE, &z, &plain, NULL, 0);
	buf_reset(&z);
	z_compress(&z, plain.data, plain.len, -MAX_WBITS);
	check_stream("deflate raw", DEC_DEFLATE, &z, &plain, NULL, 0);
	buf_reset(&z);
	z_compress(&z, plain.data, plain.len, 16 + MAX_WBITS);
	check_stream("deflate that is gzip", DEC_DEFLATE, &z, &plain, NULL, 0);

	buf_reset(&z);
	br_compress(&z, plain.data, plain.len);
	check_stream("br", DEC_BR, &z, &plain, NULL, 0);
	buf_reset(&z);
	br_compress(&z, big.data, big.len);
	check_stream("br big", DEC_BR, &z, &big, NULL, 0);

	buf_reset(&z);
	zstd_compress(&z, plain.data, plain.len, 0);
	check_stream("zstd", DEC_ZSTD, &z, &plain, NULL, 0);
	buf_reset(&z);
	zstd_compress(&z, big.data, big.len, 0);
	check_stream("zstd big", DEC_ZSTD, &z, &big, NULL, 0);

	/* zstd: two frames with a skippable frame between them */
	buf_reset(&z);
	zstd_compress(&z, plain.data, 2500, 0);
	b[0] = z.len;
	buf_append(&z, "\x50\x2a\x4d\x18\x03\x00\x00\x00" "abc", 11);
	b[1] = z.len;
	zstd_compress(&z, plain.data + 2500, plain.len - 2500, 0);
	check_stream("zstd frames", DEC_ZSTD, &z, &plain, b, 2);

	/* an empty body compressed is still a complete stream */
	buf_reset(&part);
	buf_reset(&z);
	z_compress(&z, (const uint8_t *)"", 0, 16 + MAX_WBITS);
	check_stream("gzip empty", DEC_GZIP, &z, &part, NULL, 0);
	buf_reset(&z);
	br_compress(&z, (const uint8_t *)"", 0);
	check_stream("br empty", DEC_BR, &z, &part, NULL, 0);
	buf_reset(&z);
	zstd_compress(&z, (const uint8_t *)"", 0, 0);
	check_stream("zstd empty", DEC_ZSTD, &z, &part, NULL, 0);

	buf_free(&plain);
	buf_free(&big);
	buf_free(&z);
	buf_free(&part);
}

/* Garbage, flipped bytes and trailing junk are errors, never crashes. */
static void test_corrupt(void)
{
	static const enum decode_enc encs[] = { DEC_GZIP, DEC_DEFLATE, DEC_BR, DEC_ZSTD };
	static const char junk[] = "this is not compressed at all, just text\n";
	struct buf plain = { 0 }, z = { 0 };
	struct drun r;

	make_text(&plain, 6000);
	for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
		drun(encs[i], (const uint8_t *)junk, strlen(junk), NULL, 0, 0, NOLIMIT, &r);
		CHECKF(r.fin == DECODE_ERR_CORRUPT && !r.bad, "junk as %s: %d %d",
		       decode_enc_name(encs[i]), r.feed_err, r.fin);
		buf_free(&r.out);
	}

	/* checksummed formats catch a flipped byte anywhere past the header */
	for (int w = 0; w < 3; w++) {
		static const int wbits[] = { 16 + MAX_WBITS, MAX_WBITS, 0 };
		enum decode_enc enc = w == 0 ? DEC_GZIP : w == 1 ? DEC_DEFLATE : DEC_ZSTD;

		buf_reset(&z);
		if (wbits[w])
			z_compress(&z, plain.data, plain.len, wbits[w]);
		else
			zstd_compress(&z, plain.data, plain.len, 0);
		for (size_t k = 12; k < z.len; k += 7) {
			z.data[k] ^= 0x5a;
			drun(enc, z.data, z.len, NULL, 0, 0, NOLIMIT, &r);
			CHECKF(r.fin == DECODE_ERR_CORRUPT && !r.bad, "%s flip at %zu: %d %d",
			       decode_enc_name(enc), k, r.feed_err, r.fin);
			buf_free(&r.out);
			z.data[k] ^= 0x5a;
		}
	}

	/* brotli has no checksum: a flip must fail or decode, but never crash */
	buf_reset(&z);
	br_compress(&z, plain.data, plain.len);
	for (size_t k = 0; k < z.len; k++) {
		z.data[k] ^= 0xff;
		drun(DEC_BR, z.data, z.len, NULL, 0, 0, 1 << 20, &r);
		CHECKF(!r.bad && (r.fin == 0 || r.fin == DECODE_ERR_CORRUPT ||
				  r.fin == DECODE_ERR_LIMIT), "br flip at %zu", k);
		buf_free(&r.out);
		z.data[k] ^= 0xff;
	}

	/* trailing junk after a complete stream */
	buf_reset(&z);
	br_compress(&z, plain.data, plain.len);
	buf_puts(&z, "xx");
	drun(DEC_BR, z.data, z.len, NULL, 0, 0, NOLIMIT, &r);
	CHECK(r.feed_err == DECODE_ERR_CORRUPT && out_is(&r, plain.data, plain.len));
	buf_free(&r.out);
	buf_reset(&z);
	z_compress(&z, plain.data, plain.len, MAX_WBITS);
	buf_puts(&z, "x");
	drun(DEC_DEFLATE, z.data, z.len, NULL, 0, 1, NOLIMIT, &r);
	CHECK(r.feed_err == DECODE_ERR_CORRUPT && !r.bad);
	buf_free(&r.out);
	buf_reset(&z);
	z_compress(&z, plain.data, plain.len, 16 + MAX_WBITS);
	buf_append(&z, "\0\0\0", 3);
	drun(DEC_GZIP, z.data, z.len, NULL, 0, 0, NOLIMIT, &r);
	CHECK(r.fin == DECODE_ERR_CORRUPT && !r.bad);
	buf_free(&r.out);

	/* a zstd window over 8 MiB is refused (RFC 9659) */
	buf_reset(&z);
	zstd_compress(&z, plain.data, plain.len, 25);
	drun(DEC_ZSTD, z.data, z.len, NULL, 0, 0, NOLIMIT, &r);
	CHECK(r.feed_err == DECODE_ERR_CORRUPT && r.out.len == 0);
	buf_free(&r.out);
	buf_reset(&z);
	zstd_compress(&z, plain.data, plain.len, 23);
	drun(DEC_ZSTD, z.data, z.len, NULL, 0, 0, NOLIMIT, &r);
	CHECK(r.feed_err == 0 && r.fin == 0 && out_is(&r, plain.data, plain.len));
	buf_free(&r.out);

	/* a zstd frame header split after one byte: "(" then a pre-1.0 magic
	 * must not be taken for a legacy frame (libzstd legacy support) */
	{
		static const uint8_t legacy[] = { 0x28, 0x25, 0xb5, 0x2f, 0xfd, 0x01, 0, 0, 0 };
		static const uint8_t reserved[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x2c, 0x01, 0, 0, 0 };

		for (size_t k = 0; k <= sizeof(legacy); k++) {
			drun(DEC_ZSTD, legacy, sizeof(legacy), &k, 1, 0, NOLIMIT, &r);
			CHECKF(r.fin == DECODE_ERR_CORRUPT && !r.bad, "zstd legacy split %zu", k);
			buf_free(&r.out);
			drun(DEC_ZSTD, reserved, sizeof(reserved), &k, 1, 0, NOLIMIT, &r);
			CHECKF(r.fin == DECODE_ERR_CORRUPT && !r.bad, "zstd reserved bit split %zu", k);
			buf_free(&r.out);
		}
	}

	/* deflate that never got its second byte */
	drun(DEC_DEFLATE, (const uint8_t *)"\x78", 1, NULL, 0, 0, NOLIMIT, &r);
	CHECK(r.feed_err == 0 && r.fin == DECODE_ERR_CORRUPT);
	buf_free(&r.out);

	buf_free(&plain);
	buf_free(&z);
}

/* 64 MiB of zeros against a 1 MiB cap: LIMIT, exactly 1 MiB kept, bounded memory. */
static void test_bombs(void)
{
	static const enum decode_enc encs[] = { DEC_GZIP, DEC_DEFLATE, DEC_BR, DEC_ZSTD };
	size_t n = 64 << 20, max = 1 << 20;
	uint8_t *zeros = calloc(1, n);
	struct buf z = { 0 };
	struct drun r;

	CHECK(zeros != NULL);
	if (!zeros)
		return;
	for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
		size_t cuts[64], nc = 0;

		buf_reset(&z);
		if (encs[i] == DEC_GZIP)
			z_compress(&z, zeros, n, 16 + MAX_WBITS);
		else if (encs[i] == DEC_DEFLATE)
			z_compress(&z, zeros, n, MAX_WBITS);
		else if (encs[i] == DEC_BR)
			br_compress(&z, zeros, n);
		else
			zstd_compress(&z, zeros, n, 0);
		for (size_t k = 1; k < 64 && k * 1024 < z.len; k++)
			cuts[nc++] = k * 1024;
		drun(encs[i], z.data, z.len, cuts, nc, 0, max, &r);
		CHECKF(r.feed_err == DECODE_ERR_LIMIT && r.fin == DECODE_ERR_LIMIT && !r.bad,
		       "%s bomb: %d", decode_enc_name(encs[i]), r.feed_err);
		CHECKF(r.out.len == max && r.out.cap <= 2 * max, "%s bomb: len %zu cap %zu",
		       decode_enc_name(encs[i]), r.out.len, r.out.cap);
		CHECK(r.out.len == max && memcmp(r.out.data, zeros, max) == 0);
		buf_free(&r.out);
	}
	free(zeros);
	buf_free(&z);
}

/* Identity and unknown copy through, with the same limit. */
static void test_passthrough(void)
{
	static const char s[] = "{\"id\":\"x\"}";
	struct drun r;
	size_t cut = 3;

	drun(DEC_IDENTITY, (const uint8_t *)s, strlen(s), &cut, 1, 0, NOLIMIT, &r);
	CHECK(r.feed_err == 0 && r.fin == 0 && out_is(&r, (const uint8_t *)s, strlen(s)));
	buf_free(&r.out);
	drun(DEC_UNKNOWN, (const uint8_t *)s, strlen(s), NULL, 0, 1, NOLIMIT, &r);
	CHECK(r.feed_err == 0 && r.fin == 0 && out_is(&r, (const uint8_t *)s, strlen(s)));
	buf_free(&r.out);
	drun(DEC_IDENTITY, (const uint8_t *)s, strlen(s), NULL, 0, 1, 4, &r);
	CHECK(r.feed_err == DECODE_ERR_LIMIT && out_is(&r, (const uint8_t *)s, 4) && !r.bad);
	buf_free(&r.out);

	/* no input at all finishes cleanly, whatever the encoding */
	for (int e = DEC_IDENTITY; e <= DEC_UNKNOWN; e++) {
		struct decoder *d = decoder_new((enum decode_enc)e);
		struct buf out = { 0 };

		CHECK(d != NULL);
		if (!d)
			continue;
		CHECK(decoder_feed(d, (const uint8_t *)"", 0, &out, NOLIMIT) == 0);
		CHECK(decoder_finish(d) == 0 && out.len == 0);
		decoder_free(d);
	}
	decoder_free(NULL);
}

/* Content-Encoding values to enum and back. */
static void test_names(void)
{
	static const struct {
		const char *in;
		enum decode_enc want;
	} t[] = {
		{ NULL, DEC_IDENTITY }, { "", DEC_IDENTITY }, { "identity", DEC_IDENTITY },
		{ "gzip", DEC_GZIP }, { "GZIP", DEC_GZIP }, { "x-gzip", DEC_GZIP },
		{ " gzip ", DEC_GZIP }, { "deflate", DEC_DEFLATE }, { "br", DEC_BR },
		{ "Br", DEC_BR }, { "zstd", DEC_ZSTD }, { "compress", DEC_UNKNOWN },
		{ "gzip, br", DEC_UNKNOWN }, { "identity, gzip", DEC_GZIP },
		{ "gzipx", DEC_UNKNOWN }, { "b", DEC_UNKNOWN }, { ",", DEC_IDENTITY },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECKF(decode_parse_encoding(t[i].in) == t[i].want, "parse \"%s\"",
		       t[i].in ? t[i].in : "(null)");
	CHECK_STR(decode_enc_name(DEC_IDENTITY), "identity");
	CHECK_STR(decode_enc_name(DEC_GZIP), "gzip");
	CHECK_STR(decode_enc_name(DEC_DEFLATE), "deflate");
	CHECK_STR(decode_enc_name(DEC_BR), "br");
	CHECK_STR(decode_enc_name(DEC_ZSTD), "zstd");
	CHECK_STR(decode_enc_name(DEC_UNKNOWN), "unknown");
}

/* Runs all groups; exits non-zero when a check failed. */
int main(void)
{
	test_names();
	test_passthrough();
	test_roundtrips();
	test_corrupt();
	test_bombs();
	return harness_done("test_decode");
}
