/* test_ws.c -- unit tests for the WebSocket frame parser: frames of every length form, masks, fragments, control frames, permessage-deflate with and without context takeover, errors; every input split at every position and fed byte by byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/buf.h"
#include "harness.h"
#include "proto/ws.h"

/* What the callbacks saw, as text: "<op len t>data" per message, "<close N>". */
struct trace {
	struct buf b;
};

static void t_message(void *ud, int op, const uint8_t *d, size_t n, int truncated)
{
	struct trace *t = ud;
	char s[64];

	snprintf(s, sizeof(s), "<%d %zu%s>", op, n, truncated ? " cut" : "");
	buf_puts(&t->b, s);
	buf_append(&t->b, d, n);
}

static void t_close(void *ud, int code)
{
	struct trace *t = ud;
	char s[32];

	snprintf(s, sizeof(s), "<close %d>", code);
	buf_puts(&t->b, s);
}

static const struct ws_callbacks cb = { t_message, t_close };

/* Append one frame to out: FIN, RSV1, opcode, masked or not, payload. */
static void frame(struct buf *out, int fin, int rsv1, int op, int masked, const void *pl, size_t n)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t h[14];
	size_t hl = 2, i;

	h[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op;
	if (n < 126) {
		h[1] = n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = n >> 8;
		h[3] = n;
		hl = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (uint64_t)n >> (56 - 8 * i);
		hl = 10;
	}
	if (masked) {
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	buf_append(out, h, hl);
	for (i = 0; i < n; i++) {
		uint8_t c = ((const uint8_t *)pl)[i] ^ (masked ? key[i & 3] : 0);

		buf_append(out, &c, 1);
	}
}

/* Compress msg as a permessage-deflate sender does (raw deflate, sync
 * flush, the 00 00 ff ff tail dropped) into out, on z's window. */
static void deflate_msg(z_stream *z, const char *msg, struct buf *out)
{
	uint8_t tmp[65536];

	z->next_in = (uint8_t *)msg;
	z->avail_in = strlen(msg);
	z->next_out = tmp;
	z->avail_out = sizeof(tmp);
	deflate(z, Z_SYNC_FLUSH);
	buf_append(out, tmp, sizeof(tmp) - z->avail_out - 4);
}

/* Feed in[0..n) in two pieces cut at cut (or byte by byte when cut is
 * SIZE_MAX) into a fresh parser; the trace goes to t. Returns the first
 * error, 1 when the parser still waits for more (the inputs are whole),
 * else 0. */
static long run(const uint8_t *in, size_t n, size_t cut, int deflate, int nct, size_t max,
		struct trace *t)
{
	struct ws_parser *p = ws_parser_new(&cb, t, max);
	long rc = 0;
	size_t i;

	if (deflate)
		ws_parser_deflate(p, nct);
	if (cut == SIZE_MAX) {
		for (i = 0; i < n && rc >= 0; i++)
			rc = ws_parser_feed(p, in + i, 1);
	} else {
		rc = ws_parser_feed(p, in, cut);
		if (rc >= 0)
			rc = ws_parser_feed(p, in + cut, n - cut);
	}
	if (rc >= 0)
		rc = ws_parser_in_message(p);
	ws_parser_free(p);
	return rc;
}

/* in gives want (a trace) whole, at every split and byte by byte. */
static void check_all(const char *name, const struct buf *in, int deflate, int nct, size_t max,
		      const char *want, size_t want_len)
{
	size_t cut;
	int bad = 0;

	for (cut = 0; cut <= in->len + 1; cut++) {
		struct trace t = { { 0 } };
		size_t c = cut <= in->len ? cut : SIZE_MAX;
		long rc = run(in->data, in->len, c, deflate, nct, max, &t);

		if (rc != 0 || t.b.len != want_len || memcmp(t.b.data, want, want_len)) {
			if (!bad)
				fprintf(stderr, "%s: cut %zu: rc %ld, got %.*s\n", name, cut, rc,
					(int)(t.b.len > 300 ? 300 : t.b.len), t.b.data ? (char *)t.b.data : "");
			bad++;
		}
		buf_free(&t.b);
	}
	CHECKF(bad == 0, "%s: %d split(s) wrong", name, bad);
}

static void test_frames(void)
{
	struct buf in = { 0 }, want = { 0 };
	char *big = malloc(70000), s[64];
	size_t i;

	for (i = 0; i < 70000; i++)
		big[i] = 'a' + i % 26;
	/* unmasked (server to client), masked (client to server), 16-bit and 64-bit lengths */
	frame(&in, 1, 0, WS_OP_TEXT, 0, "{\"type\":\"response.created\"}", 27);
	buf_puts(&want, "<1 27>{\"type\":\"response.created\"}");
	frame(&in, 1, 0, WS_OP_TEXT, 1, "hello", 5);
	buf_puts(&want, "<1 5>hello");
	frame(&in, 1, 0, WS_OP_BINARY, 1, big, 300);
	buf_puts(&want, "<2 300>");
	buf_append(&want, big, 300);
	frame(&in, 1, 0, WS_OP_TEXT, 0, big, 70000);
	buf_puts(&want, "<1 70000>");
	buf_append(&want, big, 70000);
	/* empty message, a fragmented one with a ping and a pong between its frames */
	frame(&in, 1, 0, WS_OP_TEXT, 0, "", 0);
	buf_puts(&want, "<1 0>");
	frame(&in, 0, 0, WS_OP_TEXT, 1, "frag", 4);
	frame(&in, 1, 0, WS_OP_PING, 1, "p", 1);
	frame(&in, 0, 0, WS_OP_CONT, 1, "men", 3);
	frame(&in, 1, 0, WS_OP_PONG, 0, "", 0);
	frame(&in, 1, 0, WS_OP_CONT, 1, "ted", 3);
	buf_puts(&want, "<1 10>fragmented");
	/* close with a code, and one without */
	frame(&in, 1, 0, WS_OP_CLOSE, 1, "\x03\xe8" "bye", 5);
	buf_puts(&want, "<close 1000>");
	frame(&in, 1, 0, WS_OP_CLOSE, 0, "", 0);
	buf_puts(&want, "<close 0>");
	check_all("frames", &in, 0, 0, 1 << 20, (char *)want.data, want.len);
	/* the cap: a message over it comes cut, and says so */
	buf_reset(&in);
	frame(&in, 1, 0, WS_OP_TEXT, 0, big, 1000);
	frame(&in, 1, 0, WS_OP_TEXT, 0, "ok", 2);
	snprintf(s, sizeof(s), "<1 100 cut>");
	buf_reset(&want);
	buf_puts(&want, s);
	buf_append(&want, big, 100);
	buf_puts(&want, "<1 2>ok");
	check_all("cap", &in, 0, 0, 100, (char *)want.data, want.len);
	buf_free(&in);
	buf_free(&want);
	free(big);
}

/* Three messages compressed on one window (each may refer to the ones
 * before), or with the window reset after each (no context takeover). */
static void test_deflate(int nct)
{
	static const char *const msgs[] = {
		"{\"type\":\"response.output_text.delta\",\"delta\":\"Hello\"}",
		"{\"type\":\"response.output_text.delta\",\"delta\":\"Hello\"}",
		"{\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":3}}}",
	};
	struct buf in = { 0 }, want = { 0 }, c = { 0 };
	char s[32];
	z_stream z;
	size_t i;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	for (i = 0; i < 3; i++) {
		buf_reset(&c);
		deflate_msg(&z, msgs[i], &c);
		if (nct)
			deflateReset(&z);
		if (i == 1) {
			/* compressed and fragmented: RSV1 on the first frame only */
			frame(&in, 0, 1, WS_OP_TEXT, 1, c.data, c.len / 2);
			frame(&in, 1, 0, WS_OP_CONT, 1, c.data + c.len / 2, c.len - c.len / 2);
		} else {
			frame(&in, 1, 1, WS_OP_TEXT, 1, c.data, c.len);
		}
		snprintf(s, sizeof(s), "<1 %zu>", strlen(msgs[i]));
		buf_puts(&want, s);
		buf_puts(&want, msgs[i]);
	}
	/* an uncompressed message between compressed ones */
	frame(&in, 1, 0, WS_OP_TEXT, 0, "plain", 5);
	buf_puts(&want, "<1 5>plain");
	deflateEnd(&z);
	check_all(nct ? "deflate, no context takeover" : "deflate", &in, 1, nct, 1 << 20,
		  (char *)want.data, want.len);
	/* the second message of a shared window, read as if each stood alone, fails */
	if (!nct) {
		struct trace t = { { 0 } };

		CHECK(run(in.data, in.len, 0, 1, 1, 1 << 20, &t) < 0 || t.b.len != want.len ||
		      memcmp(t.b.data, want.data, want.len));
		buf_free(&t.b);
	}
	buf_free(&in);
	buf_free(&want);
	buf_free(&c);
}

