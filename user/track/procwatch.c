/* procwatch.c -- processes in trouble, as events rows: zombies a parent leaves unreaped, agents stuck on open connections.
 *
 * A zombie is a process that exited and whose parent has not wait()ed for
 * it: its exit event makes it a candidate, and a candidate still in state
 * Z after zombie_after is reported once (who, and which parent is not
 * reaping), then followed until it is gone. Nearly every process is
 * reaped at once: a candidate is looked at once early (EARLY_NS) and
 * forgotten when reaped, so that a host running a thousand commands a
 * second does not fill the list and hide a real zombie. Zombies whose exit was not
 * seen (older than the tracer, or lost) are found by a scan of /proc every
 * 30 s. A stuck agent is a process that made LLM calls, has an
 * established TCP connection, and has neither run nor done I/O for
 * stuck_after: typically waiting forever on a hung connection. */
#include "track/procwatch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/procfs.h"
#include "base/util.h"
#include "track/events.h"
#include "track/procres.h"

#define SCAN_EVERY_NS 30000000000ull
#define EARLY_NS 200000000ull		/* a candidate this old is looked at once */
#define INODES_MAX 4096

struct zombie {
	uint32_t pid;
	char comm[16];
	uint64_t since_mono;		/* exit, or first seen as a zombie */
	int64_t exit_ns;		/* epoch; 0 when the exit was not seen */
	int reported;
	int checked;			/* seen in state Z since (not reaped at once) */
};

struct procwatch {
	uint64_t zombie_after_ns, stuck_after_ns;
	struct zombie *z;
	size_t nz;
	uint64_t last_scan;		/* 0: never */
};

struct procwatch *procwatch_new(double zombie_after_s, double stuck_after_s)
{
	struct procwatch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->z = calloc(PROCWATCH_ZOMBIES_MAX, sizeof(*w->z));
	if (!w->z) {
		free(w);
		return NULL;
	}
	w->zombie_after_ns = (uint64_t)(zombie_after_s * 1e9);
	w->stuck_after_ns = (uint64_t)(stuck_after_s * 1e9);
	return w;
}

void procwatch_free(struct procwatch *w)
{
	if (!w)
		return;
	free(w->z);
	free(w);
}

double procwatch_stuck_after(const struct procwatch *w)
{
	return w ? w->stuck_after_ns / 1e9 : 0;
}

int procwatch_parse_stat(const char *line, char *state, uint32_t *ppid, char comm[16])
{
	const char *lp = strchr(line, '('), *rp = strrchr(line, ')');
	unsigned long pp;
	size_t n;
	char st;

	if (!lp || !rp || rp < lp || sscanf(rp + 1, " %c %lu", &st, &pp) != 2)
		return -1;
	n = rp - lp - 1;
	if (n > 15)
		n = 15;
	memcpy(comm, lp + 1, n);
	comm[n] = 0;
	*state = st;
	*ppid = (uint32_t)pp;
	return 0;
}

/* Read /proc/pid/stat. Returns 0 with state, ppid, comm; -1 when gone. */
static int stat_read(uint32_t pid, char *state, uint32_t *ppid, char comm[16])
{
	char path[64], line[512];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f))
		rc = procwatch_parse_stat(line, state, ppid, comm);
	fclose(f);
	return rc;
}

/* The candidate for pid, or NULL. */
static struct zombie *zombie_find(struct procwatch *w, uint32_t pid)
{
	size_t i;

	for (i = 0; i < w->nz; i++)
		if (w->z[i].pid == pid)
			return &w->z[i];
	return NULL;
}

static void zombie_report(struct zombie *z, uint32_t ppid, uint64_t now);

/* Look at the candidates due at now: those past zombie_after (reported
 * when still zombies) and those not looked at yet that exited min_age ago
 * or more. Forget every one reaped (gone, or its pid another process's). */
static void zombie_prune(struct procwatch *w, uint64_t now, uint64_t min_age)
{
	char state, comm[16];
	uint32_t ppid;
	size_t i, j;

	for (i = 0, j = 0; i < w->nz; i++) {
		struct zombie *z = &w->z[i];
		int due = now - z->since_mono >= w->zombie_after_ns || z->reported;
		int keep = 1;

		if (due || (!z->checked && now - z->since_mono >= min_age)) {
			/* reaped: nearly every one (no /proc lookup for those) */
			if (procfs_gone((pid_t)z->pid) || stat_read(z->pid, &state, &ppid, comm) ||
			    state != 'Z' || strncmp(comm, z->comm, 15))
				keep = 0;
			else if (due && !z->reported)
				zombie_report(z, ppid, now);
			z->checked = 1;
		}
		if (keep)
			w->z[j++] = *z;
	}
	w->nz = j;
}

/* Follow pid from since_mono on (CLOCK_MONOTONIC, about now). A full list
 * is pruned of every candidate reaped by now; if none was, the newcomer is
 * dropped. */
