/* h2.c -- pure, resumable HTTP/2 frame parser with HPACK decoding (one direction of a connection).
 *
 * Frames are parsed from a byte stream that may be cut anywhere: the 9-byte
 * frame header is collected, DATA payloads are passed through as they come
 * (padding dropped), every other frame we need is buffered whole (bounded)
 * and handled when complete. Header blocks (HEADERS/PUSH_PROMISE +
 * CONTINUATION) are decompressed with nghttp2's HPACK inflater, whose
 * dynamic table lives as long as the direction: every block is decoded, also
 * those we do not report (PUSH_PROMISE), so the table stays in step.
 */
#include "proto/h2.h"

#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

enum { F_DATA, F_HEADERS, F_PRIORITY, F_RST_STREAM, F_SETTINGS, F_PUSH_PROMISE, F_PING,
       F_GOAWAY, F_WINDOW_UPDATE, F_CONTINUATION };

#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20

#define SETTINGS_HEADER_TABLE_SIZE 1
#define HPACK_DEFAULT_TABLE 4096
#define MAX_PENDING 16

enum state { S_PREFACE, S_FHDR, S_DATA, S_PAYLOAD, S_ERROR };

struct h2_parser {
	const struct h2_callbacks *cb;
	void *ud;
	enum state st;
	int err;
	uint64_t pos;			/* bytes consumed so far */
	size_t preface_pos;

	/* The frame being parsed. */
	uint8_t fh[9];
	size_t fh_len;
	uint32_t flen, fsid;
	uint8_t ftype, fflags;
	uint32_t fpos;			/* payload bytes consumed */
	uint64_t frame_off;
	uint32_t keep;			/* payload bytes to buffer (rest skipped) */
	uint8_t *fbuf;
	size_t fbuf_cap;
	int pad_known;			/* DATA: pad length read */
	uint32_t data_end;		/* DATA: payload offset where padding starts */

	/* The header block being collected. */
	int in_block;
	uint32_t hb_sid;
	int hb_end_stream, hb_push;
	uint64_t hb_off;
	uint8_t *hb;
	size_t hb_len, hb_cap;

	/* HPACK. */
	nghttp2_hd_inflater *inf;
	size_t table_max;		/* the decoder's current maximum */
	long pending[MAX_PENDING];	/* our peer's SETTINGS awaiting our ACK: size or -1 */
	size_t npending;
	struct h2_parser *peer;

	/* The decoded header list: strings in one arena, offsets in pairs. */
	char *arena;
	size_t arena_len, arena_cap;
	size_t *offs;
	size_t offs_cap;
	struct h2_header *list;
	size_t list_cap;
};

struct h2_parser *h2_parser_new(int client_side, const struct h2_callbacks *cb, void *ud)
{
	struct h2_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (nghttp2_hd_inflate_new(&p->inf)) {
		free(p);
		return NULL;
	}
	p->cb = cb;
	p->ud = ud;
	p->st = client_side ? S_PREFACE : S_FHDR;
	p->table_max = HPACK_DEFAULT_TABLE;
	return p;
}

void h2_parser_free(struct h2_parser *p)
{
	if (!p)
		return;
	if (p->peer)
		p->peer->peer = NULL;
	nghttp2_hd_inflate_del(p->inf);
	free(p->fbuf);
	free(p->hb);
	free(p->arena);
	free(p->offs);
	free(p->list);
	free(p);
}

void h2_parser_link(struct h2_parser *a, struct h2_parser *b)
{
	if (a)
		a->peer = b;
	if (b)
		b->peer = a;
}

uint64_t h2_parser_frame_offset(const struct h2_parser *p)
{
	return p->frame_off;
}

int h2_parser_set_table_size(struct h2_parser *p, size_t size)
{
	if (nghttp2_hd_inflate_change_table_size(p->inf, size))
		return H2_ERR_NOMEM;
	p->table_max = size;
	return 0;
}

const char *h2_strerror(int err)
{
	switch (err) {
	case H2_ERR_PREFACE: return "no HTTP/2 connection preface";
	case H2_ERR_FRAME_SIZE: return "bad HTTP/2 frame size";
	case H2_ERR_PROTOCOL: return "HTTP/2 protocol error";
	case H2_ERR_HPACK: return "HPACK header block could not be decoded";
	case H2_ERR_HEADERS_BIG: return "HTTP/2 header block too large";
	case H2_ERR_NOMEM: return "out of memory";
	default: return err < 0 ? "unknown HTTP/2 error" : "ok";
	}
}

