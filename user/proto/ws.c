/* ws.c -- pure, resumable WebSocket (RFC 6455) frame parser for one direction, with permessage-deflate (RFC 7692). */
#include "proto/ws.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/buf.h"

#define CONTROL_MAX 125		/* a control frame's payload at most (RFC 6455 5.5) */

struct ws_parser {
	struct ws_callbacks cb;
	void *ud;
	size_t max;		/* message cap */
	int err;
	/* the frame being read */
	uint8_t hdr[14];
	size_t hdr_len, hdr_need;	/* header bytes held, and needed (2 until the lengths are known) */
	uint64_t left;		/* payload bytes still to come */
	uint64_t pos;		/* payload bytes read (for the mask) */
	uint8_t mask[4];
	int masked, fin, opcode;
	/* the message being assembled */
	int msg_op;		/* its opcode; 0 when none is open */
	int msg_deflate;	/* its first frame had RSV1 */
	int msg_trunc;
	struct buf msg;
	uint8_t ctl[CONTROL_MAX];
	size_t ctl_len;
	/* permessage-deflate */
	int deflate, nct;
	z_stream z;
	int z_init;
};

struct ws_parser *ws_parser_new(const struct ws_callbacks *cb, void *ud, size_t max_message)
{
	struct ws_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (cb)
		p->cb = *cb;
	p->ud = ud;
	p->max = max_message;
	p->hdr_need = 2;
	return p;
}

void ws_parser_free(struct ws_parser *p)
{
	if (!p)
		return;
	if (p->z_init)
		inflateEnd(&p->z);
	buf_free(&p->msg);
	free(p);
}

int ws_parser_deflate(struct ws_parser *p, int no_context_takeover)
{
	if (!p->z_init) {
		if (inflateInit2(&p->z, -15) != Z_OK)
			return WS_ERR_NOMEM;
		p->z_init = 1;
	}
	p->deflate = 1;
	p->nct = no_context_takeover;
	return 0;
}

/* Records err as the sticky error and returns it. */
static int fail(struct ws_parser *p, int err)
{
	p->err = err;
	return err;
}

/* Append n message bytes, up to the cap (the rest is counted as cut). */
static int msg_add(struct ws_parser *p, const uint8_t *d, size_t n)
{
	size_t room = p->max > p->msg.len ? p->max - p->msg.len : 0;

	if (n > room) {
		p->msg_trunc = 1;
		n = room;
	}
	return n && buf_append(&p->msg, d, n) ? WS_ERR_NOMEM : 0;
}

/* Inflate the compressed message in p->msg into out (capped). Returns 0 or
 * a WS_ERR_*. */
static int msg_inflate(struct ws_parser *p, struct buf *out, int *trunc)
{
	static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };
	uint8_t chunk[16384];
	int pass, rc = 0;

	/* the sender dropped this tail from the message (RFC 7692 7.2.1) */
	for (pass = 0; pass < 2 && !rc; pass++) {
		p->z.next_in = pass ? (uint8_t *)tail : p->msg.data;
		p->z.avail_in = pass ? sizeof(tail) : p->msg.len;
		while (p->z.avail_in && !rc) {
			size_t got, room;
			int zr;

			p->z.next_out = chunk;
			p->z.avail_out = sizeof(chunk);
			zr = inflate(&p->z, Z_SYNC_FLUSH);
			if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END) {
				rc = WS_ERR_INFLATE;
				break;
			}
			got = sizeof(chunk) - p->z.avail_out;
			room = p->max > out->len ? p->max - out->len : 0;
			if (got > room) {
				*trunc = 1;
				got = room;
			}
			if (got && buf_append(out, chunk, got))
				rc = WS_ERR_NOMEM;
			if (zr == Z_STREAM_END || (zr == Z_BUF_ERROR && p->z.avail_out))
				break;	/* no progress possible */
		}
	}
	if (p->nct || rc)
		inflateReset(&p->z);
	return rc;
}

/* The message is complete: hand it over (inflated when it was compressed)
 * and start afresh. Returns 0 or a WS_ERR_*. */
static int msg_done(struct ws_parser *p)
{
	struct buf out = { 0 };
	int rc = 0, trunc = p->msg_trunc;

	if (p->msg_deflate) {
		/* a message cut before inflating cannot be inflated whole */
		rc = msg_inflate(p, &out, &trunc);
		trunc |= p->msg_trunc;
	}
	if (!rc && p->cb.on_message)
		p->cb.on_message(p->ud, p->msg_op, p->msg_deflate ? out.data : p->msg.data,
				 p->msg_deflate ? out.len : p->msg.len, trunc);
	buf_free(&out);
	buf_reset(&p->msg);
	if (p->msg.cap > 64 * 1024)
		buf_free(&p->msg);
	p->msg_op = 0;
	p->msg_deflate = 0;
	p->msg_trunc = 0;
	return rc;
}

/* The frame header is complete: check it and begin its payload. Returns 0 or
 * a WS_ERR_*. */
