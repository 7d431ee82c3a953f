/* stream_h2.c -- HTTP/2 client connections: each HTTP/2 stream becomes an exchange of stream.c's machinery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "track/stream_int.h"
#include "llm/redact.h"
#include "base/util.h"

/* ---- HTTP/2: streams become exchanges; the HTTP/1 callbacks above do the
 * body, timing and completion work (c->req_x / c->resp_x point at the
 * stream's exchange for the call). ---- */

static const char *h2_get(const struct h2_header *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

/* Format an HTTP/2 head like an HTTP/1 one: "POST /path HTTP/2" or
 * "HTTP/2 200", a host line from :authority, then the regular headers. */
static void h2_head_format(struct buf *out, const struct h2_header *h, size_t n, int request)
{
	const char *authority = h2_get(h, n, ":authority");
	size_t i;

	if (request) {
		const char *m = h2_get(h, n, ":method");
		char *t = redact_target(h2_get(h, n, ":path"));

		buf_puts(out, m ? m : "");
		buf_puts(out, " ");
		buf_puts(out, t ? t : "");
		buf_puts(out, " HTTP/2\n");
		free(t);
		if (authority && !h2_get(h, n, "host")) {
			buf_puts(out, "host: ");
			buf_puts(out, authority);
			buf_puts(out, "\n");
		}
	} else {
		const char *st = h2_get(h, n, ":status");

		buf_puts(out, "HTTP/2 ");
		buf_puts(out, st ? st : "");
		buf_puts(out, "\n");
	}
	for (i = 0; i < n; i++) {
		char *v;

		if (h[i].name[0] == ':')
			continue;
		v = redact_header_value(h[i].name, h[i].value);
		buf_puts(out, h[i].name);
		buf_puts(out, ": ");
		buf_puts(out, v ? v : REDACTED);
		buf_puts(out, "\n");
		free(v);
	}
}

/* The time of the feed that carried stream offset off of direction dir:
 * its SSL call's entry for writes, its return for reads. */
static uint64_t h2_time_at(const struct stream *c, int dir, uint64_t off)
{
	unsigned i, n = c->h2_nring[dir] < H2_RING ? c->h2_nring[dir] : H2_RING;
	uint64_t ts = 0;

	for (i = 1; i <= n; i++) {
		unsigned k = (c->h2_nring[dir] - i) % H2_RING;

		ts = c->h2_ring[dir][k].ts;
		if (c->h2_ring[dir][k].off <= off)
			break;
	}
	return ts;
}

static int64_t h2_content_length(const struct h2_header *h, size_t n)
{
	const char *v = h2_get(h, n, "content-length");
	char *end;
	long long l;

	if (!v || !*v)
		return -1;
	l = strtoll(v, &end, 10);
	return *end || l < 0 ? -1 : l;
}

/* Has a stream's message in direction dir got all its content-length bytes?
 * Clients stop reading once they have them: the END_STREAM that follows
 * (an empty DATA frame) may never be read. */
static int h2_body_complete(const struct exchange *x, int dir)
{
	return x->h2_clen[dir] > 0 && x->h2_raw[dir] >= (uint64_t)x->h2_clen[dir];
}

static struct exchange *h2_find(struct stream *c, uint32_t stream)
{
	struct exchange *x;

	for (x = c->xq; x; x = x->next)
		if (x->stream_id == stream)
			return x;
	return NULL;
}

static void h2_req_end(struct stream *c, struct exchange *x)
{
	c->req_x = x;
	stream_req_on_done(c);		/* may emit and free x */
	c->req_x = NULL;
}

static void h2_resp_end(struct stream *c, struct exchange *x)
{
	c->resp_x = x;
	stream_resp_on_done(c);	/* may emit and free x */
	c->resp_x = NULL;
}

static void h2w_on_headers(void *ud, uint32_t stream, const struct h2_header *h, size_t n,
			   int end_stream)
{
	struct stream *c = ud;
	struct exchange *x = h2_find(c, stream), **pp;
	const char *m, *host;

	if (!x) {
		m = h2_get(h, n, ":method");
		if (!m || stream <= c->h2_last_sid)
			return;		/* not a request, or a stream already ended */
		c->h2_last_sid = stream;
		x = calloc(1, sizeof(*x));
		if (!x)
			return;
		x->stream_id = stream;
		x->h2_clen[0] = h2_content_length(h, n);
		x->h2_clen[1] = -1;
		x->tid = c->cur->tid;
		x->reused = c->exchanges++ > 0;
		x->t_req_start = h2_time_at(c, 0, h2_parser_frame_offset(c->h2p[0]));
		snprintf(x->method, sizeof(x->method), "%s", m);
		x->target = strdup(h2_get(h, n, ":path") ? h2_get(h, n, ":path") : "");
		host = h2_get(h, n, ":authority");
		if (!host)
			host = h2_get(h, n, "host");
		x->host = host ? strdup(host) : NULL;
		h2_head_format(&x->req_head, h, n, 1);
		x->req_dec = decoder_new(decode_parse_encoding(h2_get(h, n, "content-encoding")));
		for (pp = &c->xq; *pp; pp = &(*pp)->next)
			;
		*pp = x;
	} else if (x->req_done) {
		return;
	}
	if (end_stream)
		h2_req_end(c, x);
}

static void h2w_on_data(void *ud, uint32_t stream, const uint8_t *p, size_t n, int end_stream)
{
	struct stream *c = ud;
	struct exchange *x = h2_find(c, stream);

	if (!x || x->req_done)
		return;
	if (n) {
		c->req_x = x;
		stream_req_on_body(c, p, n);
		c->req_x = NULL;
		x->h2_raw[0] += n;
	}
	if (end_stream || h2_body_complete(x, 0))
		h2_req_end(c, x);
}

static void h2r_on_headers(void *ud, uint32_t stream, const struct h2_header *h, size_t n,
			   int end_stream)
{
	struct stream *c = ud;
	struct exchange *x = h2_find(c, stream);
	const char *st, *ct;
	int status;

	if (!x || x->resp_done)
		return;		/* a stream we did not see start, or a push */
	if (!x->status) {
		st = h2_get(h, n, ":status");
		status = st ? atoi(st) : 0;
		if (status >= 100 && status < 200 && !end_stream)
			return;	/* interim (100 Continue, 103 Early Hints) */
		if (status > 0) {
			x->status = status;
			x->t_resp_first = h2_time_at(c, 1, h2_parser_frame_offset(c->h2p[1]));
			x->t_resp_last = c->cur->ts_end_ns;
			h2_head_format(&x->resp_head, h, n, 0);
			ct = h2_get(h, n, "content-type");
			x->content_type = ct ? strdup(ct) : NULL;
			x->resp_dec = decoder_new(decode_parse_encoding(h2_get(h, n, "content-encoding")));
			x->h2_clen[1] = strcasecmp(x->method, "HEAD") ? h2_content_length(h, n) : -1;
		}
	}
	if (end_stream)
		h2_resp_end(c, x);	/* trailers, or a response without body */
}

static void h2r_on_data(void *ud, uint32_t stream, const uint8_t *p, size_t n, int end_stream)
{
	struct stream *c = ud;
	struct exchange *x = h2_find(c, stream);

	if (!x || !x->status || x->resp_done)
		return;
	if (n) {
		c->resp_x = x;
		stream_resp_on_body(c, p, n);
		c->resp_x = NULL;
		x->h2_raw[1] += n;
	}
	if (end_stream || h2_body_complete(x, 1))
		h2_resp_end(c, x);
}

static void h2_on_reset(struct stream *c, uint32_t stream, uint32_t code, const char *by)
{
	struct exchange *x = h2_find(c, stream);
	char msg[96];

	if (!x)
		return;
	if (code == 0 && x->resp_done) {
		exchange_emit(c, x, NULL);	/* NO_ERROR: the answer came, the upload was cut */
		return;
	}
	/* A client that has read the answer's last event may cancel the rest
	 * (hyper does, when the body is dropped before END_STREAM arrives):
	 * exchange_emit() drops the error when the stream had ended. */
	x->client_cancel = !strcmp(by, "client") && (code == 0 || code == 8);
	snprintf(msg, sizeof(msg), "HTTP/2 stream reset by the %s (error code %u)", by, code);
	exchange_emit(c, x, msg);
}

static void h2w_on_reset(void *ud, uint32_t stream, uint32_t code)
{
	h2_on_reset(ud, stream, code, "client");
}

static void h2r_on_reset(void *ud, uint32_t stream, uint32_t code)
{
	h2_on_reset(ud, stream, code, "server");
}

static const struct h2_callbacks h2w_cb = { h2w_on_headers, h2w_on_data, h2w_on_reset, NULL };
static const struct h2_callbacks h2r_cb = { h2r_on_headers, h2r_on_data, h2r_on_reset, NULL };

int stream_h2_start(struct stream *c)
{
	c->h2p[0] = h2_parser_new(1, &h2w_cb, c);
	c->h2p[1] = h2_parser_new(0, &h2r_cb, c);
	if (!c->h2p[0] || !c->h2p[1])
		return -1;
	h2_parser_link(c->h2p[0], c->h2p[1]);
	c->h2 = 1;
	c->h2_in[0] = c->h2_in[1] = 0;
	c->h2_nring[0] = c->h2_nring[1] = 0;
	c->h2_last_sid = 0;
	return 0;
}

/* Feed bytes to one direction's parser; a protocol error ends the
 * connection's exchanges and stops parsing it. */
void stream_h2_feed(struct stream *c, int dir, const uint8_t *p, size_t n)
{
	struct h2_parser *hp = c->h2p[dir];
	unsigned k = c->h2_nring[dir]++ % H2_RING;
	long rc;

	if (!hp || c->role != ROLE_CLIENT)
		return;
	c->h2_ring[dir][k].off = c->h2_in[dir];
	c->h2_ring[dir][k].ts = dir == 0 ? c->cur->ts_start_ns : c->cur->ts_end_ns;
	c->h2_in[dir] += n;
	rc = h2_parser_feed(hp, p, n);
	if (rc >= 0)
		return;
	stream_protocol_error(c, "HTTP/2", dir, h2_strerror((int)rc));
}
