/* event.c -- the only reader of raw ring-buffer records: validates each one and hands it, typed, to the tracker it is for. */
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

static void handle_data(struct event_ctx *s, const struct lt_data_event *e, size_t size)
{
	size_t hdr = offsetof(struct lt_data_event, data);
	char comm[LT_COMM_LEN];
	struct stream_chunk c;

	if (e->len > LT_CHUNK_MAX || size < hdr + e->len) {
		s->malformed++;
		return;
	}
	copy_str(comm, e->comm, sizeof(comm));
	memset(&c, 0, sizeof(c));
	c.tgid = e->hdr.tgid;
	c.tid = e->hdr.tid;
	c.ssl = e->ssl;
	c.sock = e->hdr.type == LT_EV_SOCK_DATA;
	c.dir = e->dir;
	c.ts_start_ns = e->hdr.ts_ns;
	c.ts_end_ns = e->ts_end_ns;
	c.offset = e->offset;
	c.comm = comm;
	c.data = (const uint8_t *)e->data;
	c.len = e->len;
	c.missing = e->missing;
	/* A process making calls: getaddrinfo gets probed in it (once). */
	if (s->loader)
		loader_client(s->loader, (pid_t)c.tgid);
	stream_data(s->streams, &c);
}

static void tuple_copy(struct net_tuple *dst, const struct lt_tuple *src)
{
	memcpy(dst->saddr, src->saddr, sizeof(dst->saddr));
	memcpy(dst->daddr, src->daddr, sizeof(dst->daddr));
	dst->sport = src->sport;
	dst->dport = src->dport;
	dst->family = src->family;
}

static void handle_tcp(struct event_ctx *s, const struct lt_tcp_event *e)
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
	if (e->hdr.type == LT_EV_TCP_CONNECT)
		net_tcp_connect(s->net, &t);
	else
		net_tcp_close(s->net, &t);
}

static void dns_addr_copy(struct dns_addr *dst, __u8 family, const __u8 addr[16])
{
	dst->family = family;
	memcpy(dst->addr, addr, sizeof(dst->addr));
}

static void handle_dns_gai(struct event_ctx *s, const struct lt_dns_gai_event *e)
{
	struct dns_addr addrs[LT_DNS_ADDRS_MAX];
	char comm[LT_COMM_LEN], name[LT_DNS_NAME_MAX];
	struct dns_gai g;
	__u32 i;

	if (e->naddrs > LT_DNS_ADDRS_MAX) {
		s->malformed++;
		return;
	}
	if (!s->dns)
		return;
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
	dns_on_gai(s->dns, &g);
}

static void handle_dns_pkt(struct event_ctx *s, const struct lt_dns_pkt_event *e, size_t size)
{
	size_t hdr = offsetof(struct lt_dns_pkt_event, data);
	char comm[LT_COMM_LEN];
	struct dns_packet p;

	if (e->len > LT_DNS_PKT_MAX || size < hdr + e->len || e->msg_len < e->len) {
		s->malformed++;
		return;
	}
	if (!s->dns)
		return;
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
	dns_on_packet(s->dns, &p);
}

static void handle_exec(struct event_ctx *s, const struct lt_exec_event *e,
			const char *comm, const char *file)
{
	struct proc_exec_info x = {
		.pid = e->hdr.tgid, .ppid = e->ppid, .uid = e->uid, .comm = comm, .exe = file,
		.exe_dev = e->exe.dev, .exe_ino = e->exe.ino, .exe_ours = !!(e->flags & LT_EXEC_OUR_NS),
		.argv = e->argv, .argv_len = e->argv_len, .argv_cut = e->argv_full > e->argv_len,
		.ts_ns = e->hdr.ts_ns, .start_ns = e->start_ns,
	};

	proc_on_exec(s->procs, &x);
}

/* The process's streams are finished (their rows written), then its row. */
static void exit_finish(struct event_ctx *s, struct event_exit *x)
{
	stream_process_exit(s->streams, x->info.pid, x->info.ts_ns);
	if (s->loader)
		loader_exit(s->loader, x->info.pid);
	x->info.comm = x->comm;
	if (s->procs)
		proc_on_exit(s->procs, &x->info);
}

/* Remember an exit until its process's last data has been read (handled at
 * once when too many wait). */
static void handle_exit(struct event_ctx *s, const struct lt_exit_event *e)
{
	struct event_exit tmp, *x = s->nexits < EVENT_EXITS_MAX ? &s->exits[s->nexits] : &tmp;

	memset(x, 0, sizeof(*x));
	x->info.pid = e->hdr.tgid;
	x->info.ppid = e->ppid;
	x->info.exit_code = e->exit_code;
	x->info.ts_ns = e->hdr.ts_ns;
	x->info.start_ns = e->start_ns;
	x->info.oncpu_ns = e->oncpu_ns;
	x->info.runq_ns = e->runq_ns;
	x->info.switches = e->switches;
	x->info.preempts = e->preempts;
	copy_str(x->comm, e->comm, sizeof(x->comm));
	if (x == &tmp)
		exit_finish(s, x);
	else
		s->nexits++;
}

/* The smallest valid record of each event type: the whole struct, or for
 * the variable-length ones everything before their data. 0 when unknown. */
