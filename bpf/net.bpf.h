/* net.bpf.h -- BPF-only helpers to read a socket's TCP endpoints (CO-RE, from tp_btf arguments). */
#ifndef LLMTAP_NET_BPF_H
#define LLMTAP_NET_BPF_H

#include "common.bpf.h"	/* LT_AF_INET, LT_AF_INET6 */

#define LT_IPPROTO_TCP 6

/* Fill t from sk; ports in host byte order. sk is a BTF pointer (a
 * tp_btf argument): its fields are plain loads, no helper call each. */
static __always_inline void tuple_read(const struct sock *sk, struct lt_tuple *t)
{
	__u16 family = sk->__sk_common.skc_family;

	t->family = family;
	t->sport = sk->__sk_common.skc_num;
	t->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == LT_AF_INET) {
		__u32 s = sk->__sk_common.skc_rcv_saddr;
		__u32 d = sk->__sk_common.skc_daddr;

		__builtin_memcpy(t->saddr, &s, 4);
		__builtin_memcpy(t->daddr, &d, 4);
	} else {
		__builtin_memcpy(t->saddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(t->daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	}
}

/* 1 for a TCP socket over IPv4/IPv6 (sk: a BTF pointer). */
static __always_inline int sk_is_tcp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	if (family != LT_AF_INET && family != LT_AF_INET6)
		return 0;
	return sk->sk_protocol == LT_IPPROTO_TCP;
}

#endif
