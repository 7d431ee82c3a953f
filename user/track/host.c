/* host.c -- the host's own health every sample: CPU, load, memory, pressure, filesystems, disks, network interfaces.
 *
 * Everything here is a counter or a gauge the kernel already keeps, so
 * /proc is the source (exact, and one read per file per sample, cheaper
 * than tracing every block request or packet): /proc/stat, /proc/meminfo,
 * /proc/loadavg, /proc/pressure/{cpu,memory,io}, /proc/diskstats (whole
 * disks from /sys/block), /proc/net/dev, and statvfs() of the watched
 * paths with their mount from /proc/self/mountinfo. Rates are over the
 * time between two samples; devices and interfaces that did nothing
 * during an interval write no row. */
#include "track/host.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/util.h"
#include "track/events.h"

#define DEVS_MAX 256
#define FS_REARM_PCT 2.0	/* a filesystem below its threshold by this much is re-armed */
#define FS_FULL_PCT 99.0

/* ---- parsers ---- */

int host_parse_stat(const char *text, struct host_cpu *out)
{
	const char *p = text;
	int found = 0;

	memset(out, 0, sizeof(*out));
	out->running = out->blocked = -1;
	while (p && *p) {
		unsigned long long v[8] = { 0 };
		long long n;

		if (!strncmp(p, "cpu ", 4) &&
		    sscanf(p + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
			   &v[4], &v[5], &v[6], &v[7]) >= 4) {
			out->user = v[0];
			out->nice = v[1];
			out->system = v[2];
			out->idle = v[3];
			out->iowait = v[4];
			out->irq = v[5];
			out->softirq = v[6];
			out->steal = v[7];
			found = 1;
		} else if (!strncmp(p, "cpu", 3) && p[3] >= '0' && p[3] <= '9') {
			out->cpus++;
		} else if (sscanf(p, "procs_running %lld", &n) == 1) {
			out->running = n;
		} else if (sscanf(p, "procs_blocked %lld", &n) == 1) {
			out->blocked = n;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return found ? 0 : -1;
}

void host_parse_meminfo(const char *text, struct host_mem *out)
{
	static const struct { const char *name; size_t off; } keys[] = {
		{ "MemTotal:", offsetof(struct host_mem, total) },
		{ "MemAvailable:", offsetof(struct host_mem, available) },
		{ "MemFree:", offsetof(struct host_mem, free) },
		{ "SwapTotal:", offsetof(struct host_mem, swap_total) },
		{ "SwapFree:", offsetof(struct host_mem, swap_free) },
	};
	const char *p = text;
	size_t i;

	out->total = out->available = out->free = out->swap_total = out->swap_free = -1;
	while (p && *p) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t n = strlen(keys[i].name);
			long long kb;

			if (!strncmp(p, keys[i].name, n) && sscanf(p + n, "%lld", &kb) == 1)
				*(int64_t *)((char *)out + keys[i].off) = kb * 1024;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

int host_parse_loadavg(const char *text, double *l1, double *l5, double *l15)
{
	return sscanf(text, "%lf %lf %lf", l1, l5, l15) == 3 ? 0 : -1;
}

int host_parse_psi(const char *text, uint64_t *some_us)
{
	const char *p = strstr(text, "some ");
	unsigned long long v;

	if (!p || !(p = strstr(p, "total=")) || sscanf(p + 6, "%llu", &v) != 1)
		return -1;
	*some_us = v;
	return 0;
}

size_t host_parse_diskstats(const char *text, struct host_disk *out, size_t max)
{
	const char *p = text;
	size_t n = 0;

	while (p && *p && n < max) {
		unsigned long long r, rs, w, ws, io;
		char name[32];

		/* major minor name reads merged sectors ms writes merged sectors ms inflight io_ms */
		if (sscanf(p, " %*u %*u %31s %llu %*u %llu %*u %llu %*u %llu %*u %*u %llu", name, &r, &rs,
			   &w, &ws, &io) == 6) {
			snprintf(out[n].name, sizeof(out[n].name), "%s", name);
			out[n].reads = r;
			out[n].read_sectors = rs;
			out[n].writes = w;
			out[n].write_sectors = ws;
			out[n].io_ms = io;
			n++;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

size_t host_parse_netdev(const char *text, struct host_iface *out, size_t max)
{
	const char *p = text;
	size_t n = 0;

	while (p && *p && n < max) {
		const char *colon = strchr(p, ':'), *eol = strchr(p, '\n');
		unsigned long long v[16];
		size_t len;

		if (colon && (!eol || colon < eol) &&
		    sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu"
			   " %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			   &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]) == 16) {
			while (*p == ' ')
				p++;
			len = colon - p;
			if (len >= sizeof(out[n].name))
				len = sizeof(out[n].name) - 1;
			memcpy(out[n].name, p, len);
			out[n].name[len] = 0;
			out[n].rx_bytes = v[0];
			out[n].rx_packets = v[1];
			out[n].rx_errs = v[2];
			out[n].rx_drop = v[3];
			out[n].tx_bytes = v[8];
			out[n].tx_packets = v[9];
			out[n].tx_errs = v[10];
			out[n].tx_drop = v[11];
			n++;
		}
		p = eol ? eol + 1 : NULL;
	}
	return n;
}

/* ---- the sampler ---- */

struct watched_fs {
	char *path;
	int state;			/* 0 fine, 1 over high_pct reported, 2 full reported */
};

struct host_sampler {
	struct row_sink sink;
	double high_pct;
	struct watched_fs fs[HOST_PATHS_MAX];
	int nfs;
	uint64_t prev_ns;		/* monotonic; 0 before the first sample */
	struct host_cpu cpu;
	uint64_t psi[3];
	int have_psi[3];
	struct host_disk *disks;	/* DEVS_MAX each, the previous sample's */
	size_t ndisks;
	struct host_iface *ifaces;
	size_t nifaces;
};

/* Read a /proc file into buf (NUL-terminated). Returns bytes, -1 on error. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return got;
}

struct host_sampler *host_new(const struct row_sink *sink, const char *const *paths, int npaths,
			      double high_pct)
{
	struct host_sampler *h = calloc(1, sizeof(*h));
	int i;

	if (!h)
		return NULL;
	if (sink)
		h->sink = *sink;
	h->high_pct = high_pct;
	h->disks = calloc(DEVS_MAX, sizeof(*h->disks));
	h->ifaces = calloc(DEVS_MAX, sizeof(*h->ifaces));
	if (!h->disks || !h->ifaces)
		goto out_free;
	for (i = 0; i < npaths && h->nfs < HOST_PATHS_MAX; i++) {
		h->fs[h->nfs].path = strdup(paths[i]);
		if (!h->fs[h->nfs].path)
			goto out_free;
		h->nfs++;
	}
	return h;

out_free:
	host_free(h);
	return NULL;
}

void host_free(struct host_sampler *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < h->nfs; i++)
		free(h->fs[i].path);
	free(h->disks);
	free(h->ifaces);
	free(h);
}

/* Per second over dt_s of the growth of a counter (0 when it went back). */
static double rate(uint64_t prev, uint64_t cur, double dt_s)
{
	return cur > prev && dt_s > 0 ? (cur - prev) / dt_s : 0;
}

/* CPU shares, process counts, load and memory into r; the counters are kept. */
static void sample_cpu_mem(struct host_sampler *h, struct host_row *r, int first)
{
	static const char *const psi_files[3] = { "/proc/pressure/cpu", "/proc/pressure/memory",
						  "/proc/pressure/io" };
	double *psi_out[3] = { &r->psi_cpu_pct, &r->psi_mem_pct, &r->psi_io_pct };
	struct host_cpu c;
	struct host_mem m;
	char buf[16384];
	int i;

	if (read_file("/proc/stat", buf, sizeof(buf)) > 0 && !host_parse_stat(buf, &c)) {
		uint64_t user = c.user + c.nice - (h->cpu.user + h->cpu.nice);
		uint64_t sys = c.system + c.irq + c.softirq - (h->cpu.system + h->cpu.irq + h->cpu.softirq);
		uint64_t iow = c.iowait >= h->cpu.iowait ? c.iowait - h->cpu.iowait : 0;
		uint64_t steal = c.steal - h->cpu.steal, idle = c.idle - h->cpu.idle;
		double total = (double)user + sys + iow + steal + idle;

		if (!first && total > 0) {
			r->cpu_user_pct = 100.0 * user / total;
			r->cpu_system_pct = 100.0 * sys / total;
			r->cpu_iowait_pct = 100.0 * iow / total;
			r->cpu_steal_pct = 100.0 * steal / total;
			r->cpu_idle_pct = 100.0 * idle / total;
		}
		r->cpus = c.cpus;
		r->procs_running = c.running >= 0 ? c.running : PROC_NULL;
		r->procs_blocked = c.blocked >= 0 ? c.blocked : PROC_NULL;
		h->cpu = c;
	}
	if (read_file("/proc/loadavg", buf, sizeof(buf)) > 0)
		host_parse_loadavg(buf, &r->load1, &r->load5, &r->load15);
	if (read_file("/proc/meminfo", buf, sizeof(buf)) > 0) {
		host_parse_meminfo(buf, &m);
		if (m.available < 0 && m.free >= 0)
			m.available = m.free;	/* kernels before 3.14 */
		r->mem_total_bytes = m.total >= 0 ? m.total : PROC_NULL;
		r->mem_available_bytes = m.available >= 0 ? m.available : PROC_NULL;
		r->mem_used_bytes = m.total >= 0 && m.available >= 0 ? m.total - m.available : PROC_NULL;
		r->swap_total_bytes = m.swap_total >= 0 ? m.swap_total : PROC_NULL;
		r->swap_used_bytes = m.swap_total >= 0 && m.swap_free >= 0 ?
				     m.swap_total - m.swap_free : PROC_NULL;
	}
	for (i = 0; i < 3; i++) {
		uint64_t us;

		if (read_file(psi_files[i], buf, sizeof(buf)) <= 0 || host_parse_psi(buf, &us))
			continue;
		if (h->have_psi[i] && !first && r->interval_ms > 0)
			*psi_out[i] = 100.0 * rate(h->psi[i], us, 1) / (r->interval_ms * 1000.0);
		if (*psi_out[i] > 100)
			*psi_out[i] = 100;
		h->psi[i] = us;
		h->have_psi[i] = 1;
	}
}

/* 1 when /sys/block/name is a whole disk; *physical when it is backed by a
 * device (not loop, ram, zram, device-mapper or md stacked on others). */
static int whole_disk(const char *name, int *physical)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/block/%s", name);
	if (access(path, F_OK))
		return 0;
	snprintf(path, sizeof(path), "/sys/block/%s/device", name);
	*physical = !access(path, F_OK) && strncmp(name, "zram", 4);
	return 1;
}

/* The previous sample's entry of the disk (interface) named name, or NULL. */
static const struct host_disk *disk_prev(const struct host_sampler *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->ndisks; i++)
		if (!strcmp(h->disks[i].name, name))
			return &h->disks[i];
	return NULL;
}

static const struct host_iface *iface_prev(const struct host_sampler *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nifaces; i++)
		if (!strcmp(h->ifaces[i].name, name))
			return &h->ifaces[i];
	return NULL;
}

/* disk_samples rows and the disk totals of r (physical disks only). */
static void sample_disks(struct host_sampler *h, struct host_row *r, double dt_s, int first)
{
	struct host_disk *cur = calloc(DEVS_MAX, sizeof(*cur));
	char *buf = malloc(65536);
	size_t n = 0, i;

	if (!cur || !buf || read_file("/proc/diskstats", buf, 65536) < 0)
		goto out_free;
	n = host_parse_diskstats(buf, cur, DEVS_MAX);
	for (i = 0; i < n && !first; i++) {
		const struct host_disk *p = disk_prev(h, cur[i].name);
		struct disk_row *d;
		int physical = 0;

		if (!p || !whole_disk(cur[i].name, &physical))
			continue;
		if (cur[i].reads == p->reads && cur[i].writes == p->writes && cur[i].io_ms == p->io_ms)
			continue;
		if (physical) {
			r->disk_read_bps += rate(p->read_sectors, cur[i].read_sectors, dt_s) * 512;
			r->disk_write_bps += rate(p->write_sectors, cur[i].write_sectors, dt_s) * 512;
			r->disk_read_iops += rate(p->reads, cur[i].reads, dt_s);
			r->disk_write_iops += rate(p->writes, cur[i].writes, dt_s);
		}
		d = calloc(1, sizeof(*d));
		if (!d)
			continue;
		d->ts_ns = r->ts_ns;
		d->interval_ms = r->interval_ms;
		snprintf(d->device, sizeof(d->device), "%s", cur[i].name);
		d->read_bps = rate(p->read_sectors, cur[i].read_sectors, dt_s) * 512;
		d->write_bps = rate(p->write_sectors, cur[i].write_sectors, dt_s) * 512;
		d->read_iops = rate(p->reads, cur[i].reads, dt_s);
		d->write_iops = rate(p->writes, cur[i].writes, dt_s);
		d->util_pct = rate(p->io_ms, cur[i].io_ms, dt_s) / 10.0;
		if (d->util_pct > 100)
			d->util_pct = 100;
		row_emit(&h->sink, ROW_DISK, d);
	}
	memcpy(h->disks, cur, n * sizeof(*cur));
	h->ndisks = n;
out_free:
	free(cur);
	free(buf);
}

/* net_samples rows and the network totals of r (every interface but lo). */
static void sample_ifaces(struct host_sampler *h, struct host_row *r, double dt_s, int first)
{
	struct host_iface *cur = calloc(DEVS_MAX, sizeof(*cur));
	char *buf = malloc(65536);
	size_t n = 0, i;

	if (!cur || !buf || read_file("/proc/net/dev", buf, 65536) < 0)
		goto out_free;
	n = host_parse_netdev(buf, cur, DEVS_MAX);
	for (i = 0; i < n && !first; i++) {
		const struct host_iface *p = iface_prev(h, cur[i].name);
		const struct host_iface *c = &cur[i];
		struct net_row *d;

		if (!p || (c->rx_packets == p->rx_packets && c->tx_packets == p->tx_packets &&
			   c->rx_errs + c->tx_errs + c->rx_drop + c->tx_drop ==
			   p->rx_errs + p->tx_errs + p->rx_drop + p->tx_drop))
			continue;
		d = calloc(1, sizeof(*d));
		if (!d)
			continue;
		d->ts_ns = r->ts_ns;
		d->interval_ms = r->interval_ms;
		snprintf(d->iface, sizeof(d->iface), "%s", c->name);
		d->rx_bps = rate(p->rx_bytes, c->rx_bytes, dt_s);
		d->tx_bps = rate(p->tx_bytes, c->tx_bytes, dt_s);
		d->rx_pps = rate(p->rx_packets, c->rx_packets, dt_s);
		d->tx_pps = rate(p->tx_packets, c->tx_packets, dt_s);
		d->rx_errors_ps = rate(p->rx_errs, c->rx_errs, dt_s);
		d->tx_errors_ps = rate(p->tx_errs, c->tx_errs, dt_s);
		d->rx_drops_ps = rate(p->rx_drop, c->rx_drop, dt_s);
		d->tx_drops_ps = rate(p->tx_drop, c->tx_drop, dt_s);
		if (strcmp(c->name, "lo")) {
			r->net_rx_bps += d->rx_bps;
			r->net_tx_bps += d->tx_bps;
			r->net_rx_pps += d->rx_pps;
			r->net_tx_pps += d->tx_pps;
			r->net_errors_ps += d->rx_errors_ps + d->tx_errors_ps;
			r->net_drops_ps += d->rx_drops_ps + d->tx_drops_ps;
		}
		row_emit(&h->sink, ROW_NET, d);
	}
	memcpy(h->ifaces, cur, n * sizeof(*cur));
	h->nifaces = n;
out_free:
	free(cur);
	free(buf);
}

/* The mount of dev (st_dev) that holds real (the longest mount point that
 * is a prefix of it): mount point, type and source, malloc'd. Returns 0, -1. */
static int mount_of(dev_t dev, const char *real, char **mnt, char **type, char **src)
{
	char line[4096], best[PATH_MAX] = "", btype[64] = "", bsrc[256] = "";
	size_t blen = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned ma, mi;
		char mp[PATH_MAX], fst[64], so[256];
		const char *dash = strstr(line, " - ");
		size_t len;

		/* id parent major:minor root mountpoint ... - fstype source superopts */
		if (!dash || sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mp) != 3 ||
		    sscanf(dash + 3, "%63s %255s", fst, so) != 2 || makedev(ma, mi) != dev)
			continue;
		len = strlen(mp);
		if (len < blen || strncmp(real, mp, len) || (real[len] && real[len] != '/' && len > 1))
			continue;
		snprintf(best, sizeof(best), "%s", mp);
		snprintf(btype, sizeof(btype), "%s", fst);
		snprintf(bsrc, sizeof(bsrc), "%s", so);
		blen = len;
	}
	fclose(f);
	if (!best[0])
		return -1;
	*mnt = strdup(best);
	*type = strdup(btype);
	*src = strdup(bsrc);
	return 0;
}

double host_fs_used_pct(const char *path)
{
	struct statvfs v;
	double used, avail;

	if (statvfs(path, &v) || !v.f_blocks)
		return -1;
	used = (double)(v.f_blocks - v.f_bfree) * v.f_frsize;
	avail = (double)v.f_bavail * v.f_frsize;
	return used + avail > 0 ? 100.0 * used / (used + avail) : -1;
}

/* The events row when fs crosses its thresholds (once each, re-armed
 * below them). */
static void fs_thresholds(struct host_sampler *h, struct watched_fs *w, const struct fs_row *r)
{
	int full = r->avail_bytes == 0 || r->used_pct >= FS_FULL_PCT ||
		   (r->inodes_avail != PROC_NULL && r->inodes_avail == 0);
	int high = h->high_pct > 0 && r->used_pct >= h->high_pct;
	int state = full ? 2 : high ? 1 : 0;

	if (state > w->state) {
		log_warn("disk: %s (%s) is %.1f%% full, %lld bytes and %lld inodes left", r->mount,
			 w->path, r->used_pct, (long long)r->avail_bytes,
			 (long long)(r->inodes_avail == PROC_NULL ? -1 : r->inodes_avail));
		events_notice(full ? SEV_ERROR : SEV_WARNING, full ? "disk.full" : "disk.high", PROC_NULL,
			      json_pack("{s:s, s:s, s:f, s:f, s:I, s:I}", "path", w->path, "mount",
					r->mount ? r->mount : "", "used_pct", r->used_pct, "threshold_pct",
					full ? FS_FULL_PCT : h->high_pct, "avail_bytes",
					(json_int_t)r->avail_bytes, "inodes_avail",
					(json_int_t)(r->inodes_avail == PROC_NULL ? -1 : r->inodes_avail)));
		w->state = state;
	} else if (state < w->state &&
		   r->used_pct < (w->state == 2 ? FS_FULL_PCT : h->high_pct) - FS_REARM_PCT) {
		w->state = state;
	}
}

/* One fs_samples row per watched filesystem (a filesystem watched through
 * several paths is written once, under the first). */
static void sample_fs(struct host_sampler *h, int64_t ts_ns)
{
	dev_t seen[HOST_PATHS_MAX];
	int nseen = 0, i, j;

	for (i = 0; i < h->nfs; i++) {
		struct watched_fs *w = &h->fs[i];
		char real[PATH_MAX];
		struct statvfs v;
		struct stat st;
		struct fs_row *r;

		if (stat(w->path, &st) || statvfs(w->path, &v) || !realpath(w->path, real))
			continue;
		for (j = 0; j < nseen && seen[j] != st.st_dev; j++)
			;
		if (j < nseen)
			continue;
		seen[nseen++] = st.st_dev;
		r = calloc(1, sizeof(*r));
		if (!r || !(r->path = strdup(w->path))) {
			free(r);
			continue;
		}
		r->ts_ns = ts_ns;
		mount_of(st.st_dev, real, &r->mount, &r->fstype, &r->device);
		r->total_bytes = (int64_t)v.f_blocks * v.f_frsize;
		r->avail_bytes = (int64_t)v.f_bavail * v.f_frsize;
		r->used_bytes = (int64_t)(v.f_blocks - v.f_bfree) * v.f_frsize;
		r->used_pct = r->used_bytes + r->avail_bytes > 0 ?
			      100.0 * r->used_bytes / (r->used_bytes + r->avail_bytes) : 0;
		r->inodes_total = v.f_files ? (int64_t)v.f_files : PROC_NULL;
		r->inodes_used = v.f_files ? (int64_t)(v.f_files - v.f_ffree) : PROC_NULL;
		r->inodes_avail = v.f_files ? (int64_t)v.f_favail : PROC_NULL;
		fs_thresholds(h, w, r);
		row_emit(&h->sink, ROW_FS, r);
	}
}

void host_sample(struct host_sampler *h, uint64_t now)
{
	struct host_row *r;
	int first = !h->prev_ns;
	double dt_s = first ? 0 : (now - h->prev_ns) / 1e9;

	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->ts_ns = (int64_t)mono_to_epoch_ns(now);
	r->interval_ms = dt_s * 1e3;
	r->cpu_user_pct = r->cpu_system_pct = r->cpu_iowait_pct = HOST_NULL;
	r->cpu_steal_pct = r->cpu_idle_pct = HOST_NULL;
	r->load1 = r->load5 = r->load15 = HOST_NULL;
	r->psi_cpu_pct = r->psi_mem_pct = r->psi_io_pct = HOST_NULL;
	r->cpus = r->procs_running = r->procs_blocked = PROC_NULL;
	r->mem_total_bytes = r->mem_used_bytes = r->mem_available_bytes = PROC_NULL;
	r->swap_total_bytes = r->swap_used_bytes = PROC_NULL;
	sample_cpu_mem(h, r, first);
	sample_disks(h, r, dt_s, first);
	sample_ifaces(h, r, dt_s, first);
	sample_fs(h, r->ts_ns);
	h->prev_ns = now;
	if (first) {	/* rates need two samples: the first only keeps the counters */
		row_free(ROW_HOST, r);
		return;
	}
	row_emit(&h->sink, ROW_HOST, r);
}
