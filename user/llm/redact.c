/* redact.c -- pure secret redaction: the one list of rules for every text llmtap stores or pushes.
 *
 * Every rule lives here (README "Secrets" lists them): names that say a
 * value is a credential (headers, JSON members, query parameters, options,
 * variables), value shapes that are credentials whatever their name (Bearer
 * tokens, provider key prefixes, JWTs), and the argv rules; redact_stream.c
 * applies them to a streamed body against its assembled text. The trackers
 * call it on what they build; the store calls redact_textn() once more on
 * every text column it writes, so a column added later is covered too.
 */
#include "llm/redact.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "llm/redact_int.h"

#define NAME_LEN_MAX 64		/* longer tokens are not taken for names */

/* ASCII classes without a locale lookup, one table load each: the scan
 * runs on every byte of every body and column, and credentials are ASCII. */
enum { C_DIGIT = 1, C_UPPER = 2, C_LOWER = 4, C_NAME = 8 };
static const unsigned char ctab[256] = {
	['0' ... '9'] = C_DIGIT | C_NAME,
	['A' ... 'Z'] = C_UPPER | C_NAME,
	['a' ... 'z'] = C_LOWER | C_NAME,
	['-'] = C_NAME, ['_'] = C_NAME, ['.'] = C_NAME,
};

static inline int a_digit(unsigned char c)
{
	return ctab[c] & C_DIGIT;
}

static inline int a_upper(unsigned char c)
{
	return ctab[c] & C_UPPER;
}

static inline int a_alpha(unsigned char c)
{
	return ctab[c] & (C_UPPER | C_LOWER);
}

static inline int a_alnum(unsigned char c)
{
	return ctab[c] & (C_DIGIT | C_UPPER | C_LOWER);
}

static inline int a_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ---- names ---- */

static const char *const secret_words[] = {
	"auth", "authorization", "token", "secret", "secrets", "password", "passwd",
	"cookie", "credential", "credentials", "apikey", "bearer", "sig",
};
/* Words that make a name harmless whatever else it says. */
static const char *const harmless_words[] = { "ratelimit", "idempotency", "cache", "public" };

/* See redact_int.h. */
int redact_word_in(const char *w, size_t n, const char *const *list, size_t count)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < count; i++)
		if ((list[i][0] | 0x20) == (w[0] | 0x20) && strlen(list[i]) == n &&
		    strncasecmp(w, list[i], n) == 0)
			return 1;
	return 0;
}

/* What a name says: NAME_PLAIN, NAME_SECRET, or NAME_WEAK for a bare "key",
 * "token" or "sig" (a logprobs "token" or a keyboard "key" is text; their
 * values are taken only when they look like credentials, see weak_value()).
 * A name longer than max bytes is NAME_PLAIN. */
enum { NAME_PLAIN, NAME_SECRET, NAME_WEAK };

static int name_class_max(const char *name, size_t n, size_t max)
{
	static const char *const weak[] = { "key", "token", "sig" };
	size_t i = 0, start;
	int secret = 0, last_key = 0, dashes = n && *name == '-';

	while (n && *name == '-') {
		name++;
		n--;
	}
	if (!n || n > max)
		return NAME_PLAIN;
	if (!dashes && redact_word_in(name, n, weak, sizeof(weak) / sizeof(weak[0])))
		return NAME_WEAK;
	while (i < n) {
		while (i < n && !a_alnum((unsigned char)name[i]))
			i++;
		if (i == n)
			break;
		/* a word: letters and digits up to a separator or a lower-to-upper change */
		for (start = i++; i < n && a_alnum((unsigned char)name[i]); i++)
			if (a_upper((unsigned char)name[i]) && !a_upper((unsigned char)name[i - 1]))
				break;
		if (redact_word_in(name + start, i - start, harmless_words,
			    sizeof(harmless_words) / sizeof(harmless_words[0])))
			return NAME_PLAIN;
		if (redact_word_in(name + start, i - start, secret_words,
			    sizeof(secret_words) / sizeof(secret_words[0])))
			secret = 1;
		last_key = i - start == 3 && strncasecmp(name + start, "key", 3) == 0;
	}
	return secret || last_key ? NAME_SECRET : NAME_PLAIN;
}

