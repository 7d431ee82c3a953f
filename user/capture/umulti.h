/* umulti.h -- uprobes as the kernel's uprobe_multi links (Linux 6.6), for one process or all, which libbpf 1.1 cannot make. */
#ifndef LLMTAP_UMULTI_H
#define LLMTAP_UMULTI_H

#include <stdint.h>
#include <sys/types.h>

struct bpf_object;

/* 1 when this kernel makes uprobe_multi links (it loads a program meant
 * for one), else 0. */
int umulti_supported(void);

/* Mark obj's uprobe programs (opened, not loaded yet) for uprobe_multi
 * links: a program is loaded for one way of attaching, and once marked
 * it can be attached only with umulti_link(). */
void umulti_prepare(struct bpf_object *obj);

/* Attach the loaded program prog_fd (marked by umulti_prepare()) at the
 * file offsets offs[0..n) of path, at the functions' returns when ret, as
 * one link, for process pid alone (the kernel puts the breakpoints in that
 * process's memory only, and runs the program only for its threads), or
 * with pid 0 for every process. Returns the link's fd (closing it
 * detaches), or a negative errno (-ESRCH: no such process). */
int umulti_link(int prog_fd, const char *path, const uint64_t *offs, uint32_t n, int ret, pid_t pid);

#endif
