/* http1.c -- pure, resumable HTTP/1.1 message parser (one direction of a connection): messages and body framing. */
#include "proto/http1_int.h"

#include <stdlib.h>
#include <string.h>

/* Returns the value of hex digit c, or -1. */
static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Records err as the sticky error and returns it. */
static int fail(struct http1_parser *p, int err)
{
	p->err = err;
	return err;
}

/* Returns a new parser for one direction, or NULL when out of memory. */
struct http1_parser *http1_parser_new(enum http1_type type,
				      const struct http1_callbacks *cb, void *ud)
{
	struct http1_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->type = type;
	if (cb)
		p->cb = *cb;
	p->ud = ud;
	p->state = ST_IDLE;
	return p;
}

/* Frees the parser and its head buffer; NULL is fine. */
void http1_parser_free(struct http1_parser *p)
{
	if (!p)
		return;
	buf_free(&p->head);
	free(p);
}

/* Starts a new message: empties the head and resets the start-line validator. */
static void msg_begin(struct http1_parser *p)
{
	buf_reset(&p->head);
	p->line_start = 0;
	p->n_lines = 0;
	p->n_hdrs = 0;
	p->overflow = 0;
	p->dropped = 0;
	p->drop_len = 0;
	p->drop_long = 0;
	p->drop_clen = -1;
	p->drop_te = -1;
	p->sl = p->type == HTTP1_REQUEST ? SL_METHOD : SL_VER;
	p->sl_n = 0;
	p->in_msg = 1;
	p->state = ST_HEAD;
}

/* The current message is complete: tells the caller and waits for the next.
 * A head buffer that grew large is released so idle parsers stay small. */
void http1_msg_done(struct http1_parser *p)
{
	p->state = ST_IDLE;
	p->in_msg = 0;
	if (p->head.cap > 16 * 1024)
		buf_free(&p->head);
	else
		buf_reset(&p->head);
	if (p->cb.on_done)
		p->cb.on_done(p->ud);
}

/* A chunk-size line ended: go to its data, or to the trailer after the last chunk. */
static void size_line_done(struct http1_parser *p)
{
	p->ch_line = 0;
	p->ch = p->remaining ? CH_DATA : CH_TRAILER;
}

/* Takes chunked-body bytes from d. Returns the bytes consumed (the message
 * may have completed) or a negative HTTP1_ERR_*. */
static long chunk_feed(struct http1_parser *p, const uint8_t *d, size_t len)
{
	size_t off = 0;

	while (off < len && p->state == ST_BODY_CHUNK) {
		uint8_t c = d[off];
		int v;

		switch (p->ch) {
		case CH_DATA: {
			size_t n = len - off;

			if (n > p->remaining)
				n = p->remaining;
			if (p->cb.on_body)
				p->cb.on_body(p->ud, d + off, n);
			off += n;
			p->remaining -= n;
			if (!p->remaining)
				p->ch = CH_DATA_CR;
			continue;
		}
		case CH_TRAILER_LINE: {
			const uint8_t *nl = memchr(d + off, '\n', len - off);
			size_t n = nl ? (size_t)(nl - (d + off)) + 1 : len - off;

			p->ch_line += n;
			if (p->ch_line > HTTP1_MAX_HEAD)
				return HTTP1_ERR_HEAD_BIG;
			off += n;
			if (nl)
				p->ch = CH_TRAILER;
			continue;
		}
		default:
			break;
		}

		off++;
		if (p->ch <= CH_SIZE_LF && ++p->ch_line > CHUNK_LINE_MAX)
			return HTTP1_ERR_CHUNK;
		switch (p->ch) {
		case CH_SIZE0:
		case CH_SIZE:
		case CH_SIZE_WS:
			v = hexval(c);
			if (v >= 0 && p->ch != CH_SIZE_WS) {
				if (p->remaining >> 59)
					return HTTP1_ERR_CHUNK;	/* size overflow */
				p->remaining = p->remaining * 16 + v;
				p->ch = CH_SIZE;
			} else if (p->ch == CH_SIZE0) {
				return HTTP1_ERR_CHUNK;
			} else if (c == ' ' || c == '\t') {
				p->ch = CH_SIZE_WS;
			} else if (c == ';') {
				p->ch = CH_EXT;
			} else if (c == '\r') {
				p->ch = CH_SIZE_LF;
			} else if (c == '\n') {
				size_line_done(p);
			} else {
				return HTTP1_ERR_CHUNK;
			}
			break;
		case CH_EXT:
			/* extensions are skipped; only control bytes are refused */
			if (c == '\n')
				size_line_done(p);
			else if (c != '\t' && c != '\r' && (c < 0x20 || c == 0x7f))
				return HTTP1_ERR_CHUNK;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return HTTP1_ERR_CHUNK;
			size_line_done(p);
			break;
		case CH_DATA_CR:
			if (c == '\r')
				p->ch = CH_DATA_LF;
			else if (c == '\n')
				p->ch = CH_SIZE0;
			else
				return HTTP1_ERR_CHUNK;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return HTTP1_ERR_CHUNK;
			p->ch = CH_SIZE0;
			break;
		case CH_TRAILER:
			if (c == '\r') {
				p->ch = CH_END_LF;
			} else if (c == '\n') {
				http1_msg_done(p);
			} else {
				if (++p->ch_line > HTTP1_MAX_HEAD)
					return HTTP1_ERR_HEAD_BIG;
				p->ch = CH_TRAILER_LINE;
			}
			break;
		case CH_END_LF:
			if (c != '\n')
				return HTTP1_ERR_CHUNK;
			http1_msg_done(p);
			break;
		default:
			return HTTP1_ERR_CHUNK;
		}
	}
	return off;
}

