/* test_http1.c -- unit tests for the HTTP/1.1 parser: table of wire captures, every split, every truncation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "harness.h"
#include "proto/http1.h"

#define MAX_MSGS 64

/* What the callbacks saw. sum is the short form the table expects; full
 * adds every header and is what split runs are compared on. */
struct trace {
	struct buf sum;
	struct buf full;
	uint32_t nobody;	/* bit i: on_head of message i returns 1 */
	int heads, dones;
	size_t pos;		/* index of the byte being fed (one-byte mode) */
	size_t head_at[MAX_MSGS], done_at[MAX_MSGS];
	size_t max_piece;	/* largest on_body piece */
	int bad_head;		/* on_head saw an inconsistent head */
};

/* on_head: records the head; returns the table's "no body" bit for it. */
static int t_head(void *ud, const struct http1_head *h)
{
	struct trace *t = ud;
	char s[512];

	if (h->type == HTTP1_REQUEST) {
		if (!h->target || !h->method[0])
			t->bad_head = 1;
		snprintf(s, sizeof(s), "<%s %s>", h->method, h->target ? h->target : "?");
	} else {
		if (!h->reason || h->status < 100 || h->status > 999)
			t->bad_head = 1;
		snprintf(s, sizeof(s), "<%d %s>", h->status, h->reason ? h->reason : "?");
	}
	buf_puts(&t->sum, s);
	buf_puts(&t->full, s);
	snprintf(s, sizeof(s), "[v%d cl=%lld ch=%d n=%zu]", h->version_minor,
		 (long long)h->content_length, h->chunked, h->n_headers);
	buf_puts(&t->full, s);
	for (size_t i = 0; i < h->n_headers; i++) {
		if (!h->headers[i].name || !h->headers[i].value)
			t->bad_head = 1;
		buf_puts(&t->full, h->headers[i].name);
		buf_puts(&t->full, "=");
		buf_puts(&t->full, h->headers[i].value);
		buf_puts(&t->full, ";");
	}
	if (t->heads < MAX_MSGS)
		t->head_at[t->heads] = t->pos;
	return t->heads < 32 && (t->nobody >> t->heads++) & 1;
}

/* on_body: appends the bytes to both traces. */
static void t_body(void *ud, const uint8_t *d, size_t n)
{
	struct trace *t = ud;

	if (n == 0)
		t->bad_head = 1;	/* empty pieces are pointless */
	if (n > t->max_piece)
		t->max_piece = n;
	buf_append(&t->sum, d, n);
	buf_append(&t->full, d, n);
}

/* on_done: marks the end of a message. */
static void t_done(void *ud)
{
	struct trace *t = ud;

	buf_puts(&t->sum, "<D>");
	buf_puts(&t->full, "<D>");
	if (t->dones < MAX_MSGS)
		t->done_at[t->dones] = t->pos;
	t->dones++;
}

static const struct http1_callbacks tcb = { t_head, t_body, t_done };

struct result {
	struct trace t;
	int err;	/* first error a feed returned, else 0 */
	int fin;	/* http1_parser_finish() */
	int dones_fed;	/* on_done calls before finish */
	int bad_ret;	/* a feed returned something other than len or <0 */
};

/* Frees the trace buffers of a run. */
static void result_free(struct result *r)
{
	buf_free(&r->t.sum);
	buf_free(&r->t.full);
}

/* Feeds one piece from an exact-size heap copy so ASan sees any over-read. */
static void feed_piece(struct http1_parser *p, struct result *r,
		       const uint8_t *d, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	long ret;

	memcpy(copy, d, n);
	ret = http1_parser_feed(p, copy, n);
	free(copy);
	if (ret < 0 && !r->err)
		r->err = (int)ret;
	if (ret >= 0 && (size_t)ret != n)
		r->bad_ret = 1;
	if (ret < 0 && r->err && ret != r->err)
		r->bad_ret = 1;	/* the error must be sticky */
}

/* Runs the parser over d[0..n) cut at the given points (sorted; may be
 * empty), or one byte at a time when bytewise, then calls finish. */
static void run(enum http1_type type, uint32_t nobody, const uint8_t *d, size_t n,
		const size_t *cuts, size_t ncuts, int bytewise, struct result *r)
{
	struct http1_parser *p;
	size_t from = 0;

	memset(r, 0, sizeof(*r));
	r->t.nobody = nobody;
	p = http1_parser_new(type, &tcb, &r->t);
	if (!p) {
		r->err = HTTP1_ERR_NOMEM;
		return;
	}
	if (bytewise) {
		for (size_t i = 0; i < n; i++) {
			r->t.pos = i;
			feed_piece(p, r, d + i, 1);
		}
	} else {
		for (size_t i = 0; i <= ncuts; i++) {
			size_t to = i < ncuts ? cuts[i] : n;

			feed_piece(p, r, d + from, to - from);
			from = to;
		}
	}
	r->dones_fed = r->t.dones;
	r->t.pos = n;
	r->fin = http1_parser_finish(p);
	if (r->err) {
		char s[32];

		snprintf(s, sizeof(s), "<E%d>", r->err);
		buf_puts(&r->t.full, s);
	}
	http1_parser_free(p);
}

