/* test_redact.c -- unit tests for secret redaction: names, query parameters, free text, header values, argv, keys split across stream deltas. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "llm/redact.h"
#include "llm/redact_int.h"

/* Header names: exact credentials, substrings, and look-alikes that are not. */
static void test_headers(void)
{
	static const struct {
		const char *name;
		int want;
	} t[] = {
		{ "Authorization", 1 }, { "authorization", 1 }, { "Proxy-Authorization", 1 },
		{ "x-api-key", 1 }, { "X-API-KEY", 1 }, { "api-key", 1 }, { "x-goog-api-key", 1 },
		{ "Cookie", 1 }, { "Set-Cookie", 1 }, { "x-auth-token", 1 },
		{ "X-Amz-Security-Token", 1 }, { "x-client-secret", 1 }, { "X-Apikey", 1 },
		/* issue 10: names off the old list */
		{ "Helicone-Auth", 1 }, { "x-key", 1 }, { "cf-aig-authorization", 1 },
		{ "Ocp-Apim-Subscription-Key", 1 }, { "OPENAI_API_KEY", 1 }, { "apiKey", 1 },
		{ "XApiKey", 1 }, { "--oauth2-bearer", 1 }, { "client_secret", 1 }, { "Password", 1 },
		{ "access_token", 1 }, { "key", 1 }, { "token", 1 },
		{ "Idempotency-Key", 0 }, { "prompt_cache_key", 0 }, { "public_key", 0 },
		{ "author", 0 }, { ":authority", 0 }, { "max_tokens", 0 }, { "monkey", 0 },
		{ "tokenizer", 0 }, { "WWW-Authenticate", 0 }, { "keys", 0 },
		{ "openai-organization", 0 }, { "openai-project", 0 }, { "Content-Type", 0 },
		{ "anthropic-version", 0 }, { "Host", 0 }, { "x-request-id", 0 },
		{ "Cookies-Enabled", 0 }, { "x-ratelimit-remaining-tokens", 0 },
		{ "anthropic-ratelimit-output-tokens-remaining", 0 }, { "X-CSRF-Token", 1 }, { "", 0 },
		{ NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECKF(redact_header_is_secret(t[i].name) == t[i].want, "header \"%s\"",
		       t[i].name ? t[i].name : "(null)");
}

/* Query parameters: named secrets redacted, the rest kept byte for byte. */
static void test_targets(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "/v1/chat/completions", "/v1/chat/completions" },
		{ "/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse&key=AIzaSyD-abc",
		  "/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse&key=[REDACTED]" },
		{ "/x?KEY=1&api_key=2&ApiKey=3&access_token=4&token=5&keys=6&monkey=7",
		  "/x?KEY=[REDACTED]&api_key=[REDACTED]&ApiKey=[REDACTED]&access_token=[REDACTED]"
		  "&token=[REDACTED]&keys=6&monkey=7" },
		{ "/x?key=", "/x?key=" },
		{ "/x?key", "/x?key" },
		{ "/x?", "/x?" },
		{ "/x?a=1&&key=s#frag", "/x?a=1&&key=[REDACTED]#frag" },
		{ "/x?a=b=c&token=x=y", "/x?a=b=c&token=[REDACTED]" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = redact_target(t[i].in);

		CHECK_STR(got, t[i].want);
		free(got);
	}
	CHECK(redact_target(NULL) == NULL);
}

/* Free text: Bearer tokens and key shapes, prose left alone. */
static void test_text(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "", "" },
		{ "hello world", "hello world" },
		{ "Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123",
		  "Authorization: [REDACTED]" },
		{ "{\"authorization\":\"bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl\"}",
		  "{\"authorization\":\"[REDACTED]\"}" },
		{ "say Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123 ok", "say Bearer [REDACTED] ok" },
		{ "Bearer  abc123xyz==, next", "Bearer  [REDACTED], next" },
		{ "Bearer short1", "Bearer short1" },
		{ "the bearer instruments were sold", "the bearer instruments were sold" },
		{ "unbearer abc123xyz99", "unbearer abc123xyz99" },
		{ "my key is sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA ok",
		  "my key is [REDACTED] ok" },
		{ "OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz\n", "OPENAI_API_KEY=[REDACTED]\n" },
		{ "\"key\":\"AIzaSyD-1234567890abcdefghijklmnopqrs\"", "\"key\":\"[REDACTED]\"" },
		{ "gsk_abcdefghijklmnopqrstuv and xai-abcdefghijklmnopqrstuvw",
		  "[REDACTED] and [REDACTED]" },
		{ "sk-short", "sk-short" },
		{ "task-abcdefghijklmnopqrstuvwxyz", "task-abcdefghijklmnopqrstuvwxyz" },
		{ "disk-abcdefghijklmnopqrstuvwxyz", "disk-abcdefghijklmnopqrstuvwxyz" },
		{ "sk-abcdefghijklmnopq", "[REDACTED]" },
		{ "sk-abcdefghijklmnop", "sk-abcdefghijklmnop" },
		{ "Bearer", "Bearer" },
		{ "bearer ", "bearer " },
		{ "x sk-", "x sk-" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = redact_text(t[i].in);

		CHECK_STR(got, t[i].want);
		free(got);
	}
	CHECK(redact_text(NULL) == NULL);
}

