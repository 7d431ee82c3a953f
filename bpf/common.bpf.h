/* common.bpf.h -- what every llmtap BPF object shares: its events ring, its counters, the self filter, the event header. */
#ifndef LLMTAP_COMMON_BPF_H
#define LLMTAP_COMMON_BPF_H

/* Include after vmlinux.h, the libbpf helpers and events.h. Every object
 * gets the same two maps under the same names, so userspace reads them all
 * with one loop (user/capture/loader.c). */

#define LT_AF_INET	2
#define LT_AF_INET6	10

/* Events to userspace, resized from userspace before load: ssl.bpf.c's by
 * run --ring-size, the others to LOADER_SMALL_RING (capture/loader.c). */
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

/* Wake the reader only once this many bytes wait in the ring (0: for every
 * event). Below it the reader drains on its own timer: a wakeup per event
 * costs the traced process and the reader more than the event itself. */
const volatile __u64 wake_bytes = 0;

/* Submit flags for an event: a wakeup only when the ring is filling. */
static __always_inline __u64 wake_flags(void)
{
	if (!wake_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes ? BPF_RB_FORCE_WAKEUP :
									      BPF_RB_NO_WAKEUP;
}

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
	bpf_ringbuf_submit(e, wake_flags());
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
