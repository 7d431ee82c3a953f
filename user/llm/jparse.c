/* jparse.c -- a JSON reader that builds the same jansson documents as json_loadb(), at memory speed.
 *
 * jansson accepts RFC 8259 JSON with an object or an array at the top and
 * adds refusals of its own: "\u0000" without JSON_ALLOW_NUL and never in a
 * key, an integer outside long long, a real that overflows a double. This
 * reader refuses the same (the document is NULL, as jansson's would be) and
 * hands jansson, unread, what it does not read itself (JP_PUNT), so what it
 * returns is always what json_loadb() returns; fuzz_jparse compares the two
 * on any bytes (a NUL byte makes jansson's reading its own: see
 * jparse_loadb()). Strings are scanned eight bytes at a time, and one without
 * an escape is copied once, straight from the input into its json_t.
 *
 * Numbers go through strtoll()/strtod() as jansson's do, which read '.' as
 * the decimal point: llmtap never calls setlocale().
 */
#include "llm/jparse.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JP_DEPTH_MAX 512	/* deeper: jansson's own reading (its limit is 2048) */
#define JP_NUM_MAX 63		/* longer numbers: jansson's own reading */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

enum jp_fail { JP_OK, JP_BAD, JP_PUNT };

struct jp {
	const unsigned char *p, *end;
	size_t flags, len;
	char *tmp;		/* unescaped string text, len bytes, made at the first escape */
	enum jp_fail fail;
	int depth;
};

static json_t *jp_value(struct jp *j);

/* Fail with why; NULL for the caller to return. */
static json_t *jp_fail(struct jp *j, enum jp_fail why)
{
	if (j->fail == JP_OK)
		j->fail = why;
	return NULL;
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

/* Past white space: 1, and past it, when c is next; else 0. */
static int jp_take(struct jp *j, char c)
{
	jp_ws(j);
	if (j->p >= j->end || *j->p != (unsigned char)c)
		return 0;
	j->p++;
	return 1;
}

/* 1 when none of the eight bytes of w ends or interrupts a plain run of
 * string text: no '"', no '\\', nothing below 0x20, nothing above 0x7f. */
static int word_plain(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

	return !((((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w) | w) & HIGHS);
}

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80), 0 if it is not
 * one: overlong forms, surrogates and values past U+10FFFF are not. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], v;
	size_t n, i;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if ((size_t)(end - p) < n)
		return 0;
	v = c & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

/* Four hex digits at p into *v; 0 if they are not. */
static int hex4(const unsigned char *p, const unsigned char *end, unsigned *v)
{
	int i, d;

	if (end - p < 4)
		return 0;
	for (*v = 0, i = 0; i < 4; i++) {
		d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' :
		    p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 :
		    p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10 : -1;
		if (d < 0)
			return 0;
		*v = *v << 4 | (unsigned)d;
	}
	return 1;
}

/* Decode the escape at p (a backslash) into *out, advancing it; the byte
 * after the escape, or NULL when it is not a valid one. */
