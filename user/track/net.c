/* net.c -- TCP connections and TLS sessions: connect/handshake timing per connection, joined to TLS streams.
 *
 * Sockets are keyed by their kernel cookie, TLS sessions by (tgid, SSL*).
 * Events come from three ring buffers in no guaranteed order, so every
 * handler creates what it refers to when it is not there yet.
 */
#include "track/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/htab.h"
#include "base/util.h"
#include "db/rows.h"
#include "track/dns.h"

#define NET_KEEP_NS (120ull * 1000000000ull)	/* closed sockets / freed sessions kept for late joins */
/* A closed connection's row waits this long: the row of a call that ended
 * with it (read to the close, its events on another ring) counts in it. */
#define NET_ROW_WAIT_NS (1000000000ull)

struct sock_info {
	struct htab_node node;		/* key (cookie, 0) */
	uint64_t cookie;
	char id[37];
	uint32_t tgid, tid;
	char comm[16];
	struct net_tuple tuple;
	int have_tuple;
	uint64_t syn_ns, est_ns;
	uint64_t tls_start, tls_done;
	int64_t llm_calls;
	int dns_done;
	double dns_ms;
	char *dns_name;
	uint64_t closed_mono;		/* when we saw the close; 0 while open */
	uint64_t close_ns;		/* when the kernel closed it (monotonic); 0: open */
	uint64_t acked_ns;		/* last time a send backlog was fully acked */
	enum net_class cls;		/* what its first bytes were (sock.bpf.c) */
	uint64_t ino, class_ns;
	int joined;			/* a TLS session was joined to it */
	struct connection_row *row;	/* closed: its row, until NET_ROW_WAIT_NS */
	struct sock_info *next_row;	/* the list of those */
};

struct session {
	struct htab_node node;		/* key (tgid, ssl); a freed session stays until reaped */
	uint32_t tgid;
	uint64_t ssl;
	uint64_t start, done;
	uint64_t cookie;
	uint64_t freed_mono;
};

struct net_table {
	struct htab socks;		/* struct sock_info by cookie */
	struct htab sessions;		/* struct session by (tgid, ssl) */
	struct dns_table *dns;
	struct row_sink sink;
	/* Closed sockets whose rows wait, oldest first (a queue: a host that
	 * closes thousands of connections a second has that many waiting, and
	 * each poll looks at the oldest only). */
	struct sock_info *rows, **rows_tail;
};

/* The socket with this cookie; created when missing and create is set.
 * NULL when absent or out of memory. */
static struct sock_info *sock_get(struct net_table *t, uint64_t cookie, int create)
{
	struct htab_node *n = htab_find(&t->socks, cookie, 0);
	struct sock_info *s;

	if (n || !create)
		return n ? htab_entry(n, struct sock_info, node) : NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cookie = cookie;
	s->dns_ms = -1;
	uuid7(s->id);
	if (htab_add(&t->socks, &s->node, cookie, 0)) {
		free(s);
		return NULL;
	}
	return s;
}

/* The live session (tgid, ssl): a freed one with the same SSL* address is
 * an older session (the newest of a key is found first); created when
 * missing and create is set. NULL when absent or out of memory. */
static struct session *session_get(struct net_table *t, uint32_t tgid, uint64_t ssl, int create)
{
	struct htab_node *n = htab_find(&t->sessions, tgid, ssl);
	struct session *s = n ? htab_entry(n, struct session, node) : NULL;

	if (s && !s->freed_mono)
		return s;
	if (!create)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tgid = tgid;
	s->ssl = ssl;
	if (htab_add(&t->sessions, &s->node, tgid, ssl)) {
		free(s);
		return NULL;
	}
	return s;
}

struct net_table *net_table_new(struct dns_table *dns, const struct row_sink *sink)
{
	struct net_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	htab_init(&t->socks);
	htab_init(&t->sessions);
	t->rows_tail = &t->rows;
	t->dns = dns;
	if (sink)
		t->sink = *sink;
	return t;
}

static void sock_fill(struct sock_info *s, const struct net_tcp *e)
{
	s->tgid = e->tgid;
	s->tid = e->tid;
	memcpy(s->comm, e->comm, sizeof(s->comm));
	s->comm[sizeof(s->comm) - 1] = 0;
	/* At CLOSE the kernel has already released the local port: keep the
	 * tuple seen at ESTABLISHED. */
	if (!s->have_tuple || e->tuple.sport) {
		s->tuple = e->tuple;
		s->have_tuple = 1;
	}
	if (e->syn_ns)
		s->syn_ns = e->syn_ns;
	if (e->est_ns)
		s->est_ns = e->est_ns;
}