/* The placements of issue 10 and the rules added for them, with what must stay. */
static void test_text_rules(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		/* an API's error message echoing the key, whole or masked */
		{ "Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345. You can find",
		  "Incorrect API key provided: [REDACTED]. You can find" },
		{ "Incorrect API key provided: sk-proj-****************************************wXyZ.",
		  "Incorrect API key provided: [REDACTED]." },
		/* a JSON member named like a credential, plain and escaped inside a string */
		{ "{\"api_key\": \"0123456789abcdef0123456789abcdef\", \"model\": \"m\"}",
		  "{\"api_key\": \"[REDACTED]\", \"model\": \"m\"}" },
		{ "{\"apiKey\":\"x\\\"y\"}", "{\"apiKey\":\"[REDACTED]\"}" },
		{ "{\"arguments\":\"{\\\"password\\\": \\\"hunter2\\\"}\"}",
		  "{\"arguments\":\"{\\\"password\\\": \\\"[REDACTED]\\\"}\"}" },
		{ "{\"client_secret\":\"abc\",\"max_tokens\":100,\"input_tokens\":\"12\"}",
		  "{\"client_secret\":\"[REDACTED]\",\"max_tokens\":100,\"input_tokens\":\"12\"}" },
		/* weak names: a logprobs token or a keyboard key stays, a credential goes */
		{ "{\"token\":\"Hello\",\"logprob\":-0.1}", "{\"token\":\"Hello\",\"logprob\":-0.1}" },
		{ "{\"token\":\"tok_8f3a9c0d2e1b4f5a\"}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"action\":\"key\",\"key\":\"Return\"}", "{\"action\":\"key\",\"key\":\"Return\"}" },
		/* header lines: by name (at a line start or after a quote), and by value shape */
		{ "x-key: 0123456789abcdef0123456789abcdef\nhost: a\n", "x-key: [REDACTED]\nhost: a\n" },
		{ "Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef\r\n",
		  "Ocp-Apim-Subscription-Key: [REDACTED]\r\n" },
		{ "Helicone-Auth: Bearer sk-helicone-abcdefghijklmnopqrst\n", "Helicone-Auth: [REDACTED]\n" },
		{ "curl -H 'x-api-key: abc def' -H \"cf-aig-authorization: Bearer Zm9vYmFy123\" url",
		  "curl -H 'x-api-key: [REDACTED]' -H \"cf-aig-authorization: [REDACTED]\" url" },
		{ "def f(x, password: str)", "def f(x, password: str)" },
		{ "  password: hunter2\n", "  password: [REDACTED]\n" },
		{ "invalid_api_key: Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx. See",
		  "invalid_api_key: Incorrect API key provided: [REDACTED]. See" },
		{ "OPENAI_API_KEY: abc123\nx-api-key: a b\n", "OPENAI_API_KEY: [REDACTED]\nx-api-key: [REDACTED]\n" },
		/* options and variables */
		{ "curl -u alice:s3cret https://h/x", "curl -u alice:[REDACTED] https://h/x" },
		{ "curl --user 'alice:s3 cret' -uBob:pw2 --proxy-user=p:q x",
		  "curl --user 'alice:[REDACTED]' -uBob:[REDACTED] --proxy-user=p:[REDACTED] x" },
		{ "curl --oauth2-bearer Zm9vYmFyYmF6 x", "curl --oauth2-bearer [REDACTED] x" },
		{ "agent --api-key k1 --max-tokens 100 --token=\"a b\"",
		  "agent --api-key [REDACTED] --max-tokens 100 --token=\"[REDACTED]\"" },
		{ "psql -U postgres -u nobody", "psql -U postgres -u nobody" },
		{ "OPENAI_API_KEY=abc ANTHROPIC_API_KEY='x y' ./run", "OPENAI_API_KEY=[REDACTED] ANTHROPIC_API_KEY='[REDACTED]' ./run" },
		{ "GET /v1?key=AIzaSyD-1234567890abcdefghij&alt=sse", "GET /v1?key=[REDACTED]&alt=sse" },
		{ "see https://bob:pa55@example.com/x and http://h:1/y",
		  "see https://bob:[REDACTED]@example.com/x and http://h:1/y" },
		/* other shapes */
		{ "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk.", "jwt [REDACTED]." },
		{ "AKIAIOSFODNN7EXAMPLE and AKIAIOSFODNN7EXAMPLE2", "[REDACTED] and AKIAIOSFODNN7EXAMPLE2" },
		{ "ghp_abcdefghijklmnopqrstuvwxyz012345 hf_abcdefghijklmnopqrstu", "[REDACTED] [REDACTED]" },
		/* prose and ordinary JSON stay byte for byte */
		{ "The token: a unit of text. Key: the main idea.", "The token: a unit of text. Key: the main idea." },
		{ "{\"model\":\"gpt-4o\",\"usage\":{\"prompt_tokens\":5,\"total_tokens\":7}}",
		  "{\"model\":\"gpt-4o\",\"usage\":{\"prompt_tokens\":5,\"total_tokens\":7}}" },
		{ "x-ratelimit-remaining-tokens: 149984\n", "x-ratelimit-remaining-tokens: 149984\n" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = redact_text(t[i].in);

		CHECK_STR(got, t[i].want);
		free(got);
	}
}

