// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* dns.bpf.c -- DNS lookups: uprobes on libc getaddrinfo() and the UDP port-53 datagrams a process sends and receives, read where the socket layer reports them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "common.bpf.h"
#include "chain.bpf.h"
#include "filter.bpf.h"
#include "sockio.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define DNS_PORT	53
/* addrinfo nodes walked per result: glibc returns one per socket type
 * (stream, datagram, raw), so 24 nodes cover 8 addresses. */
#define GAI_WALK_MAX	24
/* Messages looked at per sendmmsg(): glibc sends the A and AAAA queries together. */
#define MMSG_MAX	4

/* getaddrinfo() in flight, saved at entry for the return probe. */
struct gai_args {
	__u64 res;		/* struct addrinfo ** */
	__u64 ts_ns;
	__u32 hint_family;
	__u32 pad;
	char name[LT_DNS_NAME_MAX];
};

/* Userspace layouts (x86-64 / LP64), read with bpf_probe_read_user. Not
 * vmlinux.h's types: those are relocated against the kernel's BTF. */

/* struct addrinfo */
struct user_addrinfo {
	__s32 ai_flags;
	__s32 ai_family;
	__s32 ai_socktype;
	__s32 ai_protocol;
	__u32 ai_addrlen;
	__u32 pad;
	__u64 ai_addr;
	__u64 ai_canonname;
	__u64 ai_next;
};

/* struct sockaddr_in */
struct user_sockaddr_in {
	__u16 sin_family;
	__u16 sin_port;		/* network order */
	__u8 sin_addr[4];
	__u8 sin_zero[8];
};

/* struct sockaddr_in6 */
struct user_sockaddr_in6 {
	__u16 sin6_family;
	__u16 sin6_port;	/* network order */
	__u32 sin6_flowinfo;
	__u8 sin6_addr[16];
	__u32 sin6_scope_id;
};

/* A struct sockaddr of either family, read up to the end of the IPv6
 * address (the scope id is not needed). */
union user_sockaddr {
	__u16 family;
	struct user_sockaddr_in in;
	struct user_sockaddr_in6 in6;
};
#define USER_SOCKADDR_READ offsetof(struct user_sockaddr_in6, sin6_scope_id)

/* The sizes of the C library's structs: a layout mistake fails the build. */
_Static_assert(sizeof(struct user_addrinfo) == 48, "struct addrinfo layout");
_Static_assert(sizeof(struct user_sockaddr_in) == 16, "struct sockaddr_in layout");
_Static_assert(sizeof(struct user_sockaddr_in6) == 28, "struct sockaddr_in6 layout");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct gai_args);
} gai_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gai_args);
} gai_scratch SEC(".maps");

/* ---- getaddrinfo ---------------------------------------------------------- */

SEC("uprobe")
int BPF_KPROBE(gai_enter, const char *node, const char *service,
	       const struct user_addrinfo *hints, void **res)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct gai_args *a;
	__u32 zero = 0;
	__s32 fam = 0;

	/* A service-only lookup (node NULL) asks no name server. */
	if (!node || !wanted(id >> 32))
		return 0;
	a = bpf_map_lookup_elem(&gai_scratch, &zero);
	if (!a)
		return 0;
	if (hints)
		bpf_probe_read_user(&fam, sizeof(fam), &hints->ai_family);
	a->res = (__u64)res;
	a->hint_family = fam;
	a->pad = 0;
	if (bpf_probe_read_user_str(a->name, sizeof(a->name), node) <= 0) {
		counter_add(LT_CNT_READ_ERR, 1);
		return 0;
	}
	a->ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&gai_active, &id, a, BPF_ANY);
	return 0;
}

