// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* proc.bpf.c -- process lifecycle and CPU: exec (attach to new binaries, argv), exit (code,
 * signal, CPU totals), OOM victims, and on-CPU / run-queue time per thread and process
 * aggregated in maps from sched_switch and sched_wakeup. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PF_EXITING	0x00000004
#define PF_KTHREAD	0x00200000
#define TASK_RUNNING	0

/* CPU time per live thread; deleted when the thread exits. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LT_CPU_THREADS_MAX);
	__type(key, __u32);
	__type(value, struct lt_cpu_stat);
} cpu_threads SEC(".maps");

/* CPU time of a process's threads that exited (the live ones are in
 * cpu_threads: userspace adds them up); deleted at the process's exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LT_CPU_PROCS_MAX);
	__type(key, __u32);
	__type(value, struct lt_cpu_stat);
} cpu_procs SEC(".maps");

/* Per CPU: the accounted thread running there and its CPU time when it
 * was switched in (tid 0: none). A switch-in only writes here; the
 * thread's cpu_threads entry is looked up at its switch-out only, so a
 * switch costs one hash lookup, and no clock is read: a slice is what the
 * kernel's own se.sum_exec_runtime grew by. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_cpu_cur);
} cpu_cur SEC(".maps");

/* CLOCK_MONOTONIC when the tracer started: a thread started before it has
 * its earlier run-queue time left out. */
const volatile __u64 tracer_start_ns = 0;

/* The exec event being built (too big for the BPF stack); sent only as long
 * as its arguments. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_exec_event);
} exec_scratch SEC(".maps");

/* Submit a process event without counting it: LT_CNT_EVENTS (/metrics
 * "events") counts the TLS, TCP and DNS events only, as it always has.
 * wake: the reader is woken at once (an exec: the new program's files are
 * attached before it gets far), else when the ring fills (wake_flags()). */
static __always_inline void proc_submit(void *e, int wake)
{
	bpf_ringbuf_submit(e, wake ? 0 : wake_flags());
}

/* task_struct::state before Linux 5.14 (now __state). */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

/* t is a BTF pointer (a tp_btf argument): read directly, no helper call. */
static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return t->__state;
	return ((struct task_struct___old *)t)->state;
}

/* Kernel threads and the tracer itself are not accounted. */
static __always_inline int cpu_skip(struct task_struct *t)
{
	return !t->pid || (t->flags & PF_KTHREAD) || is_self(t->tgid);
}

/* The stat entry of key in map, created (zeroed, tgid and rd_seen set) when
 * missing. NULL when the map is full (counted). */
