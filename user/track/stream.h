/* stream.h -- per-connection plaintext streams: HTTP exchanges in, finished LLM call rows out. */
#ifndef LLMTAP_STREAM_H
#define LLMTAP_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "db/inflight.h"
#include "db/rows.h"
#include "track/net.h"

/* One piece of plaintext, as decoded from a BPF event (parsers never see BPF types). */
struct stream_chunk {
	uint32_t tgid, tid;
	uint64_t ssl;		/* SSL* in the process: with tgid, the connection key;
				 * with sock, the socket cookie instead */
	int sock;		/* 1: plaintext of a plain TCP socket (no TLS) */
	int dir;		/* 0 written by the process, 1 read by it */
	uint64_t ts_start_ns;	/* monotonic: the SSL call's entry */
	uint64_t ts_end_ns;	/* monotonic: the SSL call's return (a write: its last
				 * TCP send, when it made one) */
	uint64_t offset;	/* stream offset of data[0] in this direction */
	uint64_t missing;	/* bytes of this SSL call BPF could not send after data (cap) */
	const char *comm;
	const uint8_t *data;
	size_t len;
};

struct stream_table;

/* Returns a new table, or NULL when out of memory. max_body caps each stored
 * (decoded) body; a larger one is cut and the row says error = 'truncated'.
 * Each finished call goes to sink as a ROW_CALL; net (may be NULL) gives it
 * its connection's timing. */
struct stream_table *stream_table_new(size_t max_body, struct net_table *net,
				       const struct row_sink *sink);

/* Told when a connection will never give a row (it serves requests, or does
 * not carry HTTP): the capture can stop copying its bytes. */
typedef void (*stream_mute_fn)(void *ctx, uint32_t tgid, uint64_t ssl);
void stream_table_set_mute(struct stream_table *t, stream_mute_fn fn, void *ctx);
/* Cap the bytes the bodies of all open calls hold together (0: no cap; the
 * default). A body that would pass it is cut there: error = 'truncated'. */
void stream_set_body_budget(struct stream_table *t, size_t bytes);

/* Bodies the budget has cut since the table was made. */
uint64_t stream_budget_cuts(const struct stream_table *t);

/* Finish every open call with error "why" (tracer stopping), then free. */
void stream_table_free(struct stream_table *t, const char *why);

/* Feed one chunk of plaintext. */
void stream_data(struct stream_table *t, const struct stream_chunk *c);
/* The SSL* was freed: the connection is over. end_off (may be NULL) says how
 * many bytes it moved each way ([0] written, [1] read): bytes lost at the
 * end of a stream make its open exchange a capture gap. */
void stream_close(struct stream_table *t, uint32_t tgid, uint64_t ssl,
		const uint64_t end_off[2], uint64_t ts_ns);
/* A plain TCP socket (cookie) carrying a stream closed: as stream_close(). */
void stream_close_sock(struct stream_table *t, uint32_t tgid, uint64_t cookie,
		       const uint64_t end_off[2], uint64_t ts_ns);
/* The process exited at ts_ns (monotonic; 0: unknown): finish all its
 * connections that began before. */
void stream_process_exit(struct stream_table *t, uint32_t tgid, uint64_t ts_ns);
/* Finish connections of processes that are gone (an exit event was lost). */
void stream_reap(struct stream_table *t);

/* Number of open connections. */
size_t stream_count(const struct stream_table *t);

/* Fill out with up to max calls in flight to LLM API paths. Returns how
 * many were filled. */
size_t stream_inflight(const struct stream_table *t, struct inflight_row *out, size_t max);

#endif
