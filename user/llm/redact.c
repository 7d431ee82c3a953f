/* redact.c -- pure secret redaction for header names, request targets and free text. */
#include "llm/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"

/* Returns 1 when the header name carries a credential (see redact.h). It
 * runs on every header of every message: the name is lowered once, then
 * searched with strstr. */
int redact_header_is_secret(const char *name)
{
	static const char *exact[] = { "authorization", "proxy-authorization", "cookie",
				       "set-cookie" };
	static const char *part[] = { "api-key", "api_key", "apikey", "token", "secret" };
	char buf[256], *low = buf;
	size_t i, n;
	int secret = 0;

	if (!name)
		return 0;
	n = strlen(name);
	/* a longer name is lowered on the heap; without memory it counts as a
	 * secret (its value is hidden rather than risked) */
	if (n >= sizeof(buf) && !(low = malloc(n + 1)))
		return 1;
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = 0;
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]) && !secret; i++)
		secret = strcmp(low, exact[i]) == 0;
	/* x-ratelimit-remaining-tokens and friends count tokens, they are none */
	for (i = 0; i < sizeof(part) / sizeof(part[0]) && !secret && !strstr(low, "ratelimit"); i++)
		secret = strstr(low, part[i]) != NULL;
	if (low != buf)
		free(low);
	return secret;
}

/* Returns 1 when the query parameter name [p, p + n) names a credential. */
static int secret_param(const char *p, size_t n)
{
	static const char *names[] = { "key", "api_key", "apikey", "access_token", "token" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(p, names[i], n) == 0)
			return 1;
	return 0;
}

/* Returns a malloc'd target with secret query values redacted, or NULL. */
char *redact_target(const char *target)
{
	struct buf b = { 0 };
	const char *q, *s;

	if (!target)
		return NULL;
	q = strchr(target, '?');
	if (!q)
		return strdup(target);
	if (buf_append(&b, target, q + 1 - target))
		goto out_free;
	s = q + 1;
	while (*s && *s != '#') {
		size_t n = strcspn(s, "&#"), name_len = strcspn(s, "=&#");

		if (name_len < n && n > name_len + 1 && secret_param(s, name_len)) {
			if (buf_append(&b, s, name_len + 1) || buf_puts(&b, REDACTED))
				goto out_free;
		} else if (buf_append(&b, s, n)) {
			goto out_free;
		}
		s += n;
		if (*s == '&') {
			if (buf_append(&b, "&", 1))
				goto out_free;
			s++;
		}
	}
	if (buf_puts(&b, s))	/* the fragment, if any */
		goto out_free;
	return buf_steal(&b);

out_free:
	buf_free(&b);
	return NULL;
}

/* Returns 1 for an ASCII letter or digit (no locale lookup: this runs on
 * every byte of every body). */
static inline int alnum_ascii(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Returns 1 for a byte of an API key: letters, digits, '-' and '_'. */
static int key_char(unsigned char c)
{
	return alnum_ascii(c) || c == '-' || c == '_';
}

/* Returns 1 for a byte of an RFC 7235 token68 (without the '=' padding). */
static int token68_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~+/", c));
}

/* If s[i..] is "Bearer <token>" (any case, at a word start) with a token
 * that looks like a credential, returns the offset of the token and sets
 * *end past it; else returns 0. */
static size_t bearer_at(const char *s, size_t i, size_t *end)
{
	size_t j = i + 6, t, n;
	int digit = 0, symbol = 0;

	if ((i && isalnum((unsigned char)s[i - 1])) || strncasecmp(s + i, "bearer", 6) != 0)
		return 0;
	if (s[j] != ' ' && s[j] != '\t')
		return 0;
	while (s[j] == ' ' || s[j] == '\t')
		j++;
	for (t = j; token68_char((unsigned char)s[t]); t++) {
		if (isdigit((unsigned char)s[t]))
			digit = 1;
		else if (strchr("-_~+/", s[t]))
			symbol = 1;
	}
	while (s[t] == '=') {
		symbol = 1;
		t++;
	}
	n = t - j;
	/* "bearer instruments" in prose is not a token; real tokens have
	 * digits or symbols, or are long */
	if (n < 8 || (!digit && !symbol && n < 20))
		return 0;
	*end = t;
	return j;
}

/* If a key shape starts at s[i] (at a word start), returns its length, else 0. */
static size_t key_at(const char *s, size_t i)
{
	static const char *prefix[] = { "sk-", "sk_", "AIza", "gsk_", "xai-", "pplx-",
					"hf_", "r8_", "ghp_", "github_pat_", "glpat-" };
	size_t n;

	/* the first letters of the prefixes, before any string compare */
	if (!s[i] || !strchr("sAgxphr", s[i]) || (i && key_char((unsigned char)s[i - 1])))
		return 0;
	for (size_t k = 0; k < sizeof(prefix) / sizeof(prefix[0]); k++) {
		if (prefix[k][0] != s[i] || strncmp(s + i, prefix[k], strlen(prefix[k])) != 0)
			continue;
		for (n = 0; key_char((unsigned char)s[i + n]); n++)
			;
		return n >= 20 ? n : 0;
	}
	return 0;
}

/* Returns a malloc'd copy of s with tokens and keys redacted, or NULL. */
char *redact_text(const char *s)
{
	struct buf b = { 0 };
	size_t i = 0, done = 0;

	if (!s)
		return NULL;
	while (s[i]) {
		size_t tok, end, n;

		/* Tokens and keys start at a word start: inside a run of letters
		 * and digits there is nothing to look at. */
		if (i && alnum_ascii((unsigned char)s[i - 1])) {
			while (alnum_ascii((unsigned char)s[i]))
				i++;
			if (s[i])
				i++;	/* after a letter or digit: no start either */
			continue;
		}
		tok = (s[i] == 'b' || s[i] == 'B') ? bearer_at(s, i, &end) : 0;
		if (tok) {
			if (buf_append(&b, s + done, tok - done) || buf_puts(&b, REDACTED))
				goto out_free;
			i = done = end;
			continue;
		}
		n = key_at(s, i);
		if (n) {
			if (buf_append(&b, s + done, i - done) || buf_puts(&b, REDACTED))
				goto out_free;
			i = done = i + n;
			continue;
		}
		i++;
	}
	if (buf_append(&b, s + done, i - done))
		goto out_free;
	return buf_steal(&b);

out_free:
	buf_free(&b);
	return NULL;
}
