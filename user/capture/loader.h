/* loader.h -- the BPF objects' lifecycle: open, configure, load, attach (uprobes via capture/attach.c), poll, counters, CPU maps. */
#ifndef LLMTAP_LOADER_H
#define LLMTAP_LOADER_H

#include <stdint.h>
#include <sys/types.h>

#include "events.h"
#include "capture/ring.h"

struct loader_opts {
	pid_t self;		/* our tgid: never traced */
	const pid_t *pids;	/* trace only these processes when npids > 0 */
	int npids;
	uint64_t ring_bytes;	/* data ring buffer size (power of two) */
	uint32_t chunks_max;	/* LT_CHUNK_MAX chunks per SSL call at most */
	int dns_all;		/* getaddrinfo probed in every process, not in clients alone */
};

/* Called for each ring-buffer record; returns 0 (non-zero stops the poll). */
typedef int (*loader_sample_fn)(void *ctx, void *data, size_t size);

struct loader;

/* Open, configure and load the BPF objects, attach the tracepoints and set up
 * the ring buffers. Returns 0 and *out, or a negative errno (message printed). */
int loader_open(struct loader **out, const struct loader_opts *o,
		loader_sample_fn fn, void *ctx);

/* Attach the uprobes to every file of a kind capture/attach.c knows on the
 * host: each libssl (loader paths, loader cache, mapped by running
 * processes), executables that carry OpenSSL themselves (node), and each
 * libc for getaddrinfo. Returns the number of TLS files attached. */
int loader_attach_host(struct loader *l);

/* A process exec'd file: attach to what it runs, now and again a little
 * later (loader_poll() does the later passes). Returns attach_exec()'s
 * answer: 1 when the executable has been looked at. */
int loader_exec(struct loader *l, pid_t pid, const char *comm, const char *file,
		const struct lt_exe_key *key, int seen);

/* Mark an executable as looked at (key as its exec event named it): its
 * next execs do not wake the reader (proc.bpf.c exes_seen), unless it is
 * a client's program (loader_client()). */
void loader_exe_seen(struct loader *l, const struct lt_exe_key *key);

/* Process pid made a TLS or plain-HTTP call: it is an LLM client. The
 * first time, getaddrinfo gets probed in it (attach_dns_client()) and the
 * program it runs is remembered as a client's: its next runs are probed
 * from their exec on, before their first lookup. Cheap after the first. */
void loader_client(struct loader *l, pid_t pid);

/* Process pid exited (after its last data): what was bound to it goes. */
void loader_exit(struct loader *l, pid_t pid);

/* Start the thread that spills a ring the reader is behind on into a file
 * in dir (NULL: /var/tmp), up to bytes per ring (0: none; rings_spool()).
 * A thread is not bound by what privs_drop() did before it in another
 * (capabilities, seccomp are per thread until set for all): start it
 * after. It inherits the caller's priority. A failure is said; the rings
 * work as before. Returns 1 when the thread runs, else 0. */
int loader_spool_start(struct loader *l, const char *dir, uint64_t bytes);

/* What the ring spools took so far (capture/ring.h). */
void loader_spool_stats(const struct loader *l, struct spool_stats *st);

/* Wait up to timeout_ms for a wakeup (events wake the reader only when a
 * ring fills: see wake_bytes in common.bpf.h), deliver what every ring
 * holds, then attach to the processes due for another look. Returns the number of records consumed
 * or a negative errno (-EINTR on a signal). */
int loader_poll(struct loader *l, int timeout_ms);

/* Stop copying the data of TLS session (tgid, ssl): it will never give a
 * row (track/stream.c decided). Its SSL_free is still reported. */
void loader_mute(struct loader *l, uint32_t tgid, uint64_t ssl);

/* A drain: loader_drain_mark() notes what every ring holds now, and each
 * loader_drain() delivers the next piece of it (as much as a poll takes at
 * most), without waiting. Returns the records delivered, 0 once the drain
 * is done, or a negative errno. */
void loader_drain_mark(struct loader *l);
int loader_drain(struct loader *l);
struct attach;

/* The uprobes' bookkeeping: what was attached where (attach.h). */
const struct attach *loader_attach(const struct loader *l);

/* TLS files (libraries and executables) attached so far. */
int loader_files(const struct loader *l);

struct attach_record;

/* What was attached to the files of process pid, by which method, or why
 * not (see capture/attach.h): fn gets one record per file and kind. */
int loader_records_pid(const struct loader *l, pid_t pid,
		       void (*fn)(void *ctx, const struct attach_record *r), void *ctx);

/* Sum the per-CPU counters of all BPF objects into out[LT_CNT_MAX]. */
void loader_counters(const struct loader *l, uint64_t out[LT_CNT_MAX]);

/* A thread's or a process's CPU totals since the tracer started (see
 * struct lt_cpu_stat); a running thread's include its slice so far. */
struct loader_cpu {
	uint32_t id;			/* tid, or tgid for a process entry */
	uint32_t tgid;
	uint64_t oncpu_ns, runq_ns, switches, preempts;
};

typedef void (*loader_cpu_fn)(void *ctx, const struct loader_cpu *c, int thread);

/* Hand every live thread's CPU totals, then every process's (its live
 * threads and those that exited), to fn. With gc, map entries of tasks gone
 * from /proc are deleted (their exit was missed) rather than reported.
 * Returns the entries reported or a negative errno. */
int loader_cpu_sample(struct loader *l, int gc, loader_cpu_fn fn, void *ctx);

/* Detaching uprobes costs ~0.1 s each (a grace period per probe, serialised
 * in the kernel): fork a child that holds the links until this process has
 * exited and then lets the kernel release them, so stopping stays fast.
 * Call right before loader_close(), which is then quick. */
void loader_detach_later(struct loader *l);

void loader_close(struct loader *l);

#endif