/* Consumes all of data, firing callbacks. Returns len, the bytes up to the
 * end of a 101 response's head (nothing more after it), or the sticky
 * HTTP1_ERR_* (the same one again on every later call). */
long http1_parser_feed(struct http1_parser *p, const uint8_t *data, size_t len)
{
	size_t off = 0;

	if (p->err)
		return p->err;
	while (off < len && p->state != ST_SWITCHED) {
		long n;

		switch (p->state) {
		case ST_IDLE:
			/* stray CRLF between messages is ignored (RFC 9112 section 2.2) */
			if (data[off] == '\r' || data[off] == '\n') {
				off++;
				continue;
			}
			msg_begin(p);
			continue;
		case ST_HEAD:
			n = http1_head_feed(p, data + off, len - off);
			break;
		case ST_BODY_LEN:
			n = len - off;
			if ((uint64_t)n > p->remaining)
				n = p->remaining;
			if (p->cb.on_body)
				p->cb.on_body(p->ud, data + off, n);
			p->remaining -= n;
			if (!p->remaining)
				http1_msg_done(p);
			break;
		case ST_BODY_CHUNK:
			n = chunk_feed(p, data + off, len - off);
			break;
		case ST_BODY_CLOSE:
			n = len - off;
			if (p->cb.on_body)
				p->cb.on_body(p->ud, data + off, n);
			break;
		default:
			n = HTTP1_ERR_SYNTAX;
			break;
		}
		if (n < 0)
			return fail(p, n);
		off += n;
	}
	return off;
}

/* End of stream. Returns 0 between messages or after a close-delimited
 * body (then on_done fires), HTTP1_ERR_TRUNCATED mid-message, or the
 * sticky error. */
int http1_parser_finish(struct http1_parser *p)
{
	if (p->err)
		return p->err;
	switch (p->state) {
	case ST_IDLE:
	case ST_SWITCHED:
		return 0;
	case ST_BODY_CLOSE:
		http1_msg_done(p);
		return 0;
	default:
		return fail(p, HTTP1_ERR_TRUNCATED);
	}
}

/* Returns 1 once a 101 response has switched the stream to another protocol. */
int http1_parser_switched(const struct http1_parser *p)
{
	return p->state == ST_SWITCHED;
}

/* Returns 1 from the first byte of a message until its on_done, else 0. */
int http1_parser_in_message(const struct http1_parser *p)
{
	return p->in_msg;
}

/* Returns a static text for an HTTP1_ERR_* (or 0). */
const char *http1_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case HTTP1_ERR_NOT_HTTP:
		return "not HTTP/1.x";
	case HTTP1_ERR_SYNTAX:
		return "malformed start line or header";
	case HTTP1_ERR_HEAD_BIG:
		return "start line longer than 256 KiB";
	case HTTP1_ERR_CHUNK:
		return "malformed chunked framing";
	case HTTP1_ERR_TRUNCATED:
		return "stream ended mid-message";
	case HTTP1_ERR_NOMEM:
		return "out of memory";
	default:
		return "unknown error";
	}
}