static const unsigned char *jp_escape(struct jp *j, const unsigned char *p, char **out)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	const unsigned char *end = j->end;
	const char *s;
	char *o = *out;
	unsigned v, lo;

	if (end - p < 2)
		return NULL;
	if (p[1] != 'u') {
		for (s = simple; *s; s += 2)
			if (*s == (char)p[1]) {
				*o++ = s[1];
				*out = o;
				return p + 2;
			}
		return NULL;
	}
	if (!hex4(p + 2, end, &v))
		return NULL;
	p += 6;
	if (v >= 0xdc00 && v <= 0xdfff)
		return NULL;		/* a low surrogate alone */
	if (v >= 0xd800 && v <= 0xdbff) {
		if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) ||
		    lo < 0xdc00 || lo > 0xdfff)
			return NULL;
		v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	if (!v && !(j->flags & JSON_ALLOW_NUL))
		return NULL;
	if (v < 0x80) {
		*o++ = (char)v;
	} else if (v < 0x800) {
		*o++ = (char)(0xc0 | v >> 6);
		*o++ = (char)(0x80 | (v & 0x3f));
	} else if (v < 0x10000) {
		*o++ = (char)(0xe0 | v >> 12);
		*o++ = (char)(0x80 | ((v >> 6) & 0x3f));
		*o++ = (char)(0x80 | (v & 0x3f));
	} else {
		*o++ = (char)(0xf0 | v >> 18);
		*o++ = (char)(0x80 | ((v >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((v >> 6) & 0x3f));
		*o++ = (char)(0x80 | (v & 0x3f));
	}
	*out = o;
	return p;
}

/* Read a string whose opening quote was just passed: *s and *n its text,
 * in the input when it has no escape, else in j->tmp (valid until the next
 * string). 0, or -1 when it is not a valid JSON string. */
static int jp_string(struct jp *j, const char **s, size_t *n)
{
	const unsigned char *p = j->p, *end = j->end, *run = p;
	char *out = NULL;	/* where unescaped text goes on, once an escape was seen */
	uint64_t w;
	size_t k;

	for (;;) {
		while (end - p >= 8) {
			memcpy(&w, p, 8);
			if (!word_plain(w))
				break;
			p += 8;
		}
		if (p >= end)
			return -1;
		if (*p == '"')
			break;
		if (*p < 0x20)
			return -1;
		if (*p < 0x80 && *p != '\\') {
			p++;
			continue;
		}
		if (*p >= 0x80) {
			if (!(k = utf8_len(p, end)))
				return -1;
			p += k;
			continue;
		}
		if (!out) {
			/* unescaping never lengthens text: the input's length is enough */
			if (!j->tmp && !(j->tmp = malloc(j->len)))
				return -1;
			out = j->tmp;
		}
		memcpy(out, run, (size_t)(p - run));
		out += p - run;
		if (!(p = jp_escape(j, p, &out)))
			return -1;
		run = p;
	}
	if (out) {
		memcpy(out, run, (size_t)(p - run));
		out += p - run;
		*s = j->tmp;
		*n = (size_t)(out - j->tmp);
	} else {
		*s = (const char *)run;
		*n = (size_t)(p - run);
	}
	j->p = p + 1;
	return 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* A number at j->p, by jansson's grammar and conversions. */
static json_t *jp_number(struct jp *j)
{
	const unsigned char *p = j->p, *end = j->end;
	char text[JP_NUM_MAX + 1];
	int real = 0;
	size_t n;

	if (p < end && *p == '-')
		p++;
	if (!is_digit(p, end))
		return jp_fail(j, JP_BAD);
	if (*p == '0') {
		if (is_digit(++p, end))
			return jp_fail(j, JP_BAD);	/* a leading zero */
	} else {
		while (is_digit(p, end))
			p++;
	}
	if (p < end && *p == '.') {
		if (!is_digit(++p, end))
			return jp_fail(j, JP_BAD);
		while (is_digit(p, end))
			p++;
		real = 1;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, end))
			return jp_fail(j, JP_BAD);
		while (is_digit(p, end))
			p++;
		real = 1;
	}
	n = (size_t)(p - j->p);
	if (n > JP_NUM_MAX)
		return jp_fail(j, JP_PUNT);
	memcpy(text, j->p, n);
	text[n] = 0;
	j->p = p;
	errno = 0;
	if (!real) {
		long long v = strtoll(text, NULL, 10);

		if (errno == ERANGE)
			return jp_fail(j, JP_BAD);	/* jansson: "too big integer" */
		return json_integer(v) ?: jp_fail(j, JP_BAD);
	} else {
		double v = strtod(text, NULL);

		if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
			return jp_fail(j, JP_BAD);	/* jansson: "real number overflow" */
		return json_real(v) ?: jp_fail(j, JP_BAD);
	}
}

/* The literal word at j->p, or a failure. */
static json_t *jp_word(struct jp *j, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return jp_fail(j, JP_BAD);
	j->p += n;
	return v;
}

/* An object's members; j->p is past its '{'. */
static json_t *jp_object(struct jp *j)
{
	json_t *o = json_object(), *v;
	const char *k;
	char *kcopy;
	size_t kn;

	if (!o)
		return jp_fail(j, JP_BAD);
	if (jp_take(j, '}'))
		return o;
	do {
		if (!jp_take(j, '"') || jp_string(j, &k, &kn))
			goto bad;
		if (memchr(k, 0, kn))
			goto bad;		/* jansson: "NUL byte in object key not supported" */
		if ((j->flags & JSON_REJECT_DUPLICATES) && json_object_getn(o, k, kn))
			goto bad;
		kcopy = NULL;
		if (k == j->tmp && kn) {
			/* an unescaped key: the value's strings reuse j->tmp */
			if (!(kcopy = malloc(kn)))
				goto bad;
			k = memcpy(kcopy, k, kn);
		}
		if (!jp_take(j, ':')) {
			free(kcopy);
			goto bad;
		}
		if (!(v = jp_value(j))) {
			free(kcopy);
			goto fail;
		}
		if (json_object_setn_new_nocheck(o, k, kn, v)) {
			free(kcopy);
			goto bad;
		}
		free(kcopy);
	} while (jp_take(j, ','));
	if (jp_take(j, '}'))
		return o;
bad:
	jp_fail(j, JP_BAD);
fail:
	json_decref(o);
	return NULL;
}