/* Returns 1 when two runs saw the same callbacks and results. */
static int same(const struct result *a, const struct result *b)
{
	return a->err == b->err && a->fin == b->fin && a->t.heads == b->t.heads &&
	       a->t.dones == b->t.dones && a->t.full.len == b->t.full.len &&
	       (a->t.full.len == 0 || memcmp(a->t.full.data, b->t.full.data, a->t.full.len) == 0);
}

struct hcase {
	const char *name;
	enum http1_type type;
	const char *wire;
	size_t len;		/* 0: strlen(wire) */
	uint32_t nobody;	/* bit i: message i answers a HEAD */
	const char *want;	/* summary trace */
	int want_err;
	int want_fin;
	int close;		/* the last message is close-delimited */
};

#define REQ HTTP1_REQUEST
#define RSP HTTP1_RESPONSE

#define CHAT "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\"" \
	":\"Say hi\"}],\"stream\":true}"
#define CHATPY "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"con" \
	"tent\": \"Say hi\"}]}"
#define ANTH "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":64,\"messages\"" \
	":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define COMPLETION "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion\",\"model\":\"gpt" \
	"-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant" \
	"\",\"content\":\"Hi!\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prom" \
	"pt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}"
#define SSE1 "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"" \
	"content\":\"\"}}]}\n\n"
#define SSE2 "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
#define SSE3 "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{},\"finish_reason\":\"st" \
	"op\"}]}\n\ndata: [DONE]\n\n"
/* gzip of COMPLETION (python gzip.compress, mtime=0): 177 bytes */
#define GZ "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03=\x8eQ\x0e\x82@\x0c""D\xcf\xe2" \
	"|\x83\x11\xe3\x0f{\x02\xef`\x8cY\x97\n" \
	"\xab\xb0%\xb4&$d\xefnI\x84\xaf&o\xa6""3\xb3 6p\x08\x9d\xd7""0\x8c}Y\xcf" \
	"(\xc0\xcf""7\x05\xfd\xe3""c`\x13H#'\x93\x06n\xa8""7\xa5\x1d\xb5\xbcp9\xc4" \
	"\x14\x8d\x86\x8e""c \x81\xbb-\x88\xa9\xa1\x19\xee""d^\x12\xf1-\xc1-\x98" \
	"\xb8\xb7\x0b/\x12""E}\xd2\xf5\x87\x93RZ[\xae\xf1\x80\\\xe0""eY\xd2=&\xf2" \
	"bU\x0e\xa2<\"\xdf\x0b|\xb7\x94q\xb2)\xfaP\xfeP\xb2\xb2z\r\xd9\xb6\xed\xf4" \
	"\\@Y}\xbf\x83\xaa\xca\xf9\x07]-J\x19\xe7\x00\x00\x00"

#define CURL_REQ \
	"POST /v1/chat/completions HTTP/1.1\r\n" \
	"Host: api.openai.com\r\n" \
	"User-Agent: curl/7.88.1\r\n" \
	"Accept: */*\r\n" \
	"Content-Type: application/json\r\n" \
	"Authorization: Bearer sk-proj-abc123\r\n" \
	"Content-Length: 85\r\n" \
	"\r\n" CHAT

#define GET_MODELS \
	"GET /v1/models HTTP/1.1\r\n" \
	"Host: api.openai.com\r\n" \
	"User-Agent: curl/7.88.1\r\n" \
	"Accept: */*\r\n" \
	"\r\n"

#define UNDICI_CHUNKED \
	"POST /v1/messages HTTP/1.1\r\n" \
	"host: api.anthropic.com\r\n" \
	"connection: keep-alive\r\n" \
	"content-type: application/json\r\n" \
	"transfer-encoding: chunked\r\n" \
	"\r\n" \
	"28\r\n" \
	"{\"model\":\"claude-3-5-haiku-20241022\",\"ma\r\n" \
	"39\r\n" \
	"x_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\r\n" \
	"0\r\n" \
	"\r\n"

#define RESP_CL \
	"HTTP/1.1 200 OK\r\n" \
	"Date: Tue, 04 Jun 2024 10:00:00 GMT\r\n" \
	"Content-Type: application/json\r\n" \
	"Content-Length: 231\r\n" \
	"Connection: keep-alive\r\n" \
	"openai-organization: user-abc\r\n" \
	"openai-processing-ms: 412\r\n" \
	"x-request-id: req_123\r\n" \
	"\r\n" COMPLETION

