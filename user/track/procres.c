/* procres.c -- what a process holds and has done, from /proc: memory, threads, open files, state, I/O bytes.
 *
 * These are the kernel's own counters, read when the sampler already
 * visits a process (it ran during the interval): /proc/PID/status for the
 * memory and the thread count, /proc/PID/io for the bytes read and written
 * (rchar/wchar count every read()/write(), sockets and pipes too;
 * read_bytes/write_bytes what reached the storage layer), /proc/PID/fd for
 * the open files. */
#include "track/procres.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The value of the "Name:" line in text (a /proc key-value file), or NULL. */
static const char *kv_find(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, name, n) && p[n] == ':')
			return p + n + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* The number after "Name:" in text, times mult; unchanged *v when absent. */
static void kv_num(const char *text, const char *name, long long mult, int64_t *v)
{
	const char *p = kv_find(text, name);
	char *end;
	long long x;

	if (!p)
		return;
	x = strtoll(p, &end, 10);
	if (end != p)
		*v = x * mult;
}

void procres_parse_status(const char *text, struct proc_res *out)
{
	const char *st = kv_find(text, "State");

	kv_num(text, "VmRSS", 1024, &out->rss_bytes);
	kv_num(text, "VmHWM", 1024, &out->rss_max_bytes);
	kv_num(text, "VmSize", 1024, &out->vms_bytes);
	kv_num(text, "Threads", 1, &out->num_threads);
	if (st) {
		while (*st == ' ' || *st == '\t')
			st++;
		if (*st >= 'A' && *st <= 'z')
			out->state = *st;
	}
}

void procres_parse_io(const char *text, struct proc_res *out)
{
	kv_num(text, "rchar", 1, &out->read_bytes);
	kv_num(text, "wchar", 1, &out->write_bytes);
	kv_num(text, "read_bytes", 1, &out->disk_read_bytes);
	kv_num(text, "write_bytes", 1, &out->disk_write_bytes);
}

/* Read /proc/PID/name into buf (NUL-terminated). Returns 0, -1 when unreadable. */
static int read_small(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* Open descriptors of pid; PROC_NULL when the directory cannot be read. */
static int64_t count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int64_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return PROC_NULL;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int procres_read(pid_t pid, struct proc_res *out)
{
	char buf[4096];

	proc_res_init(out);
	if (read_small(pid, "status", buf, sizeof(buf)))
		return -1;
	procres_parse_status(buf, out);
	if (!read_small(pid, "io", buf, sizeof(buf)))
		procres_parse_io(buf, out);
	out->fds = count_fds(pid);
	return 0;
}

/* cur - prev of one counter: unknown when either is, 0 when it went back. */
static int64_t counter_delta(int64_t prev, int64_t cur)
{
	if (prev == PROC_NULL || cur == PROC_NULL)
		return PROC_NULL;
	return cur > prev ? cur - prev : 0;
}

void procres_delta(const struct proc_res *prev, const struct proc_res *cur, struct proc_res *d)
{
	*d = *cur;
	d->read_bytes = counter_delta(prev->read_bytes, cur->read_bytes);
	d->write_bytes = counter_delta(prev->write_bytes, cur->write_bytes);
	d->disk_read_bytes = counter_delta(prev->disk_read_bytes, cur->disk_read_bytes);
	d->disk_write_bytes = counter_delta(prev->disk_write_bytes, cur->disk_write_bytes);
}

int procres_sample(pid_t pid, struct proc_res *last, int *have, int born_after,
		   struct proc_res *interval)
{
	struct proc_res now, zero;

	if (procres_read(pid, &now)) {
		proc_res_init(interval);
		return -1;
	}
	if (*have) {
		procres_delta(last, &now, interval);
	} else if (born_after) {
		memset(&zero, 0, sizeof(zero));
		procres_delta(&zero, &now, interval);
	} else {
		proc_res_init(&zero);
		procres_delta(&zero, &now, interval);
	}
	*last = now;
	*have = 1;
	return 0;
}
