/* test_stream.c -- the connection layer fed synthetic TLS chunks: pairing, timing, roles, gaps, endings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include "base/buf.h"
#include "track/stream.h"
#include "proto/h2.h"
#include "harness.h"

#define MS 1000000ull

static struct call_row *rows[64];
static int nrows;

static void on_row(void *ud, enum row_kind kind, void *row)
{
	struct call_row *r = row;

	(void)ud;
	if (kind != ROW_CALL)
		row_free(kind, row);
	else if (nrows < 64)
		rows[nrows++] = r;
	else
		call_row_free(r);
}

static const struct row_sink sink = { on_row, NULL };

static void rows_clear(void)
{
	while (nrows)
		call_row_free(rows[--nrows]);
}

/* Feed one chunk: dir 0 = written by the process, 1 = read by it. */
static void feed(struct stream_table *t, uint64_t ssl, int dir, uint64_t *off,
		 uint64_t t0, uint64_t t1, const char *data, size_t len)
{
	struct stream_chunk c = {
		.tgid = 4242, .tid = 4243, .ssl = ssl, .dir = dir,
		.ts_start_ns = t0, .ts_end_ns = t1, .offset = *off,
		.comm = "agent", .data = (const uint8_t *)data, .len = len,
	};

	stream_data(t, &c);
	*off += len;
}

/* feed() for a plain socket stream (key: the socket cookie). */
static void feed_sock(struct stream_table *t, uint64_t cookie, int dir, uint64_t *off,
		      uint64_t t0, uint64_t t1, const char *data, size_t len)
{
	struct stream_chunk c = {
		.tgid = 4242, .tid = 4243, .ssl = cookie, .sock = 1, .dir = dir,
		.ts_start_ns = t0, .ts_end_ns = t1, .offset = *off,
		.comm = "agent", .data = (const uint8_t *)data, .len = len,
	};

	stream_data(t, &c);
	*off += len;
}

static const char req[] =
	"POST /v1/chat/completions?key=SECRETKEY123 HTTP/1.1\r\n"
	"Host: api.openai.com\r\n"
	"Authorization: Bearer sk-test-SECRETSECRET123456\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 67\r\n\r\n"
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static const char resp[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: application/json\r\n"
	"Set-Cookie: session=SECRETCOOKIE\r\n"
	"Content-Length: 217\r\n\r\n"
	"{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello!\"},"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}";

