/* attach_int.h -- what capture/attach.c and attach_proc.c share: the attach state, its records of the files looked at, and the kinds by index. */
#ifndef LLMTAP_ATTACH_INT_H
#define LLMTAP_ATTACH_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/attach.h"

/* Rows of attach.c's table of kinds, and most probes of one kind. */
#define ATTACH_KINDS	6
#define PROBES_MAX	16

struct bpf_program;
struct bpf_link;
struct scan_queue;

/* A file looked at for a kind: attached, failed, uncovered, or known not to
 * be one (state 0). */
struct target {
	dev_t dev;
	ino_t ino;
	size_t kind;
	enum attach_state state;	/* 0: not of this kind */
	int probes;
	char *path;			/* as first seen */
	char *reason;
	char version[48];
};

/* What a kind has at run time. */
struct kind_state {
	int on;					/* its programs are loaded */
	int files;				/* files attached */
	struct bpf_program *progs[PROBES_MAX];	/* by probe */
};

#define ATTACH_RESCANS_MAX 1024

/* A process to look at again after it exec'd. */
struct rescan {
	pid_t pid;
	uint64_t due_ns;
};

struct attach {
	struct kind_state ks[ATTACH_KINDS];
	struct rescan rescans[ATTACH_RESCANS_MAX];
	int nrescans;
	struct target *targets;
	size_t ntargets, cap_targets;
	struct bpf_link **links;
	size_t nlinks, cap_links;
	struct scan_queue *scans;	/* executables without symbols */
	int scan_wait;			/* scan large files here (start-up) instead of queueing */
};

/* Attach kind k's probes to the file at path (shown as shown in messages
 * and records; pid: the process it is for, 0 for none), unless it was
 * looked at for k already (same inode) or is not one. A file that fails is
 * not tried again. Returns 1 when attached now, 0 when not needed (or its
 * scan is queued), or a negative errno (message printed, none of its probes
 * left attached). */
int attach_file(struct attach *a, size_t k, const char *path, const char *shown, pid_t pid);

/* Kind k's name, its method ("symbols", "symbols (.gopclntab)",
 * "signatures"), whether a process's executable may be one, and whether
 * its executables are scanned. */
const char *attach_kind_name(size_t k);
const char *attach_kind_method(size_t k);
int attach_kind_exe(size_t k);
int attach_kind_scanned(size_t k);

#endif
