/* chain.bpf.h -- one program per socket tracepoint: net.bpf.c's is attached, the other objects' handlers follow it by tail call. */
#ifndef LLMTAP_CHAIN_BPF_H
#define LLMTAP_CHAIN_BPF_H

/*
 * Why. Every TCP send and receive on the host fires sock_send_length and
 * sock_recv_length, and every state change inet_sock_set_state. Four
 * objects want the first, three the second, two the third. Each attached
 * program is a dispatch of its own (the tracepoint's iterator, then
 * bpf_trace_run's accounting and an indirect call, both through retpolines
 * here), which cost more than most of these programs' work. So one program
 * per tracepoint is attached (net.bpf.c's), and each object's handler is a
 * slot of a program array (enum lt_chain_slot): a handler does its work and
 * then tail-calls the next filled slot. The slot numbers are constants, so
 * every tail call is a direct jump (patched when the loader fills a slot).
 * An empty slot (an object that did not load) is skipped.
 *
 * Include after vmlinux.h, the libbpf helpers and events.h. The loader
 * makes net.bpf.c's maps the only ones (capture/loader.c chain_prepare()).
 */

#define CHAIN_MAP(name)						\
	struct {						\
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);		\
		__uint(max_entries, LT_CHAIN_SLOTS);		\
		__type(key, __u32);				\
		__type(value, __u32);				\
	} name SEC(".maps")

/* A tail call may only go to a program on the same tracepoint: one array
 * per tracepoint. */
CHAIN_MAP(chain_send);		/* sock_send_length */
CHAIN_MAP(chain_recv);		/* sock_recv_length */
CHAIN_MAP(chain_state);		/* inet_sock_set_state: at TCP_CLOSE only */

/* Go on to the first filled slot of map after slot `from` (a constant):
 * that handler takes over and this does not return; with none left it
 * does, and the program ends. */
#define chain_next(ctx, map, from)						\
	do {									\
		if ((from) < LT_CHAIN_DNS)					\
			bpf_tail_call(ctx, map, LT_CHAIN_DNS);			\
		if ((from) < LT_CHAIN_SSL)					\
			bpf_tail_call(ctx, map, LT_CHAIN_SSL);			\
		if ((from) < LT_CHAIN_SOCK)					\
			bpf_tail_call(ctx, map, LT_CHAIN_SOCK);			\
		if ((from) < LT_CHAIN_RUSTLS)					\
			bpf_tail_call(ctx, map, LT_CHAIN_RUSTLS);		\
	} while (0)

#endif