static int fail(struct h2_parser *p, int err)
{
	p->st = S_ERROR;
	p->err = err;
	return err;
}

static int grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	void *n;
	size_t c = *cap ? *cap : 64;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*(void **)pp, c * elem);
	if (!n)
		return -1;
	*(void **)pp = n;
	*cap = c;
	return 0;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* ---- HPACK table size negotiation ---- */

/* Our peer (the other direction) sent SETTINGS: queue it until we see the
 * ACK; a larger table size is allowed at once. */
static void settings_sent_by_peer(struct h2_parser *q, long size)
{
	if (size >= 0 && (size_t)size > q->table_max)
		h2_parser_set_table_size(q, (size_t)size);
	if (q->npending == MAX_PENDING) {
		/* Too many unacknowledged: apply the oldest now. */
		if (q->pending[0] >= 0)
			h2_parser_set_table_size(q, (size_t)q->pending[0]);
		memmove(q->pending, q->pending + 1, (MAX_PENDING - 1) * sizeof(q->pending[0]));
		q->npending--;
	}
	q->pending[q->npending++] = size;
}

/* We saw the ACK of the peer's oldest SETTINGS: a smaller size applies now. */
static void settings_acked(struct h2_parser *p)
{
	long size;

	if (!p->npending)
		return;
	size = p->pending[0];
	memmove(p->pending, p->pending + 1, (p->npending - 1) * sizeof(p->pending[0]));
	p->npending--;
	if (size >= 0 && (size_t)size != p->table_max)
		h2_parser_set_table_size(p, (size_t)size);
}

/* ---- header blocks ---- */

static int arena_add(struct h2_parser *p, const uint8_t *s, size_t n)
{
	if (grow(&p->arena, &p->arena_cap, p->arena_len + n + 1, 1))
		return -1;
	memcpy(p->arena + p->arena_len, s, n);
	p->arena[p->arena_len + n] = '\0';
	p->arena_len += n + 1;
	return 0;
}

static int block_finish(struct h2_parser *p)
{
	const uint8_t *in = p->hb;
	size_t inlen = p->hb_len, n = 0, i;
	int flags;

	p->in_block = 0;
	p->arena_len = 0;
	for (;;) {
		nghttp2_nv nv;
		ssize_t rv;

		flags = 0;
		rv = nghttp2_hd_inflate_hd2(p->inf, &nv, &flags, in, inlen, 1);
		if (rv < 0)
			return fail(p, H2_ERR_HPACK);
		if (rv) {	/* an empty block has no buffer: no pointer arithmetic on NULL */
			in += rv;
			inlen -= (size_t)rv;
		}
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			if (n >= H2_MAX_HEADERS ||
			    p->arena_len + nv.namelen + nv.valuelen + 2 > H2_MAX_HEADER_LIST)
				return fail(p, H2_ERR_HEADERS_BIG);
			if (grow(&p->offs, &p->offs_cap, 2 * (n + 1), sizeof(size_t)))
				return fail(p, H2_ERR_NOMEM);
			p->offs[2 * n] = p->arena_len;
			if (arena_add(p, nv.name, nv.namelen))
				return fail(p, H2_ERR_NOMEM);
			p->offs[2 * n + 1] = p->arena_len;
			if (arena_add(p, nv.value, nv.valuelen))
				return fail(p, H2_ERR_NOMEM);
			n++;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(p->inf);
			break;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && inlen == 0)
			return fail(p, H2_ERR_HPACK);	/* in_final given: cannot happen */
	}
	if (p->hb_push)
		return 0;
	if (grow(&p->list, &p->list_cap, n + 1, sizeof(*p->list)))
		return fail(p, H2_ERR_NOMEM);
	for (i = 0; i < n; i++) {
		p->list[i].name = p->arena + p->offs[2 * i];
		p->list[i].value = p->arena + p->offs[2 * i + 1];
	}
	if (p->cb->on_headers) {
		uint64_t save = p->frame_off;

		p->frame_off = p->hb_off;
		p->cb->on_headers(p->ud, p->hb_sid, p->list, n, p->hb_end_stream);
		p->frame_off = save;
	}
	return 0;
}