/* What fuzz_redact found: a key where a rule stepped over it (the user part
 * of -u "user:pass" and of a URL, a JSON member name) is still redacted. */
static void test_fuzz_finds(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "-u\t\" sk-proj-FUZZfuzzFUZZfuzzFUZZ0123 ig:x/-U\"", "-u\t\"[REDACTED]\"" },
		{ "https://sk-proj-FUZZfuzzFUZZfuzzFUZZ0123:x@h/", "https://[REDACTED]@h/" },
		{ "-usk-proj-FUZZfuzzFUZZfuzzFUZZ0123:pw", "-u[REDACTED]" },
		{ "\"sig sk-proj-FUZZfuzzFUZZfuzzFUZZ0123 :\":\"s\"", "\"sig [REDACTED] :\":\"s\"" },
	};
	enum redact_argv_state st = REDACT_ARG_USERPASS;
	char *got;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = redact_text(t[i].in);
		CHECK_STR(got, t[i].want);
		free(got);
	}
	got = redact_arg("sk-proj-FUZZfuzzFUZZfuzzFUZZ0123:pw", &st);
	CHECK_STR(got, "[REDACTED]");
	free(got);
}

/* Bytes after a NUL are text too: kept, and redacted like the rest. */
static void test_binary(void)
{
	static const char in[] = "a\0b sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ\0\xff\xfe tail";
	static const char want[] = "a\0b [REDACTED]\0\xff\xfe tail";
	size_t n = 0;
	char *got = redact_textn(in, sizeof(in) - 1, &n);

	CHECK(got && n == sizeof(want) - 1 && memcmp(got, want, n) == 0 && got[n] == 0);
	free(got);
	got = redact_textn("", 0, &n);
	CHECK(got && n == 0);
	free(got);
	CHECK(redact_textn(NULL, 3, &n) == NULL);
}