/* A name in text: longer tokens are not taken for names. */
static int name_class(const char *name, size_t n)
{
	return name_class_max(name, n, NAME_LEN_MAX);
}

int redact_name_is_secret(const char *name, size_t n)
{
	return name_class(name, n) != NAME_PLAIN;
}

int redact_header_is_secret(const char *name)
{
	/* a header is a name whatever its length */
	return name ? name_class_max(name, strlen(name), SIZE_MAX) != NAME_PLAIN : 0;
}

/* 1 for the options whose value is "user:password" (curl, wget, ...). */
static int userpass_option(const char *s, size_t n)
{
	static const char *const names[] = { "-u", "--user", "--proxy-user", "-U" };

	return redact_word_in(s, n, names, sizeof(names) / sizeof(names[0])) &&
	       (n != 2 || s[1] == 'u' || s[1] == 'U');
}

/* ---- the text scanner ---- */

/* Replace s[a, b) by REDACTED (find mode: remember it). */
static void scan_take(struct scan *sc, size_t a, size_t b)
{
	if (sc->find) {
		if (sc->nspans == sc->cap) {
			size_t cap = sc->cap ? 2 * sc->cap : 8;
			void *p = realloc(sc->spans, cap * sizeof(*sc->spans));

			if (!p) {
				sc->oom = 1;
				return;
			}
			sc->spans = p;
			sc->cap = cap;
		}
		sc->spans[sc->nspans][0] = a;
		sc->spans[sc->nspans][1] = b;
		sc->nspans++;
		return;
	}
	if (buf_append(&sc->out, sc->s + sc->done, a - sc->done) || buf_puts(&sc->out, REDACTED))
		sc->oom = 1;
	sc->done = b;
}


/* 1 when a rule finds a secret in s[a, b) (the user part of user:pass, which
 * the rule that takes the password would otherwise step over). */
static int has_secret(const char *s, size_t a, size_t b)
{
	struct scan sub = { .s = s + a, .n = b - a, .find = 1 };

	redact_scan(&sub);
	free(sub.spans);
	return sub.nspans > 0 || sub.oom;
}

static int key_char(unsigned char c)
{
	return a_alnum(c) || c == '-' || c == '_';
}

/* The end of the run of letters and digits at s[i..n): a body's words
 * are passed eight bytes at a time, the last eight too. */
static size_t alnum_run(const char *s, size_t i, size_t n)
{
	uint64_t w;
	unsigned k;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		k = redact_word_alnum_len(w);
		if (k < 8)
			return i + k;
	}
	while (i < n && a_alnum((unsigned char)s[i]))
		i++;
	return i;
}

static int name_char(unsigned char c)
{
	return ctab[c] & C_NAME;
}

static int token68_char(unsigned char c)
{
	return a_alnum(c) || (c && strchr("-._~+/", c));
}

static int quote_char(unsigned char c)
{
	return c == '"' || c == '\'' || c == '`';
}

/* 1 when [a, b) is empty or a plain number (--max-tokens 100 gives nothing away). */
static int plain_number(const char *s, size_t a, size_t b)
{
	for (; a < b; a++)
		if (!a_digit((unsigned char)s[a]))
			return 0;
	return 1;
}

/* 1 when the value [a, b) of a name of class cls stays: a plain number, or
 * under a weak name anything shorter than 12 bytes or with a space in it. */
static int value_kept(const char *s, size_t a, size_t b, int cls)
{
	if (plain_number(s, a, b))
		return 1;
	if (cls != NAME_WEAK)
		return 0;
	if (b - a < 12)
		return 1;
	for (; a < b; a++)
		if (a_space((unsigned char)s[a]))
			return 1;
	return 0;
}