static size_t event_min_size(__u32 type)
{
	switch (type) {
	case LT_EV_DATA: return offsetof(struct lt_data_event, data);
	case LT_EV_SSL_FREE: return sizeof(struct lt_ssl_free_event);
	case LT_EV_EXEC: return offsetof(struct lt_exec_event, argv);
	case LT_EV_EXIT: return sizeof(struct lt_exit_event);
	case LT_EV_OOM: return sizeof(struct lt_oom_event);
	case LT_EV_TLS_START:
	case LT_EV_TLS_DONE: return sizeof(struct lt_tls_event);
	case LT_EV_SSL_SOCK: return sizeof(struct lt_ssl_sock_event);
	case LT_EV_TCP_CONNECT:
	case LT_EV_TCP_CLOSE: return sizeof(struct lt_tcp_event);
	case LT_EV_TCP_ACKED: return sizeof(struct lt_acked_event);
	case LT_EV_DNS_GAI: return sizeof(struct lt_dns_gai_event);
	case LT_EV_DNS_PKT: return offsetof(struct lt_dns_pkt_event, data);
	case LT_EV_SOCK_DATA: return offsetof(struct lt_data_event, data);
	case LT_EV_SOCK_CLOSE: return sizeof(struct lt_ssl_free_event);
	case LT_EV_SOCK_CLASS: return sizeof(struct lt_sock_class_event);
	default: return 0;
	}
}

int event_handle(void *ctx, void *data, size_t size)
{
	struct event_ctx *s = ctx;
	const struct lt_hdr *h = data;
	size_t min;

	if (size < sizeof(*h) || !(min = event_min_size(h->type)) || size < min) {
		s->malformed++;
		return 0;
	}
	switch (h->type) {
	case LT_EV_TLS_START:
	case LT_EV_TLS_DONE: {
		const struct lt_tls_event *e = data;

		if (h->type == LT_EV_TLS_START)
			net_tls_start(s->net, h->tgid, e->ssl, h->ts_ns);
		else
			net_tls_done(s->net, h->tgid, e->ssl, h->ts_ns);
		break;
	}
	case LT_EV_SSL_SOCK: {
		const struct lt_ssl_sock_event *e = data;
		struct net_tuple t;

		tuple_copy(&t, &e->tuple);
		net_ssl_sock(s->net, h->tgid, e->ssl, e->cookie, &t);
		if (e->syn_ns)
			net_sock_connected(s->net, e->cookie, e->syn_ns, e->est_ns);
		break;
	}
	case LT_EV_TCP_CONNECT:
	case LT_EV_TCP_CLOSE:
		handle_tcp(s, data);
		break;
	case LT_EV_TCP_ACKED:
		net_tcp_acked(s->net, ((const struct lt_acked_event *)data)->cookie, h->ts_ns);
		break;
	case LT_EV_DATA:
	case LT_EV_SOCK_DATA:
		handle_data(s, data, size);
		break;
	case LT_EV_SOCK_CLOSE: {
		const struct lt_ssl_free_event *e = data;
		uint64_t end_off[2] = { e->end_off[LT_DIR_WRITE], e->end_off[LT_DIR_READ] };

		stream_close_sock(s->streams, h->tgid, e->ssl, end_off, h->ts_ns);
		break;
	}
	case LT_EV_SOCK_CLASS: {
		const struct lt_sock_class_event *e = data;
		struct net_tuple t;

		tuple_copy(&t, &e->tuple);
		net_sock_class(s->net, h->tgid, e->cookie, e->ino,
			       e->cls == LT_SOCK_TLS ? NET_CLASS_TLS : NET_CLASS_PLAIN, &t, h->ts_ns);
		if (e->syn_ns)
			net_sock_connected(s->net, e->cookie, e->syn_ns, e->est_ns);
		break;
	}
	case LT_EV_DNS_GAI:
		handle_dns_gai(s, data);
		break;
	case LT_EV_DNS_PKT:
		handle_dns_pkt(s, data, size);
		break;
	case LT_EV_SSL_FREE: {
		const struct lt_ssl_free_event *e = data;
		uint64_t end_off[2] = { e->end_off[LT_DIR_WRITE], e->end_off[LT_DIR_READ] };

		stream_close(s->streams, h->tgid, e->ssl, end_off, h->ts_ns);
		net_ssl_free(s->net, h->tgid, e->ssl);
		break;
	}
	case LT_EV_EXIT:
		/* handled after one more drain (event_finish_exits()) */
		handle_exit(s, data);
		break;
	case LT_EV_OOM: {
		const struct lt_oom_event *e = data;
		char comm[LT_COMM_LEN];

		copy_str(comm, e->comm, sizeof(comm));
		if (s->procs)
			proc_on_oom(s->procs, h->tgid, h->tid, comm, h->ts_ns);
		break;
	}
	case LT_EV_EXEC: {
		const struct lt_exec_event *e = data;
		char comm[LT_COMM_LEN], file[LT_PATH_MAX];

		if (e->argv_len > LT_ARGV_MAX ||
		    e->argv_len > size - offsetof(struct lt_exec_event, argv)) {
			s->malformed++;
			break;
		}
		copy_str(comm, e->comm, sizeof(comm));
		copy_str(file, e->filename, sizeof(file));
		/* A program looked at now, in our mount namespace (so the file
		 * looked at is the one it runs): its next execs need not wake us. */
		if (s->loader && loader_exec(s->loader, h->tgid, comm, file, &e->exe, !!(e->flags & LT_EXEC_SEEN)) &&
		    (e->flags & (LT_EXEC_OUR_NS | LT_EXEC_SEEN)) == LT_EXEC_OUR_NS)
			loader_exe_seen(s->loader, &e->exe);
		if (s->procs)
			handle_exec(s, e, comm, file);
		break;
	}
	}
	return 0;
}

void event_finish_exits(struct event_ctx *e)
{
	event_finish_first_exits(e, e->nexits);
}

void event_finish_first_exits(struct event_ctx *e, int n)
{
	int i;

	if (n > e->nexits)
		n = e->nexits;
	for (i = 0; i < n; i++)
		exit_finish(e, &e->exits[i]);
	memmove(e->exits, e->exits + n, (size_t)(e->nexits - n) * sizeof(e->exits[0]));
	e->nexits -= n;
}
