/* http1.c -- pure, resumable HTTP/1.1 message parser (one direction of a connection). */
#include "proto/http1.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"

/* Where the parser is in the stream. */
enum p_state {
	ST_IDLE,	/* between messages: skipping stray CR/LF */
	ST_HEAD,	/* buffering the start line and headers */
	ST_BODY_LEN,	/* Content-Length body */
	ST_BODY_CHUNK,	/* chunked body */
	ST_BODY_CLOSE,	/* body delimited by the end of the stream */
	ST_SWITCHED,	/* after a 101 response: the rest is another protocol */
};

/* Where the start-line validator is, byte by byte. */
enum sl_state {
	SL_METHOD,	/* request: method token */
	SL_TARGET0,	/* request: first byte of the target */
	SL_TARGET,	/* request: rest of the target */
	SL_VER,		/* "HTTP/1.x" (request at the end, response at the start) */
	SL_VER_END,	/* request: after the version, before CR/LF */
	SL_STATUS,	/* response: three status digits */
	SL_REASON,	/* response: reason phrase */
	SL_CR,		/* seen CR, only LF may follow */
};

/* Where the chunked-body decoder is. */
enum ch_state {
	CH_SIZE0,	/* first hex digit of a chunk size */
	CH_SIZE,	/* more hex digits */
	CH_SIZE_WS,	/* whitespace after the size, before ';' or CRLF */
	CH_EXT,		/* chunk extension: skipped up to LF */
	CH_SIZE_LF,	/* CR seen after the size line, LF must follow */
	CH_DATA,	/* chunk data */
	CH_DATA_CR,	/* CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,	/* start of a trailer line (or the final empty line) */
	CH_TRAILER_LINE, /* inside a trailer line, skipped up to LF */
	CH_END_LF,	/* CR of the final empty line seen, LF must follow */
};

/* Offsets of one header line inside the head buffer. */
struct hdr_off {
	uint32_t name, name_len;
	uint32_t value, value_len;
};

/* Longest chunk-size line (digits, whitespace, extensions) we accept. */
#define CHUNK_LINE_MAX 4096

struct http1_parser {
	enum http1_type type;
	struct http1_callbacks cb;
	void *ud;
	int err;		/* 0, or the sticky HTTP1_ERR_* */
	int in_msg;
	enum p_state state;

	/* head */
	struct buf head;	/* bytes of the current head so far */
	size_t line_start;	/* offset of the current (unfinished) line */
	int n_lines;		/* completed lines (start line included) */
	enum sl_state sl;
	unsigned sl_n;		/* bytes matched in the current start-line part */
	size_t n_hdrs;
	struct hdr_off hoff[HTTP1_MAX_HEADERS];
	struct http1_header hdrs[HTTP1_MAX_HEADERS];

	/* body */
	uint64_t remaining;	/* Content-Length left, or chunk data left */
	enum ch_state ch;
	size_t ch_line;		/* bytes in the current size or trailer line(s) */
};

static const char ver_prefix[] = "HTTP/1.";

/* Returns 1 when c is an RFC 9110 tchar (method and header-name bytes). */
static int is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Returns 1 when c may appear in a field value or reason phrase (HTAB, VCHAR, SP, obs-text). */
static int is_vchar(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

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
	p->sl = p->type == HTTP1_REQUEST ? SL_METHOD : SL_VER;
	p->sl_n = 0;
	p->in_msg = 1;
	p->state = ST_HEAD;
}

/* The current message is complete: tells the caller and waits for the next.
 * A head buffer that grew large is released so idle parsers stay small. */
static void msg_done(struct http1_parser *p)
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

/* Validates one start-line byte (not the final LF). Returns 0, or
 * HTTP1_ERR_NOT_HTTP as soon as the bytes cannot begin an HTTP/1.x start
 * line, or HTTP1_ERR_SYNTAX when they look like HTTP but are malformed. */