/* Find which lookup gave this connection's address (until found). */
static void sock_dns(struct net_table *t, struct sock_info *s)
{
	struct dns_answer a;

	if (s->dns_done || !t->dns || !s->have_tuple || !s->syn_ns)
		return;
	/* A miss is retried at the next chance (call, close): the lookup's
	 * event may come through its own ring buffer after the connect. */
	if (dns_find(t->dns, s->tgid, s->tuple.family, s->tuple.daddr, s->syn_ns, &a)) {
		s->dns_done = 1;
		s->dns_ms = a.latency_ms;
		s->dns_name = a.name ? strdup(a.name) : NULL;
	}
}

static double ms_diff(uint64_t from, uint64_t to)
{
	return from && to && to >= from ? (double)(to - from) / 1e6 : -1;
}

void net_tcp_connect(struct net_table *t, const struct net_tcp *e)
{
	struct sock_info *s = sock_get(t, e->cookie, 1);

	if (!s)
		return;
	sock_fill(s, e);
	sock_dns(t, s);
}

static void addr_str(const struct net_tuple *tu, const uint8_t *a, char *out, size_t n)
{
	if (!inet_ntop(tu->family == AF_INET6 ? AF_INET6 : AF_INET, a, out, n))
		snprintf(out, n, "?");
}

/* A connect that never completed: say how it failed. */
static const char *connect_error(const struct net_tcp *e)
{
	switch (e->sk_err) {
	case ECONNREFUSED: return "refused";
	case ETIMEDOUT: return "timeout";
	case EHOSTUNREACH: return "host unreachable";
	case ENETUNREACH: return "network unreachable";
	case ECONNRESET: return "reset";
	case 0: break;
	default: return "error";
	}
	if (e->resets_rx)
		return "refused";
	/* The process gave up first: with SYNs unanswered that is a timeout. */
	return e->retransmits ? "timeout" : "aborted";
}

void net_tcp_close(struct net_table *t, const struct net_tcp *e)
{
	struct sock_info *s = sock_get(t, e->cookie, 1);
	struct connection_row *r;

	if (!s)
		return;
	sock_fill(s, e);
	sock_dns(t, s);
	s->closed_mono = mono_ns();
	s->close_ns = e->close_ns ? e->close_ns : s->closed_mono;
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	memcpy(r->id, s->id, sizeof(r->id));
	r->pid = s->tgid;
	r->tid = s->tid;
	memcpy(r->comm, s->comm, sizeof(r->comm));
	addr_str(&s->tuple, s->tuple.saddr, r->saddr, sizeof(r->saddr));
	addr_str(&s->tuple, s->tuple.daddr, r->daddr, sizeof(r->daddr));
	r->sport = s->tuple.sport;
	r->dport = s->tuple.dport;
	r->start_ns = s->syn_ns ? (int64_t)mono_to_epoch_ns(s->syn_ns) : CALL_NULL_INT;
	r->connect_ms = ms_diff(s->syn_ns, s->est_ns);
	r->connect_error = s->est_ns ? NULL : strdup(connect_error(e));
	r->dns_ms = s->dns_ms;
	r->dns_name = s->dns_name ? strdup(s->dns_name) : NULL;
	r->tls_ms = ms_diff(s->tls_start, s->tls_done);
	r->retransmits = e->retransmits;
	r->resets_rx = e->resets_rx;
	r->resets_tx = e->resets_tx;
	r->bytes_sent = e->bytes_acked;
	r->bytes_received = e->bytes_received;
	r->close_ns = e->close_ns ? (int64_t)mono_to_epoch_ns(e->close_ns) : CALL_NULL_INT;
	r->duration_ms = ms_diff(s->syn_ns, e->close_ns);
	if (s->row) {		/* closed twice: the later close wins, in its place */
		row_free(ROW_CONNECTION, s->row);
	} else {
		s->next_row = NULL;
		*t->rows_tail = s;
		t->rows_tail = &s->next_row;
	}
	s->row = r;
}

/* Emit the row of s, which waits (it leaves the list at the caller). */
static void sock_row_emit(struct net_table *t, struct sock_info *s)
{
	s->row->llm_calls = s->llm_calls;
	row_emit(&t->sink, ROW_CONNECTION, s->row);
	s->row = NULL;
}

