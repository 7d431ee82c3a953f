/* procfs.h -- small readers of /proc for the daemon side: a process's executable and name, whether it is alive. */
#ifndef LLMTAP_PROCFS_H
#define LLMTAP_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/* Executable path of a process into out (NUL-terminated); "" when gone. */
void procfs_exe(pid_t pid, char *out, size_t size);
/* Name of a process (its main thread's comm) into out; "" when gone. */
void procfs_comm(pid_t pid, char *out, size_t size);
/* 1 when the process exists (a zombie counts as gone), else 0. */
int procfs_alive(pid_t pid);

#endif
