/* test_sse.c -- unit tests for the SSE parser: table of streams, every split, one byte at a time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/buf.h"
#include "harness.h"
#include "proto/sse.h"

/* Events serialised as "event|id|data|end_offset\n" (a NUL in data as "\0"). */
static void record(void *ud, const struct sse_event *ev)
{
	struct buf *out = ud;
	char num[32];
	size_t i;

	buf_puts(out, ev->event);
	buf_puts(out, "|");
	buf_puts(out, ev->id);
	buf_puts(out, "|");
	for (i = 0; i < ev->data_len; i++) {
		if (ev->data[i])
			buf_append(out, &ev->data[i], 1);
		else
			buf_puts(out, "\\0");
	}
	if (ev->data[ev->data_len] != 0)
		buf_puts(out, "<not NUL-terminated>");
	snprintf(num, sizeof(num), "|%zu\n", ev->end_offset);
	buf_puts(out, num);
}

/* A copy of s whose last byte sits just before an inaccessible page, so a
 * read past the end faults. Returns NULL on failure; free with guard_free. */
static char *guard_copy(const char *s, size_t n, void **map, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (n + pg - 1) / pg * pg;
	char *m;

	*maplen = body + pg;
	m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + body, pg, PROT_NONE)) {
		munmap(m, *maplen);
		return NULL;
	}
	*map = m;
	memcpy(m + body - n, s, n);
	return m + body - n;
}

/* Parse in[0..n) fed as the given pieces: cut = (size_t)-1 whole, cut = k
 * split at k, bytewise = 1 one byte at a time. Returns the serialised
 * events (caller frees). */
static char *run(const char *in, size_t n, size_t cut, int bytewise)
{
	struct buf out = { 0 };
	struct sse_parser *p = sse_parser_new(record, &out);
	size_t i;
	char *s;

	if (!p)
		return NULL;
	if (bytewise) {
		for (i = 0; i < n; i++)
			CHECK(sse_parser_feed(p, in + i, 1) == 0);
	} else if (cut == (size_t)-1) {
		CHECK(sse_parser_feed(p, in, n) == 0);
	} else {
		CHECK(sse_parser_feed(p, in, cut) == 0);
		CHECK(sse_parser_feed(p, in + cut, n - cut) == 0);
	}
	sse_parser_finish(p);
	sse_parser_free(p);
	s = buf_steal(&out);
	buf_free(&out);
	return s;
}

#define S(x) x, sizeof(x) - 1

static const struct {
	const char *name;
	const char *in;
	size_t len;
	const char *want;
} cases[] = {
	{ "one event", S("data: hello\n\n"), "||hello|13\n" },
	{ "two data lines", S("data: a\ndata: b\n\n"), "||a\nb|17\n" },
	{ "event name", S("event: ping\ndata: {}\n\n"), "ping||{}|22\n" },
	{ "crlf", S("data: x\r\n\r\n"), "||x|11\n" },
	{ "cr only", S("data: x\r\rdata: y\r\r"), "||x|9\n||y|18\n" },
	{ "mixed line ends", S("data: a\r\ndata: b\rdata: c\n\r\n"), "||a\nb\nc|27\n" },
	{ "cr then lf is one line end", S("data: a\r\n\ndata: b\n\r\r\n"), "||a|10\n||b|19\n" },
	{ "bom", S("\xEF\xBB\xBF" "data: b\n\n"), "||b|12\n" },
	{ "bom only", S("\xEF\xBB\xBF"), "" },
	{ "second bom is content", S("\xEF\xBB\xBF\xEF\xBB\xBF" "data: q\n\n"), "" },
	{ "partial bom is content", S("\xEF\xBB" "data: z\n\ndata: w\n\n"), "||w|20\n" },
	{ "partial bom at end", S("\xEF\xBB"), "" },
	{ "comment", S(": keep-alive\n\ndata: c\n\n"), "||c|23\n" },
	{ "no space after colon", S("data:nospace\n\n"), "||nospace|14\n" },
	{ "only one space stripped", S("data:  two\n\n"), "|| two|12\n" },
	{ "colon in value", S("data: a:b\n\n"), "||a:b|11\n" },
	{ "field without colon", S("data\n\n"), "|||6\n" },
	{ "empty data", S("data:\n\n"), "|||7\n" },
	{ "two empty data lines", S("data\ndata\n\n"), "||\n|11\n" },
	{ "no data: not dispatched", S("event: x\n\ndata: y\n\n"), "||y|19\n" },
	{ "retry and unknown fields", S("retry: 1000\nfoo: bar\ndata: r\n\n"), "||r|30\n" },
	{ "field names are case-sensitive", S("Data: x\n\n"), "" },
	{ "leading space in field name", S(" data: x\n\n"), "" },
	{ "id is per event", S("id: 42\ndata: i\n\ndata: j\n\n"), "|42|i|16\n||j|25\n" },
	{ "id with NUL ignored", S("id: a\0b\ndata: k\n\n"), "||k|17\n" },
	{ "NUL in data", S("data: a\0b\n\n"), "||a\\0b|11\n" },
	{ "last event without blank line", S("data: a\n"), "||a|8\n" },
	{ "unterminated last line", S("data: partial"), "||partial|13\n" },
	{ "cr-ended last line", S("data: z\r"), "||z|8\n" },
	{ "event then blank lines", S("data: a\n\n\n\n"), "||a|9\n" },
	{ "empty stream", S(""), "" },
	{ "anthropic events",
	  S("event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
	    "event: ping\ndata: {\"type\": \"ping\"}\n\n"),
	  "message_start||{\"type\":\"message_start\"}|53\n"
	  "ping||{\"type\": \"ping\"}|89\n" },
	{ "openai done",
	  S("data: {\"x\":1}\n\ndata: [DONE]\n\n"),
	  "||{\"x\":1}|15\n||[DONE]|29\n" },
	{ "gemini crlf",
	  S("data: {\"a\": 1}\r\n\r\ndata: {\"a\": 2}\r\n\r\n"),
	  "||{\"a\": 1}|18\n||{\"a\": 2}|36\n" },
};

