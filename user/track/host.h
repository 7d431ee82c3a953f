/* host.h -- the host's own health every sample: CPU, load, memory, pressure, filesystems, disks, network interfaces. */
#ifndef LLMTAP_HOST_H
#define LLMTAP_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "db/rows.h"

#define HOST_PATHS_MAX 16	/* watched paths: the database's directory, /, --watch-path */

/* ---- parsers of /proc text (pure) ---- */

/* The "cpu" line of /proc/stat, in ticks, and its process counts. */
struct host_cpu {
	uint64_t user, nice, system, idle, iowait, irq, softirq, steal;
	int64_t running, blocked;	/* procs_running, procs_blocked; -1 unknown */
	int cpus;			/* cpuN lines */
};
/* Parse /proc/stat text. Returns 0, -1 without a "cpu" line. */
int host_parse_stat(const char *text, struct host_cpu *out);

/* /proc/meminfo in bytes; -1 when a line is missing. */
struct host_mem {
	int64_t total, available, free, swap_total, swap_free;
};
void host_parse_meminfo(const char *text, struct host_mem *out);

/* /proc/loadavg: the three averages. Returns 0, -1 when malformed. */
int host_parse_loadavg(const char *text, double *l1, double *l5, double *l15);

/* The "some ... total=US" of a /proc/pressure file. Returns 0, -1 when absent. */
int host_parse_psi(const char *text, uint64_t *some_us);

/* One device of /proc/diskstats (sectors are 512 bytes) or one interface
 * of /proc/net/dev. */
struct host_disk {
	char name[32];
	uint64_t reads, read_sectors, writes, write_sectors, io_ms;
};
struct host_iface {
	char name[32];
	uint64_t rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop;
};
/* Parse every line into out (at most max); returns how many. */
size_t host_parse_diskstats(const char *text, struct host_disk *out, size_t max);
size_t host_parse_netdev(const char *text, struct host_iface *out, size_t max);

/* ---- the sampler ---- */

struct host_sampler;

/* A sampler writing host_samples, fs_samples, disk_samples and net_samples
 * rows to sink, watching the filesystems of paths[0..npaths) (copied), and
 * writing an events row when one of them gets fuller than high_pct ("disk.high")
 * or full ("disk.full"). NULL on OOM. */
struct host_sampler *host_new(const struct row_sink *sink, const char *const *paths, int npaths,
			      double high_pct);
void host_free(struct host_sampler *h);

/* One sample at now (CLOCK_MONOTONIC): rates over the time since the last
 * one (the first sample only records the counters and the filesystems). */
void host_sample(struct host_sampler *h, uint64_t now_mono);

/* used / (used + available) of path's filesystem, in percent; -1 on error. */
double host_fs_used_pct(const char *path);

#endif
