/* attach.h -- finding the files to probe (on the host and in a process) and attaching the TLS and DNS uprobes to them. */
#ifndef LLMTAP_ATTACH_H
#define LLMTAP_ATTACH_H

#include <stddef.h>
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

/* Attach to every file of a known kind on the host: the loader paths and
 * cache, runtimes on PATH, and what every running process executes or has
 * mapped. Returns the TLS files attached so far. */
int attach_host(struct attach *a);

/* Attach to what process pid runs: its executable and the libraries it
 * maps, those not looked at yet. Returns files newly attached (0: none). */
int attach_pid(struct attach *a, pid_t pid);

/* A process exec'd file: attach to what it runs now, and look at it again
 * a little later (the dynamic loader and dlopen map libraries after exec). */
void attach_exec(struct attach *a, pid_t pid, const char *comm, const char *file);

/* Look again at the processes whose time has come (see attach_exec()). */
void attach_rescans_run(struct attach *a);

/* TLS libraries and executables attached so far. */
int attach_tls_files(const struct attach *a);

/* Uprobe links held (each costs the kernel ~0.1 s to detach). */
size_t attach_links(const struct attach *a);

/* Detach every uprobe and free a; NULL is fine. */
void attach_free(struct attach *a);

/* ---- what was hooked, file by file (`llmtap doctor` shows it) ---------------- */

/* How the plaintext of a file's TLS is reached. */
enum attach_method {
	ATTACH_NONE = 0,	/* not hooked: the record's reason says why */
	ATTACH_SYMBOLS,		/* uprobes on the functions' symbols (.dynsym / .symtab) */
	ATTACH_SIGNATURES,	/* uprobes at addresses found by byte signatures (stripped) */
	ATTACH_SYSCALLS,	/* no TLS library: plaintext from socket syscalls (plain HTTP) */
};

#define ATTACH_PATH_MAX		256
#define ATTACH_REASON_MAX	160

/* One file (library or executable) that a TLS kind claimed, and what came of
 * it: attached with a method, or not and why. A file no kind claims (a
 * libc, a python3 without TLS inside) has no record. Records live as long
 * as the struct attach. */
struct attach_record {
	dev_t dev;
	ino_t ino;
	char path[ATTACH_PATH_MAX];	/* where it was first found (/proc/PID/root/...) */
	const char *kind;		/* the kind's name: "openssl", "gnutls", ... (static) */
	enum attach_method method;	/* ATTACH_NONE: not hooked */
	char reason[ATTACH_REASON_MAX];	/* ATTACH_NONE: why ("no signature matched (Bun
					 * 1.5.0?)"); else a detail or "" */
};

/* "none", "symbols", "signatures", "syscalls". */
const char *attach_method_name(enum attach_method m);

/* The record of file (dev, ino), or NULL when no TLS kind claimed it. */
const struct attach_record *attach_record_find(const struct attach *a, dev_t dev, ino_t ino);

/* Hand every record to fn, in the order the files were found. */
void attach_records(const struct attach *a,
		    void (*fn)(void *ctx, const struct attach_record *r), void *ctx);

#endif
