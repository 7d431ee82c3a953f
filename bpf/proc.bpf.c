// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* proc.bpf.c -- process lifecycle tracepoints: exec (to attach to new binaries) and exit. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} proc_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} proc_counters SEC(".maps");

const volatile __u32 self_tgid = 0;

/* BTF-typed raw tracepoints: no tracefs needed, arguments read with CO-RE. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lt_exec_event *e;

	e = bpf_ringbuf_reserve(&proc_rb, sizeof(*e), 0);
	if (!e) {
		counter_add(&proc_counters, LT_CNT_DROPS, 1);
		return 0;
	}
	e->hdr.type = LT_EV_EXEC;
	e->hdr.tgid = id >> 32;
	e->hdr.tid = (__u32)id;
	e->hdr.pad = 0;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lt_ctl_event *e;

	/* Threads other than the leader exiting do not end the process. */
	if ((__u32)id != (id >> 32) || (id >> 32) == self_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&proc_rb, sizeof(*e), 0);
	if (!e) {
		counter_add(&proc_counters, LT_CNT_DROPS, 1);
		return 0;
	}
	e->hdr.type = LT_EV_EXIT;
	e->hdr.tgid = id >> 32;
	e->hdr.tid = (__u32)id;
	e->hdr.pad = 0;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->ssl = 0;
	e->exit_code = task->exit_code;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