static const char sse_resp_head[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: text/event-stream\r\n"
	"Transfer-Encoding: chunked\r\n\r\n";

/* One SSE event as an HTTP chunk. */
static void sse_chunk(char *out, size_t n, const char *event)
{
	snprintf(out, n, "%zx\r\n%s\r\n", strlen(event), event);
}

static void test_simple_and_splits(void)
{
	size_t reqlen = strlen(req), split;
	int ok_all = 1;

	CHECK(reqlen - (strchr(req, '{') - req) == 67 && strlen(resp) - (strchr(resp, '{') - resp) == 217);
	for (split = 0; split <= reqlen; split++) {
		struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
		uint64_t wo = 0, ro = 0;

		if (split)
			feed(t, 1, 0, &wo, 1000 * MS, 1001 * MS, req, split);
		if (split < reqlen)
			feed(t, 1, 0, &wo, 1002 * MS, 1003 * MS, req + split, reqlen - split);
		feed(t, 1, 1, &ro, 1010 * MS, 1050 * MS, resp, 60);
		feed(t, 1, 1, &ro, 1051 * MS, 1080 * MS, resp + 60, strlen(resp) - 60);
		if (nrows != 1) {
			CHECKF(nrows == 1, "split %zu: %d rows", split, nrows);
			ok_all = 0;
		} else {
			struct call_row *r = rows[0];
			double want_start = split ? 1000 * MS : 1002 * MS;

			(void)want_start;
			ok_all &= r->status == 200 && r->input_tokens == 9 && r->output_tokens == 3 &&
				  !strcmp(r->provider, "openai") && !strcmp(r->model, "gpt-4o-mini-2024-07-18") &&
				  !strcmp(r->response_text, "Hello!") && r->conn_reused == 0 &&
				  r->ttfb_ms == (split == reqlen ? 1050 - 1001 : 1050 - 1003) &&
				  r->duration_ms == (split ? 1080 - 1000 : 1080 - 1002) && !r->error;
			CHECKF(ok_all, "split %zu: status %lld ttfb %.1f dur %.1f err %s", split,
			       (long long)r->status, r->ttfb_ms, r->duration_ms, r->error ? r->error : "-");
		}
		rows_clear();
		stream_table_free(t, "stop");
		CHECKF(nrows == 0, "split %zu: rows after free", split);
		rows_clear();
		if (!ok_all)
			break;
	}
}

static void test_redaction(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	uint64_t wo = 0, ro = 0;

	feed(t, 7, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 7, 1, &ro, 3 * MS, 4 * MS, resp, strlen(resp));
	CHECK(nrows == 1);
	if (nrows == 1) {
		struct call_row *r = rows[0];

		CHECK(strstr(r->request_headers, "[REDACTED]") != NULL);
		CHECK(strstr(r->request_headers, "SECRETSECRET") == NULL);
		CHECK(strstr(r->response_headers, "SECRETCOOKIE") == NULL);
		CHECK(strstr(r->path, "SECRETKEY123") == NULL);
		CHECK(strstr(r->path, "key=[REDACTED]") != NULL);
		CHECK(strstr(r->request_headers, "SECRETKEY123") == NULL);
		CHECK_STR(r->comm, "agent");
		CHECK(r->pid == 4242 && r->tid == 4243);
		CHECK_STR(r->method, "POST");
		CHECK_STR(r->host, "api.openai.com");
		/* nothing secret in the bodies or the text: the store need not look again */
		CHECK(r->clean == (CALL_CLEAN_TEXT | CALL_CLEAN_REQ_BODY | CALL_CLEAN_RESP_BODY));
		CHECK(r->request_body_len == 67 && !memcmp(r->request_body, strchr(req, '{'), 67));
		CHECK(r->response_body_len == 217 && !memcmp(r->response_body, strchr(resp, '{'), 217));
	}
	rows_clear();
	stream_table_free(t, "stop");
}

/* A key pasted into a prompt never reaches the row either. */
static void test_body_redaction(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	uint64_t wo = 0, ro = 0;
	static const char body[] =
		"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"my key is sk-proj-ABCDEFGHIJKLMNOPQRSTUV123456\"}]}";
	char r1[512];

	snprintf(r1, sizeof(r1), "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		 "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	feed(t, 8, 0, &wo, 1 * MS, 2 * MS, r1, strlen(r1));
	feed(t, 8, 1, &ro, 3 * MS, 4 * MS, resp, strlen(resp));
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(strstr(rows[0]->request_body, "ABCDEFGHIJKLMNOPQRSTUV") == NULL);
		CHECK(strstr(rows[0]->request_body, "my key is [REDACTED]") != NULL);
		CHECK(rows[0]->request_bytes == (int64_t)strlen(body));
		/* the rules took something: the store runs them again over it */
		CHECK(rows[0]->clean == (CALL_CLEAN_TEXT | CALL_CLEAN_RESP_BODY));
	}
	rows_clear();
	stream_table_free(t, "stop");
}

/* Issue 10: a key the model streams in small deltas goes from the stored
 * body as well as from response_text; and one split across SSL reads. */
static void test_split_key(void)
{
	static const char key[] = "sk-proj-AbCdEfGhIjKlMnOpQrStUv0123";
	static const char *const pieces[] = { "Key: s", "k-pr", "oj-AbCdEfGh", "IjKlMnOpQrStUv0", "123 ok" };
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	uint64_t wo = 0, ro = 0, ts = 10;
	char ev[512], ch[600], body[1024];
	size_t i, n;

	feed(t, 21, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 21, 1, &ro, 3 * MS, 4 * MS, sse_resp_head, strlen(sse_resp_head));
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		snprintf(ev, sizeof(ev), "data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":"
			 "[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}\n\n", pieces[i]);
		sse_chunk(ch, sizeof(ch), ev);
		feed(t, 21, 1, &ro, ts * MS, (ts + 1) * MS, ch, strlen(ch));
		ts += 2;
	}
	feed(t, 21, 1, &ro, ts * MS, (ts + 1) * MS, "0\r\n\r\n", 5);
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK_STR(rows[0]->response_text, "Key: [REDACTED] ok");
		CHECK(rows[0]->response_body && !strstr(rows[0]->response_body, "k-pr") &&
		      !strstr(rows[0]->response_body, "IjKlMnOpQrStUv0"));
		CHECK(rows[0]->response_body && strstr(rows[0]->response_body, "\"content\":\"Key: [REDACTED]\""));
		CHECK(rows[0]->clean == CALL_CLEAN_REQ_BODY);
	}
	rows_clear();

	/* the same key in a plain JSON answer, read 3 bytes per SSL call */
	n = (size_t)snprintf(body, sizeof(body), "{\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
			     "\"message\":{\"role\":\"assistant\",\"content\":\"%s\"}}]}", key);
	snprintf(ch, sizeof(ch), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n", n);
	feed(t, 21, 0, &wo, 50 * MS, 51 * MS, req, strlen(req));
	feed(t, 21, 1, &ro, 52 * MS, 53 * MS, ch, strlen(ch));
	for (i = 0; i < n; i += 3)
		feed(t, 21, 1, &ro, 54 * MS, 55 * MS, body + i, n - i < 3 ? n - i : 3);
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(!strstr(rows[0]->response_body, key + 8));
		CHECK(rows[0]->response_body_len == strlen(rows[0]->response_body));
	}
	rows_clear();
	stream_table_free(t, "stop");
}

/* Issue 10: 300 request headers, a request line over 256 KiB, a body with
 * NUL bytes: each is a row, none silently lost or cut. */
static void test_bad_heads_and_binary(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	static const char body[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[]}";
	static const char bin[] = "{\"choices\":[]}\0\x01\x02binary\0tail";
	char line[64], *big;
	uint64_t wo = 0, ro = 0;
	size_t i, n;

	/* 300 headers, Content-Length last: a full row that says what was dropped */
	big = malloc(1 << 20);
	if (!big)
		return;
	n = (size_t)snprintf(big, 1 << 20, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n");
	for (i = 0; i < 300; i++) {
		snprintf(line, sizeof(line), "X-Pad-%zu: v\r\n", i);
		memcpy(big + n, line, strlen(line));
		n += strlen(line);
	}
	n += (size_t)sprintf(big + n, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	feed(t, 31, 0, &wo, 1 * MS, 2 * MS, big, n);
	feed(t, 31, 1, &ro, 3 * MS, 4 * MS, resp, strlen(resp));
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(rows[0]->error && strstr(rows[0]->error, "46 header(s) not kept"));
		CHECK(rows[0]->output_tokens == 3 && rows[0]->status == 200);
		CHECK(rows[0]->request_body && !strcmp(rows[0]->request_body, body));
	}
	rows_clear();

	/* a request line over 256 KiB: a row with the error, the path's start kept */
	n = (size_t)snprintf(big, 1 << 20, "POST /v1/chat/completions?pad=");
	while (n < 300 * 1024)
		big[n++] = 'a';
	memcpy(big + n, " HTTP/1.1\r\nHost: api.openai.com\r\n\r\n", 36);
	n += 35;
	wo = 0;
	feed(t, 32, 0, &wo, 1 * MS, 2 * MS, big, n);
	stream_close(t, 4242, 32, NULL, 5 * MS);
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(rows[0]->error && strstr(rows[0]->error, "start line longer than 256 KiB"));
		CHECK_STR(rows[0]->provider, "openai-compatible");
		CHECK(rows[0]->path && !strncmp(rows[0]->path, "/v1/chat/completions?pad=aaa", 28));
	}
	rows_clear();
	free(big);

	/* a response body with NUL bytes: stored whole, its length said */
	wo = ro = 0;
	snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof(bin) - 1);
	feed(t, 33, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 33, 1, &ro, 3 * MS, 4 * MS, line, strlen(line));
	feed(t, 33, 1, &ro, 5 * MS, 6 * MS, bin, sizeof(bin) - 1);
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(rows[0]->response_body_len == sizeof(bin) - 1 &&
		      !memcmp(rows[0]->response_body, bin, sizeof(bin) - 1));
		CHECK(rows[0]->response_bytes == (int64_t)sizeof(bin) - 1);
	}
	rows_clear();
	stream_table_free(t, "stop");
}