static void zombie_add(struct procwatch *w, uint32_t pid, const char *comm, uint64_t since_mono,
		       int64_t exit_ns)
{
	struct zombie *z = zombie_find(w, pid);

	if (z) {	/* the pid was reaped and reused: start over */
		if (exit_ns) {
			z->since_mono = since_mono;
			z->exit_ns = exit_ns;
			z->reported = 0;
			z->checked = 0;
			snprintf(z->comm, sizeof(z->comm), "%s", comm);
		}
		return;
	}
	if (w->nz == PROCWATCH_ZOMBIES_MAX)
		zombie_prune(w, since_mono, 0);
	if (w->nz == PROCWATCH_ZOMBIES_MAX)
		return;
	z = &w->z[w->nz++];
	memset(z, 0, sizeof(*z));
	z->pid = pid;
	snprintf(z->comm, sizeof(z->comm), "%s", comm);
	z->since_mono = since_mono;
	z->exit_ns = exit_ns;
}

void procwatch_exit(struct procwatch *w, uint32_t pid, const char *comm, uint64_t exit_mono,
		    int64_t exit_ns)
{
	if (w)
		zombie_add(w, pid, comm, exit_mono, exit_ns);
}

/* Every process of /proc in state Z becomes a candidate from now on. */
static void zombie_scan(struct procwatch *w, uint64_t now)
{
	struct dirent *de;
	char state, comm[16];
	uint32_t ppid;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid == (unsigned long)getpid())
			continue;
		if (!stat_read(pid, &state, &ppid, comm) && state == 'Z' && !zombie_find(w, pid))
			zombie_add(w, pid, comm, now, 0);
	}
	closedir(d);
}

/* The events row of zombie z, whose parent is ppid. */
static void zombie_report(struct zombie *z, uint32_t ppid, uint64_t now)
{
	char pstate, pcomm[16] = "";
	uint32_t gppid;
	json_t *a;

	stat_read(ppid, &pstate, &gppid, pcomm);
	a = json_pack("{s:s, s:i, s:s, s:f}", "comm", z->comm, "ppid", (json_int_t)ppid,
		      "parent_comm", pcomm, "zombie_s", (now - z->since_mono) / 1e9);
	if (a && z->exit_ns)
		json_object_set_new(a, "exit_ns", json_integer(z->exit_ns));
	if (a && !z->exit_ns)
		json_object_set_new(a, "seen_since_s", json_real((now - z->since_mono) / 1e9));
	log_warn("zombie: pid %u (%s) exited and is not reaped by its parent %u (%s)", z->pid,
		 z->comm, ppid, pcomm);
	events_notice(SEV_WARNING, "process.zombie", z->pid, a);
	z->reported = 1;
}

void procwatch_pass(struct procwatch *w, uint64_t now)
{
	if (!w)
		return;
	if (!w->last_scan || now - w->last_scan >= SCAN_EVERY_NS) {
		zombie_scan(w, now);
		w->last_scan = now;
	}
	zombie_prune(w, now, EARLY_NS);
}

/* Collect the socket inodes pid holds into ino (at most max). Returns
 * how many, -1 when /proc/pid/fd cannot be read. */
static int socket_inodes(uint32_t pid, unsigned long *ino, int max)
{
	char path[64], link[64], target[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < max) {
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/%u/fd/%.16s", pid, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (sscanf(target, "socket:[%lu]", &ino[n]) == 1)
			n++;
	}
	closedir(d);
	return n;
}

/* Established sockets of /proc/pid/net/<file> whose inode is in ino[0..n). */
static int established_in(uint32_t pid, const char *file, const unsigned long *ino, int n)
{
	char path[64], line[512];
	int count = 0, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/net/%s", pid, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned st;
		unsigned long inode;

		/* sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st, &inode) != 2 ||
		    st != 1)
			continue;
		for (i = 0; i < n; i++)
			if (ino[i] == inode) {
				count++;
				break;
			}
	}
	fclose(f);
	return count;
}

int procwatch_tcp_established(uint32_t pid)
{
	unsigned long *ino = malloc(INODES_MAX * sizeof(*ino));
	int n, count;

	if (!ino)
		return -1;
	n = socket_inodes(pid, ino, INODES_MAX);
	if (n < 0) {
		free(ino);
		return -1;
	}
	count = n ? established_in(pid, "tcp", ino, n) + established_in(pid, "tcp6", ino, n) : 0;
	free(ino);
	return count;
}

int procwatch_stuck(struct procwatch *w, uint32_t pid, const char *comm, double idle_s,
		    const struct proc_res *last)
{
	struct proc_res now;
	int conns;

	if (!w || !w->stuck_after_ns)
		return 0;
	conns = procwatch_tcp_established(pid);
	if (conns <= 0 || procres_read(pid, &now))
		return 0;
	if (last->read_bytes != PROC_NULL &&
	    (now.read_bytes != last->read_bytes || now.write_bytes != last->write_bytes))
		return 0;
	log_warn("stuck: pid %d (%s) has %d open connection(s) and has used no CPU nor done I/O "
		 "for %.0f s", (int)pid, comm, conns, idle_s);
	events_notice(SEV_WARNING, "process.stuck", pid,
		      json_pack("{s:s, s:i, s:f}", "comm", comm, "connections", conns, "idle_s", idle_s));
	return 1;
}

void procwatch_resumed(struct procwatch *w, uint32_t pid, const char *comm, double stuck_s)
{
	if (!w)
		return;
	events_notice(SEV_INFO, "process.resumed", pid,
		      json_pack("{s:s, s:f}", "comm", comm, "stuck_s", stuck_s));
}