static int sl_step(struct http1_parser *p, uint8_t c)
{
	int req = p->type == HTTP1_REQUEST;

	switch (p->sl) {
	case SL_METHOD:
		if (c == ' ' && p->sl_n > 0) {
			p->sl = SL_TARGET0;
			return 0;
		}
		if (!is_tchar(c) || ++p->sl_n >= sizeof(((struct http1_head *)0)->method))
			return HTTP1_ERR_NOT_HTTP;
		return 0;
	case SL_TARGET0:
		if (c <= 0x20 || c == 0x7f)
			return HTTP1_ERR_NOT_HTTP;
		p->sl = SL_TARGET;
		return 0;
	case SL_TARGET:
		if (c == ' ') {
			p->sl = SL_VER;
			p->sl_n = 0;
			return 0;
		}
		if (c < 0x20 || c == 0x7f)
			return HTTP1_ERR_NOT_HTTP;
		return 0;
	case SL_VER:
		if (p->sl_n < sizeof(ver_prefix) - 1) {
			if (c != (uint8_t)ver_prefix[p->sl_n])
				return HTTP1_ERR_NOT_HTTP;
		} else if (p->sl_n == sizeof(ver_prefix) - 1) {
			if (c < '0' || c > '9')
				return HTTP1_ERR_NOT_HTTP;
			if (req)
				p->sl = SL_VER_END;
		} else {
			/* response: "HTTP/1.x" must be followed by one SP */
			if (c != ' ')
				return HTTP1_ERR_NOT_HTTP;
			p->sl = SL_STATUS;
			p->sl_n = 0;
			return 0;
		}
		p->sl_n++;
		return 0;
	case SL_VER_END:
		if (c != '\r')
			return HTTP1_ERR_SYNTAX;
		p->sl = SL_CR;
		return 0;
	case SL_STATUS:
		if (p->sl_n < 3) {
			if (c < '0' || c > '9')
				return HTTP1_ERR_SYNTAX;
			p->sl_n++;
			return 0;
		}
		if (c == ' ')
			p->sl = SL_REASON;
		else if (c == '\r')
			p->sl = SL_CR;
		else
			return HTTP1_ERR_SYNTAX;
		return 0;
	case SL_REASON:
		if (c == '\r')
			p->sl = SL_CR;
		else if (!is_vchar(c))
			return HTTP1_ERR_SYNTAX;
		return 0;
	case SL_CR:
		return HTTP1_ERR_SYNTAX;
	}
	return HTTP1_ERR_SYNTAX;
}

/* The start line ended (LF seen). Returns 0 when it is complete, else the error. */
static int sl_end(const struct http1_parser *p)
{
	switch (p->sl) {
	case SL_VER_END:
	case SL_REASON:
	case SL_CR:
		return 0;
	case SL_STATUS:
		return p->sl_n == 3 ? 0 : HTTP1_ERR_SYNTAX;
	default:
		return HTTP1_ERR_NOT_HTTP;
	}
}

/* Validates the header line at [s, s + n) (without CR/LF) and records its
 * offsets. Returns 0, HTTP1_ERR_SYNTAX (bad name, obs-fold, control bytes)
 * or HTTP1_ERR_HEAD_BIG (too many headers). */
