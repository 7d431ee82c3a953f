/* proc.h -- the process table: pid -> exec info, exit, CPU totals; turns BPF CPU map samples into per-interval rows. */
#ifndef LLMTAP_PROC_H
#define LLMTAP_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "db/rows.h"

/* A program started (execve returned), in plain types. Times CLOCK_MONOTONIC. */
struct proc_exec_info {
	uint32_t pid, ppid, uid;
	const char *comm;
	const char *exe;		/* the path execve was given */
	uint32_t exe_dev;		/* its file: the kernel's s_dev and inode (0: unknown) */
	uint64_t exe_ino;
	int exe_ours;			/* exec'd in our mount namespace */
	const char *argv;		/* NUL-separated arguments, argv_len bytes */
	size_t argv_len;
	int argv_cut;			/* 1 when the arguments were longer than argv_len */
	uint64_t ts_ns, start_ns;	/* the exec; the process's fork */
};

/* The last thread of a process exited. Times CLOCK_MONOTONIC, CPU in ns
 * since the tracer first saw the process run. */
struct proc_exit_info {
	uint32_t pid, ppid;
	const char *comm;
	int exit_code;			/* raw task->exit_code */
	uint64_t ts_ns, start_ns;
	uint64_t oncpu_ns, runq_ns, switches, preempts;
};

/* CPU totals of a thread or a whole process (a running thread's include
 * its slice so far). */
struct proc_cpu {
	uint32_t id;			/* tid or tgid */
	uint32_t tgid;
	uint64_t oncpu_ns, runq_ns, switches, preempts;
};



struct proc_table;
struct procwatch;

/* A new, empty table. Returns NULL on OOM. */
struct proc_table *proc_table_new(const struct row_sink *sink);
/* Write the row of every process that changed since it was last written, then free. */
void proc_table_free(struct proc_table *t);

void proc_on_exec(struct proc_table *t, const struct proc_exec_info *e);
/* Final CPU sample and row of the process; it is forgotten two passes later. */
void proc_on_exit(struct proc_table *t, const struct proc_exit_info *e);
/* The OOM killer chose pid (thread tid): its row gets oom_killed = 1, and a
 * warning is printed. */
void proc_on_oom(struct proc_table *t, uint32_t pid, uint32_t tid, const char *comm,
		 uint64_t ts_ns);
/* pid made an LLM call: make sure it has a row (read from /proc when new),
 * and that its row and its ancestors' rows are current (written now when they
 * changed since they were last written). */
void proc_on_call(struct proc_table *t, uint32_t pid);
/* The executable pid ran, as its exec (or /proc) said, while the table
 * holds it (also a while after its exit); NULL when unknown. */
const char *proc_exe_of(struct proc_table *t, uint32_t pid);

/* One sampling pass: begin, every thread entry, every process entry, end.
 * end emits a cpu_samples row per process whose totals moved since the last
 * pass and the processes rows that changed. now is CLOCK_MONOTONIC. */
void proc_sample_begin(struct proc_table *t, uint64_t now_ns);
void proc_sample_thread(struct proc_table *t, const struct proc_cpu *c);
void proc_sample_process(struct proc_table *t, const struct proc_cpu *c);
void proc_sample_end(struct proc_table *t);

/* Report zombies and stuck agents through w (may be NULL; borrowed). */
void proc_table_set_watch(struct proc_table *t, struct procwatch *w);

/* Processes in memory (live and recently exited). */
size_t proc_count(const struct proc_table *t);

/* Split a raw exit code into (code, signal): code = (x >> 8) & 0xff, signal = x & 0x7f. */
void proc_exit_split(int raw, int *code, int *sig);

/* A JSON array of the NUL-separated arguments in buf[0..len), credentials
 * replaced by "[REDACTED]" (redact_arg(): the rules of llm/redact.h), invalid UTF-8 shown
 * as '?'. When cut, the argument cut short is dropped and "..." ends the
 * array. malloc'd; NULL on OOM. */
char *proc_argv_json(const char *buf, size_t len, int cut);

#endif
