// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* rustls.bpf.c -- uprobes on AWS-LC's AEAD seal and open functions under rustls (Codex with SSL_CERT_FILE): each TLS application-data record's plaintext to ssl.bpf.c's ring, one session per connection. */
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
#include "tls.bpf.h"
#include "data_emit.bpf.h"
#include "tls_emit.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * rustls itself is generic Rust, inlined and stripped: nothing in it can be
 * found and probed. Its aws-lc-rs provider, though, seals and opens every
 * TLS record through AWS-LC's EVP_AEAD methods, plain C functions that
 * capture/sig_awslc.c finds through the code that fills the method tables:
 *
 *   seal_scatter(ctx, out, out_tag, out_tag_len, max_out_tag_len, nonce,
 *                nonce_len, in, in_len, extra_in, extra_in_len, ad, ad_len)
 *   open_gather(ctx, out, nonce, nonce_len, in, in_len, in_tag, in_tag_len,
 *               ad, ad_len)
 *
 * A record's plaintext is `in` at the seal's entry (it is encrypted in
 * place) and `out` at the open's return. The additional data says the TLS
 * version: 5 bytes (the record header) for TLS 1.3, whose plaintext ends
 * with the real content type; 13 for TLS 1.2, with the type at byte 8.
 * Only application data (23) is sent on; the client's Finished (22, TLS
 * 1.3) tells when the handshake ended. Its start is not seen (the
 * ClientHello is not sealed): userspace takes the TCP connection's.
 *
 * A connection seals with one key and opens with another, two EVP_AEAD_CTX.
 * Its session id is the sealing one's address: ssl.bpf.c's socket join
 * ties it to the socket of the thread's next TCP send (as for an SSL*),
 * rustls_send below remembers that socket's sealing key, and an open is
 * the record of the socket the thread read from last (tokio-rustls reads
 * the socket and decrypts in the same poll, on one thread).
 */

/* Sealing key (session id) of each joined socket, by socket cookie. */
struct aead_sock {
	__u64 seal_ctx;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct aead_sock);
} aead_socks SEC(".maps");

/* Processes that seal or open records, one bit per tgid (pid_max is at
 * most 2^22): a receive by any of their threads is noted (tokio reads a
 * connection on whichever worker polls it), anyone else's costs an array
 * lookup. A bit left by an exited process costs its pid's next owner a
 * task-storage write per receive, nothing more. */
#define PROC_WORDS	(1 << 16)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROC_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} aead_procs SEC(".maps");

#define TLS_HANDSHAKE	22
#define TLS_APP_DATA	23
/* A connection's first record within this long of its Finished */
#define HS_WINDOW_NS	10000000000ull
#define AD_TLS13	5
#define AD_TLS12	13
/* TLS 1.3 padding (zeros after the content type) looked through, at most */
#define PAD_MAX		16

/* The content type of a TLS 1.2 record from its additional data (byte 8),
 * or 0 when ad is not a TLS 1.2 record's. */
static __always_inline __u8 tls12_type(__u64 ad, __u64 ad_len)
{
	__u8 type = 0;

	if (ad_len != AD_TLS12 || bpf_probe_read_user(&type, 1, (void *)(ad + 8)))
		return 0;
	return type;
}

/* A TLS 1.3 plaintext of len bytes at p: its content type (the last byte
 * that is not padding) and, in *data_len, the bytes before it. 0 when it
 * cannot be read or is all padding. */
static __always_inline __u8 tls13_type(__u64 p, __u64 len, __u64 *data_len)
{
	__u8 tail[PAD_MAX + 1] = {};
	__u64 n = len < sizeof(tail) ? len : sizeof(tail);
	int i;

	if (!n || n > sizeof(tail) || bpf_probe_read_user(tail, n, (void *)(p + len - n)))
		return 0;
	for (i = sizeof(tail) - 1; i >= 0; i--) {
		if ((__u64)i >= n || !tail[i])
			continue;
		*data_len = len - (n - i);
		return tail[i];
	}
	return 0;
}

/* The word of aead_procs holding tgid's bit, or NULL. */
static __always_inline __u64 *proc_word(__u32 tgid)
{
	__u32 k = (tgid >> 6) & (PROC_WORDS - 1);

	return bpf_map_lookup_elem(&aead_procs, &k);
}

