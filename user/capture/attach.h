/* attach.h -- finding the files to probe (on the host and in a process) and attaching the TLS and DNS uprobes to them. */
#ifndef LLMTAP_ATTACH_H
#define LLMTAP_ATTACH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_object;
struct attach;

/* Prepare to attach the uprobe programs of the loaded objects objs[0..n)
 * (NULL entries are skipped). A kind of file whose programs are in none of
 * them (libc when dns.bpf.c could not start) is not looked for. Returns 0
 * and *out, or -ENOMEM. */
int attach_new(struct attach **out, struct bpf_object *const *objs, int n);

/* Like attach_new(), but nothing is ever attached: files are looked at and
 * their records filled as `run` would (`doctor` when no tracer runs).
 * Returns 0 and *out, or -ENOMEM. */
int attach_new_dry(struct attach **out);

/* Make every uprobe from now on as a uprobe_multi link (capture/umulti.c;
 * the uprobe programs were loaded after umulti_prepare()). With n > 0 (`run
 * -p`, at most 64), each is made for processes pids[0..n) alone: the kernel
 * writes the breakpoints into those processes' memory only, so the SSL
 * calls of every other process on the host cost nothing, and processes are
 * looked at (their execs followed) only when they are among pids. With n 0
 * every process is probed, as with the perf-event uprobes made otherwise. */
void attach_multi(struct attach *a, const pid_t *pids, int n);

/* Where getaddrinfo's probes go, when the uprobes are host-wide uprobe_multi
 * links (no -p): with on, in LLM client processes alone (attach_dns_client()
 * names them): glibc files are found and recorded as before, but a process
 * that maps one gets no breakpoint written into its copy of it (a page
 * copied as it maps it) until it is named. Off: in every process. */
void attach_dns_clients(struct attach *a, int on);

/* Process pid is an LLM client (it made a TLS or plain-HTTP call, or it
 * runs a program that did): bind getaddrinfo's probes to it, to the glibc
 * it maps, or, when it maps none yet (its exec was just read), to those
 * its mount namespace names at the loader's usual paths. Cheap when pid is
 * bound already (one lookup). Returns 1 when bound now, 0 when it was
 * already, cannot be (gone, no glibc, another mode), or a negative errno. */
int attach_dns_client(struct attach *a, pid_t pid);

/* Process pid exited: release its getaddrinfo links (closed by a thread of
 * their own: the kernel waits a grace period as it releases each). */
void attach_dns_exit(struct attach *a, pid_t pid);

/* Every few seconds (now_ns: mono_ns()), release the links of clients
 * that are gone without their exit read (lost to a full ring), or whose
 * pid another process has now. */
void attach_dns_sweep(struct attach *a, uint64_t now_ns);

/* 1 when process pid is one the uprobes are for: any (host-wide), or one
 * of attach_multi()'s pids. */
int attach_scoped(const struct attach *a, pid_t pid);

/* Attach to every file of a known kind on the host: the loader paths and
 * cache, runtimes on PATH, and what every running process executes or has
 * mapped. Returns the TLS files attached so far. */
int attach_host(struct attach *a);

/* Attach to what process pid runs: its executable and the libraries it
 * maps, those not looked at yet. Returns files newly attached (0: none). */
int attach_pid(struct attach *a, pid_t pid);

/* A process exec'd file: attach to what it runs now, and look at it again
 * a little later (the dynamic loader and dlopen map libraries after exec).
 * kdev, ino: the file it runs as the kernel names it (dev_kernel(); 0:
 * unknown); seen: the kernel found that file among those looked at
 * (proc.bpf.c exes_seen), so a process gone already costs nothing more.
 * Returns 1 when that file has been looked at by every kind that
 * probes executables (a later exec of it has nothing new to attach in a
 * hurry), else 0 (not looked at: `-p` names another process, it was gone
 * and named by a relative path, or file names another file now, such as
 * a script whose interpreter ran). */
int attach_exec(struct attach *a, pid_t pid, const char *comm, const char *file, uint32_t kdev,
		uint64_t ino, int seen);

/* Look again at the processes whose time has come (see attach_exec()). */
void attach_rescans_run(struct attach *a);

/* How long a poll may sleep before the next rescan is due: max_ms, or
 * less (0 when one is due now). */
int attach_rescan_wait_ms(const struct attach *a, int max_ms);

/* TLS libraries and executables attached so far. */
int attach_tls_files(const struct attach *a);

/* Uprobe links held (the kernel waits a grace period as it releases each). */
size_t attach_links(const struct attach *a);

/* Where the TLS data probes of each attached file went (the placement of
 * capture/placement.c: "SSL_write: shared internal function at 0x355e0
 * (push %r14, emulated; ...)"), for -v and doctor. */
typedef void (*attach_placed_fn)(void *ctx, const char *path, const char *desc);
void attach_placements(const struct attach *a, attach_placed_fn fn, void *ctx);

/* Detach every uprobe and free a; NULL is fine. */
void attach_free(struct attach *a);

/* ---- what was done with each file (`llmtap doctor` shows it) -------------------- */

/* What was done with a file for one kind of TLS (or DNS) library. */
enum attach_state {
	ATTACH_ATTACHED = 1,	/* its uprobes are in place (a dry run: would be) */
	ATTACH_FAILED,		/* it is one, but attaching failed (reason) */
	ATTACH_UNCOVERED,	/* it is one, but llmtap cannot probe it (reason) */
};

struct attach_record {
	const char *path;	/* as first seen (a process's view of it: /proc/PID/...) */
	dev_t dev;
	ino_t ino;
	const char *kind;	/* "openssl", "gnutls", "boringssl", "openssl-static", "go",
				 * "rustls", "libc" */
	const char *method;	/* "symbols", "symbols (.gopclntab)" or "signatures" */
	const char *version;	/* when known ("Bun v1.4.6", "OpenSSL 3.6.4", "go1.19.8",
				 * "rustls 0.23.46"), else "" */
	enum attach_state state;
	const char *reason;	/* why FAILED or UNCOVERED; notes when ATTACHED; may be NULL */
	int probes;		/* uprobes attached */
};

typedef void (*attach_record_fn)(void *ctx, const struct attach_record *r);

/* Hand fn every file found to be of a kind (attached, failed, uncovered). */
void attach_records(const struct attach *a, attach_record_fn fn, void *ctx);

/* Hand fn the records of the files process pid executes and maps (by
 * device and inode: the same file seen under another path matches).
 * Returns how many. A file of pid's not looked at yet gives none. */
int attach_records_pid(const struct attach *a, pid_t pid, attach_record_fn fn, void *ctx);

#endif
