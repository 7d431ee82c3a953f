/* redact.c -- pure secret redaction: the one list of rules for every text llmtap stores or pushes.
 *
 * Every rule lives here (README "Secrets" lists them): names that say a
 * value is a credential (headers, JSON members, query parameters, options,
 * variables), value shapes that are credentials whatever their name (Bearer
 * tokens, provider key prefixes, JWTs), and the argv rules. The trackers
 * call it on what they build; the store calls redact_textn() once more on
 * every text column it writes, so a column added later is covered too.
 */
#include "llm/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"

#define NAME_LEN_MAX 64		/* longer tokens are not taken for names */

/* ---- names ---- */

static const char *const secret_words[] = {
	"auth", "authorization", "token", "secret", "secrets", "password", "passwd",
	"cookie", "credential", "credentials", "apikey", "bearer", "sig",
};
/* Words that make a name harmless whatever else it says. */
static const char *const harmless_words[] = { "ratelimit", "idempotency", "cache", "public" };

/* Returns 1 when the word [w, w + n) is in list (ASCII case ignored). */
static int word_in(const char *w, size_t n, const char *const *list, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strlen(list[i]) == n && strncasecmp(w, list[i], n) == 0)
			return 1;
	return 0;
}

/* What a name says: NAME_PLAIN, NAME_SECRET, or NAME_WEAK for a bare "key",
 * "token" or "sig" (a logprobs "token" or a keyboard "key" is text; their
 * values are taken only when they look like credentials, see weak_value()). */
enum { NAME_PLAIN, NAME_SECRET, NAME_WEAK };

static int name_class(const char *name, size_t n)
{
	static const char *const weak[] = { "key", "token", "sig" };
	size_t i = 0, start;
	int secret = 0, last_key = 0, dashes = n && *name == '-';

	while (n && *name == '-') {
		name++;
		n--;
	}
	if (!n || n > NAME_LEN_MAX)
		return NAME_PLAIN;
	if (!dashes && word_in(name, n, weak, sizeof(weak) / sizeof(weak[0])))
		return NAME_WEAK;
	while (i < n) {
		while (i < n && !isalnum((unsigned char)name[i]))
			i++;
		if (i == n)
			break;
		/* a word: letters and digits up to a separator or a lower-to-upper change */
		for (start = i++; i < n && isalnum((unsigned char)name[i]); i++)
			if (isupper((unsigned char)name[i]) && !isupper((unsigned char)name[i - 1]))
				break;
		if (word_in(name + start, i - start, harmless_words,
			    sizeof(harmless_words) / sizeof(harmless_words[0])))
			return NAME_PLAIN;
		if (word_in(name + start, i - start, secret_words,
			    sizeof(secret_words) / sizeof(secret_words[0])))
			secret = 1;
		last_key = i - start == 3 && strncasecmp(name + start, "key", 3) == 0;
	}
	return secret || last_key ? NAME_SECRET : NAME_PLAIN;
}

int redact_name_is_secret(const char *name, size_t n)
{
	return name_class(name, n) != NAME_PLAIN;
}

int redact_header_is_secret(const char *name)
{
	return name ? redact_name_is_secret(name, strlen(name)) : 0;
}

/* 1 for the options whose value is "user:password" (curl, wget, ...). */
static int userpass_option(const char *s, size_t n)
{
	static const char *const names[] = { "-u", "--user", "--proxy-user", "-U" };

	return word_in(s, n, names, sizeof(names) / sizeof(names[0])) &&
	       (n != 2 || s[1] == 'u' || s[1] == 'U');
}

/* ---- the text scanner ---- */

/* One pass over [s, s + n): the output so far, or (find mode) the spans. */
struct scan {
	const char *s;
	size_t n;
	struct buf out;
	size_t done;		/* s[0, done) is in out */
	int oom;
	size_t (*spans)[2];	/* find mode: where secrets are */
	size_t nspans, cap;
	int find;
};

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

static void scan_run(struct scan *sc);

/* 1 when a rule finds a secret in s[a, b) (the user part of user:pass, which
 * the rule that takes the password would otherwise step over). */
static int has_secret(const char *s, size_t a, size_t b)
{
	struct scan sub = { .s = s + a, .n = b - a, .find = 1 };

	scan_run(&sub);
	free(sub.spans);
	return sub.nspans > 0 || sub.oom;
}

static int key_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

static int name_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

static int token68_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~+/", c));
}

static int quote_char(unsigned char c)
{
	return c == '"' || c == '\'' || c == '`';
}