/* 1 when process tgid seals or opens records. */
static __always_inline int proc_marked(__u32 tgid)
{
	__u64 *w = proc_word(tgid);

	return w && (*w & (1ull << (tgid & 63)));
}

/* The calling thread's state, marked (with its process) as one that seals
 * or opens records; NULL when it cannot be had. */
static __always_inline struct thread_state *aead_thread(__u64 id)
{
	struct thread_state *t = thread_get();
	__u32 tgid = id >> 32;
	__u64 *w;

	if (!t)
		return NULL;
	t->aead = 1;
	w = proc_word(tgid);
	if (w && !(*w & (1ull << (tgid & 63))))
		__sync_fetch_and_or(w, 1ull << (tgid & 63));
	return t;
}

/* seal_scatter's entry: the record's plaintext is in `in`. Its bytes are
 * sent now (the call encrypts them in place); a session's records are
 * sealed one at a time, so the entry is the whole call. */
SEC("uprobe")
int BPF_KPROBE(aead_seal_enter, void *aead_ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), sp = PT_REGS_SP(ctx), now;
	/* stack: return address, nonce_len, in, in_len, extra_in, extra_in_len, ad, ad_len */
	__u64 a[8];
	__u64 in, in_len, ad, ad_len, total = 0;
	struct conn_key key = {};
	struct thread_state *t;
	struct ssl_args *cur;
	int fresh = 0;
	__u8 type;

	if (!wanted(id >> 32))
		return 0;
	if (bpf_probe_read_user(a, sizeof(a), (void *)sp))
		return 0;
	in = a[2];
	in_len = a[3];
	ad = a[6];
	ad_len = a[7];
	if (!in_len || a[5])	/* extra_in: not how rustls seals a record */
		return 0;
	if (ad_len == AD_TLS13)
		type = tls13_type(in, in_len, &total);
	else {
		type = tls12_type(ad, ad_len);
		total = in_len;
	}
	if ((type != TLS_APP_DATA && type != TLS_HANDSHAKE) || !total)
		return 0;
	t = aead_thread(id);
	if (!t)
		return 0;
	now = bpf_ktime_get_ns();
	if (type == TLS_HANDSHAKE) {
		/* the client's Finished: its handshake ends here */
		t->hs_ts = now;
		return 0;
	}
	/* Only right after a Finished can this be a new connection's first
	 * record: the sessions map is asked then, not for every record. */
	if (t->hs_ts) {
		key.ssl = (__u64)aead_ctx;
		key.tgid = id >> 32;
		fresh = !bpf_map_lookup_elem(&sessions, &key);
	}
	if (ssl_note(t, id, (__u64)aead_ctx, now))
		return 0;
	if (fresh) {
		if (now - t->hs_ts < HS_WINDOW_NS)
			tls_emit_at(LT_EV_TLS_DONE, id, (__u64)aead_ctx, t->hs_ts);
		t->hs_ts = 0;
	}
	cur = &t->call[LT_DIR_WRITE];
	if (cur->active)	/* an SSL_write of this thread in flight: not ours */
		return 0;
	cur->ssl = (__u64)aead_ctx;
	cur->buf = in;
	cur->lenp = 0;
	cur->ts_ns = now;
	cur->nest = 0;
	return tls_data(cur, id, total, LT_DIR_WRITE, NULL);
}

/* open_gather's entry: remember where the plaintext will be, for the
 * socket this thread read last. */
