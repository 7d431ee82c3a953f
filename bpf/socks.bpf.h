/* socks.bpf.h -- the TCP sockets processes connect()ed, by address: made by net.bpf.c at SYN_SENT, read by sock.bpf.c (the loader shares the map). */
#ifndef LLMTAP_SOCKS_BPF_H
#define LLMTAP_SOCKS_BPF_H

/* A socket between connect() and close. */
struct sock_state {
	__u64 cookie;
	__u64 syn_ns;
	__u64 est_ns;
	__u32 tgid, tid;
	__u32 retransmits, resets_rx, resets_tx;
	__u16 sport;	/* the local port (net.bpf.c port_keep()) */
	__u16 told;	/* its connect was reported (net.bpf.c, sock.bpf.c) */
	char comm[LT_COMM_LEN];
};

/* Key: the socket's address. A hash map: socket storage
 * (BPF_MAP_TYPE_SK_STORAGE) set up a storage for each connecting socket
 * and tore it down at its close, 4 of the 5 µs per connection this took;
 * a hash entry (from the map's own per-CPU free lists: no preallocated
 * megabytes) costs a fraction of that. Every TCP socket passes TCP_CLOSE
 * before it is freed (inet_csk_destroy_sock() insists), and its entry goes
 * there (and socks_find() checks the socket's cookie). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LT_SOCKS_MAX);
	__type(key, __u64);
	__type(value, struct sock_state);
} socks SEC(".maps");

/* The entry of socket sk, or NULL. Its cookie must match: were a close
 * ever missed, a later socket at the same address is not taken for it. */
static __always_inline struct sock_state *socks_find(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct sock_state *s = bpf_map_lookup_elem(&socks, &key);

	if (s && s->cookie != bpf_get_socket_cookie((struct sock *)sk))
		return NULL;
	return s;
}

/* For an event that reports the connect of socket sk: its SYN_SENT and
 * ESTABLISHED times into *syn_ns and *est_ns (left as they are when no
 * process connect()ed sk), and the socket marked told, so net.bpf.c does
 * not report it again (connect_lazy). */
static __always_inline void socks_tell(const struct sock *sk, __u64 *syn_ns, __u64 *est_ns)
{
	struct sock_state *s = socks_find(sk);

	if (!s)
		return;
	*syn_ns = s->syn_ns;
	*est_ns = s->est_ns;
	s->told = 1;
}

#endif
