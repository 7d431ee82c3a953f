/* procfs.h -- small readers of /proc for the daemon side: a process's executable and name, whether it is alive. */
#ifndef LLMTAP_PROCFS_H
#define LLMTAP_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/* Executable path of a process into out (NUL-terminated); "" when gone. */
void procfs_exe(pid_t pid, char *out, size_t size);
/* Name of a process (its main thread's comm) into out; "" when gone. */
void procfs_comm(pid_t pid, char *out, size_t size);
/* 1 when no process pid exists, reaped zombies included (one kill(pid, 0):
 * cheaper than a failed /proc lookup); 0 when it exists, as a zombie too. */
int procfs_gone(pid_t pid);
/* 1 when the process exists (a zombie counts as gone), else 0. A process
 * whose main thread exited while others run on is alive. */
int procfs_alive(pid_t pid);
/* The /proc directory that speaks for process pid into out: "/proc/PID",
 * or when its main thread exited first (a zombie whose memory, exe and
 * root are gone while its other threads run on) "/proc/PID/task/TID" of a
 * thread that runs. Returns 0 for "/proc/PID", 1 for a thread's
 * directory, -1 when no thread of it runs ("/proc/PID" in out). */
int procfs_task_dir(pid_t pid, char *out, size_t size);

/* The inode of the mount namespace of /proc/WHO ("self", a pid): the
 * namespace's number, as the kernel's ns.inum has it. 0 when unknown. */
ino_t procfs_mnt_ns(const char *who);

/* The start time of a process (/proc/PID/stat field 22, clock ticks since
 * boot): with the pid, it names one process for good. 0 when gone. */
unsigned long long procfs_start_ticks(pid_t pid);

/* The cgroup a process is in, from /proc/PID/cgroup, into out: the
 * unified hierarchy's path ("0::/system.slice/docker-ID.scope") unless
 * that is the root, else the first v1 hierarchy's path that is not the
 * root. "" in the root cgroup or when the process is gone. */
void procfs_cgroup(pid_t pid, char *out, size_t size);

/* The container a cgroup path names: the last run of exactly 64 hex
 * digits in it (Docker, containerd, CRI-O, Podman: ".../docker-ID.scope",
 * "/docker/ID", "cri-containerd-ID.scope", "crio-ID", "libpod-ID") into
 * out[65]. Returns 1, or 0 and "" when it names none. */
int procfs_container_id(const char *cgroup, char out[65]);

#endif