static int frame_begin(struct ws_parser *p)
{
	uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
	int rsv1 = b0 & 0x40;
	size_t at = 2, i;

	p->fin = b0 & 0x80;
	p->opcode = b0 & 0x0f;
	p->masked = b1 & 0x80;
	p->left = b1 & 0x7f;
	if (p->left == 126) {
		p->left = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
		at = 4;
	} else if (p->left == 127) {
		for (p->left = 0, i = 2; i < 10; i++)
			p->left = p->left << 8 | p->hdr[i];
		at = 10;
		if (p->left >> 63)
			return WS_ERR_PROTOCOL;
	}
	if (p->masked)
		memcpy(p->mask, p->hdr + at, 4);
	p->pos = 0;
	if (b0 & 0x30)
		return WS_ERR_PROTOCOL;		/* RSV2, RSV3: no extension of ours uses them */
	if (p->opcode >= 0x8) {
		/* control: short, whole, never compressed */
		if (p->opcode > WS_OP_PONG || !p->fin || p->left > CONTROL_MAX || rsv1)
			return WS_ERR_PROTOCOL;
		p->ctl_len = 0;
		return 0;
	}
	if (p->opcode == WS_OP_CONT) {
		if (!p->msg_op || rsv1)
			return WS_ERR_PROTOCOL;
		return 0;
	}
	if (p->opcode > WS_OP_BINARY || p->msg_op || (rsv1 && !p->deflate))
		return WS_ERR_PROTOCOL;
	p->msg_op = p->opcode;
	p->msg_deflate = rsv1 != 0;
	return 0;
}

/* The frame's payload is complete. Returns 0 or a WS_ERR_*. */
static int frame_end(struct ws_parser *p)
{
	p->hdr_len = 0;
	p->hdr_need = 2;
	if (p->opcode == WS_OP_CLOSE) {
		if (p->cb.on_close)
			p->cb.on_close(p->ud, p->ctl_len >= 2 ? p->ctl[0] << 8 | p->ctl[1] : 0);
		return 0;
	}
	if (p->opcode >= 0x8)
		return 0;		/* ping, pong */
	return p->fin ? msg_done(p) : 0;
}

/* Header bytes from d: returns the bytes taken, or a WS_ERR_*. */
static long hdr_feed(struct ws_parser *p, const uint8_t *d, size_t len)
{
	size_t n = p->hdr_need - p->hdr_len;
	int err;

	if (n > len)
		n = len;
	memcpy(p->hdr + p->hdr_len, d, n);
	p->hdr_len += n;
	if (p->hdr_len < p->hdr_need)
		return n;
	if (p->hdr_need == 2) {
		/* now the lengths are known: the extended length, the mask */
		uint8_t l7 = p->hdr[1] & 0x7f;

		p->hdr_need += (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (p->hdr[1] & 0x80 ? 4 : 0);
		if (p->hdr_need > 2)
			return n;
	}
	err = frame_begin(p);
	if (err)
		return err;
	p->hdr_need = 0;	/* in the payload */
	if (!p->left) {
		err = frame_end(p);
		if (err)
			return err;
	}
	return n;
}

/* Payload bytes from d (unmasked as they come): returns the bytes taken, or
 * a WS_ERR_*. */
static long payload_feed(struct ws_parser *p, const uint8_t *d, size_t len)
{
	uint8_t tmp[4096];
	size_t n = len < p->left ? len : (size_t)p->left, done = 0, i;
	int err;

	while (done < n) {
		size_t k = n - done < sizeof(tmp) ? n - done : sizeof(tmp);

		for (i = 0; i < k; i++)
			tmp[i] = d[done + i] ^ (p->masked ? p->mask[(p->pos + i) & 3] : 0);
		if (p->opcode >= 0x8) {
			if (p->ctl_len + k <= CONTROL_MAX) {
				memcpy(p->ctl + p->ctl_len, tmp, k);
				p->ctl_len += k;
			}
		} else if ((err = msg_add(p, tmp, k))) {
			return err;
		}
		p->pos += k;
		done += k;
	}
	p->left -= n;
	if (!p->left) {
		err = frame_end(p);
		if (err)
			return err;
	}
	return n;
}

long ws_parser_feed(struct ws_parser *p, const uint8_t *data, size_t len)
{
	size_t off = 0;

	if (p->err)
		return p->err;
	while (off < len) {
		long n = p->hdr_need ? hdr_feed(p, data + off, len - off) :
				       payload_feed(p, data + off, len - off);

		if (n < 0)
			return fail(p, n);
		off += n;
	}
	return len;
}

int ws_parser_in_message(const struct ws_parser *p)
{
	return p->hdr_len > 0 || p->hdr_need == 0 || p->msg_op != 0;
}

/* 1 when the n bytes at s are the token t (any case). */
static int token_is(const char *s, size_t n, const char *t)
{
	return n == strlen(t) && !strncasecmp(s, t, n);
}

int ws_deflate_params(const char *value, int *server_nct, int *client_nct)
{
	const char *s = value;
	int found = 0;

	*server_nct = *client_nct = 0;
	/* "permessage-deflate; client_max_window_bits, x-other" : the first
	 * permessage-deflate offer or answer and its parameters */
	while (s && *s) {
		size_t n;

		while (*s == ' ' || *s == '\t' || *s == ',' || *s == ';')
			s++;
		n = strcspn(s, " \t,;=");
		if (!found && token_is(s, n, "permessage-deflate"))
			found = 1;
		else if (found && token_is(s, n, "server_no_context_takeover"))
			*server_nct = 1;
		else if (found && token_is(s, n, "client_no_context_takeover"))
			*client_nct = 1;
		s += n;
		if (*s == '=')
			s += 1 + strcspn(s + 1, " \t,;");
		if (*s == ',' && found)
			break;	/* the next extension */
	}
	return found;
}

const char *ws_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case WS_ERR_PROTOCOL: return "malformed WebSocket frame";
	case WS_ERR_INFLATE: return "compressed WebSocket message does not inflate";
	case WS_ERR_NOMEM: return "out of memory";
	default: return "unknown error";
	}
}
