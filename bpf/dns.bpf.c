// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* dns.bpf.c -- DNS lookups: uprobes on libc getaddrinfo() and the UDP port-53 datagrams a process sends and receives. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "common.bpf.h"
#include "filter.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define DNS_S_IFMT	00170000
#define DNS_S_IFSOCK	0140000
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

/* A receive in flight on a UDP socket that may talk to port 53. */
struct recv_args {
	__u64 buf;		/* recvfrom: the buffer; recvmsg: struct user_msghdr * */
	__u64 addr;		/* recvfrom: src_addr, checked at return (unconnected sockets) */
	__u32 is_msg;		/* 1: recvmsg */
	__u8 family;		/* connected socket: its peer, else 0 */
	__u8 pad;
	__u16 port;
	__u8 server[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct gai_args);
} gai_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct recv_args);
} recv_active SEC(".maps");

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

/* The UDP socket behind fd of the current process, else NULL. */
static __always_inline struct sock *fd_udp_sock(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	struct socket *sock;
	struct sock *sk;
	__u16 family;
	umode_t mode;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & DNS_S_IFMT) != DNS_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != LT_AF_INET && family != LT_AF_INET6)
		return NULL;
	return sk;
}

/* Peer of a connected socket into family/port/addr; family 0 when unconnected. */
static __always_inline void sk_peer(struct sock *sk, __u8 *family, __u16 *port, __u8 addr[16])
{
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

	*family = 0;
	*port = dport;
	if (!dport)
		return;
	*family = fam;
	if (fam == LT_AF_INET) {
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(addr, &d, 4);
	} else {
		BPF_CORE_READ_INTO((__u8 (*)[16])addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/* A user struct sockaddr into family/port/addr; family 0 when not IPv4/IPv6. */
static __always_inline void user_sockaddr(__u64 sa, __u8 *family, __u16 *port, __u8 addr[16])
{
	union user_sockaddr u = {};

	*family = 0;
	if (!sa || bpf_probe_read_user(&u, USER_SOCKADDR_READ, (void *)sa))
		return;
	/* sin_port and sin6_port share their place */
	*port = bpf_ntohs(u.in.sin_port);
	if (u.family == LT_AF_INET) {
		__builtin_memcpy(addr, u.in.sin_addr, sizeof(u.in.sin_addr));
		*family = LT_AF_INET;
	} else if (u.family == LT_AF_INET6) {
		__builtin_memcpy(addr, u.in6.sin6_addr, sizeof(u.in6.sin6_addr));
		*family = LT_AF_INET6;
	}
}

/* Send one datagram's payload (len bytes at user buf) to the ring buffer. */
static __always_inline void emit_pkt(__u64 id, __u8 dir, __u8 family, __u16 port,
				     const __u8 server[16], __u64 buf, __u64 len)
{
	struct lt_dns_pkt_event *e;
	__u32 n = len > LT_DNS_PKT_MAX ? LT_DNS_PKT_MAX : len;

	/* A DNS message is at least its 12-byte header. */
	if (len < 12 || !buf)
		return;
	e = event_reserve(sizeof(*e));
	if (!e)
		return;
	hdr_fill(&e->hdr, LT_EV_DNS_PKT, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->msg_len = len;
	e->dir = dir;
	e->family = family;
	e->port = port;
	__builtin_memcpy(e->server, server, 16);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (n > LT_DNS_PKT_MAX)	/* for the verifier: n is already at most this */
		n = LT_DNS_PKT_MAX;
	if (bpf_probe_read_user(e->data, n, (void *)buf)) {
		counter_add(LT_CNT_READ_ERR, 1);
		bpf_ringbuf_discard(e, 0);
		return;
	}
	e->len = n;
	event_submit(e);
}

/* First iovec of a user msghdr: its base and length. Returns 0 when read. */
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

/* Where a send on UDP socket sk goes: its peer, else the address passed
 * (sa). Returns 1 when that is port 53. */
static __always_inline int send_dest(struct sock *sk, __u64 sa, __u8 *family, __u16 *port,
				     __u8 addr[16])
{
	sk_peer(sk, family, port, addr);
	if (!*family)
		user_sockaddr(sa, family, port, addr);
	return *family && *port == DNS_PORT;
}

SEC("tp/syscalls/sys_enter_sendto")
int dns_sendto(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 family = 0, addr[16] = {};
	__u16 port = 0;
	struct sock *sk;

	if (!wanted(id >> 32) || !(sk = fd_udp_sock(ctx->args[0])))
		return 0;
	if (!send_dest(sk, ctx->args[4], &family, &port, addr))
		return 0;
	emit_pkt(id, LT_DIR_WRITE, family, port, addr, ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tp/syscalls/sys_enter_sendmsg")
int dns_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 family = 0, addr[16] = {};
	__u64 base, len, name;
	__u16 port = 0;
	struct sock *sk;

	if (!wanted(id >> 32) || !(sk = fd_udp_sock(ctx->args[0])))
		return 0;
	if (msg_iov0(ctx->args[1], &base, &len, &name))
		return 0;
	if (!send_dest(sk, name, &family, &port, addr))
		return 0;
	emit_pkt(id, LT_DIR_WRITE, family, port, addr, base, len);
	return 0;
}

SEC("tp/syscalls/sys_enter_sendmmsg")
int dns_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 vec = ctx->args[1], vlen = ctx->args[2];
	__u8 family = 0, addr[16] = {};
	__u64 base, len, name;
	__u16 port = 0;
	struct sock *sk;
	__u32 i;

	if (!wanted(id >> 32) || !(sk = fd_udp_sock(ctx->args[0])))
		return 0;
	for (i = 0; i < MMSG_MAX && i < vlen; i++) {
		__u64 msg = vec + (__u64)i * sizeof(struct mmsghdr);

		if (msg_iov0(msg, &base, &len, &name))
			break;
		if (!send_dest(sk, name, &family, &port, addr))
			break;
		emit_pkt(id, LT_DIR_WRITE, family, port, addr, base, len);
	}
	return 0;
}

/* Save a receive on a UDP socket: connected to port 53, or unconnected with
 * a source address to look at on return. */
static __always_inline int recv_enter(long fd, __u64 buf, __u64 addr, __u32 is_msg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct recv_args r = {};
	struct sock *sk;

	if (!wanted(id >> 32))
		return 0;
	sk = fd_udp_sock(fd);
	if (!sk)
		return 0;
	sk_peer(sk, &r.family, &r.port, r.server);
	if (r.family && r.port != DNS_PORT)
		return 0;
	if (!r.family && !addr && !is_msg)
		return 0;
	r.buf = buf;
	r.addr = addr;
	r.is_msg = is_msg;
	bpf_map_update_elem(&recv_active, &id, &r, BPF_ANY);
	return 0;
}

static __always_inline int recv_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct recv_args *r = bpf_map_lookup_elem(&recv_active, &id);
	__u64 buf, len, name = 0;
	__u8 family, addr[16];
	__u16 port;

	if (!r)
		return 0;
	family = r->family;
	port = r->port;
	__builtin_memcpy(addr, r->server, 16);
	buf = r->buf;
	len = ret;
	if (r->is_msg) {
		if (msg_iov0(r->buf, &buf, &len, &name))
			goto out_delete;
		/* The payload may spill into further iovecs: keep the first one's share. */
		if (len > (__u64)ret)
			len = ret;
	} else {
		name = r->addr;
	}
	if (!family)
		user_sockaddr(name, &family, &port, addr);
	if (ret > 0 && family && port == DNS_PORT)
		emit_pkt(id, LT_DIR_READ, family, port, addr, buf, len);
out_delete:
	bpf_map_delete_elem(&recv_active, &id);
	return 0;
}

SEC("tp/syscalls/sys_enter_recvfrom")
int dns_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
	return recv_enter(ctx->args[0], ctx->args[1], ctx->args[4], 0);
}

SEC("tp/syscalls/sys_exit_recvfrom")
int dns_recvfrom_exit(struct trace_event_raw_sys_exit *ctx)
{
	return recv_exit(ctx->ret);
}

SEC("tp/syscalls/sys_enter_recvmsg")
int dns_recvmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	return recv_enter(ctx->args[0], ctx->args[1], 0, 1);
}

SEC("tp/syscalls/sys_exit_recvmsg")
int dns_recvmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	return recv_exit(ctx->ret);
}
