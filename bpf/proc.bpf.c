// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* proc.bpf.c -- process lifecycle and CPU: exec (attach to new binaries, argv), exit (code,
 * signal, CPU totals), OOM victims, and on-CPU / run-queue time per thread and process read
 * from the kernel's own counters by a task iterator (nothing runs per context switch). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PF_EXITING	0x00000004
#define PF_KTHREAD	0x00200000

/* CPU time of a process's threads that exited (the live ones are read by
 * the task iterator cpu_iter: userspace adds them up); deleted at the
 * process's exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LT_CPU_PROCS_MAX);
	__type(key, __u32);
	__type(value, struct lt_cpu_stat);
} cpu_procs SEC(".maps");

/* Threads older than the tracer: their totals when cpu_iter first saw
 * them (loader_open() runs it once before `ready`), which are not counted;
 * deleted at the thread's exit. A thread started since has no entry: all
 * its time counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LT_CPU_THREADS_MAX);
	__type(key, __u32);
	__type(value, struct lt_cpu_stat);
} cpu_base SEC(".maps");

/* CLOCK_MONOTONIC when the tracer started: a thread started before it has
 * what it ran and waited before left out (cpu_base). */
const volatile __u64 tracer_start_ns = 0;

/* Executables the reader has looked at (user/capture/event.c adds them): an
 * exec of one, in the tracer's mount namespace, has nothing new to attach
 * in a hurry, so it does not wake the reader; the timed drain reads it. An
 * LRU: one evicted is looked at once more, promptly. Value LT_EXE_LOOKED,
 * or LT_EXE_CLIENT for a program that made LLM calls: its execs still wake
 * the reader, which probes getaddrinfo in them before their first lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LT_EXES_SEEN_MAX);
	__type(key, struct lt_exe_key);
	__type(value, __u8);
} exes_seen SEC(".maps");

/* The tracer's mount namespace (its nsfs inode); 0: unknown, every exec
 * wakes the reader. */
const volatile __u32 tracer_mnt_ns = 0;

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

/* Kernel threads and the tracer itself are not accounted. */
static __always_inline int cpu_skip(struct task_struct *t)
{
	return !t->pid || (t->flags & PF_KTHREAD) || is_self(t->tgid);
}

/* The stat entry of key in map, created (zeroed, tgid set) when missing.
 * NULL when the map is full (counted). */
static __always_inline struct lt_cpu_stat *cpu_get(void *map, __u32 key, __u32 tgid)
{
	struct lt_cpu_stat zero = { .tgid = tgid };
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

/* a - b, or 0 when b is larger (a base taken from a reused tid). */
static __always_inline __u64 sub0(__u64 a, __u64 b)
{
	return a > b ? a - b : 0;
}

/* The kernel's own totals of thread t (a BTF pointer) into s, counted from
 * the tracer's start: a thread older than the tracer has its cpu_base
 * taken off. Returns 1 when s is to be counted; 0 when t has not run since
 * the tracer started, or is older than the tracer and has no base: with
 * take, its base is taken now (nothing to count yet; a full map is counted
 * and the thread is never accounted). No program runs per context switch:
 * the kernel keeps these counters anyway. */
static __always_inline int cpu_totals(struct task_struct *t, struct lt_cpu_stat *s, int take)
{
	struct lt_cpu_stat *b;
	__u32 tid = t->pid;

	s->tgid = t->tgid;
	s->pad = 0;
	s->oncpu_ns = t->se.sum_exec_runtime;
	s->runq_ns = t->sched_info.run_delay;
	s->preempts = t->nivcsw;
	s->switches = t->nvcsw + s->preempts;
	if (t->start_time >= tracer_start_ns)
		goto out_ran;
	b = bpf_map_lookup_elem(&cpu_base, &tid);
	if (!b) {
		if (take && bpf_map_update_elem(&cpu_base, &tid, s, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&cpu_base, &tid))
			counter_add(LT_CNT_MAP_FULL, 1);
		return 0;
	}
	s->oncpu_ns = sub0(s->oncpu_ns, b->oncpu_ns);
	s->runq_ns = sub0(s->runq_ns, b->runq_ns);
	s->switches = sub0(s->switches, b->switches);
	s->preempts = sub0(s->preempts, b->preempts);
out_ran:
	return s->oncpu_ns || s->runq_ns || s->switches;
}

/* Every live thread's totals, read by userspace at each CPU sample (one
 * struct lt_cpu_thread per thread that ran since the tracer started).
 * Kernel threads, the tracer and exiting threads (their exit hook folds
 * them into cpu_procs) are left out. */
SEC("iter/task")
int cpu_iter(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct lt_cpu_thread r;

	if (!t || cpu_skip(t) || (t->flags & PF_EXITING))
		return 0;
	if (!cpu_totals(t, &r.s, 1))
		return 0;
	r.tid = t->pid;
	r.on_cpu = t->on_cpu;
	r.runtime_ns = t->se.sum_exec_runtime;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
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
	__u8 *seen;

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
	/* Most commands a host runs are programs the reader has looked at
	 * already: only a new one (or one in another mount namespace, where
	 * its libraries are attached before its loader maps them) wakes it. */
	e->exe.dev = BPF_CORE_READ(bprm, file, f_inode, i_sb, s_dev);
	e->exe.pad = 0;
	e->exe.ino = BPF_CORE_READ(bprm, file, f_inode, i_ino);
	e->flags = 0;
	e->pad = 0;
	if (tracer_mnt_ns && BPF_CORE_READ(p, nsproxy, mnt_ns, ns.inum) == tracer_mnt_ns) {
		e->flags |= LT_EXEC_OUR_NS;
		seen = bpf_map_lookup_elem(&exes_seen, &e->exe);
		if (seen && *seen == LT_EXE_LOOKED)
			e->flags |= LT_EXEC_SEEN;
	}
	/* Only the arguments' bytes go to the ring: most argvs are short. */
	size = offsetof(struct lt_exec_event, argv) + len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	if (bpf_ringbuf_output(&events, e, size, (e->flags & LT_EXEC_SEEN) ? wake_flags() : 0))
		counter_add(LT_CNT_DROPS, 1);
	return 0;
}

/* Every thread's exit: fold its totals into its process's exited-threads
 * entry and drop its base; the last thread of a process sends LT_EV_EXIT
 * with the process totals and drops that entry. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct lt_cpu_stat s, *p = NULL;
	struct lt_exit_event *e;

	if (!cpu_skip(task) && cpu_totals(task, &s, 0)) {
		p = cpu_get(&cpu_procs, tgid, tgid);
		if (p) {
			p->oncpu_ns += s.oncpu_ns;
			p->runq_ns += s.runq_ns;
			p->switches += s.switches;
			p->preempts += s.preempts;
		}
	}
	bpf_map_delete_elem(&cpu_base, &tid);	/* also a stale one, of a reused tid */
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
	e->oncpu_ns = p ? p->oncpu_ns : 0;
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
