/* common.bpf.h -- what every llmtap BPF object shares: its events ring, its counters, the self filter, the event header. */
#ifndef LLMTAP_COMMON_BPF_H
#define LLMTAP_COMMON_BPF_H

/* Include after vmlinux.h, the libbpf helpers and events.h. Every object
 * gets the same two maps under the same names, so userspace reads them all
 * with one loop (user/capture/loader.c). */

#define LT_AF_INET	2
#define LT_AF_INET6	10

/* Events to userspace. ssl.bpf.c's is resized from userspace before load
 * (run --ring-size); the others keep this size. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Per-CPU counters indexed by enum lt_counter; userspace sums every object's. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

const volatile __u32 self_tgid = 0;	/* never trace the tracer itself */

/* Bump this CPU's counter idx by v. */
static __always_inline void counter_add(__u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += v;
}

/* 1 when tgid is the tracer's own process. */
static __always_inline int is_self(__u32 tgid)
{
	return tgid == self_tgid;
}

/* Reserve size bytes in the events ring. Returns NULL when the ring is full,
 * which is counted as a drop (userspace warns, never silently). */
static __always_inline void *event_reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e)
		counter_add(LT_CNT_DROPS, 1);
	return e;
}

/* Submit a reserved event and count it in LT_CNT_EVENTS. */
static __always_inline void event_submit(void *e)
{
	bpf_ringbuf_submit(e, 0);
	counter_add(LT_CNT_EVENTS, 1);
}

/* Fill the header every event starts with (pad zeroed: it goes to userspace). */
static __always_inline void hdr_fill(struct lt_hdr *h, __u32 type, __u32 tgid, __u32 tid,
				     __u64 ts_ns)
{
	h->type = type;
	h->tgid = tgid;
	h->tid = tid;
	h->pad = 0;
	h->ts_ns = ts_ns;
}

#endif
