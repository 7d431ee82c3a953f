// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ssl.bpf.c -- uprobes on OpenSSL's SSL_write/SSL_read(_ex)/SSL_free: plaintext to a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "common.bpf.h"
#include "filter.bpf.h"
#include "net.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Arguments of an SSL call in flight, saved at entry for the return probe. */
struct ssl_args {
	__u64 ssl;
	__u64 buf;
	__u64 lenp;	/* size_t * of the _ex variants, else 0 */
	__u64 ts_ns;
	__u32 dir;
	__u32 nest;	/* calls of ours made inside this one (ignored) */
};

/* In-flight calls are per thread and direction: node calls SSL_write from
 * inside SSL_read (both recorded), while a library's SSL_write_ex wrapping
 * SSL_write is the same direction (recorded once, by the outer call). */
struct active_key {
	__u64 pid_tgid;
	__u32 dir;
	__u32 pad;
};

struct conn_key {
	__u64 ssl;
	__u32 tgid;
	__u32 dir;
};

/* LRU: a thread killed inside an SSL call leaves its entry behind; such
 * leftovers must age out instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct active_key);
	__type(value, struct ssl_args);
} active SEC(".maps");

/* Bytes seen so far per connection and direction: lets userspace see gaps. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, __u64);
} offsets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_data_event);
} scratch SEC(".maps");

/* The SSL* a thread touched last, and when: the next TCP send of that
 * thread soon after carries this SSL's records (ClientHello, data), which
 * joins the TLS stream to its socket without OpenSSL struct offsets. */
struct thread_ssl {
	__u64 ssl;
	__u64 ts_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* pid_tgid */
	__type(value, struct thread_ssl);
} thread_last SEC(".maps");

/* SSL sessions already announced (TLS_START) and already joined to a socket
 * (value: socket cookie, 0 until joined). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);	/* dir unused (0) */
	__type(value, __u64);
} sessions SEC(".maps");

/* Handshake calls in flight, per thread (SSL_connect wraps SSL_do_handshake). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* pid_tgid */
	__type(value, struct ssl_args);
} handshakes SEC(".maps");

/* Joined TLS sockets, watched for the end of uploads: armed when a send
 * leaves more than LT_UPLOAD_BACKLOG unacknowledged, fired when an ACK
 * covers everything written. */
struct upload_watch {
	__u64 cookie;
	__u32 tgid;
	__u32 armed;
	__u32 target_seq;	/* tcp_sock.write_seq at the last send */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);		/* struct sock * */
	__type(value, struct upload_watch);
} watches SEC(".maps");

/* A joined socket within this long of the thread's last SSL call. */
#define JOIN_WINDOW_NS 5000000ull

const volatile __u32 chunks_max = LT_CHUNKS_MAX;

/* State handed to emit_chunk() by bpf_loop(). */
struct emit_ctx {
	struct ssl_args *args;
	__u64 pid_tgid;
	__u64 total;
	__u64 base;	/* stream offset of the call's first byte */
	__u64 ts_end;
	__u64 nchunks;	/* chunks to send; fewer than the call needs when over the cap */
};

