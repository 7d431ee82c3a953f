/* ws.h -- pure, resumable WebSocket (RFC 6455) frame parser for one direction, with permessage-deflate (RFC 7692). */
#ifndef LLMTAP_WS_H
#define LLMTAP_WS_H

#include <stddef.h>
#include <stdint.h>

/* Errors (negative). The parser stays in the error state after one. */
#define WS_ERR_PROTOCOL	(-1)	/* reserved bits, unknown opcode, bad control frame, bad fragments */
#define WS_ERR_INFLATE	(-2)	/* a compressed message does not inflate */
#define WS_ERR_NOMEM	(-3)

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

struct ws_callbacks {
	/* A whole data message: its fragments joined, inflated when it was
	 * compressed. truncated: it was larger than the parser's max_message
	 * and data holds its first max_message bytes. */
	void (*on_message)(void *ud, int opcode, const uint8_t *data, size_t len, int truncated);
	/* A close frame; code is its status code, 0 when it has none. */
	void (*on_close)(void *ud, int code);
};

struct ws_parser;

/* Returns a new parser that hands messages of at most max_message bytes
 * (more is cut, and said so) to cb, or NULL when out of memory. */
struct ws_parser *ws_parser_new(const struct ws_callbacks *cb, void *ud, size_t max_message);
void ws_parser_free(struct ws_parser *p);

/* The connection negotiated permessage-deflate: messages with RSV1 set are
 * raw deflate. no_context_takeover: the sender of this direction resets its
 * window after each message. Returns 0 or WS_ERR_NOMEM. */
int ws_parser_deflate(struct ws_parser *p, int no_context_takeover);

/* Feed the next bytes of the direction; callbacks fire from inside. Returns
 * len, or a negative WS_ERR_* (the same one on every later call). Any split
 * of the input gives the same callbacks. */
long ws_parser_feed(struct ws_parser *p, const uint8_t *data, size_t len);

/* 1 while a frame or a fragmented message is incomplete, else 0. */
int ws_parser_in_message(const struct ws_parser *p);

/* What a Sec-WebSocket-Extensions value negotiated: 1 when it names
 * permessage-deflate, with *server_nct / *client_nct set when it says
 * server_no_context_takeover / client_no_context_takeover; else 0. */
int ws_deflate_params(const char *value, int *server_nct, int *client_nct);

/* A short static text for a WS_ERR_* code. */
const char *ws_strerror(int err);

#endif
