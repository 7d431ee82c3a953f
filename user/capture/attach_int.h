/* attach_int.h -- what the files of capture/attach*.c share: the table of kinds (attach_kinds.c), the ELF lookups (attach_elf.c), the attach state and its targets (attach.c), discovery and records (attach_proc.c). */
#ifndef LLMTAP_ATTACH_INT_H
#define LLMTAP_ATTACH_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/htab.h"
#include "capture/attach.h"
#include "capture/placement.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Most probes of one kind, most placed pairs of one kind. */
#define PROBES_MAX 16
#define PAIRS_MAX 4

/* ---- the kinds of files we probe (attach_kinds.c) --------------------------- */

/* Where a probe goes on its function. */
enum probe_at {
	PROBE_ENTRY = 0,
	PROBE_RETURN,	/* a uretprobe */
	PROBE_RETS,	/* a uprobe on each RET instruction (Go: no uretprobes) */
};

/* One uprobe: our program on a function's entry or return. */
struct probe {
	const char *sym;	/* its symbol, or its role in the scan (scanned kinds) */
	const char *prog;	/* program name in its BPF object */
	enum probe_at at;
	int optional;		/* absent from some versions: skipped when missing */
};

/* A pair of functions with one job (a plain one and its _ex variant) whose
 * probes capture/placement.c places: at the exported entries, or at an
 * internal function both call (one probe pair for both). The programs of
 * each placement, by enum pair_prog. */
enum pair_prog {
	PP_PLAIN_ENTER, PP_PLAIN_EXIT, PP_EX_ENTER, PP_EX_EXIT, PP_SHARED_ENTER, PP_SHARED_EXIT,
	PP_MAX,
};

struct pair_probe {
	const char *plain, *ex;		/* exported names; ex may be absent from a file */
	const char *progs[PP_MAX];
};

/* What a kind's probes report. */
enum role {
	ROLE_TLS,	/* plaintext of TLS connections: counted in attach_tls_files() */
	ROLE_DNS,	/* name lookups */
};

/* A kind of file we probe: where it is found, how it is recognised, which
 * probes it gets. A new TLS stack is a new row in attach_kinds.c (and its
 * programs). Two ways to find the functions: by symbol (detect, and
 * locate or the symbol table), or by a scan of the executable
 * (capture/scan.c: scan set, detect NULL). */
struct kind {
	const char *name;			/* in messages and records */
	enum role role;
	const char *method;			/* how its probes find the functions */
	int (*name_match)(const char *base);	/* could a library of this name be one? (NULL: none) */
	/* 1 when the file is one, 0 when not; -1 when it is one that cannot
	 * be hooked, with the reason in why[0..n) (`doctor` shows it). */
	int (*detect)(const char *path, char *why, size_t n);
	/* File offsets of the probes' functions into offs[0..nprobes) (0: not
	 * found). Returns 0, or -1 with the reason in why. NULL: by symbol. */
	int (*locate)(const char *path, const struct probe *probes, size_t nprobes,
		      uint64_t *offs, char *why, size_t n);
	int scan;				/* scanned kinds: enum scan_lib_id + 1 */
	const char *const *globs;		/* where the loader finds it (NULL-ended) */
	const char *const *sonames;		/* its usual file names (NULL-ended) */
	const char *const *path_exes;		/* runtimes looked up on PATH (NULL-ended) */
	int exe;				/* a process's executable may be one */
	const struct probe *probes;
	size_t nprobes;
	const struct pair_probe *pairs;		/* placed by capture/placement.c */
	size_t npairs;
};

/* The table, and its size. */
extern const struct kind attach_kinds[];
extern const size_t attach_nkinds;
#define ATTACH_KINDS 7

/* The kind a library's file name may be (the first that claims it), or -1. */
int attach_kind_by_name(const char *path);

/* ---- ELF lookups (attach_elf.c) ---------------------------------------------- */

/* File offsets of the functions names[0..n) in the ELF file at path, from
 * .dynsym or .symtab. offs[i] is 0 when names[i] is not defined there.
 * Returns how many were found. */
size_t elf_func_offsets(const char *path, const char *const *names, size_t n, uint64_t *offs);

/* 1 when the ELF file at path defines function name (.dynsym or .symtab). */
int elf_defines(const char *path, const char *name);

/* 1 when the ELF file at path has our own class, byte order and machine. */
int elf_native(const char *path);

/* ---- state (attach.c) -------------------------------------------------------- */

struct bpf_program;
struct bpf_link;
struct scan_queue;

/* A uprobe we made: a libbpf perf-event link, or the fd of a uprobe_multi
 * link (attach_multi(), capture/umulti.c). */
struct ulink {
	struct bpf_link *bl;
	int fd;
};

