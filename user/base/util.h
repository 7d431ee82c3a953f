/* util.h -- small helpers for the daemon side: clocks, ids, logging, /proc lookups. */
#ifndef LLMTAP_UTIL_H
#define LLMTAP_UTIL_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

extern int verbose;

/* Print to stderr with the "llmtap: " prefix; log_debug only with -v. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t mono_ns(void);		/* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
uint64_t real_ns(void);		/* CLOCK_REALTIME */
/* Convert a BPF (monotonic) timestamp to Unix epoch ns. */
uint64_t mono_to_epoch_ns(uint64_t mono);

/* Write a new UUIDv7 (time-ordered, random tail) as 36 chars + NUL. */
void uuid7(char out[37]);

/* Executable path of a process into out (NUL-terminated); "" when gone. */
void proc_exe(pid_t pid, char *out, size_t size);
/* 1 when the process exists (a zombie counts as gone), else 0. */
int proc_alive(pid_t pid);

/* Parse "30", "30s", "5m", "2h", "1d" into seconds. Returns 0, -1 if malformed. */
int parse_duration(const char *s, double *secs);
/* Parse "1048576", "64k", "8M", "1G" into bytes. Returns 0, -1 if malformed. */
int parse_size(const char *s, uint64_t *bytes);

#endif
