/* test_jmemo.c -- one call's JSON documents parsed once: the same bytes give the same document inside a scope, and only there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "llm/jmemo.h"
#include "llm/jsondocs.h"
#include "llm/tools.h"

static int ndocs;

static void on_doc(void *ud, const char *event, json_t *doc)
{
	(void)ud;
	(void)event;
	ndocs += json_is_object(doc);
}

/* Same bytes in another buffer, same flags: one parse; other flags or other
 * bytes: their own. */
static void test_scope(void)
{
	static const char a[] = "{\"model\":\"gpt-4o\",\"n\":1}";
	char *copy = strdup(a);
	unsigned long long h0 = jmemo_hits();
	json_t *d1, *d2, *d3, *d4;

	jmemo_begin();
	d1 = jmemo_loadb(a, sizeof(a) - 1, JSON_ALLOW_NUL, NULL);
	d2 = jmemo_loadb(copy, sizeof(a) - 1, JSON_ALLOW_NUL, NULL);
	CHECK(d1 && d1 == d2 && jmemo_hits() == h0 + 1);
	d3 = jmemo_loadb(a, sizeof(a) - 1, 0, NULL);
	CHECK(d3 && d3 != d1);
	copy[14] = '5';		/* gpt-5o: other bytes, same length */
	d4 = jmemo_loadb(copy, sizeof(a) - 1, JSON_ALLOW_NUL, NULL);
	CHECK(d4 && d4 != d1 && !strcmp(json_string_value(json_object_get(d4, "model")), "gpt-5o"));
	CHECK(!strcmp(json_string_value(json_object_get(d1, "model")), "gpt-4o"));
	json_decref(d1);
	json_decref(d2);
	json_decref(d3);
	json_decref(d4);
	jmemo_end();
	/* after the scope: every document its own, nothing kept */
	d1 = jmemo_loadb(a, sizeof(a) - 1, JSON_ALLOW_NUL, NULL);
	d2 = jmemo_loadb(a, sizeof(a) - 1, JSON_ALLOW_NUL, NULL);
	CHECK(d1 && d2 && d1 != d2 && jmemo_hits() == h0 + 1);
	json_decref(d1);
	json_decref(d2);
	/* bad JSON: NULL every time, the error filled */
	jmemo_begin();
	{
		json_error_t err;

		CHECK(!jmemo_loadb("{\"a\":", 5, 0, &err) && err.text[0]);
		CHECK(!jmemo_loadb("{\"a\":", 5, 0, NULL));
		CHECK(!jmemo_loadb(NULL, 0, 0, NULL));
	}
	jmemo_end();
	free(copy);
}

/* A stream's events, read twice within a scope (as the provider parser
 * and the runs builder do): the second reading parses nothing, and sees the
 * same documents. More events than the scope keeps still all parse. */
static void test_stream(void)
{
	char *body = malloc(6000 * 40), *p = body;
	unsigned long long h0;
	int i;

	for (i = 0; i < 6000; i++)
		p += sprintf(p, "data: {\"i\":%d,\"t\":\"x\"}\n\n", i);
	jmemo_begin();
	ndocs = 0;
	CHECK(jsondocs_each(body, (size_t)(p - body), on_doc, NULL) == JSONDOCS_SSE && ndocs == 6000);
	h0 = jmemo_hits();
	ndocs = 0;
	CHECK(jsondocs_each(body, (size_t)(p - body), on_doc, NULL) == JSONDOCS_SSE && ndocs == 6000);
	CHECK(jmemo_hits() - h0 == 1024);	/* the first JMEMO_DOCS were kept */
	jmemo_end();
	free(body);
}

/* A body past the scope's byte bound is parsed each time, and right. */
static void test_big(void)
{
	size_t n = 600 << 10;
	char *big = malloc(n);
	unsigned long long h0;
	json_t *d1, *d2;

	memset(big, 'x', n);
	memcpy(big, "{\"s\":\"", 6);
	memcpy(big + n - 2, "\"}", 2);
	jmemo_begin();
	h0 = jmemo_hits();
	d1 = jmemo_loadb(big, n, 0, NULL);
	d2 = jmemo_loadb(big, n, 0, NULL);
	CHECK(d1 && d2 && d1 != d2 && jmemo_hits() == h0);
	CHECK(json_string_length(json_object_get(d2, "s")) == n - 8);
	json_decref(d1);
	json_decref(d2);
	jmemo_end();
	free(big);
}

/* The same request parsed by tools_parse_request() in and out of a scope:
 * the same result. */
static void test_tools_same(void)
{
	static const char req[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
				  "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
				  "\"function\":{\"name\":\"sh\",\"arguments\":\"{}\"}}]},"
				  "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"ok\"}]}";
	struct tool_request q1, q2;

	CHECK(tools_parse_request(&q1, "chat", req, sizeof(req) - 1) == 0);
	jmemo_begin();
	CHECK(tools_parse_request(&q2, "chat", req, sizeof(req) - 1) == 0);
	tool_request_clear(&q2);
	CHECK(tools_parse_request(&q2, "chat", req, sizeof(req) - 1) == 0);
	jmemo_end();
	CHECK(q1.parsed && q2.parsed && q1.nresults == q2.nresults && q1.nresults == 1);
	tool_request_clear(&q1);
	tool_request_clear(&q2);
}

int main(void)
{
	test_scope();
	test_stream();
	test_big();
	test_tools_same();
	return harness_done("test_jmemo");
}
