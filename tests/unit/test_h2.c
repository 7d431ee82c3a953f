/* test_h2.c -- the HTTP/2 frame parser fed frames built with nghttp2's HPACK deflater, whole, split and bytewise. */
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "proto/h2.h"
#include "harness.h"

/* ---- building frames ---- */

struct out {
	uint8_t b[1 << 16];
	size_t n;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->n + n <= sizeof(o->b)) {
		memcpy(o->b + o->n, p, n);
		o->n += n;
	}
}

static void frame(struct out *o, int type, int flags, uint32_t sid, const void *payload, size_t len)
{
	uint8_t h[9] = { (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, (uint8_t)type,
			 (uint8_t)flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
			 (uint8_t)(sid >> 8), (uint8_t)sid };

	put(o, h, 9);
	put(o, payload, len);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

/* A header block of nv[] from deflater d; returns its length. */
static size_t block(nghttp2_hd_deflater *d, const nghttp2_nv *nv, size_t n, uint8_t *out, size_t cap)
{
	ssize_t r = nghttp2_hd_deflate_hd(d, out, cap, nv, n);

	return r < 0 ? 0 : (size_t)r;
}

static void headers(struct out *o, nghttp2_hd_deflater *d, uint32_t sid, int end_stream,
		    const nghttp2_nv *nv, size_t n)
{
	uint8_t b[4096];
	size_t len = block(d, nv, n, b, sizeof(b));

	frame(o, 1, 0x4 | (end_stream ? 1 : 0), sid, b, len);
}

static void data(struct out *o, uint32_t sid, int end_stream, const char *s)
{
	frame(o, 0, end_stream ? 1 : 0, sid, s, strlen(s));
}

static void settings(struct out *o, int ack, int id, uint32_t val)
{
	uint8_t p[6] = { (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(val >> 24), (uint8_t)(val >> 16),
			 (uint8_t)(val >> 8), (uint8_t)val };

	frame(o, 4, ack, 0, p, ack || !id ? 0 : 6);
}

/* ---- tracing callbacks ---- */

struct trace {
	char s[1 << 16];
	size_t n;
	int last_data;		/* last entry was data of this stream (coalesced) */
};

static void tr_add(struct trace *t, const char *s, size_t n)
{
	if (t->n + n < sizeof(t->s)) {
		memcpy(t->s + t->n, s, n);
		t->n += n;
		t->s[t->n] = '\0';
	}
}

static void tr_printf(struct trace *t, const char *fmt, unsigned a, unsigned b)
{
	char x[64];
	int n = snprintf(x, sizeof(x), fmt, a, b);

	tr_add(t, x, (size_t)n);
}

static void on_headers(void *ud, uint32_t sid, const struct h2_header *h, size_t n, int es)
{
	struct trace *t = ud;
	size_t i;

	t->last_data = 0;
	tr_printf(t, "H%u{", sid, 0);
	if (es)
		tr_add(t, "es", 2);
	for (i = 0; i < n; i++) {
		tr_add(t, h[i].name, strlen(h[i].name));
		tr_add(t, "=", 1);
		tr_add(t, h[i].value, strlen(h[i].value));
		tr_add(t, ";", 1);
	}
	tr_add(t, "}\n", 2);
}

static void on_data(void *ud, uint32_t sid, const uint8_t *p, size_t n, int es)
{
	struct trace *t = ud;

	if (es) {
		if (t->last_data)
			tr_add(t, "]\n", 2);
		t->last_data = 0;
		tr_printf(t, "E%u\n", sid, 0);
		return;
	}
	if (t->last_data != (int)sid) {
		if (t->last_data)
			tr_add(t, "]\n", 2);
		tr_printf(t, "D%u[", sid, 0);
		t->last_data = (int)sid;
	}
	tr_add(t, (const char *)p, n);
}

static void on_reset(void *ud, uint32_t sid, uint32_t code)
{
	struct trace *t = ud;

	if (t->last_data)
		tr_add(t, "]\n", 2);
	t->last_data = 0;
	tr_printf(t, "R%u:%u\n", sid, code);
}

static void on_goaway(void *ud, uint32_t last, uint32_t code)
{
	struct trace *t = ud;

	if (t->last_data)
		tr_add(t, "]\n", 2);
	t->last_data = 0;
	tr_printf(t, "G%u:%u\n", last, code);
}

static const struct h2_callbacks cbs = { on_headers, on_data, on_reset, on_goaway };

/* Feed in to a fresh parser: whole (step 0), cut once at `cut`, or `step` bytes at a time.
 * Returns the first error or 0; the trace in *t. */
static long run(int client, const uint8_t *in, size_t n, size_t cut, size_t step, struct trace *t)
{
	struct h2_parser *p = h2_parser_new(client, &cbs, t);
	long r = 0;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (!p)
		return H2_ERR_NOMEM;
	if (step) {
		for (i = 0; i < n && r >= 0; i += step)
			r = h2_parser_feed(p, in + i, n - i < step ? n - i : step);
	} else {
		r = h2_parser_feed(p, in, cut);
		if (r >= 0)
			r = h2_parser_feed(p, in + cut, n - cut);
	}
	if (t->last_data)
		tr_add(t, "]\n", 2);
	h2_parser_free(p);
	return r < 0 ? r : 0;
}

static struct trace tw, ts;

/* The same trace whole, at every split, and byte by byte; returns the whole-input trace in tw. */
static void check_splits(const char *name, int client, const struct out *o, long want_rc)
{
	size_t cut;
	long r = run(client, o->b, o->n, o->n, 0, &tw);
	int bad = 0;

	CHECKF(r == want_rc, "%s: rc %ld want %ld", name, r, want_rc);
	for (cut = 0; cut <= o->n && !bad; cut++) {
		r = run(client, o->b, o->n, cut, 0, &ts);
		if (r != want_rc || strcmp(ts.s, tw.s) != 0) {
			bad = 1;
			CHECKF(0, "%s: split at %zu differs:\n%s\nvs\n%s", name, cut, ts.s, tw.s);
		}
	}
	CHECK(!bad);
	r = run(client, o->b, o->n, 0, 1, &ts);
	CHECKF(r == want_rc && strcmp(ts.s, tw.s) == 0, "%s: bytewise differs:\n%s", name, ts.s);
	r = run(client, o->b, o->n, 0, 7, &ts);
	CHECKF(r == want_rc && strcmp(ts.s, tw.s) == 0, "%s: 7-byte steps differ", name);
}

static const char req_json[] = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[]}";

static void test_request(void)
{
	struct out o = { .n = 0 };
	nghttp2_hd_deflater *d;
	const nghttp2_nv nv[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "api.openai.com"),
		NV(":path", "/v1/chat/completions"), NV("authorization", "Bearer sk-x"),
		NV("content-type", "application/json"),
	};

	nghttp2_hd_deflate_new(&d, 4096);
	put(&o, H2_PREFACE, H2_PREFACE_LEN);
	settings(&o, 0, 3, 100);
	frame(&o, 8, 0, 0, "\0\0\x10\0", 4);	/* WINDOW_UPDATE */
	headers(&o, d, 1, 0, nv, 6);
	data(&o, 1, 1, req_json);
	check_splits("request", 1, &o, 0);
	CHECK_STR(tw.s, "H1{:method=POST;:scheme=https;:authority=api.openai.com;"
		  ":path=/v1/chat/completions;authorization=Bearer sk-x;content-type=application/json;}\n"
		  "D1[{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[]}]\nE1\n");
	/* The server side of the same bytes reads the preface as a huge unknown frame: nothing. */
	CHECK(run(0, o.b, o.n, o.n, 0, &tw) == 0 && tw.n == 0);
	/* A client stream that is not HTTP/2. */
	CHECK(run(1, (const uint8_t *)"POST / HTTP/1.1\r\n", 17, 17, 0, &tw) == H2_ERR_PREFACE);
	nghttp2_hd_deflate_del(d);
}

static void test_sse_response(void)
{
	struct out o = { .n = 0 };
	nghttp2_hd_deflater *d;
	const nghttp2_nv nv[] = { NV(":status", "200"), NV("content-type", "text/event-stream") };

	nghttp2_hd_deflate_new(&d, 4096);
	settings(&o, 0, 4, 65535);
	settings(&o, 1, 0, 0);
	frame(&o, 6, 0, 0, "12345678", 8);	/* PING */
	headers(&o, d, 1, 0, nv, 2);
	data(&o, 1, 0, "data: {\"a\":1}\n\n");
	data(&o, 1, 0, "data: {\"b\":2}\n\n");
	data(&o, 1, 0, "data: [DONE]\n\n");
	data(&o, 1, 1, "");
	frame(&o, 7, 0, 0, "\0\0\0\1\0\0\0\0", 8);	/* GOAWAY */
	check_splits("sse", 0, &o, 0);
	CHECK_STR(tw.s, "H1{:status=200;content-type=text/event-stream;}\n"
		  "D1[data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n]\nE1\nG1:0\n");
	nghttp2_hd_deflate_del(d);
}

static void test_continuation_padding(void)
{
	struct out o = { .n = 0 };
	nghttp2_hd_deflater *d;
	uint8_t b[4096], p[4200];
	size_t len, a;
	const nghttp2_nv nv[] = {
		NV(":status", "200"), NV("content-type", "application/json"),
		NV("x-long-header-one", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		NV("x-long-header-two", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
	};

	nghttp2_hd_deflate_new(&d, 4096);
	len = block(d, nv, 4, b, sizeof(b));
	CHECK(len > 20);
	a = len / 3;
	/* HEADERS with padding and priority, carrying the first third. */
	p[0] = 5;
	memcpy(p + 1, "\x80\0\0\0\x10", 5);
	memcpy(p + 6, b, a);
	memset(p + 6 + a, 0, 5);
	frame(&o, 1, 0x8 | 0x20, 1, p, 1 + 5 + a + 5);
	frame(&o, 9, 0, 1, b + a, a);
	frame(&o, 9, 0x4, 1, b + 2 * a, len - 2 * a);
	/* Padded DATA, then padded empty DATA with END_STREAM. */
	p[0] = 3;
	memcpy(p + 1, "{\"x\":1}\0\0\0", 10);
	frame(&o, 0, 0x8, 1, p, 11);
	p[0] = 0;
	frame(&o, 0, 0x9, 1, p, 1);
	frame(&o, 2, 0, 3, "\0\0\0\1\x10", 5);	/* PRIORITY */
	frame(&o, 0xfa, 0xff, 7, "unknown type payload", 20);
	check_splits("continuation", 0, &o, 0);
	CHECK_STR(tw.s, "H1{:status=200;content-type=application/json;"
		  "x-long-header-one=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;"
		  "x-long-header-two=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb;}\n"
		  "D1[{\"x\":1}]\nE1\n");
	/* A frame between HEADERS and its CONTINUATION is an error. */
	o.n = 0;
	frame(&o, 1, 0, 1, b, a);
	data(&o, 1, 0, "x");
	check_splits("continuation interrupted", 0, &o, H2_ERR_PROTOCOL);
	/* CONTINUATION without HEADERS. */
	o.n = 0;
	frame(&o, 9, 0x4, 1, b, a);
	check_splits("continuation alone", 0, &o, H2_ERR_PROTOCOL);
	/* Padding longer than the frame. */
	o.n = 0;
	p[0] = 200;
	frame(&o, 0, 0x8, 1, p, 11);
	check_splits("bad padding", 0, &o, H2_ERR_PROTOCOL);
	nghttp2_hd_deflate_del(d);
}

static void test_interleaved_reset_and_table(void)
{
	struct out o = { .n = 0 };
	nghttp2_hd_deflater *d;
	uint8_t b1[512], b2[512];
	size_t l1, l2;
	const nghttp2_nv nv[] = {
		NV(":status", "200"), NV("content-type", "text/event-stream"),
		NV("x-request-id", "req_0123456789abcdef0123456789"),
		NV("openai-processing-ms", "1234"),
	};

	nghttp2_hd_deflate_new(&d, 4096);
	/* The second block reuses the dynamic table: much smaller. */
	l1 = block(d, nv, 4, b1, sizeof(b1));
	l2 = block(d, nv, 4, b2, sizeof(b2));
	CHECK(l2 < l1 / 2);
	frame(&o, 1, 0x4, 1, b1, l1);
	frame(&o, 1, 0x4, 3, b2, l2);
	data(&o, 1, 0, "one-a ");
	data(&o, 3, 0, "three-a ");
	data(&o, 1, 0, "one-b");
	frame(&o, 3, 0, 3, "\0\0\0\x08", 4);	/* RST_STREAM CANCEL */
	data(&o, 1, 1, "");
	check_splits("interleaved", 0, &o, 0);
	CHECK_STR(tw.s,
		  "H1{:status=200;content-type=text/event-stream;x-request-id=req_0123456789abcdef0123456789;openai-processing-ms=1234;}\n"
		  "H3{:status=200;content-type=text/event-stream;x-request-id=req_0123456789abcdef0123456789;openai-processing-ms=1234;}\n"
		  "D1[one-a ]\nD3[three-a ]\nD1[one-b]\nR3:8\nE1\n");
	/* A block that relies on the table without the first one: decoding error. */
	o.n = 0;
	frame(&o, 1, 0x4, 3, b2, l2);
	check_splits("table missing", 0, &o, H2_ERR_HPACK);
	/* A table size update to 0, then literal-only blocks. */
	o.n = 0;
	frame(&o, 1, 0x4, 1, b1, l1);
	nghttp2_hd_deflate_change_table_size(d, 0);
	l2 = block(d, nv, 4, b2, sizeof(b2));
	CHECK(l2 > 0 && (b2[0] & 0xe0) == 0x20);	/* starts with a size update */
	frame(&o, 1, 0x5, 3, b2, l2);
	l2 = block(d, nv, 4, b2, sizeof(b2));
	frame(&o, 1, 0x5, 5, b2, l2);
	check_splits("size update", 0, &o, 0);
	CHECK(strstr(tw.s, "H5{es:status=200;content-type=text/event-stream;x-request-id=") != NULL);
	nghttp2_hd_deflate_del(d);
}

/* SETTINGS_HEADER_TABLE_SIZE written by the client bounds the decoder of what it reads. */
static void test_settings_table_size(void)
{
	struct trace t1, t2;
	struct out w = { .n = 0 }, r = { .n = 0 }, r2 = { .n = 0 };
	nghttp2_hd_deflater *d;
	struct h2_parser *pw, *pr;
	char big[6000];
	nghttp2_nv nv[] = { NV(":status", "200"), NV("x-big", "") };
	uint8_t b[8192];
	size_t l;

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nv[1].value = (uint8_t *)big;
	nv[1].valuelen = sizeof(big) - 1;
	put(&w, H2_PREFACE, H2_PREFACE_LEN);
	settings(&w, 0, 1, 16384);
	/* The server's encoder grows its table to 16384 (a size update) and indexes a 6 KB field. */
	nghttp2_hd_deflate_new(&d, 16384);
	nghttp2_hd_deflate_change_table_size(d, 16384);
	l = block(d, nv, 2, b, sizeof(b));
	frame(&r, 1, 0x5, 1, b, l);
	l = block(d, nv, 2, b, sizeof(b));
	CHECK(l < 10);
	frame(&r, 1, 0x5, 3, b, l);
	/* Unlinked, the reader's decoder allows only 4096: error. */
	CHECK(run(0, r.b, r.n, r.n, 0, &t2) == H2_ERR_HPACK);
	/* Linked: the client's SETTINGS make it legal. */
	memset(&t1, 0, sizeof(t1));
	memset(&t2, 0, sizeof(t2));
	pw = h2_parser_new(1, &cbs, &t1);
	pr = h2_parser_new(0, &cbs, &t2);
	h2_parser_link(pw, pr);
	CHECK(h2_parser_feed(pw, w.b, w.n) == (long)w.n);
	CHECK(h2_parser_feed(pr, r.b, r.n) == (long)r.n);
	CHECK(strstr(t2.s, "H3{es:status=200;x-big=zzzz") != NULL);
	/* The client lowers it to 0: blocks before the server's ACK still use the
	 * old table; after it, the server must send a size update. */
	w.n = 0;
	settings(&w, 0, 1, 0);
	CHECK(h2_parser_feed(pw, w.b, w.n) == (long)w.n);
	l = block(d, nv, 2, b, sizeof(b));
	frame(&r2, 1, 0x5, 5, b, l);
	settings(&r2, 1, 0, 0);
	nghttp2_hd_deflate_change_table_size(d, 0);
	l = block(d, nv, 2, b, sizeof(b));
	frame(&r2, 1, 0x5, 7, b, l);
	CHECK(h2_parser_feed(pr, r2.b, r2.n) == (long)r2.n);
	CHECK(strstr(t2.s, "H5{es:status=200;x-big=zzzz") != NULL);
	CHECK(strstr(t2.s, "H7{es:status=200;x-big=zzzz") != NULL);
	h2_parser_free(pw);
	h2_parser_free(pr);
	nghttp2_hd_deflate_del(d);
}

static void test_garbage(void)
{
	struct out o = { .n = 0 };
	uint8_t g[512];
	unsigned seed = 12345;
	int i, errs = 0;
	size_t j;

	data(&o, 0, 0, "x");
	check_splits("data on stream 0", 0, &o, H2_ERR_PROTOCOL);
	o.n = 0;
	frame(&o, 4, 0, 1, "", 0);
	check_splits("settings on a stream", 0, &o, H2_ERR_PROTOCOL);
	o.n = 0;
	frame(&o, 6, 0, 0, "1234", 4);
	check_splits("short ping", 0, &o, H2_ERR_FRAME_SIZE);
	o.n = 0;
	frame(&o, 1, 0x4, 1, "\xff\xff\xff\xff\xff", 5);
	check_splits("bad hpack", 0, &o, H2_ERR_HPACK);
	/* An empty HEADERS block (UBSan once saw arithmetic on its NULL buffer). */
	o.n = 0;
	frame(&o, 1, 0x5, 1, "", 0);
	check_splits("empty headers", 0, &o, 0);
	{
		/* A fuzzer's crash input (the same path, on the server side). */
		static const uint8_t crash[] = { 0xd2, 0, 0, 0, 1, 0x17, 0x24, 0, 0x29, 0, 0x10 };
		struct trace t;

		CHECK(run(0, crash, sizeof(crash), 0, 0, &t) <= 0);
		CHECK(run(1, crash, sizeof(crash), 0, 0, &t) <= 0);
	}
	for (i = 0; i < 3000; i++) {
		struct trace t;
		long r;

		for (j = 0; j < sizeof(g); j++) {
			seed = seed * 1103515245 + 12345;
			g[j] = (uint8_t)(seed >> 16);
		}
		if (i & 1)
			g[0] = g[1] = 0;	/* short frames: more get parsed */
		r = run(i & 2 ? 1 : 0, g, sizeof(g), (size_t)i % sizeof(g), 0, &t);
		errs += r < 0;
		CHECK(r <= 0 && (r == 0 || h2_strerror((int)r)[0] != 'u'));
	}
	CHECKF(errs > 1000, "errs %d", errs);
	CHECK_STR(h2_strerror(H2_ERR_HPACK), "HPACK header block could not be decoded");
}

int main(void)
{
	test_request();
	test_sse_response();
	test_continuation_padding();
	test_interleaved_reset_and_table();
	test_settings_table_size();
	test_garbage();
	return harness_done("test_h2");
}
