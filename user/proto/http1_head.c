/* http1_head.c -- the HTTP/1.1 head: start line, header lines, limits, and the body framing it chooses. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/http1_int.h"

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
	/* framing headers among the lines not kept count the same */
	if (p->drop_clen >= 0) {
		if (h->content_length >= 0)
			return HTTP1_ERR_SYNTAX;
		h->content_length = p->drop_clen;
	}
	if (p->drop_te >= 0) {
		*te_seen = 1;
		h->chunked = p->drop_te;
	}
	h->dropped_headers = p->dropped;
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
		http1_msg_done(p);
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
		http1_msg_done(p);
	} else {
		p->state = ST_BODY_CLOSE;
	}
	return 0;
}

/* A line not kept (past the limits) ended: the empty line ends the head;
 * a header is counted, and read when it frames the body. Returns 0 or an
 * HTTP1_ERR_*. */
static int drop_line(struct http1_parser *p)
{
	size_t n = p->drop_len, i = 0, vs;
	int long_line = p->drop_long;

	p->drop_len = 0;
	p->drop_long = 0;
	if (!long_line && n && p->drop[n - 1] == '\r')
		n--;
	if (!n && !long_line)
		return head_done(p);
	p->drop[n] = 0;
	while (i < n && is_tchar((uint8_t)p->drop[i]))
		i++;
	if (i == 0 || i == n || p->drop[i] != ':')
		return HTTP1_ERR_SYNTAX;
	p->dropped++;
	p->drop[i] = 0;
	if (strcasecmp(p->drop, "content-length") && strcasecmp(p->drop, "transfer-encoding"))
		return 0;
	if (long_line)
		return HTTP1_ERR_SYNTAX;
	for (vs = i + 1; p->drop[vs] == ' ' || p->drop[vs] == '\t'; vs++)
		;
	while (n > vs && (p->drop[n - 1] == ' ' || p->drop[n - 1] == '\t'))
		p->drop[--n] = 0;
	if (!strcasecmp(p->drop, "content-length"))
		return p->drop_clen >= 0 || parse_length(p->drop + vs, &p->drop_clen) ?
			HTTP1_ERR_SYNTAX : 0;
	if (te_last_chunked(p->drop + vs) >= 0)
		p->drop_te = te_last_chunked(p->drop + vs);
	return 0;
}

/* Move the head's unfinished line [line_start, len) (n_more of it already
 * there) into drop[]: from here on, lines are read, not kept. */
static void drop_begin(struct http1_parser *p)
{
	size_t s = p->line_start, n = p->head.len - s;

	p->overflow = 1;
	p->drop_len = n < HTTP1_DROPPED_LINE_MAX ? n : HTTP1_DROPPED_LINE_MAX;
	p->drop_long = n > HTTP1_DROPPED_LINE_MAX;
	memcpy(p->drop, p->head.data + s, p->drop_len);
	p->head.len = s;
	p->head.data[s] = 0;
}

/* A line of the head ended at the LF just appended. Returns 0 (the head
 * may now be complete and the body state chosen) or an HTTP1_ERR_*. */
static int head_line(struct http1_parser *p)
{
	size_t s = p->line_start, n = p->head.len - 1 - s;

	if (p->n_lines++ == 0) {
		p->line_start = p->head.len;
		return sl_end(p);
	}
	if (n > 1 && p->n_hdrs >= HTTP1_MAX_HEADERS) {
		/* one header too many: it and the rest are read, not kept */
		p->head.len--;	/* without its LF */
		drop_begin(p);
		return drop_line(p);
	}
	p->line_start = p->head.len;
	if (n && p->head.data[s + n - 1] == '\r')
		n--;
	if (n == 0)
		return head_done(p);
	return header_line(p, s, n);
}

/* Takes the bytes of lines past the limits from d (at most up to the head's
 * end). Returns the bytes consumed or a negative HTTP1_ERR_*. */
static long drop_feed(struct http1_parser *p, const uint8_t *d, size_t len)
{
	size_t off = 0;
	int err;

	while (off < len && p->state == ST_HEAD) {
		const uint8_t *nl = memchr(d + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (d + off)) : len - off;
		size_t room = HTTP1_DROPPED_LINE_MAX - p->drop_len;

		if (n > room)
			p->drop_long = 1;
		memcpy(p->drop + p->drop_len, d + off, n < room ? n : room);
		p->drop_len += n < room ? n : room;
		off += n;
		if (!nl)
			break;
		off++;
		err = drop_line(p);
		if (err)
			return err;
	}
	return off;
}

/* Takes head bytes from d. Returns the bytes consumed (the rest belongs to
 * the body or to the next message) or a negative HTTP1_ERR_*. */
long http1_head_feed(struct http1_parser *p, const uint8_t *d, size_t len)
{
	size_t off = 0;

	while (off < len && p->state == ST_HEAD) {
		const uint8_t *nl;
		size_t n, room = HTTP1_MAX_HEAD - p->head.len;
		int big = 0, err;
		long m;

		if (p->overflow) {
			m = drop_feed(p, d + off, len - off);
			if (m < 0)
				return m;
			off += m;
			continue;
		}
		nl = memchr(d + off, '\n', len - off);
		n = nl ? (size_t)(nl - (d + off)) + 1 : len - off;
		if (n > room) {
			if (p->n_lines > 0) {
				/* a header past HTTP1_MAX_HEAD: it and the rest are not kept */
				if (buf_append(&p->head, d + off, room))
					return HTTP1_ERR_NOMEM;
				off += room;
				drop_begin(p);
				continue;
			}
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

/* Returns the first header value named name (any case), or NULL. */
const char *http1_head_get(const struct http1_head *h, const char *name)
{
	for (size_t i = 0; i < h->n_headers; i++)
		if (strcasecmp(h->headers[i].name, name) == 0)
			return h->headers[i].value;
	return NULL;
}

/* After HTTP1_ERR_HEAD_BIG on a request: its method and the start of its
 * target in h. Returns 0, or -1 when not even the method was complete. */
int http1_parser_partial(struct http1_parser *p, struct http1_head *h)
{
	char *b = (char *)p->head.data, *sp;

	if (p->type != HTTP1_REQUEST || !b || p->n_lines)
		return -1;
	sp = memchr(b, ' ', p->head.len);
	if (!sp || sp == b || (size_t)(sp - b) >= sizeof(h->method))
		return -1;
	memset(h, 0, sizeof(*h));
	h->type = HTTP1_REQUEST;
	h->content_length = -1;
	h->version_minor = 1;
	memcpy(h->method, b, sp - b);
	h->target = sp + 1;	/* the buffer is NUL-terminated */
	h->target[strcspn(h->target, " \r\n")] = 0;
	return 0;
}