static int block_add(struct h2_parser *p, const uint8_t *frag, size_t n)
{
	if (p->hb_len + n > H2_MAX_HEADER_BLOCK)
		return fail(p, H2_ERR_HEADERS_BIG);
	if (grow(&p->hb, &p->hb_cap, p->hb_len + n, 1))
		return fail(p, H2_ERR_NOMEM);
	if (n)
		memcpy(p->hb + p->hb_len, frag, n);
	p->hb_len += n;
	if (p->fflags & FL_END_HEADERS)
		return block_finish(p);
	p->in_block = 1;
	return 0;
}

/* ---- frames ---- */

/* A buffered frame is complete. */
static int frame_done(struct h2_parser *p)
{
	const uint8_t *b = p->fbuf;
	uint32_t off = 0, pad = 0, i;

	switch (p->ftype) {
	case F_HEADERS:
	case F_PUSH_PROMISE:
		if (p->fflags & FL_PADDED) {
			if (p->flen < 1)
				return fail(p, H2_ERR_PROTOCOL);
			pad = b[0];
			off = 1;
		}
		if (p->ftype == F_HEADERS && (p->fflags & FL_PRIORITY))
			off += 5;
		if (p->ftype == F_PUSH_PROMISE)
			off += 4;
		if (off > p->flen || pad > p->flen - off)
			return fail(p, H2_ERR_PROTOCOL);
		p->hb_len = 0;
		p->hb_sid = p->fsid;
		p->hb_end_stream = p->ftype == F_HEADERS && (p->fflags & FL_END_STREAM);
		p->hb_push = p->ftype == F_PUSH_PROMISE;
		p->hb_off = p->frame_off;
		return block_add(p, b + off, p->flen - off - pad);
	case F_CONTINUATION:
		return block_add(p, b, p->flen);
	case F_RST_STREAM:
		if (p->cb->on_reset)
			p->cb->on_reset(p->ud, p->fsid, be32(b));
		return 0;
	case F_SETTINGS:
		if (p->fflags & FL_ACK) {
			settings_acked(p);
		} else {
			long size = -1;

			for (i = 0; i + 6 <= p->flen; i += 6)
				if (((uint32_t)b[i] << 8 | b[i + 1]) == SETTINGS_HEADER_TABLE_SIZE)
					size = (long)be32(b + i + 2);
			if (p->peer)
				settings_sent_by_peer(p->peer, size);
		}
		return 0;
	case F_GOAWAY:
		if (p->cb->on_goaway)
			p->cb->on_goaway(p->ud, be32(b) & 0x7fffffffu, be32(b + 4));
		return 0;
	default:
		return 0;	/* PRIORITY, PING, WINDOW_UPDATE, unknown */
	}
}

static void data_end_stream(struct h2_parser *p)
{
	if ((p->fflags & FL_END_STREAM) && p->cb->on_data)
		p->cb->on_data(p->ud, p->fsid, (const uint8_t *)"", 0, 1);
}