/* Issue 10: the bodies of all open calls share one budget; past it a body
 * is cut (error 'truncated'), and finished calls give their memory back. */
static void test_body_budget(void)
{
	struct stream_table *t = stream_table_new(8 << 20, NULL, &sink);
	static char chunk[16384];
	char head[256];
	uint64_t wo[3] = { 0 }, ro = 0;
	size_t body = 3 << 20, i;
	int k;

	memset(chunk, 'x', sizeof(chunk));
	stream_set_body_budget(t, 4 << 20);
	snprintf(head, sizeof(head), "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		 "Content-Length: %zu\r\n\r\n", body);
	for (k = 0; k < 2; k++)
		feed(t, 41 + k, 0, &wo[k], 1 * MS, 2 * MS, head, strlen(head));
	for (k = 0; k < 2; k++)
		for (i = 0; i < body; i += sizeof(chunk))
			feed(t, 41 + k, 0, &wo[k], 3 * MS, 4 * MS, chunk, sizeof(chunk));
	CHECK(stream_budget_cuts(t) == 1);
	/* the cut call ends first and gives the budget back to the other's response */
	for (k = 1; k >= 0; k--) {
		ro = 0;
		feed(t, 41 + k, 1, &ro, 5 * MS, 6 * MS, resp, strlen(resp));
	}
	CHECK(nrows == 2);
	if (nrows == 2) {
		CHECK(rows[0]->request_bytes < (int64_t)body && rows[0]->error &&
		      !strcmp(rows[0]->error, "truncated"));
		CHECK(rows[1]->request_bytes == (int64_t)body && !rows[1]->error && rows[1]->output_tokens == 3);
	}
	rows_clear();
	/* the memory came back: a new call has the whole budget again */
	feed(t, 43, 0, &wo[2], 7 * MS, 8 * MS, head, strlen(head));
	for (i = 0; i < body; i += sizeof(chunk))
		feed(t, 43, 0, &wo[2], 9 * MS, 10 * MS, chunk, sizeof(chunk));
	ro = 0;
	feed(t, 43, 1, &ro, 11 * MS, 12 * MS, resp, strlen(resp));
	CHECK(nrows == 1 && rows[0]->request_bytes == (int64_t)body && !rows[0]->error);
	CHECK(stream_budget_cuts(t) == 2);	/* the cut call's request, then its response */
	rows_clear();
	stream_table_free(t, "stop");
}

static void test_keepalive_and_stream(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	uint64_t wo = 0, ro = 0;
	char c1[512], c2[512], c3[512];
	static const char sreq[] =
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		"Content-Length: 79\r\n\r\n"
		"{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}";

	feed(t, 9, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 9, 1, &ro, 3 * MS, 4 * MS, resp, strlen(resp));
	CHECK(nrows == 1 && rows[0]->conn_reused == 0);

	CHECK(strlen(sreq) - strcspn(sreq, "{") == 79);
	feed(t, 9, 0, &wo, 100 * MS, 101 * MS, sreq, strlen(sreq));
	feed(t, 9, 1, &ro, 110 * MS, 120 * MS, sse_resp_head, strlen(sse_resp_head));
	sse_chunk(c1, sizeof(c1), "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
	feed(t, 9, 1, &ro, 121 * MS, 130 * MS, c1, strlen(c1));
	sse_chunk(c2, sizeof(c2), "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n");
	feed(t, 9, 1, &ro, 131 * MS, 150 * MS, c2, strlen(c2));
	sse_chunk(c3, sizeof(c3), "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
	feed(t, 9, 1, &ro, 151 * MS, 170 * MS, c3, strlen(c3));
	CHECK(nrows == 1);
	feed(t, 9, 1, &ro, 171 * MS, 180 * MS, "0\r\n\r\n", 5);
	CHECK(nrows == 2);
	if (nrows == 2) {
		struct call_row *r = rows[1];

		CHECK(r->conn_reused == 1);
		CHECK(r->stream == 1);
		CHECK_STR(r->response_text, "Hi");
		CHECK_STR(r->finish_reason, "stop");
		CHECKF(r->ttfb_ms == 19, "ttfb %.1f", r->ttfb_ms);
		CHECKF(r->ttft_ms == 49, "ttft %.1f", r->ttft_ms);
		CHECKF(r->duration_ms == 80, "duration %.1f", r->duration_ms);
	}
	rows_clear();
	stream_table_free(t, "stop");
}

static void test_server_role_and_garbage(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	uint64_t wo = 0, ro = 0, o2 = 0, o3 = 0;
	static const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage";
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	/* A process that reads a request first is serving it: no row. */
	feed(t, 11, 1, &ro, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 11, 0, &wo, 3 * MS, 4 * MS, resp, strlen(resp));
	CHECK(nrows == 0);
	/* Non-HTTP bytes, and HTTP/2 answered with HTTP/1, are skipped without a row or a crash. */
	feed(t, 12, 0, &o2, 1 * MS, 2 * MS, junk, sizeof(junk) - 1);
	feed(t, 12, 1, &o3, 3 * MS, 4 * MS, junk, sizeof(junk) - 1);
	o2 = o3 = 0;
	feed(t, 13, 0, &o2, 1 * MS, 2 * MS, h2, strlen(h2));
	feed(t, 13, 1, &o3, 1 * MS, 2 * MS, resp, strlen(resp));
	CHECK(nrows == 0);
	CHECK(stream_count(t) == 3);
	stream_close(t, 4242, 11, NULL, 0);
	stream_close(t, 4242, 12, NULL, 0);
	stream_close(t, 4242, 13, NULL, 0);
	CHECK(stream_count(t) == 0 && nrows == 0);
	stream_table_free(t, "stop");
}

static void test_endings(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	uint64_t wo = 0, ro = 0;

	/* Closed mid-response. */
	feed(t, 21, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 21, 1, &ro, 3 * MS, 4 * MS, resp, 120);
	CHECK(nrows == 0);
	stream_close(t, 4242, 21, NULL, 0);
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(rows[0]->status == 200);
		CHECK(rows[0]->error && strstr(rows[0]->error, "connection closed"));
	}
	rows_clear();

	/* Process exit with no response at all. */
	wo = ro = 0;
	feed(t, 22, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	stream_process_exit(t, 4242, 0);
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(rows[0]->status == CALL_NULL_INT);
		CHECK(rows[0]->error && strstr(rows[0]->error, "process exited"));
		CHECK(rows[0]->ttfb_ms < 0 && rows[0]->response_body == NULL);
	}
	rows_clear();

	/* The exit of an older process with the same pid, read after the new
	 * one's first data (it came through another ring): the new process's
	 * stream lives on and completes. */
	wo = ro = 0;
	feed(t, 23, 0, &wo, 10 * MS, 11 * MS, req, strlen(req));
	stream_process_exit(t, 4242, 9 * MS);
	CHECK(nrows == 0 && stream_count(t) == 1);
	feed(t, 23, 1, &ro, 20 * MS, 21 * MS, resp, strlen(resp));
	CHECK(nrows == 1 && rows[0]->status == 200 && !rows[0]->error);
	stream_process_exit(t, 4242, 30 * MS);
	CHECK(stream_count(t) == 0 && nrows == 1);
	rows_clear();

	/* A gap in the read stream (ring buffer full). */
	wo = ro = 0;
	feed(t, 23, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 23, 1, &ro, 3 * MS, 4 * MS, resp, 50);
	ro += 20;
	feed(t, 23, 1, &ro, 5 * MS, 6 * MS, resp + 70, strlen(resp) - 70);
	CHECK(nrows == 1);
	if (nrows == 1)
		CHECK(rows[0]->error && strstr(rows[0]->error, "capture gap: 20 bytes"));
	rows_clear();

	/* The tail of the response lost (nothing after it to show the gap):
	 * SSL_free's final offsets tell. */
	wo = ro = 0;
	feed(t, 25, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	feed(t, 25, 1, &ro, 3 * MS, 4 * MS, resp, 150);
	{
		uint64_t end_off[2] = { wo, strlen(resp) };

		stream_close(t, 4242, 25, end_off, 0);
	}
	CHECK(nrows == 1);
	if (nrows == 1)
		CHECKF(rows[0]->error && strstr(rows[0]->error, "capture gap"), "error %s",
		       rows[0]->error ? rows[0]->error : "(null)");
	rows_clear();

	/* Tracer stops mid-call. */
	wo = ro = 0;
	feed(t, 24, 0, &wo, 1 * MS, 2 * MS, req, strlen(req));
	stream_table_free(t, "tracer stopped before the response completed");
	CHECK(nrows == 1);
	if (nrows == 1)
		CHECK_STR(rows[0]->error, "tracer stopped before the response completed");
	rows_clear();
}

static void test_truncation_and_non_llm(void)
{
	struct stream_table *t = stream_table_new(100, NULL, &sink);
	uint64_t wo = 0, ro = 0;
	static const char get[] = "GET /health HTTP/1.1\r\nHost: api.openai.com\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	feed(t, 31, 0, &wo, 1 * MS, 2 * MS, get, strlen(get));
	feed(t, 31, 1, &ro, 3 * MS, 4 * MS, ok, strlen(ok));
	CHECK(nrows == 0);
	/* Second exchange on the connection: bodies over max_body (100). */
	feed(t, 31, 0, &wo, 5 * MS, 6 * MS, req, strlen(req));
	feed(t, 31, 1, &ro, 7 * MS, 8 * MS, resp, strlen(resp));
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK_STR(rows[0]->error, "truncated");
		CHECK(rows[0]->conn_reused == 1);
		CHECK(rows[0]->response_bytes <= 100);
	}
	rows_clear();
	stream_table_free(t, "stop");
	/* A cut request body leaves the response whole (and parsed). */
	t = stream_table_new(60, NULL, &sink);
	wo = ro = 0;
	feed(t, 33, 0, &wo, 5 * MS, 6 * MS, req, strlen(req));
	{
		static const char small[] =
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n"
			"{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}";

		CHECK(strlen(small) - (strchr(small, '{') - small) == 42);
		feed(t, 33, 1, &ro, 7 * MS, 8 * MS, small, strlen(small));
	}
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK_STR(rows[0]->error, "truncated");
		CHECK(rows[0]->request_bytes == 60);
		CHECK(rows[0]->response_bytes == 42);
		CHECK_STR(rows[0]->response_text, "ok");
	}
	rows_clear();
	/* Bytes BPF could not copy (call over its cap) keep the framing. */
	{
		struct stream_chunk c = {
			.tgid = 4242, .tid = 1, .ssl = 32, .dir = 1, .ts_start_ns = 9 * MS,
			.ts_end_ns = 10 * MS, .offset = 0, .comm = "agent",
			.data = (const uint8_t *)resp, .len = strlen(resp) - 40, .missing = 40,
		};

		wo = 0;
		feed(t, 32, 0, &wo, 8 * MS, 9 * MS, req, strlen(req));
		stream_data(t, &c);
		CHECK(nrows == 1);
		if (nrows == 1)
			CHECK_STR(rows[0]->error, "truncated");
	}
	rows_clear();
	stream_table_free(t, "stop");
}

/* ---- HTTP/2 ---- */

struct h2out {
	char b[16384];
	size_t n;
};

static void h2_put(struct h2out *o, const void *p, size_t n)
{
	if (o->n + n <= sizeof(o->b)) {
		memcpy(o->b + o->n, p, n);
		o->n += n;
	}
}

static void h2_frame(struct h2out *o, int type, int flags, uint32_t sid, const void *p, size_t len)
{
	uint8_t h[9] = { (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, (uint8_t)type,
			 (uint8_t)flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
			 (uint8_t)(sid >> 8), (uint8_t)sid };

	h2_put(o, h, 9);
	h2_put(o, p, len);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }

static void h2_headers(struct h2out *o, nghttp2_hd_deflater *d, uint32_t sid, int es,
		       const nghttp2_nv *nv, size_t n)
{
	uint8_t b[4096];
	ssize_t l = nghttp2_hd_deflate_hd(d, b, sizeof(b), nv, n);

	h2_frame(o, 1, 0x4 | (es ? 1 : 0), sid, b, l > 0 ? (size_t)l : 0);
}

static void h2_data(struct h2out *o, uint32_t sid, int es, const char *s)
{
	h2_frame(o, 0, es ? 1 : 0, sid, s, strlen(s));
}

static const char h2_req_body[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char h2_sreq_body[] =
	"{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}";

static void h2_request(struct h2out *o, nghttp2_hd_deflater *d, uint32_t sid, const char *body)
{
	const nghttp2_nv nv[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "api.openai.com"),
		NV(":path", "/v1/chat/completions?key=SECRETKEY123"),
		NV("authorization", "Bearer sk-test-SECRETSECRET123456"),
		NV("content-type", "application/json"),
	};

	h2_headers(o, d, sid, 0, nv, 6);
	h2_data(o, sid, 1, body);
}

static void h2_resp_head(struct h2out *o, nghttp2_hd_deflater *d, uint32_t sid, const char *ct)
{
	const nghttp2_nv nv[] = {
		NV(":status", "200"), NV("content-type", ct), NV("set-cookie", "session=SECRETCOOKIE"),
	};

	h2_headers(o, d, sid, 0, nv, 3);
}

static void test_h2_chat(void)
{
	nghttp2_hd_deflater *dw, *dr;
	struct h2out w1 = { .n = 0 }, w2 = { .n = 0 }, r1 = { .n = 0 }, r2 = { .n = 0 };
	const char *body = strchr(resp, '{');
	size_t split, all;
	char wall[16384];

	nghttp2_hd_deflate_new(&dw, 4096);
	nghttp2_hd_deflate_new(&dr, 4096);
	h2_put(&w1, H2_PREFACE, H2_PREFACE_LEN);
	h2_frame(&w1, 4, 0, 0, "\0\3\0\0\0\x64", 6);
	h2_request(&w1, dw, 1, h2_req_body);
	/* The body's DATA frame goes in a second write. */
	w2.n = w1.n - (9 + strlen(h2_req_body));
	memcpy(w2.b, w1.b + w2.n, w1.n - w2.n);
	all = w1.n;
	memcpy(wall, w1.b, all);
	w1.n = w2.n;
	w2.n = all - w1.n;
	memmove(w2.b, wall + w1.n, w2.n);
	h2_frame(&r1, 4, 0, 0, "", 0);
	h2_frame(&r1, 4, 1, 0, "", 0);
	h2_resp_head(&r1, dr, 1, "application/json");
	h2_data(&r2, 1, 1, body);
	/* Every split of the written bytes in two writes, but for a first write
	 * shorter than 4 bytes (too short to tell the preface apart from "PUT "). */
	for (split = 0; split <= all; split = split ? split + 1 : 4) {
		struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
		uint64_t wo = 0, ro = 0;

		if (split == 0) {
			feed(t, 30, 0, &wo, 1 * MS, 2 * MS, w1.b, w1.n);
			feed(t, 30, 0, &wo, 3 * MS, 4 * MS, w2.b, w2.n);
		} else {
			feed(t, 30, 0, &wo, 1 * MS, 2 * MS, wall, split);
			feed(t, 30, 0, &wo, 3 * MS, 4 * MS, wall + split, all - split);
		}
		CHECK(nrows == 0);
		feed(t, 30, 1, &ro, 5 * MS, 6 * MS, r1.b, r1.n);
		feed(t, 30, 1, &ro, 10 * MS, 12 * MS, r2.b, r2.n);
		CHECKF(nrows == 1, "split %zu: %d rows", split, nrows);
		if (nrows == 1 && (split == 0 || split == all)) {
			struct call_row *r = rows[0];

			CHECK_STR(r->provider, "openai");
			CHECK_STR(r->model, "gpt-4o-mini-2024-07-18");
			CHECK_STR(r->host, "api.openai.com");
			CHECK_STR(r->method, "POST");
			CHECK_STR(r->path, "/v1/chat/completions?key=[REDACTED]");
			CHECK(r->status == 200 && r->stream == 0 && r->conn_reused == 0);
			CHECK(r->input_tokens == 9 && r->output_tokens == 3);
			CHECK_STR(r->response_text, "Hello!");
			CHECK_STR(r->request_headers,
				  "POST /v1/chat/completions?key=[REDACTED] HTTP/2\n"
				  "host: api.openai.com\n"
				  "authorization: [REDACTED]\n"
				  "content-type: application/json\n");
			CHECK_STR(r->response_headers,
				  "HTTP/2 200\ncontent-type: application/json\nset-cookie: [REDACTED]\n");
			CHECK(r->error == NULL);
			CHECK(r->request_bytes == (int64_t)strlen(h2_req_body));
			CHECK(r->response_bytes == (int64_t)strlen(body));
			if (split == 0) {
				CHECKF(r->ttfb_ms == 2, "ttfb %.1f", r->ttfb_ms);
				CHECKF(r->duration_ms == 11, "duration %.1f", r->duration_ms);
			}
		}
		rows_clear();
		stream_table_free(t, "stop");
	}
	nghttp2_hd_deflate_del(dw);
	nghttp2_hd_deflate_del(dr);
}

static void test_h2_concurrent_and_reset(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	nghttp2_hd_deflater *dw, *dr;
	struct h2out o = { .n = 0 };
	uint64_t wo = 0, ro = 0;
	const char *body = strchr(resp, '{');

	nghttp2_hd_deflate_new(&dw, 4096);
	nghttp2_hd_deflate_new(&dr, 4096);
	h2_put(&o, H2_PREFACE, H2_PREFACE_LEN);
	h2_frame(&o, 4, 0, 0, "", 0);
	h2_request(&o, dw, 1, h2_req_body);
	feed(t, 31, 0, &wo, 1 * MS, 2 * MS, o.b, o.n);
	o.n = 0;
	h2_request(&o, dw, 3, h2_sreq_body);	/* reuses the dynamic table */
	feed(t, 31, 0, &wo, 3 * MS, 4 * MS, o.b, o.n);
	/* Stream 3's head first, then both bodies interleaved. */
	o.n = 0;
	h2_frame(&o, 4, 0, 0, "", 0);
	h2_resp_head(&o, dr, 3, "text/event-stream");
	feed(t, 31, 1, &ro, 10 * MS, 11 * MS, o.b, o.n);
	o.n = 0;
	h2_data(&o, 3, 0, "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
	h2_resp_head(&o, dr, 1, "application/json");
	feed(t, 31, 1, &ro, 12 * MS, 13 * MS, o.b, o.n);
	o.n = 0;
	h2_data(&o, 1, 1, body);
	feed(t, 31, 1, &ro, 14 * MS, 15 * MS, o.b, o.n);
	CHECK(nrows == 1);
	o.n = 0;
	h2_data(&o, 3, 0, "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n");
	feed(t, 31, 1, &ro, 20 * MS, 30 * MS, o.b, o.n);
	o.n = 0;
	h2_data(&o, 3, 0, "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
	h2_data(&o, 3, 1, "");
	feed(t, 31, 1, &ro, 40 * MS, 50 * MS, o.b, o.n);
	CHECK(nrows == 2);
	if (nrows == 2) {
		CHECK(rows[0]->conn_reused == 0 && rows[0]->stream == 0);
		CHECK_STR(rows[0]->response_text, "Hello!");
		CHECKF(rows[0]->ttfb_ms == 11, "ttfb %.1f", rows[0]->ttfb_ms);
		CHECK(rows[1]->conn_reused == 1 && rows[1]->stream == 1);
		CHECK_STR(rows[1]->response_text, "Hi");
		CHECK_STR(rows[1]->finish_reason, "stop");
		CHECKF(rows[1]->ttfb_ms == 7, "ttfb %.1f", rows[1]->ttfb_ms);
		CHECKF(rows[1]->ttft_ms == 26, "ttft %.1f", rows[1]->ttft_ms);
		CHECKF(rows[1]->duration_ms == 47, "duration %.1f", rows[1]->duration_ms);
		CHECK(rows[1]->error == NULL);
		CHECK(strncmp(rows[1]->request_headers, "POST /v1/chat/completions?key=[REDACTED] HTTP/2\n", 48) == 0);
	}
	rows_clear();

	/* A stream the server resets after its head; one the client cancels. */
	o.n = 0;
	h2_request(&o, dw, 5, h2_req_body);
	h2_request(&o, dw, 7, h2_req_body);
	feed(t, 31, 0, &wo, 60 * MS, 61 * MS, o.b, o.n);
	o.n = 0;
	h2_resp_head(&o, dr, 5, "application/json");
	h2_frame(&o, 3, 0, 5, "\0\0\0\2", 4);
	feed(t, 31, 1, &ro, 62 * MS, 63 * MS, o.b, o.n);
	CHECK(nrows == 1);
	if (nrows == 1) {
		CHECK(rows[0]->status == 200 && rows[0]->conn_reused == 1);
		CHECK(rows[0]->error && strstr(rows[0]->error, "reset by the server (error code 2)"));
	}
	o.n = 0;
	h2_frame(&o, 3, 0, 7, "\0\0\0\x08", 4);
	feed(t, 31, 0, &wo, 64 * MS, 65 * MS, o.b, o.n);
	CHECK(nrows == 2);
	if (nrows == 2) {
		CHECK(rows[1]->status == CALL_NULL_INT);
		CHECK(rows[1]->error && strstr(rows[1]->error, "reset by the client (error code 8)"));
	}
	rows_clear();
	/* A client that cancels a stream once its last event came (hyper, when
	 * the body is dropped before END_STREAM): a complete call; one that
	 * cancels before the finish event: an error. */
	for (uint32_t sid = 9; sid <= 11; sid += 2) {
		o.n = 0;
		h2_request(&o, dw, sid, h2_sreq_body);
		feed(t, 31, 0, &wo, 80 * MS, 81 * MS, o.b, o.n);
		o.n = 0;
		h2_resp_head(&o, dr, sid, "text/event-stream");
		h2_data(&o, sid, 0, "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n");
		if (sid == 9)
			h2_data(&o, sid, 0, "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
		feed(t, 31, 1, &ro, 82 * MS, 83 * MS, o.b, o.n);
		o.n = 0;
		h2_frame(&o, 3, 0, sid, "\0\0\0\x08", 4);
		feed(t, 31, 0, &wo, 84 * MS, 85 * MS, o.b, o.n);
		CHECKF(nrows == 1, "stream %u: %d rows", sid, nrows);
		if (nrows == 1 && sid == 9) {
			CHECK_STR(rows[0]->finish_reason, "stop");
			CHECKF(rows[0]->error == NULL, "error %s", rows[0]->error);
		} else if (nrows == 1) {
			CHECK(rows[0]->error && strstr(rows[0]->error, "reset by the client (error code 8)"));
		}
		rows_clear();
	}
	/* An open stream when the connection ends; then garbage ends the parsing. */
	o.n = 0;
	h2_request(&o, dw, 13, h2_req_body);
	feed(t, 31, 0, &wo, 70 * MS, 71 * MS, o.b, o.n);
	stream_close(t, 4242, 31, NULL, 0);
	CHECK(nrows == 1 && rows[0]->error && strstr(rows[0]->error, "closed"));
	rows_clear();
	wo = ro = 0;
	o.n = 0;
	h2_put(&o, H2_PREFACE, H2_PREFACE_LEN);
	h2_request(&o, dw, 1, h2_req_body);	/* the table no longer matches a new connection */
	feed(t, 32, 0, &wo, 1 * MS, 2 * MS, o.b, o.n);
	feed(t, 32, 1, &ro, 3 * MS, 4 * MS, "\0\0\4\0\0\0\0\0\0garbage", 16);
	CHECK(nrows <= 1);
	stream_close(t, 4242, 32, NULL, 0);
	CHECK(stream_count(t) == 0);
	rows_clear();
	nghttp2_hd_deflate_del(dw);
	nghttp2_hd_deflate_del(dr);
	stream_table_free(t, "stop");
}

/* A response with content-length is complete with its last byte: clients stop
 * reading there, the END_STREAM frame after it may never be read. */
static void test_h2_content_length(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	nghttp2_hd_deflater *dw, *dr;
	struct h2out o = { .n = 0 };
	uint64_t wo = 0, ro = 0;
	const char *body = strchr(resp, '{');
	char clen[16];
	nghttp2_nv nv[] = { NV(":status", "200"), NV("content-type", "application/json"),
			    NV("content-length", "0") };

	snprintf(clen, sizeof(clen), "%zu", strlen(body));
	nv[2].value = (uint8_t *)clen;
	nv[2].valuelen = strlen(clen);
	nghttp2_hd_deflate_new(&dw, 4096);
	nghttp2_hd_deflate_new(&dr, 4096);
	h2_put(&o, H2_PREFACE, H2_PREFACE_LEN);
	h2_request(&o, dw, 1, h2_req_body);
	feed(t, 33, 0, &wo, 1 * MS, 2 * MS, o.b, o.n);
	o.n = 0;
	h2_headers(&o, dr, 1, 0, nv, 3);
	h2_data(&o, 1, 0, body);
	feed(t, 33, 1, &ro, 3 * MS, 4 * MS, o.b, o.n);
	CHECK(nrows == 1 && rows[0]->error == NULL && rows[0]->output_tokens == 3);
	o.n = 0;
	h2_data(&o, 1, 1, "");
	feed(t, 33, 1, &ro, 5 * MS, 6 * MS, o.b, o.n);
	CHECK(nrows == 1);
	rows_clear();
	nghttp2_hd_deflate_del(dw);
	nghttp2_hd_deflate_del(dr);
	stream_table_free(t, "stop");
	CHECK(nrows == 0);
}

/* A socket stream and a TLS stream with the same key value stay apart:
 * each gets its own exchange, and closing one leaves the other. */
static void test_sock_and_tls_keys(void)
{
	struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
	uint64_t two = 0, tro = 0, swo = 0, sro = 0;
	uint64_t end[2] = { 0, 0 };

	feed(t, 7, 0, &two, 1000 * MS, 1001 * MS, req, strlen(req));
	feed_sock(t, 7, 0, &swo, 1002 * MS, 1003 * MS, req, strlen(req));
	CHECK(stream_count(t) == 2);
	feed_sock(t, 7, 1, &sro, 1010 * MS, 1020 * MS, resp, strlen(resp));
	CHECK(nrows == 1 && rows[0]->status == 200 && rows[0]->ttfb_ms == 1020 - 1003);
	/* closing the socket stream does not touch the TLS one */
	end[0] = swo;
	end[1] = sro;
	stream_close_sock(t, 4242, 7, end, 1030 * MS);
	CHECK(stream_count(t) == 1 && nrows == 1);
	feed(t, 7, 1, &tro, 1040 * MS, 1050 * MS, resp, strlen(resp));
	CHECK(nrows == 2 && rows[1]->status == 200 && rows[1]->ttfb_ms == 1050 - 1001);
	/* closing the TLS stream by a cookie's value finds nothing */
	stream_close(t, 4242, 8, NULL, 1060 * MS);
	CHECK(stream_count(t) == 1);
	end[0] = two;
	end[1] = tro;
	stream_close(t, 4242, 7, end, 1060 * MS);
	CHECK(stream_count(t) == 0 && nrows == 2);
	/* bytes lost at the end of a socket stream make a capture gap */
	swo = sro = 0;
	feed_sock(t, 9, 0, &swo, 1100 * MS, 1101 * MS, req, strlen(req));
	end[0] = swo;
	end[1] = 50;
	stream_close_sock(t, 4242, 9, end, 1200 * MS);
	CHECK(nrows == 3 && rows[2]->error && strstr(rows[2]->error, "capture gap"));
	rows_clear();
	stream_table_free(t, "stop");
}

/* ---- WebSocket ---- */

/* Append one frame (FIN set), masked when it is the client's, to out; with
 * z, compressed on z's window (permessage-deflate). */
static void ws_frame(struct buf *out, int masked, z_stream *z, const char *msg, size_t n)
{
	static const uint8_t key[4] = { 0x11, 0x22, 0x33, 0x44 };
	uint8_t h[14], tmp[65536];
	const uint8_t *pl = (const uint8_t *)msg;
	size_t hl = 2, i;

	if (z) {
		z->next_in = (uint8_t *)msg;
		z->avail_in = n;
		z->next_out = tmp;
		z->avail_out = sizeof(tmp);
		deflate(z, Z_SYNC_FLUSH);
		n = sizeof(tmp) - z->avail_out - 4;
		pl = tmp;
	}
	h[0] = 0x81 | (z ? 0x40 : 0);
	if (n < 126) {
		h[1] = n;
	} else {
		h[1] = 126;
		h[2] = n >> 8;
		h[3] = n;
		hl = 4;
	}
	if (masked) {
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	buf_append(out, h, hl);
	for (i = 0; i < n; i++) {
		uint8_t c = pl[i] ^ (masked ? key[i & 3] : 0);

		buf_append(out, &c, 1);
	}
}

/* The server's frames: one per event of the Responses SSE fixture. */
static void ws_events(struct buf *out, z_stream *z)
{
	FILE *f = fopen("tests/unit/fixtures/openai_responses_stream.txt", "r");
	char line[65536];

	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "data: ", 6))
			ws_frame(out, 0, z, line + 6, strlen(line + 6));
	}
	if (f)
		fclose(f);
}

/* The Responses API over a WebSocket, with and without permessage-deflate:
 * two responses on one connection, the server's frames split at every
 * position: two rows of the responses' fields, the upgrade's head. */
static void test_websocket(int deflate)
{
	static const char create[] = "{\"type\":\"response.create\",\"model\":\"gpt-4.1-mini\","
				     "\"instructions\":\"You are terse.\",\"input\":\"hi\"}";
	char up[512], ok[512];
	struct buf w = { 0 }, r = { 0 }, r2 = { 0 };
	z_stream zc, zs;
	size_t cut, first;
	int bad = 0;

	snprintf(up, sizeof(up), "GET /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\n"
		 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Authorization: Bearer sk-test-SECRETSECRET123456\r\n%s\r\n",
		 deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
	snprintf(ok, sizeof(ok), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n%s\r\n",
		 deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
	memset(&zc, 0, sizeof(zc));
	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zc, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	/* the client's two response.create messages, the server's events twice */
	ws_frame(&w, 1, deflate ? &zc : NULL, create, strlen(create));
	first = w.len;		/* compressed, the second is shorter */
	ws_frame(&w, 1, deflate ? &zc : NULL, create, strlen(create));
	ws_events(&r, deflate ? &zs : NULL);
	ws_events(&r2, deflate ? &zs : NULL);
	deflateEnd(&zc);
	deflateEnd(&zs);
	for (cut = 0; cut <= r.len; cut += (cut < 200 || r.len - cut < 200) ? 1 : 97) {
		struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
		size_t half = first;
		uint64_t wo = 0, ro = 0;
		int ok_rows;

		feed(t, 5, 0, &wo, 1 * MS, 2 * MS, up, strlen(up));
		feed(t, 5, 1, &ro, 3 * MS, 4 * MS, ok, strlen(ok));
		/* a response's events come after its request, in two reads */
		feed(t, 5, 0, &wo, 10 * MS, 11 * MS, (const char *)w.data, half);
		if (cut)
			feed(t, 5, 1, &ro, 20 * MS, 21 * MS, (const char *)r.data, cut);
		if (cut < r.len)
			feed(t, 5, 1, &ro, 22 * MS, 23 * MS, (const char *)r.data + cut, r.len - cut);
		feed(t, 5, 0, &wo, 30 * MS, 31 * MS, (const char *)w.data + half, w.len - half);
		if (cut % r2.len)
			feed(t, 5, 1, &ro, 40 * MS, 41 * MS, (const char *)r2.data, cut % r2.len);
		feed(t, 5, 1, &ro, 42 * MS, 43 * MS, (const char *)r2.data + cut % r2.len,
		     r2.len - cut % r2.len);
		ok_rows = nrows == 2;
		for (int i = 0; ok_rows && i < 2; i++) {
			struct call_row *x = rows[i];

			ok_rows = !strcmp(x->provider, "openai") && !strcmp(x->operation, "responses") &&
				  x->model && !strcmp(x->model, "gpt-4.1-mini-2025-04-14") &&
				  x->input_tokens == 2077 && x->output_tokens == 10 && x->stream == 1 &&
				  x->response_text && !strcmp(x->response_text, "Hi there! How can I help?") &&
				  x->status == 101 && !strcmp(x->method, "GET") &&
				  !strcmp(x->path, "/v1/responses") && !strcmp(x->host, "api.openai.com") &&
				  !strcmp(x->request_body, create) && !x->error && x->conn_reused == i &&
				  strstr(x->request_headers, "Authorization: [REDACTED]") &&
				  strstr(x->response_headers, "101 Switching Protocols") &&
				  x->ttfb_ms > 0;
		}
		if (!ok_rows && !bad++)
			fprintf(stderr, "websocket%s: cut %zu: %d rows, first: %s %s %s %lld\n",
				deflate ? " (deflate)" : "", cut, nrows,
				nrows ? rows[0]->provider : "-", nrows && rows[0]->model ? rows[0]->model : "-",
				nrows && rows[0]->error ? rows[0]->error : "-",
				nrows ? (long long)rows[0]->output_tokens : -1);
		rows_clear();
		stream_table_free(t, "stop");
		rows_clear();
	}
	CHECKF(bad == 0, "websocket%s: %d split(s) wrong", deflate ? " (deflate)" : "", bad);
	/* a close ends an open response with an error row */
	{
		struct stream_table *t = stream_table_new(1 << 20, NULL, &sink);
		static const char close_frame[] = "\x88\x02\x03\xe8";
		uint64_t wo = 0, ro = 0;

		feed(t, 6, 0, &wo, 1 * MS, 2 * MS, up, strlen(up));
		feed(t, 6, 1, &ro, 3 * MS, 4 * MS, ok, strlen(ok));
		feed(t, 6, 0, &wo, 10 * MS, 11 * MS, (const char *)w.data, first);
		feed(t, 6, 1, &ro, 20 * MS, 21 * MS, close_frame, 4);
		CHECKF(nrows == 1 && rows[0]->error && strstr(rows[0]->error, "WebSocket closed (code 1000)"),
		       "%d rows, error %s", nrows, nrows && rows[0]->error ? rows[0]->error : "-");
		rows_clear();
		stream_table_free(t, "stop");
	}
	buf_free(&w);
	buf_free(&r);
	buf_free(&r2);
}

int main(void)
{
	test_websocket(0);
	test_websocket(1);
	test_sock_and_tls_keys();
	test_simple_and_splits();
	test_redaction();
	test_body_redaction();
	test_split_key();
	test_bad_heads_and_binary();
	test_body_budget();
	test_keepalive_and_stream();
	test_server_role_and_garbage();
	test_endings();
	test_truncation_and_non_llm();
	test_h2_chat();
	test_h2_concurrent_and_reset();
	test_h2_content_length();
	rows_clear();
	return harness_done("test_stream");
}