/* redact_textn_changed(): no copy of a clean text, the same copy as
 * redact_textn() of one with a secret, at every length of both. */
static void test_changed(void)
{
	static const char dirty[] = "{\"k\":\"x\"} Bearer sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ tail";
	static const char plain[] = "{\"model\":\"gpt-4o\",\"messages\":[]} a:b c=d";
	char *got_dirty;
	size_t n, gn, wn;
	int clean;

	for (n = 0; n <= sizeof(dirty) - 1; n++) {
		char *want = redact_textn(dirty, n, &wn);
		char *got = redact_textn_changed(dirty, n, &gn, &clean);

		CHECK(want);
		if (clean)
			CHECK(!got && gn == n && wn == n && memcmp(want, dirty, n) == 0);
		else
			CHECK(got && gn == wn && memcmp(got, want, wn) == 0 && got[gn] == 0);
		free(want);
		free(got);
	}
	CHECK(!redact_textn_changed(plain, sizeof(plain) - 1, &gn, &clean) && clean &&
	      gn == sizeof(plain) - 1);
	got_dirty = redact_textn_changed(dirty, sizeof(dirty) - 1, &gn, &clean);
	CHECK(got_dirty && !clean && strstr(got_dirty, "[REDACTED]"));
	free(got_dirty);
	CHECK(!redact_textn_changed(NULL, 3, &gn, &clean) && !clean);
}

/* Header values: the name, else the value's shape. */
static void test_header_value(void)
{
	char *v;

	v = redact_header_value("x-api-key", "abc");
	CHECK_STR(v, "[REDACTED]");
	free(v);
	v = redact_header_value("x-whatever", "Bearer sk-ant-api03-abcdefghijklmnopqrst");
	CHECK_STR(v, "Bearer [REDACTED]");
	free(v);
	v = redact_header_value("content-type", "application/json");
	CHECK_STR(v, "application/json");
	free(v);
	CHECK(redact_header_value("x", NULL) == NULL);
}

/* A command line, one argument at a time. */
static void test_argv(void)
{
	static const char *const in[] = {
		"curl", "-u", "user:PASS123", "--oauth2-bearer", "TOKxyz", "-H", "x-api-key: k-123",
		"--max-tokens", "100", "--token", "42", "-u", "justuser", "--api-key=sk-abc",
		"sh", "-c", "curl -H 'x-api-key: abcdef' -u a:b https://h", "-uuser:pw", NULL,
	};
	static const char *const want[] = {
		"curl", "-u", "user:[REDACTED]", "--oauth2-bearer", "[REDACTED]", "-H", "x-api-key: [REDACTED]",
		"--max-tokens", "100", "--token", "42", "-u", "justuser", "--api-key=[REDACTED]",
		"sh", "-c", "curl -H 'x-api-key: [REDACTED]' -u a:[REDACTED] https://h", "-uuser:[REDACTED]",
	};
	enum redact_argv_state st = REDACT_ARG_PLAIN;

	for (size_t i = 0; in[i]; i++) {
		char *got = redact_arg(in[i], &st);

		CHECKF(got && !strcmp(got, want[i]), "arg %zu: got \"%s\" want \"%s\"", i,
		       got ? got : "(null)", want[i]);
		free(got);
	}
}

/* The text of the "content" deltas of an OpenAI SSE body, joined. */
static void deltas_join(const char *body, char *out, size_t cap)
{
	const char *p = body, *e;
	size_t n = 0;

	out[0] = 0;
	while ((p = strstr(p, "\"content\":\""))) {
		p += 11;
		e = strchr(p, '"');
		if (!e || n + (e - p) >= cap)
			return;
		memcpy(out + n, p, e - p);
		n += e - p;
		out[n] = 0;
		p = e;
	}
}

/* A key streamed in pieces: for every way of cutting it in two and three,
 * in OpenAI, Anthropic and Gemini event shapes, the stored body cannot be
 * reassembled into the key, and its deltas give what response_text says. */