/* Every case: whole, split at every position, one byte at a time. */
static void test_cases(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *map;
		size_t maplen;
		char *in = guard_copy(cases[i].in, cases[i].len, &map, &maplen);
		char *got;

		CHECK(in != NULL);
		if (!in)
			continue;
		got = run(in, cases[i].len, (size_t)-1, 0);
		CHECKF(got && !strcmp(got, cases[i].want), "%s: got \"%s\"",
		       cases[i].name, got ? got : "(null)");
		free(got);
		for (k = 0; k <= cases[i].len; k++) {
			got = run(in, cases[i].len, k, 0);
			CHECKF(got && !strcmp(got, cases[i].want),
			       "%s: split at %zu: got \"%s\"", cases[i].name, k,
			       got ? got : "(null)");
			free(got);
		}
		got = run(in, cases[i].len, 0, 1);
		CHECKF(got && !strcmp(got, cases[i].want), "%s: bytewise: got \"%s\"",
		       cases[i].name, got ? got : "(null)");
		free(got);
		munmap(map, maplen);
	}
}

static int count;

/* Count dispatched events. */
static void count_ev(void *ud, const struct sse_event *ev)
{
	(void)ud;
	(void)ev;
	count++;
}

/* A line over 16 MiB is an error, and the parser stays failed; one just
 * under is fine. */
static void test_limits(void)
{
	size_t chunk = 1 << 20, i;
	char *a = malloc(chunk);
	struct sse_parser *p;
	int rc = 0;

	CHECK(a != NULL);
	if (!a)
		return;
	memset(a, 'x', chunk);
	memcpy(a, "data: ", 6);

	p = sse_parser_new(count_ev, NULL);
	CHECK(p != NULL);
	for (i = 0; i < 16 && !rc; i++)
		rc = sse_parser_feed(p, i ? a + 6 : a, i ? chunk - 6 : chunk);
	CHECK(rc == 0);
	CHECK(sse_parser_feed(p, "\n\n", 2) == 0);
	CHECK(count == 1);
	sse_parser_free(p);

	count = 0;
	p = sse_parser_new(count_ev, NULL);
	for (i = 0; i < 17 && !rc; i++)
		rc = sse_parser_feed(p, a, chunk);
	CHECK(rc == -1);
	CHECK(sse_parser_feed(p, "\n\ndata: x\n\n", 11) == -1);
	sse_parser_finish(p);
	CHECK(count == 0);
	sse_parser_free(p);
	free(a);
}

/* Absent fields come as "" (never NULL); finish twice dispatches once. */
static void test_api(void)
{
	struct buf out = { 0 };
	struct sse_parser *p = sse_parser_new(record, &out);

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(sse_parser_feed(p, S("data: x")) == 0);
	sse_parser_finish(p);
	sse_parser_finish(p);
	CHECK_STR((char *)out.data, "||x|7\n");
	sse_parser_free(p);
	buf_free(&out);
	sse_parser_free(NULL);
}

/* Runs every test; exit status 0 when all passed. */
int main(void)
{
	test_cases();
	test_limits();
	test_api();
	return harness_done("test_sse");
}