static __always_inline struct lt_cpu_stat *cpu_get(void *map, __u32 key, __u32 tgid, __u64 rd_seen)
{
	struct lt_cpu_stat zero = { .tgid = tgid, .rd_seen = rd_seen };
	struct lt_cpu_stat *s = bpf_map_lookup_elem(map, &key);

	if (s)
		return s;
	if (bpf_map_update_elem(map, &key, &zero, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(map, &key)) {
		counter_add(LT_CNT_MAP_FULL, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(map, &key);
}

/* Switch-out of prev: its on-CPU slice (what its se.sum_exec_runtime,
 * brought up to date before this tracepoint, grew by since its switch-in,
 * in cpu_cur) is added to its cpu_threads entry, created at its first
 * switch-out; the run-queue wait the kernel added up for it
 * (sched_info.run_delay: updated at its switch-in, after this tracepoint,
 * so read on the way out) is taken. Switch-in of next: cpu_cur says who
 * runs, no lookup. Idle and kernel threads cost two flag tests, and
 * nothing runs per wakeup: the kernel's own counters do the rest. */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct lt_cpu_stat *t;
	struct lt_cpu_cur *cur;
	__u64 rd, base, ran;
	__u32 zero = 0, tid;
	int in;

	/* next is accounted unless idle, a kernel thread, the tracer, or
	 * exiting (its exit hook deleted its entry: not re-added) */
	in = !cpu_skip(next) && !(next->flags & PF_EXITING);
	if (!in && cpu_skip(prev))
		return 0;
	cur = bpf_map_lookup_elem(&cpu_cur, &zero);
	if (!cur)
		return 0;
	tid = prev->pid;
	if (cur->tid == tid && !cpu_skip(prev)) {
		t = bpf_map_lookup_elem(&cpu_threads, &tid);
		if (!t && !(prev->flags & PF_EXITING)) {
			/* a thread older than the tracer: its earlier waits are not ours */
			base = prev->start_time < tracer_start_ns ? prev->sched_info.run_delay : 0;
			t = cpu_get(&cpu_threads, tid, prev->tgid, base);
		}
		if (t) {
			ran = prev->se.sum_exec_runtime;
			if (ran > cur->runtime_ns)
				t->oncpu_ns += ran - cur->runtime_ns;
			t->switches++;
			t->preempts += preempt || task_state(prev) == TASK_RUNNING;
			rd = prev->sched_info.run_delay;
			if (rd > t->rd_seen)
				t->runq_ns += rd - t->rd_seen;
			t->rd_seen = rd;
		}
	}
	if (in) {
		cur->runtime_ns = next->se.sum_exec_runtime;
		cur->tgid = next->tgid;
		cur->tid = next->pid;
	} else {
		cur->tid = 0;
	}
	return 0;
}

/* BTF-typed raw tracepoints: no tracefs needed, arguments read with CO-RE. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lt_exec_event *e;
	unsigned long start, end;
	__u64 len, size;
	__u32 zero = 0;

	e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;
	hdr_fill(&e->hdr, LT_EV_EXEC, id >> 32, (__u32)id, bpf_ktime_get_ns());
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->start_ns = BPF_CORE_READ(p, start_time);
	/* This runs in the new program's context: its argv is in current's memory. */
	start = BPF_CORE_READ(p, mm, arg_start);
	end = BPF_CORE_READ(p, mm, arg_end);
	len = end > start ? end - start : 0;
	e->argv_full = len;
	if (len > LT_ARGV_MAX)
		len = LT_ARGV_MAX;
	if (bpf_probe_read_user(e->argv, len, (void *)start))
		len = 0;
	e->argv_len = len;
	/* Only the arguments' bytes go to the ring: most argvs are short. */
	size = offsetof(struct lt_exec_event, argv) + len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	if (bpf_ringbuf_output(&events, e, size, 0))
		counter_add(LT_CNT_DROPS, 1);
	return 0;
}

/* Every thread's exit: fold its totals (and its running slice) into its
 * process's exited-threads entry and drop its own; the last thread of a
 * process sends LT_EV_EXIT with the process totals and drops that entry. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns(), rd, rd_seen = 0;
	__u32 tid = (__u32)id, tgid = id >> 32, zero = 0;
	struct lt_cpu_stat *t, *p = NULL;
	struct lt_exit_event *e;
	struct lt_cpu_cur *cur;
	__u64 slice = 0;

	/* the slice it is running (this CPU's: its CPU time as of the last
	 * tick or event, since its switch-in), then its entry if it has one */
	cur = bpf_map_lookup_elem(&cpu_cur, &zero);
	if (cur && cur->tid == tid && task->se.sum_exec_runtime > cur->runtime_ns)
		slice = task->se.sum_exec_runtime - cur->runtime_ns;
	t = bpf_map_lookup_elem(&cpu_threads, &tid);
	if (t || slice) {
		p = cpu_get(&cpu_procs, tgid, tgid, 0);
		if (p) {
			if (t)
				rd_seen = t->rd_seen;
			else if (task->start_time < tracer_start_ns)
				rd_seen = task->sched_info.run_delay;
			rd = task->sched_info.run_delay;
			p->oncpu_ns += slice + (t ? t->oncpu_ns : 0);
			p->runq_ns += (t ? t->runq_ns : 0) + (rd > rd_seen ? rd - rd_seen : 0);
			if (t) {
				p->switches += t->switches;
				p->preempts += t->preempts;
			}
		}
		if (t)
			bpf_map_delete_elem(&cpu_threads, &tid);
	}
	/* signal->live is already decremented: 0 when this is the last thread. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0 || is_self(tgid))
		return 0;
	if (!p)
		p = bpf_map_lookup_elem(&cpu_procs, &tgid);
	e = event_reserve(sizeof(*e));
	if (!e) {
		bpf_map_delete_elem(&cpu_procs, &tgid);
		return 0;
	}
	hdr_fill(&e->hdr, LT_EV_EXIT, tgid, tid, now);
	e->ssl = 0;
	e->exit_code = task->exit_code;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	e->oncpu_ns = p ? p->oncpu_ns : slice;
	e->runq_ns = p ? p->runq_ns : 0;
	e->switches = p ? p->switches : 0;
	e->preempts = p ? p->preempts : 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	proc_submit(e, 0);
	bpf_map_delete_elem(&cpu_procs, &tgid);
	return 0;
}

/* oom:mark_victim runs in the killer's context: report the victim. */
SEC("tp_btf/mark_victim")
int BPF_PROG(handle_oom, struct task_struct *victim)
{
	struct lt_oom_event *e;

	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	hdr_fill(&e->hdr, LT_EV_OOM, victim->tgid, victim->pid, bpf_ktime_get_ns());
	BPF_CORE_READ_STR_INTO(&e->comm, victim, comm);
	proc_submit(e, 1);
	return 0;
}
