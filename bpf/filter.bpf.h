/* filter.bpf.h -- the process filter of `llmtap run -p`: a knob and a tgids map, for the objects that honour it. */
#ifndef LLMTAP_FILTER_BPF_H
#define LLMTAP_FILTER_BPF_H

#include "common.bpf.h"

/* Processes to trace when filter_tgid is set; filled from userspace after
 * load (user/capture/loader.c fills every object's "tgids"). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} tgids SEC(".maps");

const volatile __u8 filter_tgid = 0;

/* 1 when events of process tgid are wanted: not the tracer, and in tgids
 * when a filter is set. */
static __always_inline int wanted(__u32 tgid)
{
	if (is_self(tgid))
		return 0;
	if (filter_tgid && !bpf_map_lookup_elem(&tgids, &tgid))
		return 0;
	return 1;
}

#endif