#define RESP_SSE \
	"HTTP/1.1 200 OK\r\n" \
	"Date: Tue, 04 Jun 2024 10:00:00 GMT\r\n" \
	"Content-Type: text/event-stream; charset=utf-8\r\n" \
	"Transfer-Encoding: chunked\r\n" \
	"Connection: keep-alive\r\n" \
	"\r\n" \
	"4b\r\n" SSE1 "\r\n" \
	"3a\r\n" SSE2 "\r\n" \
	"51\r\n" SSE3 "\r\n" \
	"0\r\n" \
	"\r\n"

#define RESP_OK2 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

/* A literal with embedded NULs: pointer and length. */
#define BIN(s) s, sizeof(s) - 1

static const struct hcase cases[] = {
	/* requests, as real clients send them */
	{ "curl POST", REQ, CURL_REQ, 0, 0,
	  "<POST /v1/chat/completions>" CHAT "<D>", 0, 0, 0 },
	{ "python urllib POST", REQ,
	  "POST /v1/chat/completions HTTP/1.1\r\n"
	  "Accept-Encoding: identity\r\n"
	  "Content-Length: 77\r\n"
	  "Host: api.openai.com\r\n"
	  "User-Agent: Python-urllib/3.11\r\n"
	  "Content-Type: application/json\r\n"
	  "Authorization: Bearer sk-proj-abc123\r\n"
	  "Connection: close\r\n"
	  "\r\n" CHATPY, 0, 0,
	  "<POST /v1/chat/completions>" CHATPY "<D>", 0, 0, 0 },
	{ "node undici POST", REQ,
	  "POST /v1/messages HTTP/1.1\r\n"
	  "host: api.anthropic.com\r\n"
	  "connection: keep-alive\r\n"
	  "content-type: application/json\r\n"
	  "x-api-key: sk-ant-api03-xyz\r\n"
	  "anthropic-version: 2023-06-01\r\n"
	  "accept: application/json\r\n"
	  "accept-language: *\r\n"
	  "sec-fetch-mode: cors\r\n"
	  "user-agent: node\r\n"
	  "accept-encoding: gzip, deflate\r\n"
	  "content-length: 97\r\n"
	  "\r\n" ANTH, 0, 0,
	  "<POST /v1/messages>" ANTH "<D>", 0, 0, 0 },
	{ "undici chunked POST", REQ, UNDICI_CHUNKED, 0, 0,
	  "<POST /v1/messages>" ANTH "<D>", 0, 0, 0 },
	{ "GET without body", REQ, GET_MODELS, 0, 0, "<GET /v1/models><D>", 0, 0, 0 },
	{ "Gemini query target", REQ,
	  "POST /v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse&key=AIzaSyA HTTP/1.1\r\n"
	  "Host: generativelanguage.googleapis.com\r\nContent-Length: 2\r\n\r\n{}", 0, 0,
	  "<POST /v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse&key=AIzaSyA>{}<D>",
	  0, 0, 0 },
	{ "pipelined keep-alive", REQ, GET_MODELS CURL_REQ UNDICI_CHUNKED GET_MODELS, 0, 0,
	  "<GET /v1/models><D><POST /v1/chat/completions>" CHAT "<D>"
	  "<POST /v1/messages>" ANTH "<D><GET /v1/models><D>", 0, 0, 0 },
	{ "stray CRLF before a request", REQ, "\r\n\r\n" GET_MODELS "\r\n" GET_MODELS, 0, 0,
	  "<GET /v1/models><D><GET /v1/models><D>", 0, 0, 0 },
	{ "bare LF line ends", REQ,
	  "POST /v1/x HTTP/1.1\nHost: h\nContent-Length: 3\n\nabc", 0, 0,
	  "<POST /v1/x>abc<D>", 0, 0, 0 },
	{ "HTTP/1.0 request", REQ, "GET / HTTP/1.0\r\n\r\n", 0, 0, "<GET /><D>", 0, 0, 0 },
	{ "OPTIONS *", REQ, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 0, 0, "<OPTIONS *><D>", 0, 0, 0 },
	{ "request Content-Length 0", REQ,
	  "POST /v1/x HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, 0,
	  "<POST /v1/x><D><GET /><D>", 0, 0, 0 },
	{ "request TE chunked wins over CL", REQ,
	  "POST /x HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "2\r\nhi\r\n0\r\n\r\n", 0, 0, "<POST /x>hi<D>", 0, 0, 0 },

	/* responses */
	{ "Content-Length JSON", RSP, RESP_CL, 0, 0, "<200 OK>" COMPLETION "<D>", 0, 0, 0 },
	{ "chunked SSE", RSP, RESP_SSE, 0, 0, "<200 OK>" SSE1 SSE2 SSE3 "<D>", 0, 0, 0 },
	{ "gzip body", RSP,
	  BIN("HTTP/1.1 200 OK\r\n"
	      "Content-Type: application/json\r\n"
	      "Content-Encoding: gzip\r\n"
	      "Content-Length: 177\r\n"
	      "Vary: Accept-Encoding\r\n"
	      "\r\n" GZ), 0,
	  NULL /* checked separately: binary */, 0, 0, 0 },
	{ "chunk extensions and trailers", RSP,
	  "HTTP/1.1 200 OK\r\n"
	  "Transfer-Encoding: chunked\r\n"
	  "Trailer: X-Usage\r\n"
	  "\r\n"
	  "5;name=value\r\n"
	  "hello\r\n"
	  "6 ; a=b;c=\"d;e\"\r\n"
	  " world\r\n"
	  "0;last\r\n"
	  "X-Usage: 11\r\n"
	  "X-More: yes\r\n"
	  "\r\n" RESP_OK2, 0, 0, "<200 OK>hello world<D><200 OK>ok<D>", 0, 0, 0 },
	{ "chunked with bare LF and upper hex", RSP,
	  "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nA\n0123456789\n00\n\n", 0, 0,
	  "<200 OK>0123456789<D>", 0, 0, 0 },
	{ "100 Continue", RSP, "HTTP/1.1 100 Continue\r\n\r\n" RESP_CL, 0, 0,
	  "<100 Continue><D><200 OK>" COMPLETION "<D>", 0, 0, 0 },
	{ "103 Early Hints then 200", RSP,
	  "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" RESP_OK2, 0, 0,
	  "<103 Early Hints><D><200 OK>ok<D>", 0, 0, 0 },
	{ "HEAD response then next", RSP,
	  "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: application/json\r\n\r\n"
	  RESP_OK2, 0, 1, "<200 OK><D><200 OK>ok<D>", 0, 0, 0 },
	{ "HEAD response chunked", RSP,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" RESP_OK2, 0, 1,
	  "<200 OK><D><200 OK>ok<D>", 0, 0, 0 },
	{ "204 and 304", RSP,
	  "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
	  "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n"
	  "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n" RESP_OK2, 0, 0,
	  "<204 No Content><D><304 Not Modified><D><204 No Content><D><200 OK>ok<D>", 0, 0, 0 },
	{ "pipelined responses", RSP, RESP_CL RESP_SSE RESP_OK2, 0, 0,
	  "<200 OK>" COMPLETION "<D><200 OK>" SSE1 SSE2 SSE3 "<D><200 OK>ok<D>", 0, 0, 0 },
	{ "error status with body", RSP,
	  "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
	  "Content-Length: 34\r\nRetry-After: 20\r\n\r\n"
	  "{\"error\":{\"type\":\"rate_limit\"}}\n\n\n", 0, 0,
	  "<429 Too Many Requests>{\"error\":{\"type\":\"rate_limit\"}}\n\n\n<D>", 0, 0, 0 },
	{ "no reason phrase", RSP, "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", 0, 0,
	  "<200 >x<D>", 0, 0, 0 },
	{ "close-delimited", RSP,
	  "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, world\n", 0, 0,
	  "<200 OK>hello, world\n<D>", 0, 0, 1 },
	{ "close-delimited after keep-alive", RSP,
	  RESP_OK2 "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\noops", 0, 0,
	  "<200 OK>ok<D><500 Internal Server Error>oops<D>", 0, 0, 1 },
	{ "TE gzip without chunked is close-delimited", RSP,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", 0, 0,
	  "<200 OK>abc<D>", 0, 0, 1 },
	{ "TE gzip beats Content-Length", RSP,
	  "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: gzip\r\n\r\nabc", 0, 0,
	  "<200 OK>abc<D>", 0, 0, 1 },
	{ "TE gzip, chunked", RSP,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "3\r\nabc\r\n0\r\n\r\n", 0, 0, "<200 OK>abc<D>", 0, 0, 0 },
	{ "header value with obs-text", RSP,
	  "HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n", 0, 0,
	  "<200 OK><D>", 0, 0, 0 },

	/* not HTTP at all */
	{ "TLS record (request side)", REQ,
	  BIN("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x11"), 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "TLS record (response side)", RSP,
	  BIN("\x17\x03\x03\x00\x45\xa9\x01\x02"), 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "h2 preface", REQ, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "h2 SETTINGS frame on response side", RSP,
	  BIN("\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"), 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "HTTP/2 status line", RSP, "HTTP/2 200\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "JSON instead of a response", RSP, "{\"error\":\"x\"}\n", 0, 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "prose", REQ, "Hello there, this is not a request\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "binary", REQ, BIN("G\x00T / HTTP/1.1\r\n\r\n"), 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "HTTP/0.9 request", REQ, "GET /\r\n", 0, 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "method too long", REQ, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH / HTTP/1.1\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "lowercase http", RSP, "http/1.1 200 OK\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },
	{ "garbage after a good message", RSP, RESP_OK2 "\x16\x03\x03garbage", 0, 0,
	  "<200 OK>ok<D>", HTTP1_ERR_NOT_HTTP, HTTP1_ERR_NOT_HTTP, 0 },

	/* HTTP, but malformed */
	{ "junk after version", REQ, "GET / HTTP/1.1 x\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "bad status", RSP, "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "status below 100", RSP, "HTTP/1.1 099 Odd\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "header without colon", REQ, "GET / HTTP/1.1\r\nHost api\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "space before colon", REQ, "GET / HTTP/1.1\r\nHost : api\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "obs-fold", RSP, "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "control byte in value", RSP, BIN("HTTP/1.1 200 OK\r\nX-A: o\x01ne\r\n\r\n"), 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "bare CR in value", RSP, "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "duplicate Content-Length", RSP,
	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "conflicting Content-Length", REQ,
	  "POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\nok", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "Content-Length list", RSP,
	  "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "negative Content-Length", RSP,
	  "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "huge Content-Length", RSP,
	  "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "request TE gzip only", REQ,
	  "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 0, "",
	  HTTP1_ERR_SYNTAX, HTTP1_ERR_SYNTAX, 0 },
	{ "bad chunk size", RSP,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0, "<200 OK>",
	  HTTP1_ERR_CHUNK, HTTP1_ERR_CHUNK, 0 },
	{ "chunk data overrun", RSP,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 0, 0,
	  "<200 OK>ab", HTTP1_ERR_CHUNK, HTTP1_ERR_CHUNK, 0 },
	{ "chunk size overflow", RSP,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", 0, 0,
	  "<200 OK>", HTTP1_ERR_CHUNK, HTTP1_ERR_CHUNK, 0 },
	{ "chunk size line without digits", RSP,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n", 0, 0,
	  "<200 OK>", HTTP1_ERR_CHUNK, HTTP1_ERR_CHUNK, 0 },

	/* truncated */
	{ "truncated body", RSP, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 0, 0,
	  "<200 OK>hello", 0, HTTP1_ERR_TRUNCATED, 0 },
	{ "truncated head", REQ, "POST /v1/chat/completions HTTP/1.1\r\nHost: api", 0, 0,
	  "", 0, HTTP1_ERR_TRUNCATED, 0 },
	{ "truncated chunked", RSP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "4b\r\n" SSE1 "\r\n", 0, 0, "<200 OK>" SSE1, 0, HTTP1_ERR_TRUNCATED, 0 },
	{ "truncated before trailer end", RSP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "0\r\nX-T: 1\r\n", 0, 0, "<200 OK>", 0, HTTP1_ERR_TRUNCATED, 0 },
};

/* Cut positions to try for an input of n bytes: all of them when small. */
static int want_pos(size_t k, size_t n)
{
	return n <= 8192 || k < 512 || n - k < 512 || k % 4099 == 0;
}

/* Runs one table case in every way and compares. */
static void check_case(const char *name, enum http1_type type, const uint8_t *d, size_t n,
		       uint32_t nobody, const char *want, size_t want_len,
		       int want_err, int want_fin, int close)
{
	struct result whole, bytes, r;

	run(type, nobody, d, n, NULL, 0, 0, &whole);
	CHECKF(!whole.bad_ret && !whole.t.bad_head, "%s: bad return or head", name);
	CHECKF(whole.err == want_err, "%s: err %d want %d", name, whole.err, want_err);
	CHECKF(whole.fin == want_fin, "%s: finish %d want %d", name, whole.fin, want_fin);
	if (want)
		CHECKF(whole.t.sum.len == want_len &&
		       (!want_len || memcmp(whole.t.sum.data, want, want_len) == 0),
		       "%s: trace\n got  \"%s\"\n want \"%s\"", name,
		       whole.t.sum.data ? (char *)whole.t.sum.data : "", want);

	/* one byte at a time */
	run(type, nobody, d, n, NULL, 0, 1, &bytes);
	CHECKF(same(&whole, &bytes) && !bytes.bad_ret, "%s: bytewise differs", name);

	/* two pieces, cut at every position */
	for (size_t k = 0; k <= n; k++) {
		if (!want_pos(k, n))
			continue;
		run(type, nobody, d, n, &k, 1, 0, &r);
		CHECKF(same(&whole, &r) && !r.bad_ret, "%s: split at %zu differs", name, k);
		result_free(&r);
	}

	/* every truncated prefix of a good stream: no early on_done, TRUNCATED */
	if (!want_err) {
		int nd = bytes.t.dones < MAX_MSGS ? bytes.t.dones : MAX_MSGS;
		int nh = bytes.t.heads < MAX_MSGS ? bytes.t.heads : MAX_MSGS;

		for (size_t k = 1; k < n; k++) {
			int expect_done = 0, idle = 1;
			size_t from = 0;

			if (!want_pos(k, n))
				continue;
			for (int j = 0; j < nd; j++) {
				if (bytes.t.done_at[j] + 1 <= k) {
					expect_done++;
					from = bytes.t.done_at[j] + 1;
				}
			}
			/* between messages: only stray CR/LF since the last one ended */
			for (size_t i = from; i < k; i++)
				if (d[i] != '\r' && d[i] != '\n')
					idle = 0;
			run(type, nobody, d, k, NULL, 0, 0, &r);
			CHECKF(r.err == 0 && r.dones_fed == expect_done,
			       "%s: prefix %zu: err %d dones %d want %d", name, k, r.err,
			       r.dones_fed, expect_done);
			if (close && nh > 0 && k > bytes.t.head_at[nh - 1])
				CHECKF(r.fin == 0 && r.t.dones == expect_done + 1,
				       "%s: close prefix %zu: finish %d", name, k, r.fin);
			else if (idle)
				CHECKF(r.fin == 0, "%s: prefix %zu at boundary: finish %d", name, k, r.fin);
			else
				CHECKF(r.fin == HTTP1_ERR_TRUNCATED,
				       "%s: prefix %zu: finish %d want TRUNCATED", name, k, r.fin);
			result_free(&r);
		}
	}
	result_free(&whole);
	result_free(&bytes);
}

/* Every table case, whole, bytewise, split and truncated. */
static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hcase *c = &cases[i];
		size_t n = c->len ? c->len : strlen(c->wire);

		check_case(c->name, c->type, (const uint8_t *)c->wire, n, c->nobody, c->want,
			   c->want ? strlen(c->want) : 0, c->want_err, c->want_fin, c->close);
	}
}

