// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* net.bpf.c -- TCP connections made by processes: connect time, failures, retransmits, resets, bytes, close. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "common.bpf.h"
#include "chain.bpf.h"
#include "net.bpf.h"
#include "socks.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_ 2
#define TCP_CLOSE_ 7

/* Set by the loader once sock.bpf.c runs: a connect is then reported by the
 * first event that needs it (sock.bpf.c's class of a TLS or LLM socket,
 * ssl.bpf.c's join of a TLS session to it) or at the close, and most
 * connections (not TLS, not HTTP) cost one event instead of two. Until
 * then (or without sock.bpf.c) every connect is an event of its own. */
volatile __u32 connect_lazy;

/* Keep sk's local port in s. It is bound after SYN_SENT is reported and
 * released before TCP_CLOSE is: a connect that never completes shows it
 * only to its retransmits and resets. */
static __always_inline void port_keep(const struct sock *sk, struct sock_state *s)
{
	if (!s->sport)
		s->sport = sk->__sk_common.skc_num;
}

/* Send one lt_tcp_event of type for sk. */
static __always_inline void tcp_emit(__u32 type, struct sock *sk, struct sock_state *s)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct lt_tcp_event *e;

	e = event_reserve(sizeof(*e));
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	/* Sent from softirq or another task too: the header names who connected. */
	hdr_fill(&e->hdr, type, s->tgid, s->tid, bpf_ktime_get_ns());
	e->cookie = s->cookie;
	e->syn_ns = s->syn_ns;
	e->est_ns = s->est_ns;
	e->close_ns = type == LT_EV_TCP_CLOSE ? e->hdr.ts_ns : 0;
	if (tp) {
		e->bytes_acked = tp->bytes_acked;
		e->bytes_received = tp->bytes_received;
	}
	e->retransmits = s->retransmits;
	e->resets_rx = s->resets_rx;
	e->resets_tx = s->resets_tx;
	e->sk_err = sk->sk_err;
	if (!e->sk_err)
		e->sk_err = sk->sk_err_soft;
	tuple_read(sk, &e->tuple);
	if (!e->tuple.sport)	/* released at the close */
		e->tuple.sport = s->sport;
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	event_submit(e);
}

/* A connect()ed socket's state change: its entry in socks made at SYN_SENT,
 * its connect and close reported. */
static __always_inline void net_state_run(const struct sock *csk, const int oldstate,
					  const int newstate)
{
	struct sock *sk = (struct sock *)csk;
	struct sock_state *s, init = {};
	__u64 key;

	/* most changes (the serving side's, a close's middle steps) need
	 * nothing: decided before any map is touched */
	if (newstate != TCP_SYN_SENT_ && newstate != TCP_CLOSE_ &&
	    !(oldstate == TCP_SYN_SENT_ && newstate == TCP_ESTABLISHED_))
		return;
	if (newstate == TCP_SYN_SENT_) {
		/* connect() runs in the caller's context: this is who connects. */
		__u64 id = bpf_get_current_pid_tgid();

		if (is_self(id >> 32) || !sk_is_tcp(sk))
			return;
		init.cookie = bpf_get_socket_cookie(sk);
		init.syn_ns = bpf_ktime_get_ns();
		init.tgid = id >> 32;
		init.tid = (__u32)id;
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		key = (__u64)sk;
		if (bpf_map_update_elem(&socks, &key, &init, BPF_ANY))
			counter_add(LT_CNT_SOCKS_FULL, 1);
		return;
	}
	s = socks_find(sk);
	if (!s)
		return;
	if (oldstate == TCP_SYN_SENT_ && newstate == TCP_ESTABLISHED_) {
		s->est_ns = bpf_ktime_get_ns();
		s->sport = sk->__sk_common.skc_num;
		/* told: its class went before (data with the SYN: TCP Fast Open) */
		if (!connect_lazy || s->told) {
			s->told = 1;
			tcp_emit(LT_EV_TCP_CONNECT, sk, s);
		}
	} else if (newstate == TCP_CLOSE_) {
		tcp_emit(LT_EV_TCP_CLOSE, sk, s);
		key = (__u64)sk;
		bpf_map_delete_elem(&socks, &key);
	}
}

/* The programs attached to the socket tracepoints (chain.bpf.h): each runs
 * its chain's handlers, net_state its own first. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(net_state, const struct sock *csk, const int oldstate, const int newstate)
{
	net_state_run(csk, oldstate, newstate);
	/* the other handlers want a close only (chain.bpf.h) */
	if (newstate == TCP_CLOSE_)
		chain_next(ctx, &chain_state, LT_CHAIN_NET);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(net_send, struct sock *sk, int ret, int flags)
{
	chain_next(ctx, &chain_send, LT_CHAIN_NET);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(net_recv, struct sock *sk, int ret, int flags)
{
	chain_next(ctx, &chain_recv, LT_CHAIN_NET);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(net_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct sock_state *s = socks_find(sk);

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->retransmits, 1);
	port_keep(sk, s);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(net_reset_rx, struct sock *sk)
{
	struct sock_state *s = socks_find(sk);

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->resets_rx, 1);
	port_keep(sk, s);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(net_reset_tx, const struct sock *sk, const struct sk_buff *skb)
{
	struct sock_state *s;

	if (!sk)
		return 0;
	s = socks_find(sk);
	if (!s)
		return 0;
	__sync_fetch_and_add(&s->resets_tx, 1);
	port_keep(sk, s);
	return 0;
}