SEC("uprobe")
int BPF_KPROBE(aead_open_enter, void *aead_ctx, void *out)
{
	/* in_len is the sixth argument (r9): past what BPF_KPROBE names */
	__u64 id = bpf_get_current_pid_tgid(), sp = PT_REGS_SP(ctx), in_len = ctx->r9, cookie;
	/* stack: return address, in_tag, in_tag_len, ad, ad_len */
	__u64 a[5];
	struct thread_state *t;
	struct aead_sock *s;
	struct ssl_args *cur;

	if (!wanted(id >> 32))
		return 0;
	t = aead_thread(id);
	if (!t)
		return 0;
	if (!in_len || bpf_probe_read_user(a, sizeof(a), (void *)sp))
		return 0;
	if (a[4] != AD_TLS13 && tls12_type(a[3], a[4]) != TLS_APP_DATA)
		return 0;
	cookie = t->recv_cookie;
	s = cookie ? bpf_map_lookup_elem(&aead_socks, &cookie) : NULL;
	if (!s || s->tgid != id >> 32) {
		/* The server's first records (HTTP/2 SETTINGS) can come before
		 * the connection's first write: not joined yet. */
		counter_add(LT_CNT_UNJOINED, 1);
		return 0;
	}
	cur = &t->call[LT_DIR_READ];
	if (cur->active)	/* an SSL_read of this thread in flight: not ours */
		return 0;
	if (ssl_note(t, id, s->seal_ctx, bpf_ktime_get_ns()))
		return 0;
	cur->ssl = s->seal_ctx;
	cur->buf = (__u64)out;
	/* lenp: the plaintext's length, with the top bit set for TLS 1.3
	 * (its content type is at the end). */
	cur->lenp = in_len | (a[4] == AD_TLS13 ? 1ull << 63 : 0);
	cur->ts_ns = bpf_ktime_get_ns();
	cur->nest = 0;
	cur->active = 1;
	return 0;
}

/* open_gather's return: 1 when the record verified and `out` holds it. */
SEC("uretprobe")
int BPF_KRETPROBE(aead_open_exit, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), len, total = 0;
	struct thread_state *t;
	struct ssl_args *cur;
	__u8 type;

	t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!t)
		return 0;
	cur = &t->call[LT_DIR_READ];
	if (!cur->active || !t->aead)
		return 0;
	cur->active = 0;
	if (ret != 1)
		return 0;
	len = cur->lenp & ~(1ull << 63);
	if (cur->lenp >> 63) {
		type = tls13_type(cur->buf, len, &total);
		if (type != TLS_APP_DATA)
			return 0;
	} else
		total = len;
	if (!total)
		return 0;
	return tls_data(cur, id, total, LT_DIR_READ, NULL);
}

/* The method's cleanup: a sealing key's connection is over (an opening
 * key, or a key that never sealed a record, was never a session). */
SEC("uprobe")
int BPF_KPROBE(aead_free_enter, void *aead_ctx)
{
	return session_end(aead_ctx);
}

/* A TCP send by a thread that just sealed a record: that socket's sealing
 * key, for the opens of the records it will receive. Other processes' sends
 * cost an array lookup. */
static __always_inline int rustls_send_run(struct sock *sk, int ret, int flags)
{
	__u64 id = bpf_get_current_pid_tgid(), cookie;
	struct aead_sock v = {};
	struct thread_state *t;

	if (ret <= 0 || !proc_marked(id >> 32))
		return 0;
	t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!t || !t->aead || !t->last_ssl || !join_fresh(t, bpf_ktime_get_ns()))
		return 0;
	if (!sk_is_tcp(sk))
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	v.seal_ctx = t->last_ssl;
	v.tgid = id >> 32;
	bpf_map_update_elem(&aead_socks, &cookie, &v, BPF_ANY);
	return 0;
}

/* Slot LT_CHAIN_RUSTLS of chain_send (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(rustls_send, struct sock *sk, int ret, int flags)
{
	rustls_send_run(sk, ret, flags);
	chain_next(ctx, &chain_send, LT_CHAIN_RUSTLS);
	return 0;
}

/* A TCP receive by a thread of a process that seals or opens records: the
 * socket its next opens belong to. */
static __always_inline int rustls_recv_run(struct sock *sk, int ret, int flags)
{
	struct thread_state *t;

	if (ret <= 0 || !proc_marked(bpf_get_current_pid_tgid() >> 32) || !sk_is_tcp(sk))
		return 0;
	t = thread_get();
	if (t)
		t->recv_cookie = bpf_get_socket_cookie(sk);
	return 0;
}

/* Slot LT_CHAIN_RUSTLS of chain_recv (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(rustls_recv, struct sock *sk, int ret, int flags)
{
	rustls_recv_run(sk, ret, flags);
	chain_next(ctx, &chain_recv, LT_CHAIN_RUSTLS);
	return 0;
}
