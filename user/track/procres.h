/* procres.h -- what a process holds and has done, from /proc: memory, threads, open files, state, I/O bytes. */
#ifndef LLMTAP_PROCRES_H
#define LLMTAP_PROCRES_H

#include <sys/types.h>

#include "db/rows.h"

/* Fill from the text of /proc/PID/status: rss_bytes (VmRSS), rss_max_bytes
 * (VmHWM), vms_bytes (VmSize), num_threads (Threads), state (State). Fields
 * the text lacks (a zombie has no Vm* lines) are left as they are. */
void procres_parse_status(const char *text, struct proc_res *out);

/* Fill from the text of /proc/PID/io: read_bytes (rchar), write_bytes
 * (wchar), disk_read_bytes (read_bytes), disk_write_bytes (write_bytes). */
void procres_parse_io(const char *text, struct proc_res *out);

/* Read pid's resources now (totals since it started; fds counted in
 * /proc/PID/fd). Returns 0, or -1 when the process is gone (out then has
 * every field unknown). */
int procres_read(pid_t pid, struct proc_res *out);

/* What changed from prev to cur: the I/O counters as differences (unknown
 * when either is unknown; 0 when a counter went back), the sizes, fds,
 * threads and state as cur has them. */
void procres_delta(const struct proc_res *prev, const struct proc_res *cur, struct proc_res *d);

/* A sample of pid: read its resources now into *last and put in *interval
 * the sizes now and the I/O since the previous read (*have set: *last
 * holds it); without one, the I/O since the process started when born_after
 * (it started after the tracer), else unknown. Returns 0, -1 when the
 * process is gone (*interval unknown, *last kept). */
int procres_sample(pid_t pid, struct proc_res *last, int *have, int born_after,
		   struct proc_res *interval);

#endif