static __always_inline void tls_emit(__u32 type, __u64 id, __u64 ssl)
{
	struct lt_tls_event *e = event_reserve(sizeof(*e));

	if (!e)
		return;
	hdr_fill(&e->hdr, type, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->ssl = ssl;
	event_submit(e);
}

/* Every SSL call: remember it for the socket join, announce a new session. */
static __always_inline void ssl_note(__u64 id, __u64 ssl)
{
	struct thread_ssl ts = { .ssl = ssl, .ts_ns = bpf_ktime_get_ns() };
	struct conn_key key = { .ssl = ssl, .tgid = id >> 32 };
	__u64 zero = 0;

	bpf_map_update_elem(&thread_last, &id, &ts, BPF_ANY);
	if (bpf_map_lookup_elem(&sessions, &key))
		return;
	bpf_map_update_elem(&sessions, &key, &zero, BPF_NOEXIST);
	tls_emit(LT_EV_TLS_START, id, ssl);
}

static __always_inline int ssl_enter(void *ssl, const void *buf, void *lenp, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct active_key key = { .pid_tgid = id, .dir = dir };
	struct ssl_args args = {}, *cur;

	if (!wanted(id >> 32))
		return 0;
	ssl_note(id, (__u64)ssl);
	/* A same-direction call inside another (one variant wrapping the other)
	 * is counted, not recorded: the outer call reports the bytes. */
	cur = bpf_map_lookup_elem(&active, &key);
	if (cur && cur->ssl == (__u64)ssl) {
		cur->nest++;
		return 0;
	}
	/* Another SSL* means the entry is stale (its thread died inside a call). */
	args.ssl = (__u64)ssl;
	args.buf = (__u64)buf;
	args.lenp = (__u64)lenp;
	args.ts_ns = bpf_ktime_get_ns();
	args.dir = dir;
	bpf_map_update_elem(&active, &key, &args, BPF_ANY);
	return 0;
}

/* bpf_loop() callback: send chunk i of the call's buffer. Returns 1 to stop. */
static long emit_chunk(__u32 i, void *data)
{
	struct emit_ctx *ctx = data;
	struct lt_data_event *e;
	__u32 zero = 0;
	__u64 off = (__u64)i * LT_CHUNK_MAX, n;

	if (off >= ctx->total)
		return 1;
	n = ctx->total - off;
	if (n > LT_CHUNK_MAX)
		n = LT_CHUNK_MAX;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 1;
	hdr_fill(&e->hdr, LT_EV_DATA, ctx->pid_tgid >> 32, (__u32)ctx->pid_tgid, ctx->args->ts_ns);
	e->ssl = ctx->args->ssl;
	e->ts_end_ns = ctx->ts_end;
	e->offset = ctx->base + off;
	e->len = n;
	e->call_len = ctx->total;
	e->dir = ctx->args->dir;
	/* The last chunk sent owns the bytes beyond the cap, so userspace keeps framing. */
	e->missing = (i + 1 == ctx->nchunks) ? ctx->total - off - n : 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user(e->data, n, (void *)(ctx->args->buf + off))) {
		counter_add(LT_CNT_READ_ERR, 1);
		return 0;
	}
	if (bpf_ringbuf_output(&events, e, offsetof(struct lt_data_event, data) + n, 0)) {
		counter_add(LT_CNT_DROPS, 1);
		counter_add(LT_CNT_DROP_BYTES, n);
		return 0;
	}
	counter_add(LT_CNT_EVENTS, 1);
	return 0;
}

