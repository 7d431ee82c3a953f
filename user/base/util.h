/* util.h -- small helpers for the daemon side: clocks, ids, logging, parsing of durations and sizes. */
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

/* Device number dev in the kernel's own encoding (MKDEV: major << 20 |
 * minor), as BPF programs read a superblock's s_dev; st_dev is glibc's. */
uint32_t dev_kernel(dev_t dev);
/* 1 when path leads to the file the kernel names (kdev in its encoding,
 * inode ino), else 0 (another file now, or none). */
int file_is(const char *path, uint32_t kdev, uint64_t ino);

/* Write a new UUIDv7 (time-ordered, random tail) as 36 chars + NUL. */
void uuid7(char out[37]);

/* Parse "30", "30s", "5m", "2h", "1d" into seconds. Returns 0, -1 if malformed. */
int parse_duration(const char *s, double *secs);
/* Parse "1048576", "64k", "8M", "1G" into bytes. Returns 0, -1 if malformed. */
int parse_size(const char *s, uint64_t *bytes);

#endif
