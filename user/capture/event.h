/* event.h -- the only reader of raw ring-buffer records: validates them and dispatches typed calls. */
#ifndef LLMTAP_EVENT_H
#define LLMTAP_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "track/conn.h"
#include "track/dns.h"
#include "track/net.h"
#include "track/proc.h"

/* Where decoded events go. */
struct event_sink {
	void *ud;
	void (*data)(void *ud, const struct tls_chunk *c);
	/* end_off: bytes the stream moved, written [0] and read [1] */
	void (*ssl_free)(void *ud, uint32_t tgid, uint64_t ssl, const uint64_t end_off[2],
			 uint64_t ts_ns);
	void (*exec)(void *ud, uint32_t tgid, const char *comm, const char *filename);
	void (*exit)(void *ud, uint32_t tgid, int exit_code, uint64_t ts_ns);
	/* TLS sessions and TCP connections (optional: NULL skips) */
	void (*tls_start)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t ts_ns);
	void (*tls_done)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t ts_ns);
	void (*ssl_sock)(void *ud, uint32_t tgid, uint64_t ssl, uint64_t cookie,
			 const struct net_tuple *tuple);
	void (*tcp_connect)(void *ud, const struct net_tcp *e);
	void (*tcp_close)(void *ud, const struct net_tcp *e);
	void (*tcp_acked)(void *ud, uint64_t cookie, uint64_t ts_ns);
	/* DNS lookups (optional: NULL skips) */
	void (*dns_gai)(void *ud, const struct dns_gai *g);
	void (*dns_packet)(void *ud, const struct dns_packet *p);
	/* process details: argv, exit status and CPU totals, OOM victims (optional: NULL skips) */
	void (*proc_exec)(void *ud, const struct proc_exec_info *e);
	void (*proc_exit)(void *ud, const struct proc_exit_info *e);
	void (*oom)(void *ud, uint32_t tgid, uint32_t tid, const char *comm, uint64_t ts_ns);
	uint64_t malformed;	/* records that failed validation */
};

/* A loader_sample_fn: ctx is a struct event_sink. Always returns 0. */
int event_handle(void *ctx, void *data, size_t size);

#endif