static void test_stream_fragments(void)
{
	static const char key[] = "sk-proj-AbCdEfGhIjKlMnOpQrStUv0123";
	static const char *const fmt[] = {
		"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"text_delta\",\"content\":\"%s\"}}\n\n",
		"data: {\"candidates\":[{\"content\":{\"parts\":[{\"content\":\"%s\"}],\"role\":\"model\"},"
		"\"index\":0}],\"modelVersion\":\"gemini-2.0-flash\"}\n\n",
	};
	char text[256], body[8192], joined[512], piece[64], *red_text, *got;
	size_t kl = strlen(key), a, b, f, len;
	int bad = 0, cases = 0;

	for (f = 0; f < 3; f++) {
		for (a = 1; a < kl; a++) {
			for (b = a; b < kl; b += 5) {
				const char *parts[5] = { "Your key is ", NULL, NULL, NULL, " - keep it safe." };
				char p1[64], p2[64], p3[64];
				size_t i;

				snprintf(p1, sizeof(p1), "%.*s", (int)a, key);
				snprintf(p2, sizeof(p2), "%.*s", (int)(b - a), key + a);
				snprintf(p3, sizeof(p3), "%s", key + b);
				parts[1] = p1;
				parts[2] = p2;
				parts[3] = p3;
				body[0] = text[0] = 0;
				for (i = 0; i < 5; i++) {
					snprintf(piece, sizeof(piece), "%s", parts[i]);
					len = strlen(body);
					snprintf(body + len, sizeof(body) - len, fmt[f], piece);
					strcat(text, parts[i]);
				}
				red_text = redact_text(text);
				got = redact_stream_body(body, strlen(body), text, NULL);
				deltas_join(got ? got : "", joined, sizeof(joined));
				cases++;
				if (!got || strstr(got, key) || strstr(joined, key) || strcmp(joined, red_text) ||
				    strstr(joined, key + 8)) {
					if (bad++ < 3)
						fprintf(stderr, "FAIL fragments fmt %zu cut %zu,%zu: \"%s\"\n", f, a, b,
							joined);
				}
				free(red_text);
				free(got);
			}
		}
	}
	CHECKF(bad == 0, "%d of %d split keys survived in the body", bad, cases);

	/* two keys, one piece ending the first and starting the second, and a
	 * piece with escapes: every piece that held key bytes loses them */
	{
		static const char two[] =
			"data: {\"delta\":{\"content\":\"a sk-proj-AAAAAAAAAA\"}}\n\n"
			"data: {\"delta\":{\"content\":\"AAAAAAAAAAAAAAA and sk-ant-BBBB\"}}\n\n"
			"data: {\"delta\":{\"content\":\"BBBBBBBBBBBBBBBBBBBB\\n\"}}\n\n";
		static const char text[] = "a sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAA and sk-ant-BBBBBBBBBBBBBBBBBBBBBBBB\n";

		got = redact_stream_body(two, strlen(two), text, NULL);
		deltas_join(got ? got : "", joined, sizeof(joined));
		CHECK(got && !strstr(joined, "AAAA") && !strstr(joined, "BBBB"));
		CHECKF(!strcmp(joined, "a [REDACTED] and [REDACTED]"), "got \"%s\"", joined);
		free(got);
	}

	/* nothing secret in the text: the body comes back as redact_textn() gives it */
	got = redact_stream_body("data: {\"content\":\"sk-\"}\n\n", 25, "plain sk-", NULL);
	CHECK_STR(got, "data: {\"content\":\"sk-\"}\n\n");
	free(got);
	got = redact_stream_body("x", 1, NULL, NULL);
	CHECK_STR(got, "x");
	free(got);
}

