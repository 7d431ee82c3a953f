/* test_tools.c -- unit tests for tool-call extraction from responses and tool-result / conversation extraction from requests, on recorded bodies of each provider format. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/hash.h"
#include "harness.h"
#include "llm/tools.h"

#define FIXTURES "tests/unit/fixtures/"

/* Read a fixture (run from the repo root). Returns a malloc'd buffer, or NULL. */
static char *load(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *b;
	long n;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s (run from the repo root)\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	b = malloc(n + 1);
	if (b && fread(b, 1, n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[n] = 0;
		*len = n;
	}
	return b;
}

/* A region ending at an inaccessible page: a body copied against it is
 * read past its end only by a bug. */
struct guard {
	char *map;
	size_t body, len;
};

static int guard_new(struct guard *g, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	g->body = (n + pg) / pg * pg;
	g->len = g->body + pg;
	g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return -1;
	return mprotect(g->map + g->body, pg, PROT_NONE);
}

static char *guard_put(struct guard *g, const char *s, size_t n)
{
	if (n)
		memcpy(g->map + g->body - n, s, n);
	return g->map + g->body - n;
}

/* ---- responses ---- */

struct want_call {
	const char *id, *name, *args;
};

struct rcase {
	const char *fixture, *op;
	size_t ncalls;
	struct want_call calls[3];
	const char *response_id;
};

static const struct rcase rcases[] = {
	{ "openai_chat_tools.json", "chat", 2, {
		{ "call_f35Xq8Lm2Np4Rt6Vw8Yz0Ab2", "exec", "{\"command\":\"ls -la /tmp\"}" },
		{ "call_9Hk2Lm4Np6Qr8St0Uv2Wx4Yz", "read_file", "{\"path\":\"README.md\"}" } }, NULL },
	{ "openai_chat_stream_tools.txt", "chat", 1, {
		{ "call_Q2x7mB9kL1vN3pR5tW8yZ0aC", "get_weather", "{\"location\":\"Paris, France\"}" } }, NULL },
	{ "openai_responses_tools.json", "responses", 1, {
		{ "call_Hx7Jk9Lm1Np3Qr5St7Uv9Wx1", "exec_command",
		  "{\"cmd\":[\"bash\",\"-lc\",\"git status --short\"],\"workdir\":\"/src\"}" } },
	  "resp_68a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5" },
	{ "openai_responses_stream_tools.txt", "responses", 1, {
		{ "call_Zq1Xw3Ev5Rt7Yu9Io1Pa3Sd5", "shell", "{\"command\":[\"bash\",\"-lc\",\"make test\"]}" } },
	  "resp_68a1d0e1f2a3b4c5d6e7f8a9b0c1d2e3" },
	{ "anthropic_messages_tools.json", "messages", 1, {
		{ "toolu_01A09q90qw90lq917835lq9", "get_weather", "{\"location\":\"Paris, France\"}" } }, NULL },
	{ "anthropic_stream_tools.txt", "messages", 1, {
		{ "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", "{\"location\": \"San Francisco, CA\"}" } }, NULL },
	{ "gemini_generate_tools.json", "generate_content", 1, {
		{ NULL, "run_shell_command", "{\"command\":\"ls -la\",\"description\":\"List files\"}" } }, NULL },
	{ "gemini_stream_tools_sse.txt", "generate_content", 2, {
		{ NULL, "run_shell_command", "{\"command\":\"uname -a\"}" },
		{ NULL, "read_file", "{\"absolute_path\":\"/etc/hostname\"}" } }, NULL },
	{ "gemini_stream_tools_array.json", "generate_content", 2, {
		{ NULL, "run_shell_command", "{\"command\":\"uname -a\"}" },
		{ NULL, "read_file", "{\"absolute_path\":\"/etc/hostname\"}" } }, NULL },
	/* bodies without tool calls give none */
	{ "openai_chat.json", "chat", 0, { { 0 } }, NULL },
	{ "openai_chat_stream.txt", "chat", 0, { { 0 } }, NULL },
	{ "anthropic_stream.txt", "messages", 0, { { 0 } }, NULL },
	{ "gemini_stream_array.json", "generate_content", 0, { { 0 } }, NULL },
	/* an operation without tools gives nothing, whatever the body */
	{ "openai_chat_tools.json", "embeddings", 0, { { 0 } }, NULL },
};

/* The arguments equal as JSON (the stream pieces keep the model's spacing). */
static int same_json(const char *a, const char *b)
{
	char *ca = tools_canonical(a), *cb = tools_canonical(b);
	int same = ca && cb && !strcmp(ca, cb);

	free(ca);
	free(cb);
	return same;
}

static void test_responses(void)
{
	size_t i, k, n, cut;
	struct guard g;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];
		struct tool_response r;
		char *body = load(c->fixture, &n), *p;

		if (!body) {
			CHECK(0);
			continue;
		}
		CHECKF(tools_parse_response(&r, c->op, body, n) == 0, "%s", c->fixture);
		CHECKF(r.ncalls == c->ncalls, "%s: %zu calls", c->fixture, r.ncalls);
		for (k = 0; k < r.ncalls && k < c->ncalls; k++) {
			const struct want_call *w = &c->calls[k];

			CHECKF((!w->id && !r.calls[k].id) || (w->id && r.calls[k].id && !strcmp(w->id, r.calls[k].id)),
			       "%s call %zu id %s", c->fixture, k, r.calls[k].id ? r.calls[k].id : "(null)");
			CHECK_STR(r.calls[k].name, w->name);
			CHECKF(same_json(r.calls[k].arguments, w->args), "%s call %zu args %s", c->fixture, k,
			       r.calls[k].arguments);
		}
		if (c->response_id)
			CHECK_STR(r.response_id, c->response_id);
		tool_response_clear(&r);

		/* Every truncation, the body against a guard page: no crash, no
		 * read past the end, never more calls than the whole body has. */
		if (guard_new(&g, n)) {
			CHECK(0);
			free(body);
			continue;
		}
		for (cut = 0; cut <= n; cut++) {
			p = guard_put(&g, body, cut);
			tools_parse_response(&r, c->op, p, cut);
			CHECKF(r.ncalls <= c->ncalls || c->ncalls == 0, "%s cut at %zu: %zu calls", c->fixture, cut,
			       r.ncalls);
			for (k = 0; k < r.ncalls; k++)
				CHECKF(r.calls[k].name && r.calls[k].arguments, "%s cut at %zu", c->fixture, cut);
			tool_response_clear(&r);
		}
		munmap(g.map, g.len);
		free(body);
	}
}

