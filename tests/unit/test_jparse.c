/* test_jparse.c -- jparse_loadb() gives json_loadb()'s document, or none when jansson gives none: edge cases, and generated documents whole and cut. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "llm/jparse.h"

static int same_first(const char *b, size_t n, size_t flags);

/* Both readers on the same bytes: the same document (key order too) or both none. */
static int same(const char *doc, size_t n, size_t flags)
{
	json_t *a = jparse_loadb(doc, n, flags, NULL), *b = json_loadb(doc, n, flags, NULL);
	char *da = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *db = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int ok = !a == !b && (!a || (json_equal(a, b) && da && db && !strcmp(da, db)));

	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
	return ok;
}

/* Both agree on doc under every flag this reader reads itself; want: jansson reads it. */
static void check(const char *doc, int want)
{
	static const size_t flags[] = { 0, JSON_ALLOW_NUL, JSON_REJECT_DUPLICATES };
	json_t *b = json_loadb(doc, strlen(doc), JSON_ALLOW_NUL, NULL);
	size_t i;

	CHECKF(!!b == want, "jansson %s \"%s\"", b ? "reads" : "refuses", doc);
	json_decref(b);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		CHECKF(same(doc, strlen(doc), flags[i]), "flags %zu: \"%s\"", flags[i], doc);
}

