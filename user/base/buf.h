/* buf.h -- growable byte buffer shared by the pure modules. */
#ifndef LLMTAP_BUF_H
#define LLMTAP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;	/* always NUL-terminated when non-NULL (not counted in len) */
	size_t len;
	size_t cap;
};

/* Append n bytes. Returns 0, or -1 when out of memory (buf unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. Same returns as buf_append(). */
int buf_puts(struct buf *b, const char *s);
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Take ownership of the bytes as a NUL-terminated string; buf becomes empty.
 * Returns an empty allocated string for an empty buffer, NULL on OOM. */
char *buf_steal(struct buf *b);
/* Keep the first n bytes (n >= len: nothing changes); keeps memory. */
void buf_truncate(struct buf *b, size_t n);
void buf_reset(struct buf *b);	/* len = 0, keeps memory */
void buf_free(struct buf *b);	/* frees memory, buf becomes empty */

#endif
