/* procwatch.h -- processes in trouble, as events rows: zombies a parent leaves unreaped, agents stuck on open connections. */
#ifndef LLMTAP_PROCWATCH_H
#define LLMTAP_PROCWATCH_H

#include <stdint.h>

#include "db/rows.h"

#define PROCWATCH_ZOMBIES_MAX 4096	/* zombie candidates followed at once */

struct procwatch;

/* A new watcher: a process still a zombie zombie_after_s after it exited
 * (or after it was first seen as one) is reported once; an agent idle
 * stuck_after_s is checked for being stuck. NULL on OOM. */
struct procwatch *procwatch_new(double zombie_after_s, double stuck_after_s);
void procwatch_free(struct procwatch *w);

/* Seconds an agent must be idle (no CPU) before procwatch_stuck() is asked. */
double procwatch_stuck_after(const struct procwatch *w);

/* pid exited at exit_mono (CLOCK_MONOTONIC; exit_ns the same as epoch ns):
 * follow it in case its parent does not reap it. */
void procwatch_exit(struct procwatch *w, uint32_t pid, const char *comm, uint64_t exit_mono,
		    int64_t exit_ns);

/* One pass at now (CLOCK_MONOTONIC): report the zombies that are due,
 * forget the reaped ones, and every 30 s look for zombies in all of /proc
 * (those whose exit was not seen). */
void procwatch_pass(struct procwatch *w, uint64_t now_mono);

/* Agent pid (comm) has used no CPU for idle_s; last holds its I/O counters
 * when it last ran. When it has an established TCP connection and its I/O
 * counters did not move, it is stuck: an events row "process.stuck" is
 * written and 1 returned; else 0. */
int procwatch_stuck(struct procwatch *w, uint32_t pid, const char *comm, double idle_s,
		    const struct proc_res *last);

/* An agent reported stuck ran again after stuck_s: "process.resumed". */
void procwatch_resumed(struct procwatch *w, uint32_t pid, const char *comm, double stuck_s);

/* Parse a /proc/PID/stat line: state, ppid and comm (cut to 15 bytes).
 * Returns 0, -1 when malformed. */
int procwatch_parse_stat(const char *line, char *state, uint32_t *ppid, char comm[16]);

/* Established TCP connections (v4 and v6) among the sockets pid holds;
 * -1 when its /proc entries cannot be read. */
int procwatch_tcp_established(uint32_t pid);

#endif
