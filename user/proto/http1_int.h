/* http1_int.h -- the HTTP/1.1 parser's state, shared by http1.c (framing) and http1_head.c (the head). */
#ifndef LLMTAP_HTTP1_INT_H
#define LLMTAP_HTTP1_INT_H

#include <stdint.h>

#include "base/buf.h"
#include "proto/http1.h"

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
	/* header lines past the limits: read one at a time, not kept */
	int overflow;		/* the rest of this head goes through drop[] */
	size_t dropped;		/* such lines so far */
	char drop[HTTP1_DROPPED_LINE_MAX + 1];
	size_t drop_len;
	int drop_long;		/* the current line is longer than drop[] */
	int64_t drop_clen;	/* Content-Length among them, -1 none */
	int drop_te;		/* Transfer-Encoding among them: -1 none, 0 other, 1 chunked */

	/* body */
	uint64_t remaining;	/* Content-Length left, or chunk data left */
	enum ch_state ch;
	size_t ch_line;		/* bytes in the current size or trailer line(s) */
};

/* The current message is complete: tells the caller and waits for the next. */
void http1_msg_done(struct http1_parser *p);

/* Takes head bytes from d. Returns the bytes consumed (the rest belongs to
 * the body or to the next message) or a negative HTTP1_ERR_*. */
long http1_head_feed(struct http1_parser *p, const uint8_t *d, size_t len);

#endif
