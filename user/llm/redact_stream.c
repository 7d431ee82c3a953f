/* redact_stream.c -- a streamed response body redacted against the text assembled from it: a key split across SSE deltas leaves neither. */
#include "llm/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "llm/redact_int.h"

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

	return redact_word_in(s + a, b - a, keys, sizeof(keys) / sizeof(keys[0]));
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
	redact_scan(&find);
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