/* A file looked at for a kind: attached, known not to be one, or one that
 * could not be hooked. Keyed ((dev << 8) | kind, ino). */
struct target {
	struct htab_node node;
	size_t kind;
	dev_t dev;
	ino_t ino;
	enum attach_state state;	/* 0: not one of the kind */
	int probes;
	char path[256];			/* where it was first found */
	char reason[200];		/* why not (notes when attached), or "" */
	char version[48];		/* when known, else "" */
};

/* What a kind has at run time. */
struct kind_state {
	int on;					/* its programs are loaded */
	int files;				/* files attached */
	struct bpf_program *progs[PROBES_MAX];	/* by probe */
	struct bpf_program *pair_progs[PAIRS_MAX][PP_MAX];
};

/* Where a file's pairs were placed (-v, and for doctor). */
struct placed {
	char *path;
	char *desc;
};

/* A glibc found (attach_dns.c): where getaddrinfo is, and a path that
 * reaches it from our mount namespace ("" when only a process's view
 * does). */
#define DNS_LIBCS_MAX 8
struct dns_libc {
	dev_t dev;
	ino_t ino;
	uint64_t off;
	char path[256];
};

struct dns_closer;
struct stat;

#define ATTACH_RESCANS_MAX 1024
#define ATTACH_PIDS_MAX 64

/* A process to look at again after it exec'd. */
struct rescan {
	pid_t pid;
	uint64_t due_ns;
};

struct attach {
	int dry;			/* doctor's scan: nothing is attached */
	ino_t mnt_ns;			/* our mount namespace */
	struct kind_state ks[ATTACH_KINDS];
	struct rescan rescans[ATTACH_RESCANS_MAX];
	int nrescans;
	struct htab targets;		/* struct target */
	struct target **claimed;	/* files a kind claimed, in the order found */
	size_t nclaimed, cap_claimed;
	struct ulink *links;
	size_t nlinks, cap_links;
	size_t points;			/* offsets probed (a link may hold several, or share one) */
	struct placed *placed;
	size_t nplaced, cap_placed;
	enum place_mode mode;		/* LLMTAP_PLACEMENT */
	int floor;			/* LLMTAP_PROBE_FLOOR: empty programs (make bench) */
	struct scan_queue *scans;	/* executables without symbols */
	int scan_wait;			/* scan large files here (start-up) instead of queueing */
	/* attach_multi(): uprobe_multi links, each made once per process of
	 * upids, whose memory alone gets its breakpoint (none: host-wide) */
	int multi;
	pid_t upids[ATTACH_PIDS_MAX];
	int nupids;
	int upids_wide;		/* a named process needed host-wide links (said once) */
	/* attach_dns_clients(): getaddrinfo probed in client processes alone */
	int dns_clients;
	struct dns_libc libcs[DNS_LIBCS_MAX];
	int nlibcs;
	struct htab clients;		/* struct dns_client, by pid */
	int clients_full;		/* DNS_CLIENTS_MAX reached (said once) */
	uint64_t swept_ns;		/* last attach_dns_sweep() pass */
	pid_t dns_gone;			/* the last client found gone */
	struct dns_closer *closer;	/* releases links off the reader's thread */
};

/* The htab key of file (dev, ino) for kind k. */
uint64_t attach_target_k1(dev_t dev, size_t k);

/* Attach kind k's probes to the file at path, shown (in records and
 * messages) as shown, for process pid (0: none; a queued scan names it
 * back), unless it was looked at for k already (same inode) or is not
 * one. A file that fails is not tried again. Returns 1 when attached now
 * (a dry run: would be), 0 when not needed (or its scan is queued), or a
 * negative errno (message printed, none of its probes left attached). */
int attach_file(struct attach *a, size_t k, const char *path, const char *shown, pid_t pid);

/* Call fn for each file process pid maps (attach_proc.c): see there. */
int attach_maps_each(pid_t pid, const char *dir, int thread,
		     int (*fn)(void *ctx, const char *mf, const char *shown), void *ctx);

/* ---- getaddrinfo per client process (attach_dns.c) ------------------------- */

/* 1 when kind k's probes go to client processes alone (attach_dns_clients()
 * on, host-wide, not a dry run): attach_file() then only records the file
 * (attach_dns_libc()) and attaches nothing. */
int attach_dns_lean(const struct attach *a, size_t k);

/* Remember a glibc found (file st, opened at path, shown as shown) and its
 * getaddrinfo at file offset off, for binding clients to. Returns 0, or
 * -ENOSPC past DNS_LIBCS_MAX. */
int attach_dns_libc(struct attach *a, const struct stat *st, const char *path, const char *shown,
		    uint64_t off);

/* Release every client's links and the closer (attach_free()). */
void attach_dns_free(struct attach *a);

#endif