static int header_line(struct http1_parser *p, size_t s, size_t n)
{
	const uint8_t *l = p->head.data + s;
	size_t i = 0, vs, ve;
	struct hdr_off *h;

	/* obs-fold (a continuation line) is rejected, as RFC 9112 allows */
	while (i < n && is_tchar(l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ':')
		return HTTP1_ERR_SYNTAX;
	for (vs = i + 1; vs < n && (l[vs] == ' ' || l[vs] == '\t'); vs++)
		;
	for (ve = n; ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'); ve--)
		;
	for (size_t j = vs; j < ve; j++)
		if (!is_vchar(l[j]))
			return HTTP1_ERR_SYNTAX;
	if (p->n_hdrs >= HTTP1_MAX_HEADERS)
		return HTTP1_ERR_HEAD_BIG;
	h = &p->hoff[p->n_hdrs++];
	h->name = s;
	h->name_len = i;
	h->value = s + vs;
	h->value_len = ve - vs;
	return 0;
}

/* Parses a Content-Length value into *out. Returns 0, or -1 when it is not
 * a plain decimal number (lists such as "5, 5" included) or too large. */
static int parse_length(const char *v, int64_t *out)
{
	int64_t n = 0;

	if (!*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*v - '0');
	}
	*out = n;
	return 0;
}

/* Returns 1 when the last coding in a Transfer-Encoding value is "chunked",
 * 0 when it is something else, -1 when the value lists no coding. */
int http1_list_next(const char **s, const char **tok, size_t *len)
{
	const char *p = *s, *b, *e;

	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (!*p) {
		*s = p;
		return 0;
	}
	b = p;
	while (*p && *p != ',')
		p++;
	e = p;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*tok = b;
	*len = e - b;
	*s = p;
	return 1;
}

static int te_last_chunked(const char *v)
{
	const char *last = NULL, *tok;
	size_t n, last_n = 0;

	while (http1_list_next(&v, &tok, &n)) {
		if (n) {
			last = tok;
			last_n = n;
		}
	}
	if (!last)
		return -1;
	return last_n == 7 && strncasecmp(last, "chunked", 7) == 0;
}

/* Fills h from the validated head buffer, NUL-terminating its parts in
 * place; *te_seen says whether a Transfer-Encoding named any coding.
 * Returns 0 or HTTP1_ERR_SYNTAX (bad or conflicting framing headers). */
static int head_build(struct http1_parser *p, struct http1_head *h, int *te_seen)
{
	char *b = (char *)p->head.data;
	char *sp;

	*te_seen = 0;
	memset(h, 0, sizeof(*h));
	h->type = p->type;
	h->content_length = -1;
	for (size_t i = 0; i < p->n_hdrs; i++) {
		const struct hdr_off *o = &p->hoff[i];

		b[o->name + o->name_len] = 0;	/* was ':' */
		b[o->value + o->value_len] = 0;	/* was SP, HTAB, CR or LF */
		p->hdrs[i].name = b + o->name;
		p->hdrs[i].value = b + o->value;
	}
	h->headers = p->hdrs;
	h->n_headers = p->n_hdrs;

	/* the start line was validated byte by byte, so fixed offsets hold */
	if (p->type == HTTP1_REQUEST) {
		sp = strchr(b, ' ');
		memcpy(h->method, b, sp - b);
		h->method[sp - b] = 0;
		h->target = sp + 1;
		sp = strchr(h->target, ' ');
		*sp = 0;
		h->version_minor = sp[sizeof(ver_prefix)] - '0';
	} else {
		h->version_minor = b[sizeof(ver_prefix) - 1] - '0';
		h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
		if (h->status < 100)
			return HTTP1_ERR_SYNTAX;
		/* b[12] is SP, CR or LF; a reason runs to CR or LF */
		h->reason = b + 12 + (b[12] == ' ');
		h->reason[strcspn(h->reason, "\r\n")] = 0;
	}

	for (size_t i = 0; i < h->n_headers; i++) {
		const char *name = h->headers[i].name, *v = h->headers[i].value;

		if (strcasecmp(name, "content-length") == 0) {
			/* a second Content-Length, equal or not, is refused */
			if (h->content_length >= 0 || parse_length(v, &h->content_length))
				return HTTP1_ERR_SYNTAX;
		} else if (strcasecmp(name, "transfer-encoding") == 0) {
			int c = te_last_chunked(v);

			if (c < 0)
				continue;
			*te_seen = 1;
			h->chunked = c;
		}
	}
	/* a request must be framed: a non-chunked transfer coding cannot be */
	if (*te_seen && !h->chunked && p->type == HTTP1_REQUEST)
		return HTTP1_ERR_SYNTAX;
	return 0;
}

/* The head is complete: reports it and chooses how the body is framed.
 * Returns 0 or an HTTP1_ERR_*. */
static int head_done(struct http1_parser *p)
{
	struct http1_head h;
	int no_body = 0, te_seen, err;

	err = head_build(p, &h, &te_seen);
	if (err)
		return err;
	if (p->cb.on_head && p->cb.on_head(p->ud, &h))
		no_body = 1;
	if (p->type == HTTP1_RESPONSE &&
	    ((h.status >= 100 && h.status < 200) || h.status == 204 || h.status == 304))
		no_body = 1;

	if (no_body) {
		msg_done(p);
		/* 101 Switching Protocols (RFC 9110 section 15.2.2): the next
		 * byte after its head belongs to the new protocol. */
		if (p->type == HTTP1_RESPONSE && h.status == 101)
			p->state = ST_SWITCHED;
	} else if (h.chunked) {
		p->state = ST_BODY_CHUNK;
		p->ch = CH_SIZE0;
		p->ch_line = 0;
		p->remaining = 0;
	} else if (te_seen) {
		/* a transfer coding other than chunked: the close ends the body,
		 * whatever Content-Length says (RFC 9112 section 6.3) */
		p->state = ST_BODY_CLOSE;
	} else if (h.content_length > 0) {
		p->state = ST_BODY_LEN;
		p->remaining = h.content_length;
	} else if (h.content_length == 0 || p->type == HTTP1_REQUEST) {
		msg_done(p);
	} else {
		p->state = ST_BODY_CLOSE;
	}
	return 0;
}

/* A line of the head ended at the LF just appended. Returns 0 (the head
 * may now be complete and the body state chosen) or an HTTP1_ERR_*. */
static int head_line(struct http1_parser *p)
{
	size_t s = p->line_start, n = p->head.len - 1 - s;

	p->line_start = p->head.len;
	if (n && p->head.data[s + n - 1] == '\r')
		n--;
	if (p->n_lines++ == 0)
		return sl_end(p);
	if (n == 0)
		return head_done(p);
	return header_line(p, s, n);
}

/* Takes head bytes from d. Returns the bytes consumed (the rest belongs to
 * the body or to the next message) or a negative HTTP1_ERR_*. */
static long head_feed(struct http1_parser *p, const uint8_t *d, size_t len)
{
	size_t off = 0;

	while (off < len && p->state == ST_HEAD) {
		const uint8_t *nl = memchr(d + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (d + off)) + 1 : len - off;
		size_t room = HTTP1_MAX_HEAD - p->head.len;
		int big = 0, err;

		if (n > room) {
			n = room;
			nl = NULL;
			big = 1;
		}
		if (p->n_lines == 0) {
			/* the start line is checked as it arrives, to say NOT_HTTP early */
			size_t m = nl ? n - 1 : n;

			for (size_t i = 0; i < m; i++) {
				err = sl_step(p, d[off + i]);
				if (err)
					return err;
			}
		}
		if (buf_append(&p->head, d + off, n))
			return HTTP1_ERR_NOMEM;
		off += n;
		if (big)
			return HTTP1_ERR_HEAD_BIG;
		if (nl) {
			err = head_line(p);
			if (err)
				return err;
		}
	}
	return off;
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
				msg_done(p);
			} else {
				if (++p->ch_line > HTTP1_MAX_HEAD)
					return HTTP1_ERR_HEAD_BIG;
				p->ch = CH_TRAILER_LINE;
			}
			break;
		case CH_END_LF:
			if (c != '\n')
				return HTTP1_ERR_CHUNK;
			msg_done(p);
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
			n = head_feed(p, data + off, len - off);
			break;
		case ST_BODY_LEN:
			n = len - off;
			if ((uint64_t)n > p->remaining)
				n = p->remaining;
			if (p->cb.on_body)
				p->cb.on_body(p->ud, data + off, n);
			p->remaining -= n;
			if (!p->remaining)
				msg_done(p);
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
		msg_done(p);
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

/* Returns the first header value named name (any case), or NULL. */
const char *http1_head_get(const struct http1_head *h, const char *name)
{
	for (size_t i = 0; i < h->n_headers; i++)
		if (strcasecmp(h->headers[i].name, name) == 0)
			return h->headers[i].value;
	return NULL;
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
		return "head too large or too many headers";
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
