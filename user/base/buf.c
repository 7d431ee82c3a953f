/* buf.c -- growable byte buffer shared by the pure modules. */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *d;

		/* doubling, then a quarter more at a time: a large body's buffer
		 * holds at most 25% unused (stream.c counts capacity against its
		 * memory budget) */
		while (cap < b->len + n + 1)
			cap = cap < (1u << 20) ? cap * 2 : cap + cap / 4;
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = 0;
}

char *buf_steal(struct buf *b)
{
	char *s;

	if (!b->data && buf_append(b, "", 0))
		return NULL;
	s = (char *)b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void buf_truncate(struct buf *b, size_t n)
{
	if (n >= b->len)
		return;
	b->len = n;
	b->data[n] = 0;
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