/* An array's elements; j->p is past its '['. */
static json_t *jp_array(struct jp *j)
{
	json_t *a = json_array(), *v;

	if (!a)
		return jp_fail(j, JP_BAD);
	if (jp_take(j, ']'))
		return a;
	do {
		if (!(v = jp_value(j)))
			goto fail;
		if (json_array_append_new(a, v))
			goto bad;
	} while (jp_take(j, ','));
	if (jp_take(j, ']'))
		return a;
bad:
	jp_fail(j, JP_BAD);
fail:
	json_decref(a);
	return NULL;
}

/* Any value at j->p (after white space). */
static json_t *jp_value(struct jp *j)
{
	const char *s;
	size_t n;
	json_t *v;

	jp_ws(j);
	if (j->p >= j->end)
		return jp_fail(j, JP_BAD);
	switch (*j->p) {
	case '{':
	case '[':
		if (j->depth >= JP_DEPTH_MAX)
			return jp_fail(j, JP_PUNT);
		j->depth++;
		v = *j->p++ == '{' ? jp_object(j) : jp_array(j);
		j->depth--;
		return v;
	case '"':
		j->p++;
		if (jp_string(j, &s, &n))
			return jp_fail(j, JP_BAD);
		return json_stringn_nocheck(s, n) ?: jp_fail(j, JP_BAD);
	case 't':
		return jp_word(j, "true", json_true());
	case 'f':
		return jp_word(j, "false", json_false());
	case 'n':
		return jp_word(j, "null", json_null());
	default:
		return jp_number(j);
	}
}

/* Read the object or array at the start of buf (after white space); with
 * whole, nothing but white space may follow it. The document, or NULL with
 * the reason in j->fail; *used: the bytes up to its closing bracket. */
static json_t *jp_root(struct jp *j, int whole, size_t *used)
{
	json_t *root = NULL;

	jp_ws(j);
	if (j->p < j->end && (*j->p == '{' || *j->p == '[')) {
		root = jp_value(j);
		*used = (size_t)(j->p - (j->end - j->len));
		if (whole)
			jp_ws(j);
		if (root && whole && j->p != j->end) {
			json_decref(root);	/* jansson: "end of file expected" */
			root = jp_fail(j, JP_BAD);
		}
	} else {
		jp_fail(j, JP_BAD);
	}
	free(j->tmp);
	j->tmp = NULL;
	return root;
}

/* 1 when a failed reading of buf is jansson's to redo: what this reader
 * does not read itself, or a NUL byte, which is in nothing it accepts but
 * which jansson's stream skips after a token it put back (it reads
 * "[5\0]" as [5]). */
static int jp_redo(const struct jp *j, const char *buf, size_t len)
{
	return j->fail == JP_PUNT || memchr(buf, 0, len);
}

json_t *jparse_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	struct jp j = { (const unsigned char *)buf, (const unsigned char *)buf + len, flags, len, NULL, JP_OK, 0 };
	json_t *root;
	size_t used;

	if (err || !buf || (flags & ~(size_t)(JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)))
		return json_loadb(buf, len, flags, err);
	root = jp_root(&j, 1, &used);
	if (!root && jp_redo(&j, buf, len))
		return json_loadb(buf, len, flags, NULL);
	return root;
}

json_t *jparse_loadb_first(const char *buf, size_t len, size_t flags, size_t *used)
{
	struct jp j = { (const unsigned char *)buf, (const unsigned char *)buf + len, flags, len, NULL, JP_OK, 0 };
	json_error_t err;
	json_t *root;

	*used = 0;
	if (!buf || (flags & ~(size_t)(JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)) ||
	    (root = jp_root(&j, 0, used), !root && jp_redo(&j, buf, len))) {
		root = json_loadb(buf, len, flags | JSON_DISABLE_EOF_CHECK, &err);
		*used = root && err.position > 0 ? (size_t)err.position : 0;
	}
	if (!root)
		*used = 0;
	return root;
}
