/* http1.h -- pure, resumable HTTP/1.1 message parser (one direction of a connection). */
#ifndef LLMTAP_HTTP1_H
#define LLMTAP_HTTP1_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits: a head (start line + headers) larger than this is an error, not a stall. */
#define HTTP1_MAX_HEAD (256 * 1024)
#define HTTP1_MAX_HEADERS 256

/* Errors (negative). The parser stays in the error state after one. */
#define HTTP1_ERR_NOT_HTTP   (-1)	/* first bytes of a message are not an HTTP start line */
#define HTTP1_ERR_SYNTAX     (-2)	/* malformed start line or header */
#define HTTP1_ERR_HEAD_BIG   (-3)	/* head over HTTP1_MAX_HEAD or too many headers */
#define HTTP1_ERR_CHUNK      (-4)	/* malformed chunked framing */
#define HTTP1_ERR_TRUNCATED  (-5)	/* http1_parser_finish() mid-message */
#define HTTP1_ERR_NOMEM      (-6)

enum http1_type { HTTP1_REQUEST, HTTP1_RESPONSE };

struct http1_header {
	char *name;	/* NUL-terminated, as received (case kept) */
	char *value;	/* NUL-terminated, leading/trailing whitespace removed */
};

/* A parsed head. Valid only during the on_head callback. */
struct http1_head {
	enum http1_type type;
	char method[32];	/* requests */
	char *target;		/* requests: path with query, as received */
	int status;		/* responses */
	char *reason;		/* responses */
	int version_minor;	/* HTTP/1.x */
	struct http1_header *headers;
	size_t n_headers;
	int64_t content_length;	/* -1 when absent */
	int chunked;		/* Transfer-Encoding ends in chunked */
};

struct http1_callbacks {
	/* A complete head. Return 1 to say this message has no body (a response
	 * to HEAD), else 0. For 1xx responses (e.g. 100 Continue) on_head is
	 * called, then on_done, and the parser waits for the final response. */
	int (*on_head)(void *ud, const struct http1_head *h);
	/* Body bytes, de-chunked but still content-encoded; may come in pieces. */
	void (*on_body)(void *ud, const uint8_t *data, size_t len);
	/* The message is complete (the parser is ready for the next one). */
	void (*on_done)(void *ud);
};

struct http1_parser;

/* Returns a new parser, or NULL when out of memory. */
struct http1_parser *http1_parser_new(enum http1_type type,
				      const struct http1_callbacks *cb, void *ud);
void http1_parser_free(struct http1_parser *p);

/* Feed the next bytes of the stream; callbacks fire from inside. Returns len
 * when all bytes were consumed (possibly buffered as a partial head), or a
 * negative HTTP1_ERR_* on error. A response parser stops after a 101
 * Switching Protocols head (on_head, on_done): it returns the bytes up to
 * its end, the rest being the new protocol's, and 0 on every later call.
 * Any split of the input gives the same callbacks (bodies may be cut into
 * different pieces). */
long http1_parser_feed(struct http1_parser *p, const uint8_t *data, size_t len);

/* The stream ended (connection closed). Completes a body delimited by the
 * close (calls on_done). Returns 0 when the stream ended between messages or
 * after such a body, HTTP1_ERR_TRUNCATED when it ended mid-message. */
int http1_parser_finish(struct http1_parser *p);

/* 1 once a 101 response switched the stream to another protocol, else 0. */
int http1_parser_switched(const struct http1_parser *p);

/* 1 while a message has started but not completed, else 0. */
int http1_parser_in_message(const struct http1_parser *p);

/* Header value by case-insensitive name, or NULL. */
const char *http1_head_get(const struct http1_head *h, const char *name);

/* Next element of a comma-separated header list (Transfer-Encoding,
 * Content-Encoding) starting at *s: returns 1 and sets *tok and *len
 * (whitespace trimmed, possibly empty), advancing *s; 0 at the end. */
int http1_list_next(const char **s, const char **tok, size_t *len);

/* A short static text for an HTTP1_ERR_* code. */
const char *http1_strerror(int err);

#endif