/* Read the address of one addrinfo node into *out. Returns 1 when it is IPv4/IPv6. */
static __always_inline int ai_addr_read(const struct user_addrinfo *ai, struct lt_dns_addr *out)
{
	const struct user_sockaddr_in *sin = (const void *)ai->ai_addr;
	const struct user_sockaddr_in6 *sin6 = (const void *)ai->ai_addr;

	if (!ai->ai_addr)
		return 0;
	__builtin_memset(out, 0, sizeof(*out));
	if (ai->ai_family == LT_AF_INET) {
		if (bpf_probe_read_user(out->addr, sizeof(sin->sin_addr), &sin->sin_addr))
			return 0;
		out->family = LT_AF_INET;
		return 1;
	}
	if (ai->ai_family == LT_AF_INET6) {
		if (bpf_probe_read_user(out->addr, sizeof(sin6->sin6_addr), &sin6->sin6_addr))
			return 0;
		out->family = LT_AF_INET6;
		return 1;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(gai_exit, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct gai_args *a = bpf_map_lookup_elem(&gai_active, &id);
	struct lt_dns_gai_event *e;
	struct user_addrinfo ai;
	struct lt_dns_addr cur;
	__u64 next = 0;
	__u32 n = 0, i, j;
	int dup;

	if (!a)
		return 0;
	e = event_reserve(sizeof(*e));
	if (!e)
		goto out_delete;
	hdr_fill(&e->hdr, LT_EV_DNS_GAI, id >> 32, (__u32)id, a->ts_ns);
	e->ts_end_ns = bpf_ktime_get_ns();
	e->rc = ret;
	e->hint_family = a->hint_family;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel(e->name, sizeof(e->name), a->name);
	__builtin_memset(e->addrs, 0, sizeof(e->addrs));
	if (ret == 0 && a->res)
		bpf_probe_read_user(&next, sizeof(next), (void *)a->res);
	/* One address per node; the socket-type variants of an address are dropped. */
	for (i = 0; i < GAI_WALK_MAX && next && n < LT_DNS_ADDRS_MAX; i++) {
		if (bpf_probe_read_user(&ai, sizeof(ai), (void *)next))
			break;
		next = ai.ai_next;
		if (!ai_addr_read(&ai, &cur))
			continue;
		dup = 0;
		for (j = 0; j < LT_DNS_ADDRS_MAX; j++) {
			if (j >= n)
				break;
			if (e->addrs[j].family == cur.family &&
			    *(__u64 *)&e->addrs[j].addr[0] == *(__u64 *)&cur.addr[0] &&
			    *(__u64 *)&e->addrs[j].addr[8] == *(__u64 *)&cur.addr[8]) {
				dup = 1;
				break;
			}
		}
		if (dup)
			continue;
		e->addrs[n & (LT_DNS_ADDRS_MAX - 1)] = cur;
		n++;
	}
	e->naddrs = n;
	event_submit(e);
out_delete:
	bpf_map_delete_elem(&gai_active, &id);
	return 0;
}

/* ---- UDP port 53 ---------------------------------------------------------- */

/*
 * Datagrams are read where the socket layer reports a send or receive done
 * (sock_send_length, sock_recv_length), from the buffer the syscall was
 * given (sockio.bpf.h). Every socket send and receive on the host runs
 * these two programs; anything but a process's UDP socket stops at the
 * first test. A socket connect()ed to port 53 is a resolver's (glibc,
 * c-ares, Go); an unconnected one (musl) that sent to port 53 is kept in
 * dns_socks, so its receives, whose source address reaches the caller only
 * after this point, are read too: userspace keeps a response only when it
 * answers a query it saw (process, id, name, type).
 */

#define DNS_IPPROTO_UDP	17
/* A DNS message is at least its 12-byte header. */
#define DNS_HDR_LEN	12

/* Where a process sent a query: a name server. */
struct dns_server {
	__u8 family;	/* 0: none */
	__u8 pad;
	__u16 port;
	__u8 addr[16];
};

/* Unconnected UDP sockets that sent to port 53, by socket cookie (never
 * reused, so a closed socket's entry matches nothing and ages out). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct dns_server);
} dns_socks SEC(".maps");

/* Process tgid's own IPv4/IPv6 UDP socket sk (a tp_btf argument), with
 * ret bytes moved (a DNS message's worth): 1 when it is worth a look. The
 * protocol test comes first: it is all a TCP send or receive pays. */
static __always_inline int udp_candidate(struct sock *sk, int ret, __u32 tgid)
{
	__u16 family;

	if (sk->sk_protocol != DNS_IPPROTO_UDP || ret < DNS_HDR_LEN)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != LT_AF_INET && family != LT_AF_INET6)
		return 0;
	return wanted(tgid) && sk_file_ino(sk);
}

/* The peer of connected socket sk into *s; s->family 0 when unconnected. */
static __always_inline void sk_peer(struct sock *sk, struct dns_server *s)
{
	__u16 family = sk->__sk_common.skc_family;

	__builtin_memset(s, 0, sizeof(*s));
	s->port = bpf_ntohs(sk->__sk_common.skc_dport);
	if (!s->port)
		return;
	s->family = family;
	if (family == LT_AF_INET) {
		__u32 d = sk->__sk_common.skc_daddr;

		__builtin_memcpy(s->addr, &d, 4);
	} else {
		__builtin_memcpy(s->addr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	}
}

/* A user struct sockaddr at sa into *s; s->family 0 when not IPv4/IPv6. */
static __always_inline void user_sockaddr(__u64 sa, struct dns_server *s)
{
	union user_sockaddr u = {};

	s->family = 0;
	if (!sa || bpf_probe_read_user(&u, USER_SOCKADDR_READ, (void *)sa))
		return;
	/* sin_port and sin6_port share their place */
	s->port = bpf_ntohs(u.in.sin_port);
	if (u.family == LT_AF_INET) {
		__builtin_memcpy(s->addr, u.in.sin_addr, sizeof(u.in.sin_addr));
		s->family = LT_AF_INET;
	} else if (u.family == LT_AF_INET6) {
		__builtin_memcpy(s->addr, u.in6.sin6_addr, sizeof(u.in6.sin6_addr));
		s->family = LT_AF_INET6;
	}
}

/* Send one datagram to the ring: n bytes of it at user buf (at most
 * LT_DNS_PKT_MAX are copied), msg_len its whole length. */
static __always_inline void emit_pkt(__u64 id, __u8 dir, const struct dns_server *s, __u64 buf,
				     __u64 n, __u64 msg_len)
{
	struct lt_dns_pkt_event *e;

	if (n > LT_DNS_PKT_MAX)
		n = LT_DNS_PKT_MAX;
	if (n < DNS_HDR_LEN || !buf)
		return;
	e = event_reserve(sizeof(*e));
	if (!e)
		return;
	hdr_fill(&e->hdr, LT_EV_DNS_PKT, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->msg_len = msg_len;
	e->dir = dir;
	e->family = s->family;
	e->port = s->port;
	__builtin_memcpy(e->server, s->addr, 16);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user(e->data, n, (void *)buf)) {
		counter_add(LT_CNT_READ_ERR, 1);
		bpf_ringbuf_discard(e, 0);
		return;
	}
	e->len = n;
	event_submit(e);
}

/* First iovec of the user msghdr at msg: its base and length, and the
 * msghdr's address (msg_name). Returns 0 when read. */
static __always_inline int msg_iov0(__u64 msg, __u64 *base, __u64 *len, __u64 *name)
{
	struct user_msghdr h;
	struct iovec iov;

	if (bpf_probe_read_user(&h, sizeof(h), (void *)msg) || !h.msg_iov || !h.msg_iovlen)
		return -1;
	if (bpf_probe_read_user(&iov, sizeof(iov), h.msg_iov))
		return -1;
	*base = (__u64)iov.iov_base;
	*len = iov.iov_len;
	*name = (__u64)h.msg_name;
	return 0;
}

/* The message of sendmmsg()'s vector vec (vlen long) being sent: the
 * kernel writes each sent message's msg_len before the next is sent, so
 * it is the first whose msg_len is still 0 (glibc, the one resolver that
 * sends two queries at once, clears them). Returns its address, or 0. */
static __always_inline __u64 mmsg_current(__u64 vec, __u64 vlen)
{
	__u64 msg;
	__u32 i, sent;

	for (i = 0; i < MMSG_MAX && i < vlen; i++) {
		msg = vec + (__u64)i * sizeof(struct mmsghdr);
		if (bpf_probe_read_user(&sent, sizeof(sent), &((struct mmsghdr *)msg)->msg_len))
			return 0;
		if (!sent)
			return msg;
	}
	return 0;
}

/* A process's UDP socket sent a ret-byte datagram: a query when it went to
 * port 53 (the socket's peer, else the address the syscall was given). */
static __always_inline int dns_sent_run(struct sock *sk, int ret, int flags)
{
	__u64 id = bpf_get_current_pid_tgid(), buf, len, sa = 0, cookie;
	struct dns_server s;
	struct pt_regs *regs;
	long nr;

	if (!udp_candidate(sk, ret, id >> 32))
		return 0;
	/* a connected socket's peer settles it before any user memory is
	 * read: a QUIC client's datagrams stop here */
	sk_peer(sk, &s);
	if (s.family && s.port != DNS_PORT)
		return 0;
	regs = user_regs();
	nr = regs->orig_ax;
	buf = PT_REGS_PARM2_SYSCALL(regs);
	len = ret;
	switch (nr) {
	case NR_WRITE:
		break;
	case NR_SENDTO:
		sa = PT_REGS_PARM5_SYSCALL(regs);
		break;
	case NR_SENDMMSG:
		buf = mmsg_current(buf, PT_REGS_PARM3_SYSCALL(regs));
		if (!buf)
			return 0;
		/* fall through: an mmsghdr starts with its msghdr */
	case NR_SENDMSG:
		if (msg_iov0(buf, &buf, &len, &sa))
			return 0;
		break;
	default:
		return 0;
	}
	if (!s.family) {
		user_sockaddr(sa, &s);
		if (!s.family || s.port != DNS_PORT)
			return 0;
		cookie = bpf_get_socket_cookie(sk);
		bpf_map_update_elem(&dns_socks, &cookie, &s, BPF_ANY);
	}
	/* a datagram split over iovecs: the first one's share */
	emit_pkt(id, LT_DIR_WRITE, &s, buf, len < (__u64)ret ? len : (__u64)ret, ret);
	return 0;
}

/* Slot LT_CHAIN_DNS of chain_send (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(dns_sent, struct sock *sk, int ret, int flags)
{
	dns_sent_run(sk, ret, flags);
	chain_next(ctx, &chain_send, LT_CHAIN_DNS);
	return 0;
}

/* A process's UDP socket received a ret-byte datagram: a response when the
 * socket is connected to port 53, or sent a query from unconnected. */
static __always_inline int dns_received_run(struct sock *sk, int ret, int flags)
{
	__u64 id = bpf_get_current_pid_tgid(), buf, len, sa, cookie;
	struct dns_server s, *q;
	struct pt_regs *regs;
	long nr;

	/* peeked bytes are read again later */
	if ((flags & MSG_PEEK_) || !udp_candidate(sk, ret, id >> 32))
		return 0;
	sk_peer(sk, &s);
	if (!s.family) {
		cookie = bpf_get_socket_cookie(sk);
		q = bpf_map_lookup_elem(&dns_socks, &cookie);
		if (!q)
			return 0;
		s = *q;
	} else if (s.port != DNS_PORT) {
		return 0;
	}
	regs = user_regs();
	nr = regs->orig_ax;
	buf = PT_REGS_PARM2_SYSCALL(regs);
	switch (nr) {
	case NR_READ:
	case NR_RECVFROM:
		len = PT_REGS_PARM3_SYSCALL(regs);
		break;
	case NR_RECVMSG:
		if (msg_iov0(buf, &buf, &len, &sa))
			return 0;
		break;
	default:
		return 0;
	}
	/* ret is the datagram's length even past the buffer (MSG_TRUNC) */
	emit_pkt(id, LT_DIR_READ, &s, buf, len < (__u64)ret ? len : (__u64)ret, ret);
	return 0;
}

/* Slot LT_CHAIN_DNS of chain_recv (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(dns_received, struct sock *sk, int ret, int flags)
{
	dns_received_run(sk, ret, flags);
	chain_next(ctx, &chain_recv, LT_CHAIN_DNS);
	return 0;
}
