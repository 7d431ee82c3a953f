/* sigpat.c -- byte signatures of machine code: hex bytes, .. for any byte, (a|b) alternatives and ( )? optional groups, matched at one position. */
#include "capture/sigpat.h"

/* Where to go on when the sequence being matched ends: the rest of the
 * enclosing group's pattern, then that group's own continuation. */
struct cont {
	const char *p;
	const struct cont *next;
};

/* The value of hex digit c, or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The character after the group opened at p ('('), past its ')'. */
static const char *group_end(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return p;
}

/* The next alternative of the group whose alternative starts at p (the
 * character after its '|'), or NULL at the group's ')'. */
static const char *next_alt(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')') {
			if (depth-- == 0)
				return NULL;
		} else if (*p == '|' && depth == 0)
			return p + 1;
	}
	return NULL;
}

/* Match pattern p at b[pos..n), then continuation k. Returns the end
 * position of the whole match, or -1. */
static long match_at(const char *p, const uint8_t *b, size_t n, size_t pos, const struct cont *k)
{
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p || *p == ')' || *p == '|') {
			/* this sequence is done: resume after the group it was in */
			if (!k)
				return (long)pos;
			p = k->p;
			k = k->next;
			continue;
		}
		if (*p == '(') {
			const char *after = group_end(p), *alt = p + 1;
			int optional = *after == '?';
			struct cont c;
			long r;

			if (optional)
				after++;
			c.p = after;
			c.next = k;
			while (alt) {
				r = match_at(alt, b, n, pos, &c);
				if (r >= 0)
					return r;
				alt = next_alt(alt);
			}
			if (!optional)
				return -1;
			p = after;
			continue;
		}
		if (pos >= n)
			return -1;
		if (p[0] == '.' && p[1] == '.') {
			p += 2;
			pos++;
			continue;
		}
		if (hexval(p[0]) < 0 || hexval(p[1]) < 0 ||
		    b[pos] != (uint8_t)(hexval(p[0]) << 4 | hexval(p[1])))
			return -1;
		p += 2;
		pos++;
	}
}

long sigpat_match(const char *pat, const uint8_t *b, size_t n)
{
	return match_at(pat, b, n, 0, NULL);
}

int sigpat_valid(const char *pat)
{
	const char *p = pat;
	int depth = 0;

	while (*p) {
		if (*p == ' ') {
			p++;
		} else if (*p == '(') {
			depth++;
			p++;
		} else if (*p == ')') {
			if (--depth < 0)
				return 0;
			p++;
			if (*p == '?')
				p++;
		} else if (*p == '|') {
			if (!depth)
				return 0;
			p++;
		} else if ((p[0] == '.' && p[1] == '.') || (hexval(p[0]) >= 0 && hexval(p[1]) >= 0)) {
			p += 2;
			if (*p && *p != ' ' && *p != ')' && *p != '|' && *p != '(')
				return 0;
		} else {
			return 0;
		}
	}
	return depth == 0;
}
