/* net.h -- TCP connections and TLS sessions: connect/handshake timing per connection, joined to TLS streams. */
#ifndef LLMTAP_NET_H
#define LLMTAP_NET_H

#include <stdint.h>

#include "db/rows.h"

struct net_tuple {
	uint8_t saddr[16], daddr[16];	/* network order; IPv4 in the first 4 bytes */
	uint16_t sport, dport;		/* host order */
	uint16_t family;		/* AF_INET / AF_INET6 */
};

/* A connect()ed TCP socket, as the kernel reported it (decoded by event.c). */
struct net_tcp {
	uint32_t tgid, tid;
	char comm[16];
	uint64_t cookie;
	uint64_t syn_ns, est_ns, close_ns;	/* monotonic; 0 = did not happen */
	uint64_t bytes_acked, bytes_received;
	uint32_t retransmits, resets_rx, resets_tx;
	int sk_err;
	struct net_tuple tuple;
};


/* What a call on a new connection inherits from it. */
struct call_netinfo {
	char conn_id[37];		/* "" when the stream was never joined to a socket */
	double dns_ms, connect_ms, tls_ms, client_ms;	/* < 0: unknown */
	uint64_t acked_ns;		/* monotonic: the request's bytes all acknowledged
					 * (large uploads only), 0 when unknown */
};

struct net_table;
struct dns_table;

/* A new table: connection rows (ROW_CONNECTION) go to sink, and each
 * connection asks dns (may be NULL) which lookup gave its address.
 * NULL on OOM. */
struct net_table *net_table_new(struct dns_table *dns, const struct row_sink *sink);
/* Write rows for connections still open (tracer stopping), then free. */
/* Emit the rows of connections closed NET_ROW_WAIT_NS (1 s) ago or more
 * (all: every one waiting). A closed connection's row waits so that a call
 * finished after its close, from events of another ring, still counts in
 * its llm_calls. */
void net_emit_closed(struct net_table *t, int all);

void net_table_free(struct net_table *t);

void net_tcp_connect(struct net_table *t, const struct net_tcp *e);
void net_tcp_close(struct net_table *t, const struct net_tcp *e);
void net_tls_start(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t ts);
void net_tls_done(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t ts);
void net_ssl_sock(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t cookie,
		  const struct net_tuple *tuple);
/* The SSL* was freed: forget the session (its connection stays until closed). */
void net_ssl_free(struct net_table *t, uint32_t tgid, uint64_t ssl);

/* Fill *out for a call on stream (tgid, ssl) whose request was written from
 * first_write_ns to last_write_ns (monotonic); counts the call on its connection.
 * first_on_conn says whether to inherit dns/connect/tls. Returns 1 when the
 * stream is joined to a socket, else 0 (out still initialised). */
int net_call_info(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t first_write_ns,
		  uint64_t last_write_ns, int first_on_conn, struct call_netinfo *out);
/* net_call_info() for a plain TCP stream: the socket is the stream (cookie). */
int net_sock_call_info(struct net_table *t, uint64_t cookie, uint64_t first_write_ns,
		       uint64_t last_write_ns, int first_on_conn, struct call_netinfo *out);
/* A send backlog of the socket was fully acknowledged at ts (monotonic). */
void net_tcp_acked(struct net_table *t, uint64_t cookie, uint64_t ts);

/* The process that connect()ed the TCP socket from local port sport to
 * port dport (a local client of our own server) that was open at at_mono
 * (CLOCK_MONOTONIC ns; 0: any time); 0 when none is known. Loopback reuses
 * ports within seconds: a socket of those ports closed before at_mono, or
 * connected after it, was an earlier or later connection's. */
uint32_t net_pid_by_ports(struct net_table *t, uint16_t sport, uint16_t dport, uint64_t at_mono);
/* What a connect()ed TCP socket's first written bytes were (sock.bpf.c). */
enum net_class {
	NET_CLASS_UNKNOWN = 0,	/* not seen written since the tracer started */
	NET_CLASS_TLS,		/* a TLS ClientHello */
	NET_CLASS_PLAIN,	/* HTTP to an LLM path: captured from its syscalls */
};

/* One open classified socket as `doctor` sees it. */
struct net_sock_view {
	uint64_t cookie, ino;		/* ino: /proc/PID/fd shows socket:[ino] */
	uint32_t tgid;
	enum net_class cls;
	uint64_t class_ns;		/* monotonic: when its first bytes were written */
	int joined;			/* TLS: a hooked TLS library's session runs on it */
	int64_t llm_calls;
	struct net_tuple tuple;
};

/* The socket cookie (connected by tgid; inode ino) was classified at ts. */
void net_sock_class(struct net_table *t, uint32_t tgid, uint64_t cookie, uint64_t ino,
		    enum net_class cls, const struct net_tuple *tuple, uint64_t ts);
/* The socket cookie, classified, was connect()ed at syn_ns and established
 * at est_ns (monotonic; 0: not yet): the connect no event of its own
 * reported (bpf/net.bpf.c connect_lazy). */
void net_sock_connected(struct net_table *t, uint64_t cookie, uint64_t syn_ns, uint64_t est_ns);
/* Hand every open classified socket to fn. */
void net_classified(const struct net_table *t,
		    void (*fn)(void *ctx, const struct net_sock_view *v), void *ctx);

/* Drop closed connections and sessions kept for late joins (older than 2 min). */
void net_reap(struct net_table *t);

#endif