/* The gzip'd body must come through byte for byte, NULs included. */
static void test_binary_body(void)
{
	static const char head[] = "<200 OK>";
	static const uint8_t gz[] = GZ;
	const struct hcase *c = NULL;
	struct result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].name, "gzip body") == 0)
			c = &cases[i];
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(sizeof(gz) - 1 == 177);
	run(RSP, 0, (const uint8_t *)c->wire, c->len, NULL, 0, 0, &r);
	CHECK(r.err == 0 && r.fin == 0 && r.t.dones == 1);
	CHECK(r.t.sum.len == strlen(head) + 177 + 3);
	CHECK(r.t.sum.len > 177 && memcmp(r.t.sum.data + strlen(head), gz, 177) == 0);
	result_free(&r);
}

/* What f_head saw, for test_fields. */
static const char *g_host, *g_pad, *g_empty, *g_te;
static struct http1_head g_head;
static char g_target_s[256], g_reason_s[64];
static const char *g_target = g_target_s, *g_reason = g_reason_s;

/* on_head for test_fields: copies out what the checks need; returns 0. */
static int f_head(void *ud, const struct http1_head *h)
{
	(void)ud;
	g_head = *h;
	snprintf(g_target_s, sizeof(g_target_s), "%s", h->target ? h->target : "");
	snprintf(g_reason_s, sizeof(g_reason_s), "%s", h->reason ? h->reason : "");
	g_host = http1_head_get(h, "HOST");
	g_pad = http1_head_get(h, "x-pad");
	g_empty = http1_head_get(h, "X-Empty");
	g_te = http1_head_get(h, "transfer-encoding");
	if (g_host)
		g_host = strdup(g_host);
	if (g_pad)
		g_pad = strdup(g_pad);
	if (g_empty)
		g_empty = strdup(g_empty);
	if (g_te)
		g_te = strdup(g_te);
	CHECK(http1_head_get(h, "no-such-header") == NULL);
	return 0;
}

