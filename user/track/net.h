/* net.h -- TCP connections and TLS sessions: connect/handshake timing per connection, joined to TLS streams. */
#ifndef LLMTAP_NET_H
#define LLMTAP_NET_H

#include <stdint.h>

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

/* One row of the connections table; strings owned by the row. */
struct conn_row {
	char id[37];
	int64_t pid, tid;
	char comm[16];
	char saddr[48], daddr[48];
	int64_t sport, dport;
	int64_t start_ns;		/* epoch ns of the SYN; INT64_MIN when unknown */
	double connect_ms;		/* < 0: unknown */
	char *connect_error;		/* NULL when established */
	double dns_ms, tls_ms;		/* < 0: unknown */
	char *dns_name;
	int64_t retransmits, resets_rx, resets_tx;
	int64_t bytes_sent, bytes_received;
	int64_t close_ns;		/* INT64_MIN while open */
	double duration_ms;		/* SYN -> close; < 0 unknown */
	int64_t llm_calls;
};

void conn_row_free(struct conn_row *r);

/* What a call on a new connection inherits from it. */
struct call_netinfo {
	char conn_id[37];		/* "" when the stream was never joined to a socket */
	double dns_ms, connect_ms, tls_ms, client_ms;	/* < 0: unknown */
	uint64_t acked_ns;		/* monotonic: the request's bytes all acknowledged
					 * (large uploads only), 0 when unknown */
};

/* Answers "which lookup gave this address" (the DNS module); returns 1 and
 * sets *ms and *name (valid until the next call), else 0. */
typedef int (*net_dns_fn)(void *ud, uint32_t tgid, int family, const uint8_t *addr,
			  uint64_t before_mono_ns, double *ms, const char **name);
/* Receives each finished connection row (ownership passes). */
typedef void (*net_emit_fn)(void *ud, struct conn_row *row);

struct net_table;

struct net_table *net_table_new(net_emit_fn emit, net_dns_fn dns, void *ud);
/* Write rows for connections still open (tracer stopping), then free. */
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
/* A send backlog of the socket was fully acknowledged at ts (monotonic). */
void net_tcp_acked(struct net_table *t, uint64_t cookie, uint64_t ts);

/* Drop closed connections and sessions kept for late joins (older than 2 min). */
void net_reap(struct net_table *t);

#endif