/* Real provider bodies (the test fixtures) hold no secret: not a byte changes. */
static void test_fixtures_untouched(void)
{
	static const char *const names[] = {
		"openai_chat.json", "openai_chat_stream.txt", "openai_chat_stream_tools.txt",
		"openai_responses.json", "openai_responses_stream.txt", "anthropic_messages.json",
		"anthropic_stream.txt", "anthropic_stream_tools.txt", "anthropic_messages_tools.json",
		"gemini_generate.json", "gemini_stream_sse.txt", "openrouter_chat_stream.txt",
		"ollama_chat_stream.txt", "openai_embeddings.json",
	};
	char path[256], *data, *got;
	size_t i, n, gn;
	FILE *f;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "tests/unit/fixtures/%s", names[i]);
		f = fopen(path, "rb");
		CHECKF(f != NULL, "fixture %s", path);
		if (!f)
			continue;
		data = malloc(1 << 20);
		n = data ? fread(data, 1, (1 << 20) - 1, f) : 0;
		fclose(f);
		got = data ? redact_textn(data, n, &gn) : NULL;
		CHECKF(got && gn == n && !memcmp(got, data, n), "fixture %s changed", names[i]);
		free(got);
		free(data);
	}
}

/* Redacting twice changes nothing more. */
static void test_idempotent(void)
{
	static const char *const in[] = {
		"Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123\n",
		"{\"api_key\":\"0123456789abcdef\"} -u a:b --token T x-key: y",
	};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char *once = redact_text(in[i]), *twice = once ? redact_text(once) : NULL;

		CHECK_STR(twice, once);
		free(once);
		free(twice);
	}
}

/* Runs all groups; exits non-zero when a check failed. */
/* Header names longer than the lowered copy on the stack: the whole name
 * is still searched. */
static void test_long_header_names(void)
{
	char name[700];

	memset(name, 'X', sizeof(name));
	strcpy(name + 600, "-Api-Token");
	CHECK(redact_header_is_secret(name) == 1);
	strcpy(name + 600, "-Request-Id");
	CHECK(redact_header_is_secret(name) == 0);
	strcpy(name + 600, "-RateLimit-Remaining-Tokens");
	CHECK(redact_header_is_secret(name) == 0);
}

/* The eight-byte count of a run of letters and digits agrees with the
 * byte test on every byte value at every place in a word of letters,
 * digits and one byte of anything else, and with anything after it. */
static void test_word_alnum(void)
{
	static const char fill[] = "aZ09mQz5";
	unsigned char b[8];
	uint64_t w;
	int c, d, at, bad = 0, alnum;

	for (c = 0; c < 256; c++)
		for (at = 0; at < 8; at++) {
			memcpy(b, fill, 8);
			b[at] = (unsigned char)c;
			memcpy(&w, b, 8);
			alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
			bad += redact_word_alnum_len(w) != (alnum ? 8u : (unsigned)at);
			/* a stop at `at`, then any byte d (a carry out of a high byte) */
			if (alnum || at == 7)
				continue;
			for (d = 0; d < 256; d++) {
				b[at + 1] = (unsigned char)d;
				memcpy(&w, b, 8);
				bad += redact_word_alnum_len(w) != (unsigned)at;
			}
		}
	CHECKF(bad == 0, "%d words judged wrongly", bad);
	memcpy(&w, "abcdefgh", 8);
	CHECK(redact_word_alnum_len(w) == 8);
	memcpy(&w, "abcd efg", 8);
	CHECK(redact_word_alnum_len(w) == 4);
	memcpy(&w, "\xff\xff" "abcdef", 8);
	CHECK(redact_word_alnum_len(w) == 0);
	/* a key right after a long word, at each alignment: found */
	for (at = 0; at < 16; at++) {
		char text[128];
		char *r;

		snprintf(text, sizeof(text), "%.*s key=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
			 24 + at, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		r = redact_text(text);
		CHECKF(r && !strstr(r, "AbCdEfGh"), "at %d: %s", at, r ? r : "(null)");
		free(r);
	}
}

int main(void)
{
	test_word_alnum();
	test_headers();
	test_long_header_names();
	test_targets();
	test_text();
	test_text_rules();
	test_fuzz_finds();
	test_binary();
	test_changed();
	test_header_value();
	test_argv();
	test_stream_fragments();
	test_fixtures_untouched();
	test_idempotent();
	return harness_done("test_redact");
}
