/* privs.h -- what `llmtap run` keeps of root once its probes are attached: four capabilities in effect, one more only while it attaches, no new privileges, a seccomp filter. */
#ifndef LLMTAP_PRIVS_H
#define LLMTAP_PRIVS_H

/* Keep CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH in
 * effect and CAP_SYS_ADMIN permitted only (the bounding set the same), set
 * no_new_privs, load the seccomp deny list (on every thread: call it before
 * starting any, as capabilities are per thread). Returns 0, or -1 after one
 * line on stderr. */
int privs_drop(void);

/* Around the creation of uprobes and the opening of /proc/PID/map_files
 * entries (the calling thread only): CAP_SYS_ADMIN in effect, which the
 * kernel asks for both, then out of effect again.
 * Nothing before privs_drop(). */
void privs_attach_begin(void);
void privs_attach_end(void);

#endif