void net_emit_closed(struct net_table *t, int all)
{
	uint64_t now = mono_ns();
	struct sock_info *s;

	/* The queue is in the order of first closes: a socket closed again
	 * (connect() retried on it) holds the ones behind it back until its
	 * own wait is over, at most NET_ROW_WAIT_NS. */
	while ((s = t->rows) && (all || now - s->closed_mono >= NET_ROW_WAIT_NS)) {
		t->rows = s->next_row;
		if (!t->rows)
			t->rows_tail = &t->rows;
		sock_row_emit(t, s);
	}
}

void net_tls_start(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t ts)
{
	struct session *se = session_get(t, tgid, ssl, 1);

	if (se && !se->start)
		se->start = ts;
}

void net_tls_done(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t ts)
{
	struct session *se = session_get(t, tgid, ssl, 1);
	struct sock_info *s;

	if (!se || se->done)
		return;
	se->done = ts;
	s = se->cookie ? sock_get(t, se->cookie, 0) : NULL;
	if (s && !s->tls_done)
		s->tls_done = ts;
}

void net_ssl_sock(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t cookie,
		  const struct net_tuple *tuple)
{
	struct session *se = session_get(t, tgid, ssl, 1);
	struct sock_info *s = sock_get(t, cookie, 1);

	if (!se || !s)
		return;
	se->cookie = cookie;
	s->joined = 1;
	if (!s->have_tuple) {
		s->tuple = *tuple;
		s->have_tuple = 1;
		s->tgid = tgid;
	}
	if (!s->tls_start)
		s->tls_start = se->start;
	if (!s->tls_done)
		s->tls_done = se->done;
}

void net_sock_class(struct net_table *t, uint32_t tgid, uint64_t cookie, uint64_t ino,
		    enum net_class cls, const struct net_tuple *tuple, uint64_t ts)
{
	struct sock_info *s = sock_get(t, cookie, 1);

	if (!s)
		return;
	s->cls = cls;
	s->ino = ino;
	s->class_ns = ts;
	if (!s->have_tuple) {
		s->tuple = *tuple;
		s->have_tuple = 1;
		s->tgid = tgid;
	}
}

void net_sock_connected(struct net_table *t, uint64_t cookie, uint64_t syn_ns, uint64_t est_ns)
{
	struct sock_info *s = sock_get(t, cookie, 1);

	if (!s)
		return;
	if (!s->syn_ns)
		s->syn_ns = syn_ns;
	if (!s->est_ns)
		s->est_ns = est_ns;
	sock_dns(t, s);
}

void net_classified(const struct net_table *t,
		    void (*fn)(void *ctx, const struct net_sock_view *v), void *ctx)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	while ((n = htab_next(&t->socks, &it))) {
		const struct sock_info *s = htab_entry(n, struct sock_info, node);
		struct net_sock_view v;

		if (s->closed_mono || s->cls == NET_CLASS_UNKNOWN)
			continue;
		memset(&v, 0, sizeof(v));
		v.cookie = s->cookie;
		v.ino = s->ino;
		v.tgid = s->tgid;
		v.cls = s->cls;
		v.class_ns = s->class_ns;
		v.joined = s->joined;
		v.llm_calls = s->llm_calls;
		v.tuple = s->tuple;
		fn(ctx, &v);
	}
}

void net_ssl_free(struct net_table *t, uint32_t tgid, uint64_t ssl)
{
	struct session *se = session_get(t, tgid, ssl, 0);

	if (se)
		se->freed_mono = mono_ns();
}

void net_tcp_acked(struct net_table *t, uint64_t cookie, uint64_t ts)
{
	struct sock_info *s = sock_get(t, cookie, 0);

	if (s)
		s->acked_ns = ts;
}

/* net_call_info() for the call's socket s (NULL: not known): *out filled. */
static int sock_call_info(struct net_table *t, struct sock_info *s, uint64_t first_write_ns,
			  uint64_t last_write_ns, int first_on_conn, struct call_netinfo *out)
{
	uint64_t ready;

	memset(out, 0, sizeof(*out));
	out->dns_ms = out->connect_ms = out->tls_ms = out->client_ms = -1;
	if (!s)
		return 0;
	memcpy(out->conn_id, s->id, sizeof(out->conn_id));
	s->llm_calls++;
	/* No pipelining in HTTP/1.1: an ack after this request's last write is its. */
	if (s->acked_ns > last_write_ns)
		out->acked_ns = s->acked_ns;
	if (!first_on_conn)
		return 1;
	/* Without an explicit handshake call (node drives it through SSL_read),
	 * the handshake ends when the first request is written. */
	if (!s->tls_done && s->tls_start && first_write_ns > s->tls_start)
		s->tls_done = first_write_ns;
	/* A session announced after its handshake ended (rustls: seen from
	 * its records on) began it when its TCP connection was established. */
	if (s->tls_done && s->tls_start >= s->tls_done && s->est_ns && s->est_ns < s->tls_done)
		s->tls_start = s->est_ns;
	sock_dns(t, s);
	out->dns_ms = s->dns_ms;
	out->connect_ms = ms_diff(s->syn_ns, s->est_ns);
	out->tls_ms = ms_diff(s->tls_start, s->tls_done);
	ready = s->tls_done ? s->tls_done : s->est_ns;
	out->client_ms = ms_diff(ready, first_write_ns);
	return 1;
}