static void test_errors(void)
{
	static const struct {
		const char *name;
		uint8_t bytes[8];
		size_t n;
		int deflate;
	} cases[] = {
		{ "RSV2", { 0xa1, 0x00 }, 2, 0 },
		{ "RSV1 without deflate", { 0xc1, 0x00 }, 2, 0 },
		{ "opcode 3", { 0x83, 0x00 }, 2, 0 },
		{ "opcode 0xb", { 0x8b, 0x00 }, 2, 0 },
		{ "control frame of 126", { 0x89, 0x7e, 0x00, 0x7e }, 4, 0 },
		{ "fragmented ping", { 0x09, 0x00 }, 2, 0 },
		{ "continuation first", { 0x80, 0x00 }, 2, 0 },
		{ "text inside a fragmented text", { 0x01, 0x00, 0x81, 0x00 }, 4, 0 },
		{ "compressed close", { 0xc8, 0x00 }, 2, 1 },
		{ "RSV1 on a continuation", { 0x41, 0x00, 0xc0, 0x00 }, 4, 1 },
		{ "64-bit length with the top bit", { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0 }, 8, 0 },
		{ "not deflate", { 0xc1, 0x02, 0xff, 0xff }, 4, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct trace t = { { 0 } };
		struct ws_parser *p = ws_parser_new(&cb, &t, 1 << 20);
		long rc;

		if (cases[i].deflate)
			ws_parser_deflate(p, 0);
		rc = ws_parser_feed(p, cases[i].bytes, cases[i].n);
		if (!strcmp(cases[i].name, "64-bit length with the top bit"))
			rc = ws_parser_feed(p, (const uint8_t *)"\0\0", 2);
		CHECKF(rc < 0, "%s: rc %ld", cases[i].name, rc);
		/* sticky */
		CHECKF(ws_parser_feed(p, (const uint8_t *)"\x81\x00", 2) == rc, "%s: not sticky", cases[i].name);
		CHECK(ws_strerror((int)rc)[0] != 0);
		ws_parser_free(p);
		buf_free(&t.b);
	}
}

static void test_params(void)
{
	int s, c;

	CHECK(ws_deflate_params("permessage-deflate", &s, &c) == 1 && !s && !c);
	CHECK(ws_deflate_params("permessage-deflate; client_max_window_bits", &s, &c) == 1 && !s && !c);
	CHECK(ws_deflate_params("Permessage-Deflate; server_no_context_takeover; client_no_context_takeover",
				&s, &c) == 1 && s && c);
	CHECK(ws_deflate_params("x-webkit; foo=1, permessage-deflate; server_max_window_bits=10; "
				"server_no_context_takeover", &s, &c) == 1 && s && !c);
	CHECK(ws_deflate_params("permessage-deflate, x-other; client_no_context_takeover", &s, &c) == 1 &&
	      !s && !c);
	CHECK(ws_deflate_params("x-webkit-deflate-frame", &s, &c) == 0);
	CHECK(ws_deflate_params("", &s, &c) == 0);
}

int main(void)
{
	test_frames();
	test_deflate(0);
	test_deflate(1);
	test_errors();
	test_params();
	return harness_done("test_ws");
}
