/* event.c -- the only reader of raw ring-buffer records: validates them and dispatches typed calls. */
#include "capture/event.h"

#include <stddef.h>
#include <string.h>
#include <linux/types.h>

#include "events.h"

/* Copy a fixed-size kernel string into a NUL-terminated one. */
static void copy_str(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n - 1] = 0;
}

static void handle_data(struct event_sink *s, const struct lt_data_event *e, size_t size)
{
	size_t hdr = offsetof(struct lt_data_event, data);
	char comm[LT_COMM_LEN];
	struct tls_chunk c;

	if (size < hdr || e->len > LT_CHUNK_MAX || size < hdr + e->len) {
		s->malformed++;
		return;
	}
	copy_str(comm, e->comm, sizeof(comm));
	memset(&c, 0, sizeof(c));
	c.tgid = e->hdr.tgid;
	c.tid = e->hdr.tid;
	c.ssl = e->ssl;
	c.dir = e->dir;
	c.ts_start_ns = e->hdr.ts_ns;
	c.ts_end_ns = e->ts_end_ns;
	c.offset = e->offset;
	c.comm = comm;
	c.data = (const uint8_t *)e->data;
	c.len = e->len;
	c.missing = e->missing;
	s->data(s->ud, &c);
}

static void tuple_copy(struct net_tuple *dst, const struct lt_tuple *src)
{
	memcpy(dst->saddr, src->saddr, sizeof(dst->saddr));
	memcpy(dst->daddr, src->daddr, sizeof(dst->daddr));
	dst->sport = src->sport;
	dst->dport = src->dport;
	dst->family = src->family;
}

static void handle_tcp(struct event_sink *s, const struct lt_tcp_event *e)
{
	struct net_tcp t = {
		.tgid = e->hdr.tgid, .tid = e->hdr.tid, .cookie = e->cookie,
		.syn_ns = e->syn_ns, .est_ns = e->est_ns, .close_ns = e->close_ns,
		.bytes_acked = e->bytes_acked, .bytes_received = e->bytes_received,
		.retransmits = e->retransmits, .resets_rx = e->resets_rx,
		.resets_tx = e->resets_tx, .sk_err = e->sk_err,
	};

	copy_str(t.comm, e->comm, sizeof(t.comm));
	tuple_copy(&t.tuple, &e->tuple);
	if (e->hdr.type == LT_EV_TCP_CONNECT && s->tcp_connect)
		s->tcp_connect(s->ud, &t);
	else if (e->hdr.type == LT_EV_TCP_CLOSE && s->tcp_close)
		s->tcp_close(s->ud, &t);
}

static void dns_addr_copy(struct dns_addr *dst, __u8 family, const __u8 addr[16])
{
	dst->family = family;
	memcpy(dst->addr, addr, sizeof(dst->addr));
}

static void handle_dns_gai(struct event_sink *s, const struct lt_dns_gai_event *e)
{
	struct dns_addr addrs[LT_DNS_ADDRS_MAX];
	char comm[LT_COMM_LEN], name[LT_DNS_NAME_MAX];
	struct dns_gai g;
	__u32 i;

	if (e->naddrs > LT_DNS_ADDRS_MAX) {
		s->malformed++;
		return;
	}
	copy_str(comm, e->comm, sizeof(comm));
	copy_str(name, e->name, sizeof(name));
	for (i = 0; i < e->naddrs; i++)
		dns_addr_copy(&addrs[i], e->addrs[i].family, e->addrs[i].addr);
	memset(&g, 0, sizeof(g));
	g.tgid = e->hdr.tgid;
	g.tid = e->hdr.tid;
	g.comm = comm;
	g.name = name;
	g.start_ns = e->hdr.ts_ns;
	g.end_ns = e->ts_end_ns;
	g.rc = e->rc;
	g.hint_family = (int)e->hint_family;
	g.naddrs = e->naddrs;
	g.addrs = addrs;
	if (s->dns_gai)
		s->dns_gai(s->ud, &g);
}

static void handle_dns_pkt(struct event_sink *s, const struct lt_dns_pkt_event *e, size_t size)
{
	size_t hdr = offsetof(struct lt_dns_pkt_event, data);
	char comm[LT_COMM_LEN];
	struct dns_packet p;

	if (size < hdr || e->len > LT_DNS_PKT_MAX || size < hdr + e->len || e->msg_len < e->len) {
		s->malformed++;
		return;
	}
	copy_str(comm, e->comm, sizeof(comm));
	memset(&p, 0, sizeof(p));
	p.tgid = e->hdr.tgid;
	p.tid = e->hdr.tid;
	p.comm = comm;
	p.ts_ns = e->hdr.ts_ns;
	p.sent = e->dir == LT_DIR_WRITE;
	dns_addr_copy(&p.server, e->family, e->server);
	p.port = e->port;
	p.data = e->data;
	p.len = e->len;
	p.msg_len = e->msg_len;
	if (s->dns_packet)
		s->dns_packet(s->ud, &p);
}

