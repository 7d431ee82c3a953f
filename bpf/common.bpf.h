/* common.bpf.h -- BPF-only helpers shared by llmtap's programs: counters and the self filter. */
#ifndef LLMTAP_COMMON_BPF_H
#define LLMTAP_COMMON_BPF_H

/* Bump per-CPU counter idx of a PERCPU_ARRAY map by v. */
static __always_inline void counter_add(void *map, __u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(map, &idx);

	if (c)
		*c += v;
}

#endif
