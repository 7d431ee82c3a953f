/* socks.bpf.h -- the TCP sockets processes connect()ed, in socket storage: made by net.bpf.c at SYN_SENT, read by sock.bpf.c (the loader shares the map). */
#ifndef LLMTAP_SOCKS_BPF_H
#define LLMTAP_SOCKS_BPF_H

/* A socket between connect() and close. */
struct sock_state {
	__u64 cookie;
	__u64 syn_ns;
	__u64 est_ns;
	__u32 tgid, tid;
	__u32 retransmits, resets_rx, resets_tx;
	char comm[LT_COMM_LEN];
};

/* Socket storage: freed with the socket, and a state change of any other
 * socket costs one pointer test instead of a hash lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} socks SEC(".maps");

#endif