/* The 9-byte header is in: check the frame and choose how to read it. */
static int frame_begin(struct h2_parser *p)
{
	uint32_t len = (uint32_t)p->fh[0] << 16 | (uint32_t)p->fh[1] << 8 | p->fh[2];
	uint8_t t = p->fh[3];
	uint32_t sid = be32(p->fh + 5) & 0x7fffffffu;

	p->flen = len;
	p->ftype = t;
	p->fflags = p->fh[4];
	p->fsid = sid;
	p->fpos = 0;
	p->frame_off = p->pos - 9;
	p->keep = len;
	p->pad_known = 0;
	if (len > H2_MAX_FRAME)
		return fail(p, H2_ERR_FRAME_SIZE);
	if (p->in_block != (t == F_CONTINUATION) || (p->in_block && sid != p->hb_sid))
		return fail(p, H2_ERR_PROTOCOL);
	switch (t) {
	case F_DATA:
	case F_HEADERS:
	case F_PRIORITY:
	case F_RST_STREAM:
	case F_PUSH_PROMISE:
	case F_CONTINUATION:
		if (!sid)
			return fail(p, H2_ERR_PROTOCOL);
		break;
	case F_SETTINGS:
	case F_PING:
	case F_GOAWAY:
		if (sid)
			return fail(p, H2_ERR_PROTOCOL);
		break;
	}
	switch (t) {
	case F_DATA:
		if ((p->fflags & FL_PADDED) && len < 1)
			return fail(p, H2_ERR_FRAME_SIZE);
		p->data_end = len;
		p->pad_known = !(p->fflags & FL_PADDED);
		if (len == 0) {
			data_end_stream(p);
			p->st = S_FHDR;
			return 0;
		}
		p->st = S_DATA;
		return 0;
	case F_HEADERS:
	case F_PUSH_PROMISE:
	case F_CONTINUATION:
		if (len > H2_MAX_HEADER_BLOCK + 256)
			return fail(p, H2_ERR_HEADERS_BIG);
		break;
	case F_PRIORITY:
		if (len != 5)
			return fail(p, H2_ERR_FRAME_SIZE);
		break;
	case F_RST_STREAM:
	case F_WINDOW_UPDATE:
		if (len != 4)
			return fail(p, H2_ERR_FRAME_SIZE);
		break;
	case F_SETTINGS:
		if (len % 6 || ((p->fflags & FL_ACK) && len))
			return fail(p, H2_ERR_FRAME_SIZE);
		break;
	case F_PING:
		if (len != 8)
			return fail(p, H2_ERR_FRAME_SIZE);
		break;
	case F_GOAWAY:
		if (len < 8)
			return fail(p, H2_ERR_FRAME_SIZE);
		p->keep = 8;
		break;
	default:
		p->keep = 0;	/* unknown: skipped */
		break;
	}
	if (grow(&p->fbuf, &p->fbuf_cap, p->keep ? p->keep : 1, 1))
		return fail(p, H2_ERR_NOMEM);
	p->st = S_PAYLOAD;
	if (len == 0) {
		p->st = S_FHDR;
		return frame_done(p);
	}
	return 0;
}

long h2_parser_feed(struct h2_parser *p, const uint8_t *d, size_t len)
{
	size_t i = 0, n;
	int rc;

	if (p->st == S_ERROR)
		return p->err;
	while (i < len) {
		switch (p->st) {
		case S_PREFACE:
			if (d[i] != (uint8_t)H2_PREFACE[p->preface_pos])
				return fail(p, H2_ERR_PREFACE);
			i++;
			p->pos++;
			if (++p->preface_pos == H2_PREFACE_LEN)
				p->st = S_FHDR;
			break;
		case S_FHDR:
			n = 9 - p->fh_len;
			if (n > len - i)
				n = len - i;
			memcpy(p->fh + p->fh_len, d + i, n);
			p->fh_len += n;
			i += n;
			p->pos += n;
			if (p->fh_len < 9)
				break;
			p->fh_len = 0;
			if ((rc = frame_begin(p)) < 0)
				return rc;
			break;
		case S_DATA:
			if (!p->pad_known) {
				uint8_t pad = d[i++];

				p->pos++;
				p->fpos = 1;
				p->pad_known = 1;
				if (pad > p->flen - 1)
					return fail(p, H2_ERR_PROTOCOL);
				p->data_end = p->flen - pad;
			}
			n = len - i;
			if (p->fpos < p->data_end) {
				if (n > p->data_end - p->fpos)
					n = p->data_end - p->fpos;
				if (p->cb->on_data && n)
					p->cb->on_data(p->ud, p->fsid, d + i, n, 0);
			} else if (n > p->flen - p->fpos) {
				n = p->flen - p->fpos;	/* padding */
			}
			i += n;
			p->pos += n;
			p->fpos += (uint32_t)n;
			if (p->fpos == p->flen) {
				p->st = S_FHDR;
				data_end_stream(p);
			}
			break;
		case S_PAYLOAD:
			n = p->flen - p->fpos;
			if (n > len - i)
				n = len - i;
			if (p->fpos < p->keep) {
				size_t k = p->keep - p->fpos < n ? p->keep - p->fpos : n;

				memcpy(p->fbuf + p->fpos, d + i, k);
			}
			i += n;
			p->pos += n;
			p->fpos += (uint32_t)n;
			if (p->fpos == p->flen) {
				p->st = S_FHDR;
				if ((rc = frame_done(p)) < 0)
					return rc;
			}
			break;
		case S_ERROR:
			return p->err;
		}
	}
	return p->st == S_ERROR ? p->err : (long)len;
}