static void handle_exec(struct event_sink *s, const struct lt_exec_event *e,
			const char *comm, const char *file)
{
	struct proc_exec_info x = {
		.pid = e->hdr.tgid, .ppid = e->ppid, .uid = e->uid, .comm = comm, .exe = file,
		.argv = e->argv, .argv_len = e->argv_len, .argv_cut = e->argv_full > e->argv_len,
		.ts_ns = e->hdr.ts_ns, .start_ns = e->start_ns,
	};

	s->proc_exec(s->ud, &x);
}

static void handle_exit(struct event_sink *s, const struct lt_exit_event *e)
{
	char comm[LT_COMM_LEN];
	struct proc_exit_info x = {
		.pid = e->hdr.tgid, .ppid = e->ppid, .comm = comm, .exit_code = e->exit_code,
		.ts_ns = e->hdr.ts_ns, .start_ns = e->start_ns, .oncpu_ns = e->oncpu_ns,
		.runq_ns = e->runq_ns, .switches = e->switches, .preempts = e->preempts,
	};

	copy_str(comm, e->comm, sizeof(comm));
	s->proc_exit(s->ud, &x);
}

/* Size of the fixed-size record of each event type, 0 when variable or unknown. */
static size_t event_size(__u32 type)
{
	switch (type) {
	case LT_EV_TLS_START:
	case LT_EV_TLS_DONE: return sizeof(struct lt_tls_event);
	case LT_EV_SSL_SOCK: return sizeof(struct lt_ssl_sock_event);
	case LT_EV_TCP_CONNECT:
	case LT_EV_TCP_CLOSE: return sizeof(struct lt_tcp_event);
	case LT_EV_TCP_ACKED: return sizeof(struct lt_acked_event);
	case LT_EV_DNS_GAI: return sizeof(struct lt_dns_gai_event);
	default: return 0;
	}
}

int event_handle(void *ctx, void *data, size_t size)
{
	struct event_sink *s = ctx;
	const struct lt_hdr *h = data;

	if (size < sizeof(*h)) {
		s->malformed++;
		return 0;
	}
	if (event_size(h->type) && size < event_size(h->type)) {
		s->malformed++;
		return 0;
	}
	switch (h->type) {
	case LT_EV_TLS_START:
	case LT_EV_TLS_DONE: {
		const struct lt_tls_event *e = data;
		void (*fn)(void *, uint32_t, uint64_t, uint64_t) =
			h->type == LT_EV_TLS_START ? s->tls_start : s->tls_done;

		if (fn)
			fn(s->ud, h->tgid, e->ssl, h->ts_ns);
		break;
	}
	case LT_EV_SSL_SOCK: {
		const struct lt_ssl_sock_event *e = data;
		struct net_tuple t;

		tuple_copy(&t, &e->tuple);
		if (s->ssl_sock)
			s->ssl_sock(s->ud, h->tgid, e->ssl, e->cookie, &t);
		break;
	}
	case LT_EV_TCP_CONNECT:
	case LT_EV_TCP_CLOSE:
		handle_tcp(s, data);
		break;
	case LT_EV_TCP_ACKED:
		if (s->tcp_acked)
			s->tcp_acked(s->ud, ((const struct lt_acked_event *)data)->cookie, h->ts_ns);
		break;
	case LT_EV_DATA:
		handle_data(s, data, size);
		break;
	case LT_EV_DNS_GAI:
		handle_dns_gai(s, data);
		break;
	case LT_EV_DNS_PKT:
		handle_dns_pkt(s, data, size);
		break;
	case LT_EV_SSL_FREE: {
		const struct lt_ssl_free_event *e = data;
		uint64_t end_off[2] = { e->end_off[LT_DIR_WRITE], e->end_off[LT_DIR_READ] };

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		s->ssl_free(s->ud, h->tgid, e->ssl, end_off, h->ts_ns);
		break;
	}
	case LT_EV_EXIT: {
		const struct lt_exit_event *e = data;

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		s->exit(s->ud, h->tgid, e->exit_code, h->ts_ns);
		if (s->proc_exit)
			handle_exit(s, e);
		break;
	}
	case LT_EV_OOM: {
		const struct lt_oom_event *e = data;
		char comm[LT_COMM_LEN];

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		copy_str(comm, e->comm, sizeof(comm));
		if (s->oom)
			s->oom(s->ud, h->tgid, h->tid, comm, h->ts_ns);
		break;
	}
	case LT_EV_EXEC: {
		const struct lt_exec_event *e = data;
		char comm[LT_COMM_LEN], file[LT_PATH_MAX];

		if (size < sizeof(*e) || e->argv_len > LT_ARGV_MAX) {
			s->malformed++;
			break;
		}
		copy_str(comm, e->comm, sizeof(comm));
		copy_str(file, e->filename, sizeof(file));
		s->exec(s->ud, h->tgid, comm, file);
		if (s->proc_exec)
			handle_exec(s, e, comm, file);
		break;
	}
	default:
		s->malformed++;
	}
	return 0;
}