static void test_edges(void)
{
	static const struct { const char *doc; int ok; } c[] = {
		{ "{}", 1 }, { "[]", 1 }, { " \t\r\n{ } \n", 1 }, { "", 0 }, { "   ", 0 },
		{ "1", 0 }, { "\"s\"", 0 }, { "null", 0 }, { "{} x", 0 }, { "{}{}", 0 },
		{ "{\"a\":1,}", 0 }, { "[1,]", 0 }, { "[,1]", 0 }, { "{\"a\" 1}", 0 }, { "{1:2}", 0 },
		{ "[true,false,null]", 1 }, { "[tru]", 0 }, { "[truex]", 0 }, { "[nul]", 0 }, { "[True]", 0 },
		/* numbers */
		{ "[0,-0,1,-1,10,123456789]", 1 }, { "[01]", 0 }, { "[-]", 0 }, { "[+1]", 0 }, { "[.5]", 0 },
		{ "[1.]", 0 }, { "[1.5,-0.0,1e5,1E+5,1e-5,2.5E-3]", 1 }, { "[1e]", 0 }, { "[1e+]", 0 },
		{ "[9223372036854775807,-9223372036854775808]", 1 }, { "[9223372036854775808]", 0 },
		{ "[-9223372036854775809]", 0 }, { "[1e308,1e-400,4.9e-324]", 1 }, { "[1e309]", 0 },
		{ "[-1e400]", 0 }, { "[0.1000000000000000055511151231257827021181583404541015625]", 1 },
		{ "[100000000000000000000000000000000000000000000000000000000000000000000000.5]", 1 },
		{ "[1000000000000000000000000000000000000000000000000000000000000000000000000]", 0 },
		{ "[1x]", 0 }, { "[1true]", 0 }, { "[0x10]", 0 }, { "[Infinity]", 0 }, { "[NaN]", 0 },
		/* strings */
		{ "[\"\"]", 1 }, { "[\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"]", 1 }, { "[\"\\x\"]", 0 },
		{ "[\"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\"]", 1 }, { "[\"\\uD83D\"]", 0 },
		{ "[\"\\uD83Dx\"]", 0 }, { "[\"\\uD83D\\u0041\"]", 0 }, { "[\"\\uDE00\"]", 0 },
		{ "[\"\\u12\"]", 0 }, { "[\"\\u12G4\"]", 0 }, { "[\"\\u0000\"]", 1 }, { "{\"\\u0000\":1}", 0 },
		{ "{\"a\\u0000b\":1}", 0 }, { "[\"a\tb\"]", 0 }, { "[\"a\nb\"]", 0 }, { "[\"a\x7f\"]", 1 },
		{ "[\"unterminated]", 0 }, { "[\"abc\\\"]", 0 }, { "[\"\\", 0 },
		{ "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", 1 }, { "[\"\xc3\"]", 0 }, { "[\"\xc0\x80\"]", 0 },
		{ "[\"\xe0\x80\x80\"]", 0 }, { "[\"\xed\xa0\x80\"]", 0 }, { "[\"\xf4\x90\x80\x80\"]", 0 },
		{ "[\"\xf5\x80\x80\x80\"]", 0 }, { "[\"\xff\"]", 0 }, { "[\"\x80\"]", 0 }, { "[\xc3\xa9]", 0 },
		{ "[\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"]", 1 },
		/* objects: duplicates (the last wins, in the first one's place), escaped keys */
		{ "{\"a\":1,\"b\":2,\"a\":3}", 1 }, { "{\"k\\n\":{\"k\\n\":[\"v\\n\"]},\"z\":\"\\u00e9\"}", 1 },
		{ "{\"a\":{\"b\":{\"c\":[1,[2,[3,{}]]]}}}", 1 }, { "{\"a\":}", 0 }, { "{\"a\"}", 0 }, { "{", 0 },
		{ "[", 0 }, { "]", 0 }, { "{\"a\":1", 0 }, { "[1", 0 }, { "[1 2]", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		check(c[i].doc, c[i].ok);
	/* NUL bytes in the input, and past its length */
	CHECK(same("[\"a\0b\"]", 7, JSON_ALLOW_NUL));
	CHECK(same("{}\0", 3, 0));
	CHECK(same("[5,7\0]", 6, 0));		/* jansson reads [5,7] */
	CHECK(same("[true\0]", 7, 0));
	CHECK(same("{\"a\":1\0}", 9, 0));
	CHECK(same("{\"a\":1}xyz", 7, 0));
	CHECK(same("{\"a\":1}xyz", 6, 0));
}

/* Nesting: past this reader's depth it is jansson's reading; past jansson's, none. */
static void test_depth(void)
{
	static const size_t depths[] = { 511, 512, 513, 2047, 2048, 2049, 5000 };
	size_t i, d;
	char *s;

	for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		d = depths[i];
		s = malloc(2 * d + 1);
		memset(s, '[', d);
		memset(s + d, ']', d);
		s[2 * d] = 0;
		CHECKF(same(s, 2 * d, 0), "depth %zu", d);
		free(s);
	}
}

static uint64_t rng = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Append a random value (of the kinds LLM bodies hold) to b at *n. */
static void gen(char *b, size_t *n, size_t cap, int depth)
{
	static const char *atoms[] = { "true", "false", "null", "0", "-12", "3.25", "1e-3", "9007199254740993",
				       "\"\"", "\"gpt-4o\"", "\"line\\nnext \\\"q\\\" \\u00e9\\ud83d\\ude00\"",
				       "\"caf\xc3\xa9 \xe2\x82\xac\"", "\"\\u0000\"" };
	unsigned k, i, m;

	if (*n + 64 >= cap)
		return;
	k = depth > 5 ? 2 : rnd(4);
	if (k == 0 || k == 1) {
		m = rnd(5);
		b[(*n)++] = k ? '{' : '[';
		for (i = 0; i < m && *n + 64 < cap; i++) {
			if (i)
				b[(*n)++] = ',';
			if (k)
				*n += (size_t)snprintf(b + *n, cap - *n, "\"k%u\":", rnd(4));
			gen(b, n, cap, depth + 1);
		}
		b[(*n)++] = k ? '}' : ']';
	} else if (k == 2) {
		*n += (size_t)snprintf(b + *n, cap - *n, "%s", atoms[rnd(sizeof(atoms) / sizeof(atoms[0]))]);
	} else {
		/* a long plain string, as bodies carry */
		m = rnd(48);
		b[(*n)++] = '"';
		for (i = 0; i < m && *n + 8 < cap; i++)
			b[(*n)++] = (char)('a' + rnd(26));
		b[(*n)++] = '"';
	}
}

/* Generated documents, whole, cut at every length, and with one byte
 * changed; read alone and as a stream's first document. */
static void test_generated(void)
{
	static const char junk[] = "\"\\{}[],:0e.-u \x01\x80\xff";
	char b[4096], m[4096];
	size_t n, cut, i, bad = 0, runs = 0;
	unsigned r;

	for (r = 0; r < 400; r++) {
		n = 0;
		b[n++] = '{';
		n += (size_t)snprintf(b + n, sizeof(b) - n, "\"model\":");
		gen(b, &n, sizeof(b) - 32, 0);
		b[n++] = '}';
		for (cut = 0; cut <= n; cut++, runs++) {
			bad += !same(b, cut, r & 1 ? JSON_ALLOW_NUL : JSON_REJECT_DUPLICATES);
			bad += !same_first(b, cut, r & 1 ? JSON_ALLOW_NUL : 0);
		}
		/* the document with another after it, as in a stream */
		memcpy(m, b, n);
		memcpy(m + n, "\n{\"next\":1}", 11);
		bad += !same_first(m, n + 11, 0);
		runs++;
		for (i = 0; i < 16; i++, runs++) {
			memcpy(m, b, n);
			m[rnd((unsigned)n)] = junk[rnd(sizeof(junk) - 1)];
			bad += !same(m, n, r & 1 ? JSON_ALLOW_NUL : 0);
		}
	}
	CHECKF(bad == 0, "%zu of %zu generated documents read differently", bad, runs);
}

/* The first document of b[0..n) by both readers: the same, ending at the same place. */
static int same_first(const char *b, size_t n, size_t flags)
{
	json_error_t err;
	size_t used;
	json_t *a = jparse_loadb_first(b, n, flags, &used);
	json_t *j = json_loadb(b, n, flags | JSON_DISABLE_EOF_CHECK, &err);
	char *da = a ? json_dumps(a, JSON_COMPACT) : NULL, *dj = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int ok = !a == !j && (!a || (da && dj && !strcmp(da, dj) && used == (size_t)err.position));

	free(da);
	free(dj);
	json_decref(a);
	json_decref(j);
	return ok;
}

/* Streams: an array's values and newline-delimited documents, read one at
 * a time from where the last one ended, as the provider parsers do. */
static void test_first(void)
{
	static const char *streams[] = {
		"{\"a\":1}\n{\"b\":[2,3]}\n  {\"c\":\"\\u00e9\"}\n",
		"  [1,2] , {\"x\":{}}]",
		"{\"a\":1}{\"b\":2}",
		"{\"a\":1} trailing words",
		"{\"a\":1}\0{\"b\":2}",
		"{\"a\":1", "", "  ", "1 2", "\"s\" {}", "{\"a\":\"\\ud800\"}",
	};
	size_t i, n, off, used, docs;
	json_t *d;

	for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		n = strlen(streams[i]) + (i == 4 ? 9 : 0);	/* the one with a NUL byte */
		CHECKF(same_first(streams[i], n, JSON_ALLOW_NUL), "stream %zu", i);
		CHECKF(same_first(streams[i], n, 0), "stream %zu", i);
	}
	/* read to the end: three documents, the last one's end the stream's */
	for (off = 0, docs = 0; (d = jparse_loadb_first(streams[0] + off, strlen(streams[0]) - off, 0, &used));
	     off += used, docs++)
		json_decref(d);
	CHECK(docs == 3 && off == strlen(streams[0]) - 1);
}

/* What it reads itself and what it hands on: flags and err go to jansson. */
static void test_handed_on(void)
{
	json_error_t err;
	json_t *v;

	v = jparse_loadb("[1] [2]", 7, JSON_DISABLE_EOF_CHECK, &err);
	CHECK(v && json_array_size(v) == 1 && err.position == 3);
	json_decref(v);
	v = jparse_loadb("{\"a\":", 5, 0, &err);
	CHECK(!v && err.text[0]);
	v = jparse_loadb("\"s\"", 3, JSON_DECODE_ANY, NULL);
	CHECK(v && !strcmp(json_string_value(v), "s"));
	json_decref(v);
	CHECK(!jparse_loadb(NULL, 0, 0, NULL));
}

int main(void)
{
	test_edges();
	test_depth();
	test_generated();
	test_first();
	test_handed_on();
	return harness_done("test_jparse");
}
