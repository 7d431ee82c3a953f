/* test_redact.c -- unit tests for secret redaction: header names, query parameters, free text. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "llm/redact.h"

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
		  "Authorization: Bearer [REDACTED]" },
		{ "{\"authorization\":\"bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl\"}",
		  "{\"authorization\":\"bearer [REDACTED]\"}" },
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

int main(void)
{
	test_headers();
	test_long_header_names();
	test_targets();
	test_text();
	return harness_done("test_redact");
}
