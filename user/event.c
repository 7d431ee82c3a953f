/* event.c -- the only reader of raw ring-buffer records: validates them and dispatches typed calls. */
#include "event.h"

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

/* Size of the fixed-size record of each event type, 0 when variable or unknown. */
static size_t event_size(__u32 type)
{
	switch (type) {
	case LT_EV_TLS_START:
	case LT_EV_TLS_DONE: return sizeof(struct lt_tls_event);
	case LT_EV_SSL_SOCK: return sizeof(struct lt_ssl_sock_event);
	case LT_EV_TCP_CONNECT:
	case LT_EV_TCP_CLOSE: return sizeof(struct lt_tcp_event);
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
	case LT_EV_DATA:
		handle_data(s, data, size);
		break;
	case LT_EV_SSL_FREE: {
		const struct lt_ctl_event *e = data;

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		s->ssl_free(s->ud, h->tgid, e->ssl, h->ts_ns);
		break;
	}
	case LT_EV_EXIT: {
		const struct lt_ctl_event *e = data;

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		s->exit(s->ud, h->tgid, e->exit_code, h->ts_ns);
		break;
	}
	case LT_EV_EXEC: {
		const struct lt_exec_event *e = data;
		char comm[LT_COMM_LEN], file[LT_PATH_MAX];

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		copy_str(comm, e->comm, sizeof(comm));
		copy_str(file, e->filename, sizeof(file));
		s->exec(s->ud, h->tgid, comm, file);
		break;
	}
	default:
		s->malformed++;
	}
	return 0;
}
