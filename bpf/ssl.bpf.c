// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ssl.bpf.c -- uprobes on OpenSSL's SSL_write/SSL_read(_ex)/SSL_free: plaintext to a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "common.bpf.h"
#include "chain.bpf.h"
#include "filter.bpf.h"
#include "net.bpf.h"
#include "socks.bpf.h"
#include "tls.bpf.h"
#include "data_emit.bpf.h"
#include "tls_emit.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Handshake calls in flight, per thread (SSL_connect wraps SSL_do_handshake). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* pid_tgid */
	__type(value, struct ssl_args);
} handshakes SEC(".maps");

/* Joined TLS sockets, watched for the end of uploads: armed when a send
 * leaves more than LT_UPLOAD_BACKLOG unacknowledged, fired when an ACK
 * covers everything written. Socket storage: freed with the socket, and a
 * segment for any other socket costs one pointer test. */
struct upload_watch {
	__u64 cookie;
	__u32 tgid;
	__u32 armed;
	__u32 target_seq;	/* tcp_sock.write_seq at the last send */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct upload_watch);
} watches SEC(".maps");

/* What the return probe is on: how the result gives the byte count. */
enum ret_kind {
	RET_PLAIN,	/* SSL_read/SSL_write: the count, or <= 0 */
	RET_EX,		/* SSL_read_ex/SSL_write_ex: 1 and *lenp */
	RET_SHARED,	/* the internal function both call: > 0 and *lenp */
};

static __always_inline int ssl_enter(void *ssl, const void *buf, void *lenp, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	struct thread_state *t;
	struct ssl_args *cur;

	if (!wanted(id >> 32))
		return 0;
	t = thread_get();
	if (!t)
		return 0;
	now = bpf_ktime_get_ns();
	if (ssl_note(t, id, (__u64)ssl, now))
		return 0;
	cur = &t->call[dir & 1];
	/* A same-direction call inside another (one variant wrapping the other)
	 * is counted, not recorded: the outer call reports the bytes. Another
	 * SSL* means the entry is stale (its thread left a call by longjmp). */
	if (cur->active && cur->ssl == (__u64)ssl) {
		cur->nest++;
		return 0;
	}
	cur->ssl = (__u64)ssl;
	cur->buf = (__u64)buf;
	cur->lenp = (__u64)lenp;
	cur->ts_ns = now;
	cur->nest = 0;
	cur->active = 1;
	return 0;
}