/* Rule: "Bearer TOKEN" / "Basic TOKEN" at a word start. */
static int rule_scheme(const struct scan *sc, size_t i, size_t *a, size_t *b)
{
	const char *s = sc->s;
	size_t n = sc->n, j, t;
	int digit = 0, symbol = 0;

	if (i && a_alnum((unsigned char)s[i - 1]))
		return 0;
	/* most words starting with b are neither: their second letter says so */
	if (n - i < 5 || ((s[i + 1] | 0x20) != 'e' && (s[i + 1] | 0x20) != 'a'))
		return 0;
	if (n - i >= 6 && strncasecmp(s + i, "bearer", 6) == 0)
		j = i + 6;
	else if (n - i >= 5 && strncasecmp(s + i, "basic", 5) == 0)
		j = i + 5;
	else
		return 0;
	if (j >= n || (s[j] != ' ' && s[j] != '\t'))
		return 0;
	while (j < n && (s[j] == ' ' || s[j] == '\t'))
		j++;
	for (t = j; t < n && token68_char((unsigned char)s[t]); t++) {
		if (a_digit((unsigned char)s[t]))
			digit = 1;
		else if (!a_alpha((unsigned char)s[t]))
			symbol = 1;
	}
	while (t < n && s[t] == '=') {
		symbol = 1;
		t++;
	}
	/* "bearer instruments" in prose is no token; tokens have digits or symbols, or are long */
	if (t - j < 8 || (!digit && !symbol && t - j < 20))
		return 0;
	*a = j;
	*b = t;
	return 1;
}

/* The second letters a key shape below can have, one bit each, and by
 * first letter the ones it goes with: two loads test a word's first two
 * letters, so most words of a text are let go without a branch on which
 * letter they start with. */
enum {
	S2_k = 1 << 0, S2_I = 1 << 1, S2_K = 1 << 2, S2_S = 1 << 3, S2_s = 1 << 4, S2_h = 1 << 5,
	S2_i = 1 << 6, S2_l = 1 << 7, S2_a = 1 << 8, S2_o = 1 << 9, S2_p = 1 << 10, S2_f = 1 << 11,
	S2_8 = 1 << 12, S2_y = 1 << 13,
};
static const uint16_t shape_second[256] = {
	['k'] = S2_k, ['I'] = S2_I, ['K'] = S2_K, ['S'] = S2_S, ['s'] = S2_s, ['h'] = S2_h,
	['i'] = S2_i, ['l'] = S2_l, ['a'] = S2_a, ['o'] = S2_o, ['p'] = S2_p, ['f'] = S2_f,
	['8'] = S2_8, ['y'] = S2_y,
};
static const uint16_t shape_first[256] = {
	['s'] = S2_k,				/* sk- sk_ */
	['A'] = S2_I | S2_K | S2_S,		/* AIza AKIA ASIA */
	['g'] = S2_s | S2_h | S2_i | S2_l,	/* gsk_ ghp_ gho_ ghu_ ghs_ github_pat_ glpat- */
	['x'] = S2_a | S2_o,			/* xai- xoxb- xoxp- */
	['p'] = S2_p,				/* pplx- */
	['h'] = S2_f,				/* hf_ */
	['r'] = S2_8,				/* r8_ */
	['e'] = S2_y,				/* eyJ */
	['y'] = S2_a,				/* ya29. */
	['n'] = S2_p,				/* npm_ */
};

/* 1 when a key shape below can begin with the letters c0 c1. */
static inline int shape_start(unsigned char c0, unsigned char c1)
{
	return (shape_first[c0] & shape_second[c1]) != 0;
}