/* A stream cut after a tool call's first argument pieces still names the call. */
static void test_response_partial(void)
{
	size_t n, cut;
	char *body = load("anthropic_stream_tools.txt", &n), *at;
	struct tool_response r;

	if (!body) {
		CHECK(0);
		return;
	}
	at = strstr(body, "ncisco");
	cut = at ? (size_t)(at - body) : n;
	tools_parse_response(&r, "messages", body, cut);
	CHECK(r.ncalls == 1);
	if (r.ncalls == 1) {
		CHECK_STR(r.calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
		CHECK(r.calls[0].arguments && !strcmp(r.calls[0].arguments, "{\"location\": \"San Fra"));
	}
	tool_response_clear(&r);
	free(body);
}

/* ---- requests ---- */

struct want_result {
	const char *id, *name;
	int is_error;
	size_t bytes, msg;
};

struct qcase {
	const char *fixture, *op;
	size_t nmsgs, nresults;
	struct want_result results[3];
	int has_tools;
	const char *previous;
};

static const struct qcase qcases[] = {
	{ "openai_chat_req_tools.json", "chat", 5, 2, {
		{ "callf35Xq8Lm2Np4Rt6Vw8Yz0Ab2", NULL, 0, 48, 3 },
		{ "call9Hk2Lm4Np6Qr8St0Uv2Wx4Yz", NULL, 0, 8, 4 } }, 1, NULL },
	{ "anthropic_req_tools.json", "messages", 3, 1, {
		{ "toolu_01A09q90qw90lq917835lq9", NULL, 1, 47, 2 } }, 1, NULL },
	{ "openai_responses_req_tools.json", "responses", 3, 1, {
		{ "call_Hx7Jk9Lm1Np3Qr5St7Uv9Wx1", NULL, 1, 94, 2 } }, 1, NULL },
	{ "gemini_req_tools.json", "generate_content", 3, 1, {
		{ "run_shell_command_1765015200123_0", "run_shell_command", 0, 78, 2 } }, 1, NULL },
};

static void test_requests(void)
{
	size_t i, k, n, cut;
	struct guard g;

	for (i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		const struct qcase *c = &qcases[i];
		struct tool_request q;
		char *body = load(c->fixture, &n);

		if (!body) {
			CHECK(0);
			continue;
		}
		CHECKF(tools_parse_request(&q, c->op, body, n) == 0, "%s", c->fixture);
		CHECKF(q.parsed && q.nmsgs == c->nmsgs, "%s: %zu msgs", c->fixture, q.nmsgs);
		CHECKF(q.has_tools == c->has_tools && q.head != 0, "%s", c->fixture);
		CHECKF(q.nresults == c->nresults, "%s: %zu results", c->fixture, q.nresults);
		for (k = 0; k < q.nresults && k < c->nresults; k++) {
			const struct want_result *w = &c->results[k];

			CHECK_STR(q.results[k].id, w->id);
			CHECKF((!w->name && !q.results[k].name) ||
			       (w->name && q.results[k].name && !strcmp(w->name, q.results[k].name)), "%s name",
			       c->fixture);
			CHECKF(q.results[k].is_error == w->is_error, "%s result %zu is_error", c->fixture, k);
			CHECKF(q.results[k].bytes == w->bytes, "%s result %zu: %zu bytes", c->fixture, k,
			       q.results[k].bytes);
			CHECKF(q.results[k].msg == w->msg, "%s result %zu msg %zu", c->fixture, k, q.results[k].msg);
		}
		tool_request_clear(&q);
		if (guard_new(&g, n)) {
			CHECK(0);
			free(body);
			continue;
		}
		for (cut = 0; cut < n && body[cut] != '\n'; cut++) {
			/* a cut JSON body is no object: nothing, and no crash */
			tools_parse_request(&q, c->op, guard_put(&g, body, cut), cut);
			CHECKF(!q.parsed && !q.nmsgs && !q.nresults, "%s cut at %zu", c->fixture, cut);
			tool_request_clear(&q);
		}
		munmap(g.map, g.len);
		free(body);
	}
}

/* Fingerprints: equal messages are equal whatever the key order and the
 * cache_control markers; a longer request extends a shorter one. */
static void test_fingerprints(void)
{
	const char *a = "{\"model\":\"m\",\"max_tokens\":10,\"system\":\"S\",\"messages\":["
			"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],"
			"\"tools\":[{\"name\":\"Bash\"}]}";
	const char *b = "{\"messages\":[{\"content\":[{\"text\":\"hi\",\"type\":\"text\"}],\"role\":\"user\"},"
			"{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{}}]},"
			"{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"ok\","
			"\"cache_control\":{\"type\":\"ephemeral\"}}]}],\"system\":\"S\",\"max_tokens\":10,\"model\":\"m\"}";
	const char *c = "{\"model\":\"m\",\"max_tokens\":10,\"system\":\"S\",\"messages\":["
			"{\"role\":\"user\",\"content\":\"hello\"}]}";
	const char *d = "{\"model\":\"m\",\"max_tokens\":10,\"system\":\"T\",\"messages\":["
			"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]}";
	struct tool_request qa, qb, qc, qd;

	tools_parse_request(&qa, "messages", a, strlen(a));
	tools_parse_request(&qb, "messages", b, strlen(b));
	tools_parse_request(&qc, "messages", c, strlen(c));
	tools_parse_request(&qd, "messages", d, strlen(d));
	CHECK(qa.nmsgs == 1 && qb.nmsgs == 3 && qc.nmsgs == 1 && qd.nmsgs == 1);
	CHECK(qa.nmsgs && qb.nmsgs && qa.msgs[0] == qb.msgs[0]);
	CHECK(qa.head == qb.head);
	CHECK(qa.has_tools && !qb.has_tools);
	CHECK(qc.nmsgs && qa.msgs[0] != qc.msgs[0] && qa.head != qc.head);
	/* other instructions: the same first message, another head */
	CHECK(qd.nmsgs && qd.msgs[0] == qa.msgs[0] && qd.head != qa.head);
	CHECK(qb.nresults == 1 && qb.results[0].msg == 2 && qb.results[0].bytes == 2);
	tool_request_clear(&qa);
	tool_request_clear(&qb);
	tool_request_clear(&qc);
	tool_request_clear(&qd);
}

/* Responses: a string input is one message; previous_response_id is kept. */
static void test_responses_request(void)
{
	const char *a = "{\"model\":\"m\",\"input\":\"hi\",\"previous_response_id\":\"resp_1\","
			"\"tools\":[{\"type\":\"function\",\"name\":\"f\"}]}";
	const char *b = "{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c1\","
			"\"output\":\"Exit code: 2\\nWall time: 0.1 seconds\"},{\"type\":\"custom_tool_call_output\","
			"\"call_id\":\"c2\",\"output\":\"done\"}]}";
	struct tool_request q;

	tools_parse_request(&q, "responses", a, strlen(a));
	CHECK(q.nmsgs == 1 && q.head && q.has_tools);
	CHECK_STR(q.previous_response_id, "resp_1");
	tool_request_clear(&q);
	tools_parse_request(&q, "responses", b, strlen(b));
	CHECK(q.nresults == 2 && !q.has_tools);
	if (q.nresults == 2) {
		CHECK(q.results[0].is_error == 1 && q.results[1].is_error == 0 && q.results[1].bytes == 4);
		CHECK_STR(q.results[1].id, "c2");
	}
	tool_request_clear(&q);
	/* not JSON, not an object, an unknown operation: nothing */
	tools_parse_request(&q, "responses", "[1,2]", 5);
	CHECK(!q.parsed && !q.nmsgs);
	tool_request_clear(&q);
	tools_parse_request(&q, "embeddings", a, strlen(a));
	CHECK(!q.parsed && !q.nmsgs);
	tool_request_clear(&q);
}

static void test_helpers(void)
{
	char *s, id[64];

	s = tools_command("{\"command\":\"ls -la\",\"description\":\"x\"}");
	CHECK_STR(s, "ls -la");
	free(s);
	s = tools_command("{\"cmd\":[\"bash\",\"-lc\",\"git status\"]}");
	CHECK_STR(s, "git status");
	free(s);
	s = tools_command("{\"script\":\"echo hi\"}");
	CHECK_STR(s, "echo hi");
	free(s);
	CHECK(tools_command("{\"path\":\"README.md\"}") == NULL);
	CHECK(tools_command("{\"command\":\"\"}") == NULL);
	CHECK(tools_command("not json") == NULL);
	CHECK(tools_command(NULL) == NULL);

	CHECK_STR(tools_norm_id("call_f35Xq8", id, sizeof(id)), "callf35xq8");
	CHECK_STR(tools_norm_id("callf35Xq8", id, sizeof(id)), "callf35xq8");
	CHECK_STR(tools_norm_id("toolu_01-A", id, 6), "toolu");
	CHECK_STR(tools_norm_id(NULL, id, sizeof(id)), "");

	s = tools_canonical("{ \"b\": 1, \"a\": [1, 2] }");
	CHECK_STR(s, "{\"a\":[1,2],\"b\":1}");
	free(s);
	s = tools_canonical("{\"location\": \"San Fra");
	CHECK_STR(s, "{\"location\": \"San Fra");
	free(s);
	CHECK(hash64("a", 1, HASH64_INIT) != hash64("b", 1, HASH64_INIT));
}

int main(void)
{
	test_responses();
	test_response_partial();
	test_requests();
	test_fingerprints();
	test_responses_request();
	test_helpers();
	return harness_done("test_tools");
}
