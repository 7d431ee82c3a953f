/* event.h -- the only reader of raw ring-buffer records: validates them and dispatches typed calls. */
#ifndef LLMTAP_EVENT_H
#define LLMTAP_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"
#include "net.h"

/* Where decoded events go. */
struct event_sink {
	void *ud;
	void (*data)(void *ud, const struct tls_chunk *c);
	void (*ssl_free)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t ts_ns);
	void (*exec)(void *ud, uint32_t tgid, const char *comm, const char *filename);
	void (*exit)(void *ud, uint32_t tgid, int exit_code, uint64_t ts_ns);
	/* TLS sessions and TCP connections (optional: NULL skips) */
	void (*tls_start)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t ts_ns);
	void (*tls_done)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t ts_ns);
	void (*ssl_sock)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t cookie,
			 const struct net_tuple *tuple);
	void (*tcp_connect)(void *ud, const struct net_tcp *e);
	void (*tcp_close)(void *ud, const struct net_tcp *e);
	uint64_t malformed;	/* records that failed validation */
};

/* A loader_sample_fn: ctx is a struct event_sink. Always returns 0. */
int event_handle(void *ctx, void *data, size_t size);

#endif