/* Common return path: ret is the byte count (plain variants) or 1/0 (_ex). */
static __always_inline int ssl_exit(long ret, int ex, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct active_key akey = { .pid_tgid = id, .dir = dir };
	struct ssl_args *args = bpf_map_lookup_elem(&active, &akey);
	struct conn_key key = {};
	struct emit_ctx ctx = {};
	__u64 total = 0, *base, zero = 0, nchunks;

	if (!args)
		return 0;
	if (args->nest) {
		args->nest--;
		return 0;
	}
	if (ex) {
		/* *written / *readbytes is meaningful only when the call returned 1 */
		if (ret == 1 && args->lenp)
			bpf_probe_read_user(&total, sizeof(total), (void *)args->lenp);
	} else if (ret > 0) {
		total = ret;
	}
	if (!total)
		goto out_delete;

	key.ssl = args->ssl;
	key.tgid = id >> 32;
	key.dir = args->dir;
	base = bpf_map_lookup_elem(&offsets, &key);
	if (!base) {
		bpf_map_update_elem(&offsets, &key, &zero, BPF_NOEXIST);
		base = bpf_map_lookup_elem(&offsets, &key);
		if (!base)
			goto out_delete;
	}
	ctx.args = args;
	ctx.pid_tgid = id;
	ctx.total = total;
	ctx.base = *base;
	ctx.ts_end = bpf_ktime_get_ns();
	nchunks = (total + LT_CHUNK_MAX - 1) / LT_CHUNK_MAX;
	if (nchunks > chunks_max) {
		/* Beyond the cap nothing is copied; the last chunk says how much is missing. */
		nchunks = chunks_max;
		counter_add(LT_CNT_TRUNC, 1);
	}
	ctx.nchunks = nchunks;
	bpf_loop(nchunks, emit_chunk, &ctx, 0);
	__sync_fetch_and_add(base, total);
out_delete:
	bpf_map_delete_elem(&active, &akey);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf, int num)
{
	return ssl_enter(ssl, buf, 0, LT_DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, int ret)
{
	return ssl_exit(ret, 0, LT_DIR_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return ssl_enter(ssl, buf, 0, LT_DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, int ret)
{
	return ssl_exit(ret, 0, LT_DIR_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	return ssl_enter(ssl, buf, written, LT_DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit, int ret)
{
	return ssl_exit(ret, 1, LT_DIR_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return ssl_enter(ssl, buf, readbytes, LT_DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit, int ret)
{
	return ssl_exit(ret, 1, LT_DIR_READ);
}

/* The session at address ssl is over: forget its join and offsets and,
 * when it carried data, tell userspace to finish its streams. */
static __always_inline int session_end(void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct conn_key key = { .ssl = (__u64)ssl, .tgid = id >> 32 };
	struct lt_ssl_free_event *e;
	__u64 *w, *r, end_w, end_r;

	if (!wanted(id >> 32))
		return 0;
	/* The address may serve a new SSL next: forget this session's join. */
	bpf_map_delete_elem(&sessions, &key);
	/* Only connections that carried data are of interest. */
	w = bpf_map_lookup_elem(&offsets, &key);
	end_w = w ? *w : 0;
	key.dir = LT_DIR_READ;
	r = bpf_map_lookup_elem(&offsets, &key);
	end_r = r ? *r : 0;
	if (!w && !r)
		return 0;
	bpf_map_delete_elem(&offsets, &key);
	key.dir = LT_DIR_WRITE;
	bpf_map_delete_elem(&offsets, &key);

	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	hdr_fill(&e->hdr, LT_EV_SSL_FREE, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->ssl = (__u64)ssl;
	e->end_off[LT_DIR_WRITE] = end_w;
	e->end_off[LT_DIR_READ] = end_r;
	event_submit(e);
	return 0;
}

/* SSL_free ends the connection: userspace finishes its streams. */
SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	return session_end(ssl);
}

/* Explicit handshakes (curl: SSL_connect; python: SSL_do_handshake). Node
 * drives its handshake through SSL_read instead: userspace then takes the
 * first SSL_write as the end of it. */
static __always_inline int hs_enter(void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_args args = {}, *cur;

	if (!wanted(id >> 32))
		return 0;
	ssl_note(id, (__u64)ssl);
	cur = bpf_map_lookup_elem(&handshakes, &id);
	if (cur && cur->ssl == (__u64)ssl) {
		cur->nest++;
		return 0;
	}
	args.ssl = (__u64)ssl;
	args.ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&handshakes, &id, &args, BPF_ANY);
	return 0;
}

static __always_inline int hs_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_args *args = bpf_map_lookup_elem(&handshakes, &id);

	if (!args)
		return 0;
	if (args->nest) {
		args->nest--;
		return 0;
	}
	if (ret == 1)
		tls_emit(LT_EV_TLS_DONE, id, args->ssl);
	bpf_map_delete_elem(&handshakes, &id);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_do_handshake_enter, void *ssl)
{
	return hs_enter(ssl);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_do_handshake_exit, int ret)
{
	return hs_exit(ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_connect_enter, void *ssl)
{
	return hs_enter(ssl);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_connect_exit, int ret)
{
	return hs_exit(ret);
}

/* Arm w when the socket's unacknowledged bytes exceed the backlog mark
 * (or it is armed already): the upload ends when they are all acked. */
static __always_inline void upload_arm(struct sock *sk, struct upload_watch *w)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u32 write_seq = BPF_CORE_READ(tp, write_seq);
	__u32 snd_una = BPF_CORE_READ(tp, snd_una);

	if (w->armed || write_seq - snd_una > LT_UPLOAD_BACKLOG) {
		w->target_seq = write_seq;
		w->armed = 1;
	}
}

/* A TCP send by a thread that just made an SSL call: join that SSL* to this
 * socket, once per session. Sends on joined sockets arm the upload watch. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(ssl_sock_join, struct sock *sk, int ret, int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 skey = (__u64)sk;
	struct upload_watch *w, nw = {};
	struct lt_ssl_sock_event *e;
	struct thread_ssl *last;
	struct conn_key key = {};
	__u64 *joined, cookie;

	if (ret <= 0)
		return 0;
	w = bpf_map_lookup_elem(&watches, &skey);
	if (w) {
		/* A struct sock is reused after close: the cookie tells them apart. */
		if (w->cookie == bpf_get_socket_cookie(sk)) {
			upload_arm(sk, w);
			return 0;
		}
		bpf_map_delete_elem(&watches, &skey);
	}
	last = bpf_map_lookup_elem(&thread_last, &id);
	if (!last || bpf_ktime_get_ns() - last->ts_ns > JOIN_WINDOW_NS)
		return 0;
	key.ssl = last->ssl;
	key.tgid = id >> 32;
	joined = bpf_map_lookup_elem(&sessions, &key);
	if (!joined || *joined || !sk_is_tcp(sk))
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	*joined = cookie;
	nw.cookie = cookie;
	nw.tgid = id >> 32;
	bpf_map_update_elem(&watches, &skey, &nw, BPF_ANY);
	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	hdr_fill(&e->hdr, LT_EV_SSL_SOCK, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->ssl = key.ssl;
	e->cookie = cookie;
	tuple_read(sk, &e->tuple);
	event_submit(e);
	return 0;
}

/* Each segment a watched socket receives: an ACK covering everything
 * written ends the upload. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(ssl_upload_ack, struct sock *sk, const struct sk_buff *skb)
{
	__u64 skey = (__u64)sk;
	struct upload_watch *w = bpf_map_lookup_elem(&watches, &skey);
	struct lt_acked_event *e;
	struct tcphdr th;

	if (!w || !w->armed)
		return 0;
	/* tcp_rcv_established() has pulled the IP header: data is the TCP header. */
	if (bpf_probe_read_kernel(&th, sizeof(th), BPF_CORE_READ(skb, data)))
		return 0;
	if (!th.ack || (__s32)(bpf_ntohl(th.ack_seq) - w->target_seq) < 0)
		return 0;
	w->armed = 0;
	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	/* Softirq context: the watch remembers whose socket this is. */
	hdr_fill(&e->hdr, LT_EV_TCP_ACKED, w->tgid, 0, bpf_ktime_get_ns());
	e->cookie = w->cookie;
	event_submit(e);
	return 0;
}

/* OpenSSL 3.3+ ssl_write_internal(s, buf, num, flags, written): the
 * `written` pointer comes fifth. Hooked in executables with OpenSSL linked
 * in statically and no symbols (found by capture/sig_openssl.c); its
 * return is ssl_write_ex_exit. */
SEC("uprobe")
int BPF_KPROBE(ssl_write_internal_flags_enter, void *ssl, const void *buf, size_t num, __u64 flags,
	       size_t *written)
{
	return ssl_enter(ssl, buf, written, LT_DIR_WRITE);
}

/* SSL_new's return: a new session begins at this address. Where SSL_free
 * could not be found (static OpenSSL without symbols), whatever an earlier
 * SSL at the same address left behind ends here, so the new connection is
 * announced and joined to its own socket. */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_new_exit, void *ssl)
{
	if (!ssl)
		return 0;
	return session_end(ssl);
}
