/* h2.h -- pure, resumable HTTP/2 frame parser with HPACK decoding (one direction of a connection). */
#ifndef LLMTAP_H2_H
#define LLMTAP_H2_H

#include <stddef.h>
#include <stdint.h>

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

/* Hard limits: a frame longer than H2_MAX_FRAME, a header block (compressed,
 * HEADERS + CONTINUATION) over H2_MAX_HEADER_BLOCK, or a decoded header list
 * over H2_MAX_HEADER_LIST bytes / H2_MAX_HEADERS fields is an error. */
#define H2_MAX_FRAME (16u * 1024 * 1024)
#define H2_MAX_HEADER_BLOCK (1024 * 1024)
#define H2_MAX_HEADER_LIST (1024 * 1024)
#define H2_MAX_HEADERS 512

/* Errors (negative). The parser stays in the error state after one. */
#define H2_ERR_PREFACE    (-1)	/* client side: the stream does not start with the preface */
#define H2_ERR_FRAME_SIZE (-2)	/* frame over H2_MAX_FRAME, or a control frame of the wrong size */
#define H2_ERR_PROTOCOL   (-3)	/* bad stream id, padding, or CONTINUATION sequence */
#define H2_ERR_HPACK      (-4)	/* header block could not be decompressed */
#define H2_ERR_HEADERS_BIG (-5)	/* header block or list over the limits */
#define H2_ERR_NOMEM      (-6)

/* One header field; name and value are NUL-terminated (HTTP/2 names are
 * lower case). Pseudo-headers (:method, :path, :authority, :scheme,
 * :status) come first, as sent. */
struct h2_header {
	const char *name;
	const char *value;
};

struct h2_callbacks {
	/* A complete header block (HEADERS + CONTINUATION) of a stream: the
	 * request/response head, or trailers. The list is valid during the call. */
	void (*on_headers)(void *ud, uint32_t stream, const struct h2_header *h, size_t n,
			   int end_stream);
	/* DATA payload bytes of a stream (padding removed), end_stream 0; they may
	 * come in pieces. When the frame carrying END_STREAM has been fully
	 * consumed, a last call with len 0 and end_stream 1 follows. */
	void (*on_data)(void *ud, uint32_t stream, const uint8_t *data, size_t len,
			int end_stream);
	/* RST_STREAM. */
	void (*on_reset)(void *ud, uint32_t stream, uint32_t error_code);
	/* GOAWAY (may be NULL). */
	void (*on_goaway)(void *ud, uint32_t last_stream, uint32_t error_code);
};

struct h2_parser;

/* Returns a new parser, or NULL when out of memory. client_side: the stream
 * starts with the client connection preface (the bytes a client writes). */
struct h2_parser *h2_parser_new(int client_side, const struct h2_callbacks *cb, void *ud);
void h2_parser_free(struct h2_parser *p);

/* Link the two directions of one connection. A SETTINGS_HEADER_TABLE_SIZE
 * sent in one direction bounds the HPACK decoder of the other (the peer's
 * encoder may then use that size): a larger size applies at once, a smaller
 * one when the peer's SETTINGS ACK is seen. Either may be NULL. */
void h2_parser_link(struct h2_parser *a, struct h2_parser *b);

/* Feed the next bytes of the stream; callbacks fire from inside. Returns len
 * when all bytes were consumed, or a negative H2_ERR_*. Any split of the
 * input gives the same callbacks (DATA may be cut into different pieces). */
long h2_parser_feed(struct h2_parser *p, const uint8_t *data, size_t len);

/* Stream offset (bytes fed before it, the preface included) at which the
 * frame now being delivered began; for HEADERS, the first frame of the
 * block. Meant to be called from a callback. */
uint64_t h2_parser_frame_offset(const struct h2_parser *p);

/* Set the HPACK decoder's maximum dynamic table size directly. Returns 0 or
 * a negative H2_ERR_*. */
int h2_parser_set_table_size(struct h2_parser *p, size_t size);

/* A short static text for an H2_ERR_* code. */
const char *h2_strerror(int err);

#endif
