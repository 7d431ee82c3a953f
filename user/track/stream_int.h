/* stream_int.h -- internals shared by stream.c (HTTP/1), stream_rows.c (rows), stream_h2.c (HTTP/2) and stream_ws.c: stream and exchange state. */
#ifndef LLMTAP_STREAM_INT_H
#define LLMTAP_STREAM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/htab.h"
#include "track/stream.h"
#include "proto/decode.h"
#include "proto/h2.h"
#include "proto/http1.h"
#include "proto/ws.h"

/* Write chunks tried as a request start before a connection is given up as not HTTP/1. */
#define STREAM_PROBE_WRITES 16
/* HTTP/2: feeds remembered per direction to date the frame a header block began in. */
#define H2_RING 16

enum role { ROLE_UNKNOWN, ROLE_CLIENT, ROLE_SERVER, ROLE_OTHER };

/* The decoded response body had reached `off` bytes by monotonic time `ts`. */
struct tick {
	uint64_t off;
	uint64_t ts;
};

struct exchange {
	struct exchange *next;
	uint32_t stream_id;			/* HTTP/2 stream; 0 for HTTP/1 */
	int64_t h2_clen[2];			/* HTTP/2: content-length per direction, -1 if none */
	uint64_t h2_raw[2];			/* HTTP/2: DATA payload bytes per direction */
	uint32_t tid;
	int reused;
	uint64_t t_req_start, t_req_end, t_resp_first, t_resp_last;
	char method[32];
	char *target, *host;
	struct buf req_head, resp_head;		/* start line + headers, redacted */
	struct buf req_body, resp_body;		/* decoded, capped at max_body */
	struct decoder *req_dec, *resp_dec;
	char *content_type;
	int status;
	int req_done, resp_done;
	int truncated[2];			/* per direction: body cut (max_body, BPF cap, budget) */
	int head_only;				/* the request head was cut: detect by host and path */
	char *error;				/* first capture/decoding problem */
	struct tick *ticks;
	size_t nticks, cap_ticks;
	int client_cancel;			/* HTTP/2: the client reset the stream (NO_ERROR, CANCEL) */
	int ws_upgrade;				/* the request asked for a WebSocket */
	int ws;					/* a response over a WebSocket (stream_ws.c) */
	struct buf ws_req;			/* ws: the request fields the provider reads */
};

struct stream {
	struct htab_node node;			/* key (tgid, ssl); sockets (tgid | 1 << 32, cookie) */
	struct stream_table *t;
	uint32_t tgid, tid;
	uint64_t ssl;				/* or the socket cookie when sock */
	int sock;				/* plaintext of a plain TCP socket */
	uint64_t first_ns;			/* monotonic: its first chunk's call */
	char comm[16];
	char *exe;
	char *cgroup, *container_id;		/* of the process; NULL when none */
	enum role role;
	int probes;
	struct http1_parser *req_p, *resp_p;
	uint64_t next_off[2];
	int seen[2];
	int exchanges;
	int resp_interim;			/* the response head being parsed is 1xx */
	uint64_t msg_start_ts[2];		/* when the message now being parsed began */
	struct exchange *xq;			/* exchanges not yet emitted, in request order */
	struct exchange *req_x, *resp_x;	/* being parsed */
	const struct stream_chunk *cur;		/* chunk being fed */
	/* HTTP/2 (the first write was the connection preface): one parser per
	 * direction, one exchange per stream; req_p/resp_p are unused. */
	int h2;
	struct h2_parser *h2p[2];
	uint64_t h2_in[2];			/* bytes fed to each parser */
	struct { uint64_t off, ts; } h2_ring[2][H2_RING];	/* recent feeds: offset, time */
	unsigned h2_nring[2];
	uint32_t h2_last_sid;			/* highest request stream seen */
	/* WebSocket (a 101 answered an Upgrade: websocket request): a frame
	 * parser per direction, each response.create an exchange. */
	int ws;
	struct ws_parser *wsp[2];
	struct ws_conn *wsc;
};

struct stream_table {
	struct htab streams;		/* struct stream by (tgid, ssl) */
	size_t max_body;
	size_t body_budget;		/* bytes all open bodies may hold; 0: no cap */
	size_t body_mem;		/* bytes they hold now (buffer capacities) */
	uint64_t budget_cuts;		/* bodies cut by the budget so far */
	struct net_table *net;		/* the connection under each stream (may be NULL) */
	struct row_sink sink;
	stream_mute_fn mute;		/* told of streams that will never give a row */
	void *mute_ctx;
};

/* stream.c: the exchange machinery HTTP/2 streams reuse. */
void exchange_fail(struct exchange *x, const char *why);
void stream_body_add(struct stream *c, struct exchange *x, int dir, struct decoder *d,
	      struct buf *out, const uint8_t *p, size_t n);
/* http1_callbacks of the request (req_*) and response (resp_*) side; ud is
 * the conn, and c->req_x / c->resp_x name the exchange they work on. */
void stream_req_on_body(void *ud, const uint8_t *p, size_t n);
void stream_req_on_done(void *ud);
void stream_resp_on_body(void *ud, const uint8_t *p, size_t n);
void stream_resp_on_done(void *ud);
/* End every exchange of c with error why and reset its parsers. */
void stream_flush(struct stream *c, const char *why);
void stream_parsers_free(struct stream *c);
/* A protocol error (proto "HTTP" or "HTTP/2", dir 0 request / 1 response):
 * end c's exchanges with "malformed PROTO request|response: ERR" and stop
 * parsing the connection. */
void stream_protocol_error(struct stream *c, const char *proto, int dir, const char *err);

/* stream_rows.c */
/* Unlink x and free it without a row. */
void exchange_drop(struct stream *c, struct exchange *x);
/* Hand over x's row if it is an LLM call (why: error when incomplete); frees x. */
void exchange_emit(struct stream *c, struct exchange *x, const char *why);
/* Format a head as text for storage: start line, then "Name: value" lines,
 * secrets replaced. */
void stream_head_format(struct buf *out, const struct http1_head *h);

/* stream_ws.c */
/* A 101 answered x, a WebSocket upgrade: make c a WebSocket client
 * connection (x's request and the 101 head h kept for its rows; x's
 * strings taken). Returns 0, -1 when out of memory (c unchanged). */
int stream_ws_upgrade(struct stream *c, struct exchange *x, const struct http1_head *h);
/* Feed one direction's bytes to its frame parser. */
void stream_ws_feed(struct stream *c, int dir, const uint8_t *p, size_t n);
/* End the open WebSocket exchanges with error why. */
void stream_ws_end(struct stream *c, const char *why);
/* Free c's WebSocket state; c is no longer a WebSocket. */
void stream_ws_free(struct stream *c);

/* stream_h2.c */
/* Make c an HTTP/2 client connection (its first write was the preface).
 * Returns 0, -1 when out of memory. */
int stream_h2_start(struct stream *c);
/* Feed one direction's bytes to its HTTP/2 parser. */
void stream_h2_feed(struct stream *c, int dir, const uint8_t *p, size_t n);

#endif
