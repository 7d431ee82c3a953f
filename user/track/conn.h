/* conn.h -- per-connection TLS plaintext streams: HTTP/1.1 exchanges in, finished LLM call rows out. */
#ifndef LLMTAP_CONN_H
#define LLMTAP_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "db/rows.h"
#include "track/net.h"

/* One piece of plaintext, as decoded from a BPF event (parsers never see BPF types). */
struct tls_chunk {
	uint32_t tgid, tid;
	uint64_t ssl;		/* SSL* in the process: with tgid, the connection key */
	int dir;		/* 0 written by the process, 1 read by it */
	uint64_t ts_start_ns;	/* monotonic: the SSL call's entry */
	uint64_t ts_end_ns;	/* monotonic: the SSL call's return */
	uint64_t offset;	/* stream offset of data[0] in this direction */
	uint64_t missing;	/* bytes of this SSL call BPF could not send after data (cap) */
	const char *comm;
	const uint8_t *data;
	size_t len;
};

/* Receives each finished call; takes ownership of the row. */
typedef void (*conn_emit_fn)(void *ud, struct call_row *row);

struct conn_table;

/* Returns a new table, or NULL when out of memory. max_body caps each stored
 * (decoded) body; a larger one is cut and the row says error = 'truncated'. */
struct conn_table *conn_table_new(size_t max_body, conn_emit_fn emit, void *ud);
/* Finish every open call with error "why" (tracer stopping), then free. */
void conn_table_free(struct conn_table *t, const char *why);

/* Where a call on stream (tgid, ssl) gets its connection's timing (net.c's
 * net_call_info() has this shape). */
typedef int (*conn_netinfo_fn)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t first_write_ns,
			       uint64_t last_write_ns, int first_on_conn,
			       struct call_netinfo *out);
void conn_table_set_netinfo(struct conn_table *t, conn_netinfo_fn fn, void *ud);

/* Feed one chunk of plaintext. */
void conn_data(struct conn_table *t, const struct tls_chunk *c);
/* The SSL* was freed: the connection is over. end_off (may be NULL) says how
 * many bytes it moved each way ([0] written, [1] read): bytes lost at the
 * end of a stream make its open exchange a capture gap. */
void conn_close(struct conn_table *t, uint32_t tgid, uint64_t ssl,
		const uint64_t end_off[2], uint64_t ts_ns);
/* The process exited: finish all its connections. */
void conn_process_exit(struct conn_table *t, uint32_t tgid, uint64_t ts_ns);
/* Finish connections of processes that are gone (an exit event was lost). */
void conn_reap(struct conn_table *t);

/* Number of open connections. */
size_t conn_count(const struct conn_table *t);

#endif