/* Common return path: ret is the result of the probed function (kind). */
static __always_inline int ssl_exit(long ret, enum ret_kind kind, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct thread_state *t;
	struct ssl_args *args;
	__u64 total = 0;

	t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!t)
		return 0;
	args = &t->call[dir & 1];
	if (!args->active)
		return 0;
	if (args->nest) {
		args->nest--;
		return 0;
	}
	args->active = 0;
	if (kind == RET_PLAIN) {
		if (ret > 0)
			total = ret;
	} else if ((kind == RET_EX ? ret == 1 : ret > 0) && args->lenp) {
		/* *written / *readbytes is meaningful only when the call succeeded */
		bpf_probe_read_user(&total, sizeof(total), (void *)args->lenp);
	}
	if (!total)
		return 0;

	return tls_data(args, id, total, dir, dir == LT_DIR_WRITE ? t : NULL);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf, int num)
{
	return ssl_enter(ssl, buf, 0, LT_DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, int ret)
{
	return ssl_exit(ret, RET_PLAIN, LT_DIR_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return ssl_enter(ssl, buf, 0, LT_DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, int ret)
{
	return ssl_exit(ret, RET_PLAIN, LT_DIR_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	return ssl_enter(ssl, buf, written, LT_DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit, int ret)
{
	return ssl_exit(ret, RET_EX, LT_DIR_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return ssl_enter(ssl, buf, readbytes, LT_DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit, int ret)
{
	return ssl_exit(ret, RET_EX, LT_DIR_READ);
}

/* The internal function SSL_write and SSL_write_ex both call (found by
 * capture/placement.c): (SSL *, buf, num, size_t *written), > 0 when it
 * wrote *written bytes. One probe pair covers both exported functions. */
SEC("uprobe")
int BPF_KPROBE(ssl_write_shared_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	return ssl_enter(ssl, buf, written, LT_DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_shared_exit, int ret)
{
	return ssl_exit(ret, RET_SHARED, LT_DIR_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_shared_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return ssl_enter(ssl, buf, readbytes, LT_DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_shared_exit, int ret)
{
	return ssl_exit(ret, RET_SHARED, LT_DIR_READ);
}

/* Empty programs: `make bench` measures what the probes alone cost at the
 * placement chosen (LLMTAP_PROBE_FLOOR=1 puts these in place of the data
 * programs). */
SEC("uprobe")
int floor_enter(struct pt_regs *ctx)
{
	return 0;
}

SEC("uretprobe")
int floor_exit(struct pt_regs *ctx)
{
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
	struct thread_state *t;

	if (!wanted(id >> 32))
		return 0;
	t = thread_get();
	if (t)
		ssl_note(t, id, (__u64)ssl, bpf_ktime_get_ns());
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

/* GnuTLS: gnutls_handshake() returns 0 when done (its entry is
 * ssl_do_handshake_enter: same argument). */
SEC("uretprobe")
int BPF_KRETPROBE(gnutls_handshake_exit, int ret)
{
	return hs_exit(ret == 0 ? 1 : 0);
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
 * socket, once per session. Sends on joined sockets arm the upload watch.
 * Every send of a thread that made SSL calls notes its time (write_end()).
 * A thread that never made an SSL call costs one task-storage test. */
static __always_inline int ssl_sock_join_run(struct sock *sk, int ret, int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct upload_watch *w, nw = {};
	struct lt_ssl_sock_event *e;
	struct thread_state *t;
	struct conn_key key = {};
	struct session *joined;
	__u64 cookie, now;

	if (ret <= 0)
		return 0;
	t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!t)
		return 0;
	now = bpf_ktime_get_ns();
	t->send_ts = now;	/* a write call in flight ends its request here (write_end()) */
	w = bpf_sk_storage_get(&watches, sk, 0, 0);
	if (w) {
		upload_arm(sk, w);
		return 0;
	}
	if (!join_fresh(t, now))
		return 0;
	key.ssl = t->last_ssl;
	key.tgid = id >> 32;
	joined = bpf_map_lookup_elem(&sessions, &key);
	if (!joined || joined->cookie || !sk_is_tcp(sk))
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	joined->cookie = cookie;
	nw.cookie = cookie;
	nw.tgid = id >> 32;
	bpf_sk_storage_get(&watches, sk, &nw, BPF_SK_STORAGE_GET_F_CREATE);
	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	/* stamped with the send: not after a write call that ends at it */
	hdr_fill(&e->hdr, LT_EV_SSL_SOCK, id >> 32, (__u32)id, now);
	e->ssl = key.ssl;
	e->cookie = cookie;
	tuple_read(sk, &e->tuple);
	/* the connect, which net.bpf.c leaves to the first event that needs it */
	socks_tell(sk, &e->syn_ns, &e->est_ns);
	event_submit(e);
	return 0;
}

/* Slot LT_CHAIN_SSL of chain_send (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(ssl_sock_join, struct sock *sk, int ret, int flags)
{
	ssl_sock_join_run(sk, ret, flags);
	chain_next(ctx, &chain_send, LT_CHAIN_SSL);
	return 0;
}

/* Each segment a watched socket receives: an ACK covering everything
 * written ends the upload. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(ssl_upload_ack, struct sock *sk, const struct sk_buff *skb)
{
	struct upload_watch *w = bpf_sk_storage_get(&watches, (struct sock *)sk, 0, 0);
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