/* Frees what f_head copied. */
static void fields_reset(void)
{
	free((void *)g_host);
	free((void *)g_pad);
	free((void *)g_empty);
	free((void *)g_te);
	g_host = g_pad = g_empty = g_te = NULL;
}

/* Head fields: method, target, version, lengths, trimming, lookup, in_message. */
static void test_fields(void)
{
	static const struct http1_callbacks cb = { f_head, NULL, NULL };
	static const char req[] = "PATCH /v1/x?a=1 HTTP/1.0\r\nhost:  api.example.com \t\r\n"
				  "X-Pad:\t spaced  value \r\nX-Empty:\r\nContent-Length: 0\r\n\r\n";
	static const char rsp[] = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip, Chunked\r\n"
				  "Content-Length: 5\r\n\r\n0\r\n\r\n";
	struct http1_parser *p;

	p = http1_parser_new(REQ, &cb, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(http1_parser_in_message(p) == 0);
	CHECK(http1_parser_feed(p, (const uint8_t *)req, 10) == 10);
	CHECK(http1_parser_in_message(p) == 1);
	CHECK(http1_parser_feed(p, (const uint8_t *)req + 10, sizeof(req) - 11) ==
	      (long)sizeof(req) - 11);
	CHECK(http1_parser_in_message(p) == 0);
	CHECK(strcmp(g_head.method, "PATCH") == 0);
	CHECK_STR(g_target, "/v1/x?a=1");
	CHECK(g_head.version_minor == 0);
	CHECK(g_head.content_length == 0);
	CHECK(g_head.chunked == 0);
	CHECK(g_head.n_headers == 4);
	CHECK_STR(g_host, "api.example.com");
	CHECK_STR(g_pad, "spaced  value");
	CHECK_STR(g_empty, "");
	CHECK(http1_parser_finish(p) == 0);
	http1_parser_free(p);
	fields_reset();

	p = http1_parser_new(RSP, &cb, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(http1_parser_feed(p, (const uint8_t *)rsp, sizeof(rsp) - 1) == (long)sizeof(rsp) - 1);
	CHECK(g_head.status == 404);
	CHECK_STR(g_reason, "Not Found");
	CHECK(g_head.version_minor == 1);
	CHECK(g_head.chunked == 1);
	CHECK(g_head.content_length == 5);
	CHECK_STR(g_te, "gzip, Chunked");
	CHECK(http1_parser_in_message(p) == 0);
	CHECK(http1_parser_finish(p) == 0);
	http1_parser_free(p);
	fields_reset();
}

/* Errors are sticky; strerror has a text for each; NULL callbacks are fine. */
static void test_errors(void)
{
	static const int errs[] = { 0, HTTP1_ERR_NOT_HTTP, HTTP1_ERR_SYNTAX, HTTP1_ERR_HEAD_BIG,
				    HTTP1_ERR_CHUNK, HTTP1_ERR_TRUNCATED, HTTP1_ERR_NOMEM, -99 };
	struct http1_parser *p;

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		CHECK(http1_strerror(errs[i]) != NULL && http1_strerror(errs[i])[0]);
	p = http1_parser_new(RSP, NULL, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(http1_parser_feed(p, (const uint8_t *)RESP_SSE, strlen(RESP_SSE)) ==
	      (long)strlen(RESP_SSE));
	CHECK(http1_parser_feed(p, (const uint8_t *)"XTTP", 4) == HTTP1_ERR_NOT_HTTP);
	CHECK(http1_parser_feed(p, (const uint8_t *)RESP_OK2, strlen(RESP_OK2)) == HTTP1_ERR_NOT_HTTP);
	CHECK(http1_parser_finish(p) == HTTP1_ERR_NOT_HTTP);
	http1_parser_free(p);
	http1_parser_free(NULL);

	/* NOT_HTTP is decided on the first byte that cannot fit */
	p = http1_parser_new(RSP, NULL, NULL);
	CHECK(p && http1_parser_feed(p, (const uint8_t *)"HTTP/1.", 7) == 7);
	CHECK(p && http1_parser_feed(p, (const uint8_t *)"x", 1) == HTTP1_ERR_NOT_HTTP);
	http1_parser_free(p);
	p = http1_parser_new(REQ, NULL, NULL);
	CHECK(p && http1_parser_feed(p, (const uint8_t *)"\x16", 1) == HTTP1_ERR_NOT_HTTP);
	http1_parser_free(p);
	p = http1_parser_new(REQ, NULL, NULL);
	CHECK(p && http1_parser_feed(p, (const uint8_t *)"PRI * HTTP/", 11) == 11);
	CHECK(p && http1_parser_feed(p, (const uint8_t *)"2", 1) == HTTP1_ERR_NOT_HTTP);
	http1_parser_free(p);
}

/* Builds "GET / HTTP/1.1\r\n" + headers so the head is exactly size bytes
 * (size >= 64), or nhdr small headers when nhdr > 0. Returns malloc'd bytes. */
static uint8_t *big_head(size_t size, int nhdr, size_t *len)
{
	struct buf b = { 0 };

	buf_puts(&b, "GET / HTTP/1.1\r\n");
	if (nhdr > 0) {
		for (int i = 0; i < nhdr; i++) {
			char s[32];

			snprintf(s, sizeof(s), "X-H%d: v\r\n", i);
			buf_puts(&b, s);
		}
	} else {
		size_t pad = size - b.len - strlen("X-Big: \r\n\r\n");

		buf_puts(&b, "X-Big: ");
		for (size_t i = 0; i < pad; i++)
			buf_append(&b, "a", 1);
		buf_puts(&b, "\r\n");
	}
	buf_puts(&b, "\r\n");
	*len = b.len;
	return b.data;
}

/* Hard limits: a head of exactly HTTP1_MAX_HEAD is fine, one byte more is
 * HEAD_BIG, and so is one header too many. */
static void test_limits(void)
{
	size_t n;
	uint8_t *d;

	d = big_head(HTTP1_MAX_HEAD, 0, &n);
	CHECK(n == HTTP1_MAX_HEAD);
	check_case("head at the limit", REQ, d, n, 0, "<GET /><D>", 10, 0, 0, 0);
	free(d);
	d = big_head(HTTP1_MAX_HEAD + 1, 0, &n);
	check_case("head over the limit", REQ, d, n, 0, "", 0,
		   HTTP1_ERR_HEAD_BIG, HTTP1_ERR_HEAD_BIG, 0);
	free(d);
	d = big_head(512 * 1024, 0, &n);
	check_case("huge header", REQ, d, n, 0, "", 0,
		   HTTP1_ERR_HEAD_BIG, HTTP1_ERR_HEAD_BIG, 0);
	free(d);
	d = big_head(0, HTTP1_MAX_HEADERS, &n);
	check_case("max headers", REQ, d, n, 0, "<GET /><D>", 10, 0, 0, 0);
	free(d);
	d = big_head(0, HTTP1_MAX_HEADERS + 1, &n);
	check_case("too many headers", REQ, d, n, 0, "", 0,
		   HTTP1_ERR_HEAD_BIG, HTTP1_ERR_HEAD_BIG, 0);
	free(d);
}

/* A large body streams through on_body in the pieces it was fed in. */
static void test_streaming(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
	size_t n = strlen(head) + 1048576;
	uint8_t *d = malloc(n);
	struct result r;
	size_t cuts[256];

	CHECK(d != NULL);
	if (!d)
		return;
	memcpy(d, head, strlen(head));
	for (size_t i = strlen(head); i < n; i++)
		d[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < 256; i++)
		cuts[i] = (i + 1) * 4096;
	run(RSP, 0, d, n, cuts, 256, 0, &r);
	CHECK(r.err == 0 && r.fin == 0 && r.t.dones == 1);
	CHECK(r.t.max_piece <= 4096);
	CHECK(r.t.sum.len == 8 + 1048576 + 3);
	CHECK(r.t.sum.len > 8 && memcmp(r.t.sum.data + 8, d + strlen(head), 1048576) == 0);
	result_free(&r);
	free(d);
}

/* A 101 response ends HTTP on the stream: the parser takes its head and
 * nothing after, whatever the split; a 100 Continue stays interim. */
static void test_switch(void)
{
	static const char head[] = "HTTP/1.1 100 Continue\r\n\r\n"
				   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\n\r\n";
	static const uint8_t frame[] = { 0x81, 0x03, 'a', 'b', 'c', 'H', 'T', 'T', 'P', '/' };
	const struct http1_callbacks cb = { t_head, t_body, t_done };
	size_t hl = strlen(head), n = hl + sizeof(frame), cut;
	uint8_t d[256];
	int bad = 0;

	memcpy(d, head, hl);
	memcpy(d + hl, frame, sizeof(frame));
	for (cut = 0; cut <= n; cut++) {
		struct trace t = { 0 };
		struct http1_parser *p = http1_parser_new(HTTP1_RESPONSE, &cb, &t);
		long a, b;

		a = http1_parser_feed(p, d, cut);
		b = http1_parser_feed(p, d + cut, n - cut);
		/* what each call took adds up to the head, never a frame byte */
		if (a < 0 || b < 0 || (size_t)(a + b) != hl || !http1_parser_switched(p) ||
		    t.heads != 2 || t.dones != 2 || http1_parser_feed(p, d, n) != 0 ||
		    http1_parser_finish(p) != 0 || http1_parser_in_message(p))
			bad++;
		http1_parser_free(p);
		buf_free(&t.sum);
		buf_free(&t.full);
	}
	CHECKF(bad == 0, "%d split(s) of a 101 response went wrong", bad);
}

/* Runs all groups; exits non-zero when a check failed. */
int main(void)
{
	test_table();
	test_binary_body();
	test_fields();
	test_errors();
	test_limits();
	test_streaming();
	test_switch();
	return harness_done("test_http1");
}