/* Rule: a key shape starting at a word start. */
static int rule_shape(const struct scan *sc, size_t i, size_t *a, size_t *b)
{
	static const char *const prefix[] = {
		"sk-", "sk_", "AIza", "gsk_", "xai-", "pplx-", "hf_", "r8_", "ghp_", "gho_", "ghu_",
		"ghs_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "npm_", "ya29.",
	};
	const char *s = sc->s;
	size_t n = sc->n, k, r, dots = 0;

	if (i && key_char((unsigned char)s[i - 1]))
		return 0;
	if (n - i < 3 || !shape_start((unsigned char)s[i], (unsigned char)s[i + 1]))
		return 0;
	for (k = 0; k < sizeof(prefix) / sizeof(prefix[0]); k++) {
		size_t pl;

		if (s[i] != prefix[k][0] || n - i < 3 || s[i + 1] != prefix[k][1])
			continue;
		pl = strlen(prefix[k]);
		if (n - i < pl || memcmp(s + i, prefix[k], pl))
			continue;
		for (r = i + pl; r < n && (key_char((unsigned char)s[r]) || s[r] == '*'); r++)
			;
		if (r - i < 20)
			return 0;
		*a = i;
		*b = r;
		return 1;
	}
	if (n - i >= 20 && (!memcmp(s + i, "AKIA", 4) || !memcmp(s + i, "ASIA", 4))) {
		for (r = i + 4; r < i + 20 && (a_upper((unsigned char)s[r]) || a_digit((unsigned char)s[r])); r++)
			;
		if (r == i + 20 && (r == n || !key_char((unsigned char)s[r]))) {
			*a = i;
			*b = r;
			return 1;
		}
	}
	if (n - i >= 3 && !memcmp(s + i, "eyJ", 3)) {
		for (r = i; r < n && (key_char((unsigned char)s[r]) || s[r] == '.'); r++)
			dots += s[r] == '.';
		while (r > i && s[r - 1] == '.') {
			r--;
			dots--;
		}
		if (r - i >= 30 && dots >= 2) {
			*a = i;
			*b = r;
			return 1;
		}
	}
	return 0;
}

/* Rule: "name": "value" with a secret name, the quotes plain (q = 1) or
 * escaped inside a JSON string (q = 2: \"name\": \"value\"). */
static int rule_json(const struct scan *sc, size_t i, size_t *a, size_t *b)
{
	const char *s = sc->s;
	size_t n = sc->n, q, ns, j, k, ve;
	int cls;

	if (s[i] == '"')
		q = 1;
	else if (s[i] == '\\' && i + 1 < n && s[i + 1] == '"')
		q = 2;
	else
		return 0;
#define QUOTE_AT(p) ((q == 1 && (p) < n && s[p] == '"') || \
		     (q == 2 && (p) + 1 < n && s[p] == '\\' && s[(p) + 1] == '"'))
	ns = i + q;
	for (j = ns; j < n && j - ns <= NAME_LEN_MAX && name_char((unsigned char)s[j]); j++)
		;
	if (j == ns || !QUOTE_AT(j))
		return 0;
	for (k = j + q; k < n && (s[k] == ' ' || s[k] == '\t'); k++)
		;
	/* most quoted words are values, not names: the colon first */
	if (k >= n || s[k] != ':' || !(cls = name_class(s + ns, j - ns)))
		return 0;
	for (k++; k < n && (s[k] == ' ' || s[k] == '\t'); k++)
		;
	if (!QUOTE_AT(k))
		return 0;
	for (ve = k + q; ve < n && !QUOTE_AT(ve);)
		ve += (s[ve] == '\\' && q == 1) ? 2 : 1;
#undef QUOTE_AT
	if (ve > n)
		ve = n;
	if (value_kept(s, k + q, ve, cls))
		return 0;
	*a = k + q;
	*b = ve;
	return 1;
}

/* Rule: the password of scheme://user:password@host. */
static int rule_userinfo(const struct scan *sc, size_t i, size_t *a, size_t *b)
{
	const char *s = sc->s;
	size_t n = sc->n, j, c = 0;

	if (n - i < 3 || memcmp(s + i, "://", 3))
		return 0;
	for (j = i + 3; j < n && !strchr("/?#@ \t\r\n\"'\\<>", s[j]) && s[j]; j++)
		if (s[j] == ':' && !c)
			c = j;
	if (j >= n || s[j] != '@' || !c || c + 1 == j)
		return 0;
	*a = has_secret(s, i + 3, c) ? i + 3 : c + 1;
	*b = j;
	return 1;
}

/* End of an unquoted word that starts at v. */
static size_t word_end(const char *s, size_t n, size_t v, const char *stops)
{
	while (v < n && !a_space((unsigned char)s[v]) && s[v] && !strchr(stops, s[v]))
		v++;
	return v;
}