uint32_t net_pid_by_ports(struct net_table *t, uint16_t sport, uint16_t dport, uint64_t at_mono)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;
	uint32_t pid = 0;

	if (!t || !sport)
		return 0;
	while ((n = htab_next(&t->socks, &it))) {
		struct sock_info *s = htab_entry(n, struct sock_info, node);

		if (!s->have_tuple || s->tuple.sport != sport || s->tuple.dport != dport)
			continue;
		/* another connection over the same ports, before or after */
		if (at_mono && ((s->close_ns && s->close_ns < at_mono) || (s->syn_ns && s->syn_ns > at_mono)))
			continue;
		/* an open socket wins over a closed one that had the same ports */
		if (!pid || !s->closed_mono)
			pid = s->tgid;
	}
	return pid;
}

int net_call_info(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t first_write_ns,
		  uint64_t last_write_ns, int first_on_conn, struct call_netinfo *out)
{
	struct session *se = session_get(t, tgid, ssl, 0);
	struct sock_info *s = se && se->cookie ? sock_get(t, se->cookie, 0) : NULL;

	return sock_call_info(t, s, first_write_ns, last_write_ns, first_on_conn, out);
}

int net_sock_call_info(struct net_table *t, uint64_t cookie, uint64_t first_write_ns,
		       uint64_t last_write_ns, int first_on_conn, struct call_netinfo *out)
{
	return sock_call_info(t, sock_get(t, cookie, 0), first_write_ns, last_write_ns,
			      first_on_conn, out);
}

void net_reap(struct net_table *t)
{
	struct htab_iter si = HTAB_ITER_INIT, ei = HTAB_ITER_INIT;
	uint64_t now = mono_ns();
	struct htab_node *n;

	while ((n = htab_next(&t->socks, &si))) {
		struct sock_info *s = htab_entry(n, struct sock_info, node);

		if (s->closed_mono && !s->row && now - s->closed_mono > NET_KEEP_NS) {
			htab_del(&t->socks, n);
			free(s->dns_name);
			free(s);
		}
	}
	while ((n = htab_next(&t->sessions, &ei))) {
		struct session *se = htab_entry(n, struct session, node);

		if (se->freed_mono && now - se->freed_mono > NET_KEEP_NS) {
			htab_del(&t->sessions, n);
			free(se);
		}
	}
}

void net_table_free(struct net_table *t)
{
	struct htab_iter si = HTAB_ITER_INIT, ei = HTAB_ITER_INIT;
	struct htab_node *n;

	if (!t)
		return;
	while ((n = htab_next(&t->socks, &si))) {
		struct sock_info *s = htab_entry(n, struct sock_info, node);

		/* Still open: its row says so (close_ns NULL). */
		if (!s->closed_mono && s->have_tuple && s->syn_ns) {
			struct net_tcp e = { .tgid = s->tgid, .tid = s->tid, .cookie = s->cookie,
					     .syn_ns = s->syn_ns, .est_ns = s->est_ns,
					     .tuple = s->tuple };

			memcpy(e.comm, s->comm, sizeof(e.comm));
			net_tcp_close(t, &e);
		}
	}
	net_emit_closed(t, 1);
	si = (struct htab_iter)HTAB_ITER_INIT;
	while ((n = htab_next(&t->socks, &si))) {
		struct sock_info *s = htab_entry(n, struct sock_info, node);

		htab_del(&t->socks, n);
		free(s->dns_name);
		free(s);
	}
	while ((n = htab_next(&t->sessions, &ei))) {
		htab_del(&t->sessions, n);
		free(htab_entry(n, struct session, node));
	}
	htab_fini(&t->socks);
	htab_fini(&t->sessions);
	free(t);
}