/* 1 when [a, b) is empty or a plain number (--max-tokens 100 gives nothing away). */
static int plain_number(const char *s, size_t a, size_t b)
{
	for (; a < b; a++)
		if (!isdigit((unsigned char)s[a]))
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
		if (isspace((unsigned char)s[a]))
			return 1;
	return 0;
}

/* Rule: "Bearer TOKEN" / "Basic TOKEN" at a word start. */
static int rule_scheme(const struct scan *sc, size_t i, size_t *a, size_t *b)
{
	const char *s = sc->s;
	size_t n = sc->n, j, t;
	int digit = 0, symbol = 0;

	if (i && isalnum((unsigned char)s[i - 1]))
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
		if (isdigit((unsigned char)s[t]))
			digit = 1;
		else if (!isalpha((unsigned char)s[t]))
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
	for (k = 0; k < sizeof(prefix) / sizeof(prefix[0]); k++) {
		size_t pl = strlen(prefix[k]);

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
		for (r = i + 4; r < i + 20 && (isupper((unsigned char)s[r]) || isdigit((unsigned char)s[r])); r++)
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
	if (j == ns || !QUOTE_AT(j) || !(cls = name_class(s + ns, j - ns)))
		return 0;
	for (k = j + q; k < n && (s[k] == ' ' || s[k] == '\t'); k++)
		;
	if (k >= n || s[k] != ':')
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
	while (v < n && !isspace((unsigned char)s[v]) && s[v] && !strchr(stops, s[v]))
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

/* Run every rule over sc->s; the result is in sc->out (or sc->spans). */
static void scan_run(struct scan *sc)
{
	const char *s = sc->s;
	size_t i = 0, a, b;

	while (i < sc->n && !sc->oom) {
		unsigned char c = (unsigned char)s[i];
		int hit = 0;

		if (c == '"' || c == '\\')
			hit = rule_json(sc, i, &a, &b);
		else if (c == ':')
			hit = rule_userinfo(sc, i, &a, &b);
		if (!hit && (c == 'b' || c == 'B'))
			hit = rule_scheme(sc, i, &a, &b);
		if (!hit && isalpha(c))
			hit = rule_shape(sc, i, &a, &b);
		if (!hit && name_char(c))
			hit = rule_named(sc, i, &a, &b);
		if (!hit || b <= a) {
			/* the rules look for their own word starts */
			i++;
			continue;
		}
		scan_take(sc, a, b);
		i = b;
	}
}

char *redact_textn(const char *s, size_t n, size_t *outn)
{
	struct scan sc = { .s = s, .n = n };

	if (!s)
		return NULL;
	scan_run(&sc);
	if (!sc.oom && !buf_append(&sc.out, s + sc.done, n - sc.done)) {
		if (outn)
			*outn = sc.out.len;
		return buf_steal(&sc.out);
	}
	buf_free(&sc.out);
	return NULL;
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

/* ---- secrets split across the JSON strings of a stream ---- */

/* A piece of the assembled text in the body: the contents [a, b) of a JSON
 * string that gave assembled[ta, tb); escaped when it holds escapes. */
struct piece {
	size_t a, b, ta, tb;
	int escaped;
};

struct pieces {
	struct piece *p;
	size_t n, cap;
};

static int pieces_add(struct pieces *ps, const struct piece *p)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 64;
		void *np = realloc(ps->p, cap * sizeof(*ps->p));

		if (!np)
			return -1;
		ps->p = np;
		ps->cap = cap;
	}
	ps->p[ps->n++] = *p;
	return 0;
}

/* Next JSON string of s[*i, n): its contents [*a, *b), *i past it. 0 at the end. */
static int next_string(const char *s, size_t n, size_t *i, size_t *a, size_t *b)
{
	const char *q = *i < n ? memchr(s + *i, '"', n - *i) : NULL;
	size_t j;

	if (!q)
		return 0;
	for (j = q - s + 1; j < n && s[j] != '"';)
		j += s[j] == '\\' ? 2 : 1;
	if (j > n)
		j = n;
	*a = q - s + 1;
	*b = j;
	*i = j + 1;
	return 1;
}

/* 1 when the member name [a, b) holds text a provider streams in deltas. */
static int delta_key(const char *s, size_t a, size_t b)
{
	static const char *const keys[] = {
		"content", "text", "delta", "partial_json", "arguments", "thinking", "refusal",
		"reasoning", "reasoning_content", "response", "output_text",
	};

	return word_in(s + a, b - a, keys, sizeof(keys) / sizeof(keys[0]));
}

/* Does the JSON string contents s[a, b) (escapes decoded) start t[0, tn)?
 * Returns the bytes of t it stands for, or -1. */
static long piece_match(const char *s, size_t a, size_t b, const char *t, size_t tn)
{
	static const char esc_from[] = "nrtbf\"\\/", esc_to[] = "\n\r\t\b\f\"\\/";
	size_t k = 0;

	while (a < b) {
		char c = s[a++];

		if (c == '\\') {
			const char *e = a < b ? strchr(esc_from, s[a]) : NULL;

			if (!e || !*e)
				return -1;	/* \u escapes: not followed */
			c = esc_to[e - esc_from];
			a++;
		}
		if (k >= tn || t[k] != c)
			return -1;
		k++;
	}
	return (long)k;
}

/* Line the delta strings of the body up with the assembled text: each
 * string value of a delta member that continues the text where the last
 * one stopped is a piece of it. */
static int pieces_find(const char *s, size_t n, const char *t, size_t tn, struct pieces *ps)
{
	size_t i = 0, a, b, pa = 0, pb = 0, at = 0, g;
	int have_prev = 0;
	long m;

	while (at < tn && next_string(s, n, &i, &a, &b)) {
		int value = have_prev;

		for (g = pb + 1; value && g < a - 1; g++)
			if (s[g] != ':' && !isspace((unsigned char)s[g]))
				value = 0;
		value = value && memchr(s + pb + 1, ':', a - 1 - (pb + 1)) && delta_key(s, pa, pb);
		have_prev = 1;
		pa = a;
		pb = b;
		if (!value || a == b)
			continue;
		m = piece_match(s, a, b, t + at, tn - at);
		if (m <= 0)
			continue;	/* not this text's (a tool's arguments, a final copy) */
		if (pieces_add(ps, &(struct piece){ a, b, at, at + m, memchr(s + a, '\\', b - a) != NULL }))
			return -1;
		at += m;
	}
	return 0;
}

/* A cut in the body: [a, b) becomes REDACTED (first) or nothing. */
struct cut {
	size_t a, b;
	int first;
};

char *redact_stream_body(const char *body, size_t n, const char *assembled, size_t *outn)
{
	struct scan find = { .find = 1 };
	struct pieces ps = { 0 };
	struct cut *cuts = NULL;
	struct buf out = { 0 };
	size_t i, j, ncuts = 0, at = 0;
	char *r = NULL;

	if (!body)
		return NULL;
	if (!assembled || !*assembled)
		return redact_textn(body, n, outn);
	find.s = assembled;
	find.n = strlen(assembled);
	scan_run(&find);
	if (find.oom)
		goto out_free;
	if (!find.nspans || pieces_find(body, n, assembled, find.n, &ps))
		goto out_plain;
	/* pieces and secrets are both ordered and disjoint: overlaps <= their sum */
	cuts = calloc(ps.n + find.nspans, sizeof(*cuts));
	if (!cuts)
		goto out_free;
	/* each piece overlapping a secret loses the overlap; the piece where the
	 * secret starts says REDACTED (a piece with escapes goes whole) */
	for (i = 0; i < ps.n; i++) {
		const struct piece *p = &ps.p[i];

		for (j = 0; j < find.nspans; j++) {
			size_t sa = find.spans[j][0], sb = find.spans[j][1];
			size_t lo = sa > p->ta ? sa : p->ta, hi = sb < p->tb ? sb : p->tb;

			if (lo >= hi)
				continue;
			if (p->escaped) {
				cuts[ncuts++] = (struct cut){ p->a, p->b, sa >= p->ta };
				break;
			}
			cuts[ncuts++] = (struct cut){ p->a + (lo - p->ta), p->a + (hi - p->ta), lo == sa };
		}
	}
	for (i = 0; i < ncuts; i++) {
		if (buf_append(&out, body + at, cuts[i].a - at) ||
		    (cuts[i].first && buf_puts(&out, REDACTED)))
			goto out_free;
		at = cuts[i].b;
	}
	if (buf_append(&out, body + at, n - at))
		goto out_free;
	r = redact_textn((const char *)out.data, out.len, outn);
	goto out_free;
out_plain:
	r = redact_textn(body, n, outn);
out_free:
	buf_free(&out);
	free(cuts);
	free(ps.p);
	free(find.spans);
	return r;
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