/* 1 when position i starts a line (only blanks before it on the line). */
static int line_start(const char *s, size_t i)
{
	while (i && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	return !i || s[i - 1] == '\n' || s[i - 1] == '\r';
}

/* End of the value [v, ...) of -option or name=: quoted (v moved past the
 * quote) or one word. */
static size_t option_value(const char *s, size_t n, size_t *v, const char *stops)
{
	size_t e;

	if (*v < n && quote_char((unsigned char)s[*v])) {
		for (e = *v + 1; e < n && s[e] != s[*v] && s[e] != '\\'; e++)
			;
		(*v)++;
		return e;
	}
	return word_end(s, n, *v, stops);
}

/* Rule, at the start of a name: "name: value" (a header line: at a line
 * start or after a quote, as in -H 'x-api-key: ...'), name=value and
 * -option value with a secret name; the password of -u/--user user:pass and
 * of -uuser:pass. */
static int rule_named(const struct scan *sc, size_t i, size_t *a, size_t *b)
{
	const char *s = sc->s;
	size_t n = sc->n, j, v, e;
	unsigned char open = i ? (unsigned char)s[i - 1] : 0;
	int cls, userpass;

	if (!name_char((unsigned char)s[i]) || (i && name_char(open)))
		return 0;
	for (j = i; j < n && name_char((unsigned char)s[j]) && j - i <= NAME_LEN_MAX; j++)
		;
	if (j >= n || j - i > NAME_LEN_MAX)
		return 0;
	/* most words are followed by none of these: no need to look at the name */
	if (s[j] != ':' && s[j] != '=' && !(s[i] == '-' && (s[j] == ' ' || s[j] == '\t')))
		return 0;
	cls = name_class(s + i, j - i);
	userpass = userpass_option(s + i, j - i);
	if (s[j] == ':' && j - i > 2 && s[i] == '-' && s[i + 1] == 'u' && s[i + 2] != '-') {
		v = i + 2;	/* -uuser:password */
		e = word_end(s, n, v, "\"'`\\;&|)");
		userpass = 1;
	} else if (s[j] == ':' && cls && (quote_char(open) || line_start(s, i))) {
		if (n - j >= 3 && !memcmp(s + j, "://", 3))
			return 0;
		for (v = j + 1; v < n && (s[v] == ' ' || s[v] == '\t'); v++)
			;
		for (e = v; e < n && s[e] != '\r' && s[e] != '\n' && s[e] != '"' && s[e] != '\\' &&
			    !(quote_char(open) && (unsigned char)s[e] == open); e++)
			;
		while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		/* "invalid_api_key: Incorrect API key provided: ..." is an error code and
		 * its prose: an identifier's value of several words is not taken (its
		 * key shapes still are); a header's ("x-api-key: a b") is */
		if (!quote_char(open) && memchr(s + i, '_', j - i) && memchr(s + v, ' ', e - v))
			return 0;
	} else if (s[j] == '=' && (cls || userpass)) {
		v = j + 1;
		e = option_value(s, n, &v, "&;,\"'`#\\)<>");
	} else if ((s[j] == ' ' || s[j] == '\t') && s[i] == '-' && (cls || userpass)) {
		for (v = j; v < n && (s[v] == ' ' || s[v] == '\t'); v++)
			;
		if (v >= n || s[v] == '-')
			return 0;
		e = option_value(s, n, &v, "\"'`\\;&|)");
	} else {
		return 0;
	}
	if (userpass) {
		const char *c = memchr(s + v, ':', e - v);

		if (!c)
			return 0;
		if (!has_secret(s, v, c - s))
			v = c - s + 1;
		cls = NAME_SECRET;
	}
	if (value_kept(s, v, e, cls))
		return 0;
	*a = v;
	*b = e;
	return 1;
}

/* See redact_int.h. */
void redact_scan(struct scan *sc)
{
	const char *s = sc->s;
	size_t i = 0, a, b;

	while (i < sc->n && !sc->oom) {
		unsigned char c = (unsigned char)s[i];
		int hit = 0, start;

		/* a byte no rule starts at (spaces, most punctuation): next */
		if (!name_char(c) && c != '"' && c != '\\' && c != ':') {
			i++;
			continue;
		}
		start = !i || !a_alnum((unsigned char)s[i - 1]);

		/* A word of letters and digits followed by a space or most
		 * punctuation is no name (rule_named wants ':' or '=' after
		 * one): only a key shape or a scheme can start here, and when
		 * neither does the whole word is passed at once. */
		if (start && a_alnum(c)) {
			size_t e = alnum_run(s, i, sc->n);
			unsigned char nx = e < sc->n ? (unsigned char)s[e] : 0;

			if (!name_char(nx) && nx != ':' && nx != '=') {
				if (c == 'b' || c == 'B')
					hit = rule_scheme(sc, i, &a, &b);
				if (!hit && i + 1 < sc->n && shape_start(c, (unsigned char)s[i + 1]))
					hit = rule_shape(sc, i, &a, &b);
				if (!hit || b <= a) {
					i = e;
					continue;
				}
				scan_take(sc, a, b);
				i = b;
				continue;
			}
		}

		if (c == '"' || c == '\\')
			hit = rule_json(sc, i, &a, &b);
		else if (c == ':')
			hit = rule_userinfo(sc, i, &a, &b);
		if (!hit && start && (c == 'b' || c == 'B'))
			hit = rule_scheme(sc, i, &a, &b);
		if (!hit && start && a_alpha(c))
			hit = rule_shape(sc, i, &a, &b);
		if (!hit && start && name_char(c))
			hit = rule_named(sc, i, &a, &b);
		if (!hit || b <= a) {
			/* no rule starts inside a run of letters and digits: skip it */
			i++;
			if (a_alnum(c))
				i = alnum_run(s, i, sc->n);
			continue;
		}
		scan_take(sc, a, b);
		i = b;
	}
}

/* The redacted text of a finished scan of s (n bytes): what the rules
 * left after the last secret appended, the copy handed over. NULL when out
 * of memory. */
static char *scan_result(struct scan *sc, const char *s, size_t n, size_t *outn)
{
	if (!sc->oom && !buf_append(&sc->out, s + sc->done, n - sc->done)) {
		if (outn)
			*outn = sc->out.len;
		return buf_steal(&sc->out);
	}
	buf_free(&sc->out);
	return NULL;
}

char *redact_textn(const char *s, size_t n, size_t *outn)
{
	struct scan sc = { .s = s, .n = n };

	if (!s)
		return NULL;
	redact_scan(&sc);
	return scan_result(&sc, s, n, outn);
}

char *redact_textn_changed(const char *s, size_t n, size_t *outn, int *clean)
{
	struct scan sc = { .s = s, .n = n };

	*clean = 0;
	if (!s)
		return NULL;
	redact_scan(&sc);
	if (!sc.oom && !sc.done && !sc.out.len) {
		/* no rule took anything: nothing was copied either */
		buf_free(&sc.out);
		*clean = 1;
		if (outn)
			*outn = n;
		return NULL;
	}
	return scan_result(&sc, s, n, outn);
}

char *redact_text(const char *s)
{
	return s ? redact_textn(s, strlen(s), NULL) : NULL;
}

char *redact_header_value(const char *name, const char *value)
{
	if (!value)
		return NULL;
	return redact_header_is_secret(name) ? strdup(REDACTED) : redact_text(value);
}

/* ---- request targets ---- */

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

		if (name_len < n && n > name_len + 1 && redact_name_is_secret(s, name_len)) {
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

/* ---- command lines ---- */

char *redact_arg(const char *arg, enum redact_argv_state *state)
{
	enum redact_argv_state was = *state;
	size_t n = strlen(arg), eq = strcspn(arg, "=");
	const char *c;
	char *out;

	*state = REDACT_ARG_PLAIN;
	if (was == REDACT_ARG_SECRET && !plain_number(arg, 0, n))
		return strdup(REDACTED);
	if (was == REDACT_ARG_USERPASS && (c = strchr(arg, ':')) && c[1]) {
		if (has_secret(arg, 0, c - arg))
			return strdup(REDACTED);
		out = malloc((c - arg) + 1 + sizeof(REDACTED));
		if (out)
			memcpy(mempcpy(out, arg, c - arg + 1), REDACTED, sizeof(REDACTED));
		return out;
	}
	if (arg[0] == '-' && eq == n) {
		if (userpass_option(arg, n))
			*state = REDACT_ARG_USERPASS;
		else if (redact_name_is_secret(arg, n))
			*state = REDACT_ARG_SECRET;
	}
	return redact_textn(arg, n, NULL);
}
