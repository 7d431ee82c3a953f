/* procfs.c -- small readers of /proc for the daemon side: a process's executable and name, whether it is alive. */
#include "base/procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read dir's stat line ("PID (COMM) S PPID ...") into buf. Returns its
 * third field, the state letter, where the fields after the name begin
 * (the name may hold spaces and parentheses: the last ')' ends it), or
 * NULL when it is gone or unreadable. */
static char *stat_fields(const char *dir, char *buf, size_t size)
{
	char path[96], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/stat", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

/* The state letter of the thread whose /proc directory is dir ("R", "S",
 * "Z"...), or 0 when it is gone. */
static char task_state(const char *dir)
{
	char buf[512], *p = stat_fields(dir, buf, sizeof(buf));

	return p ? *p : 0;
}

static int state_live(char st)
{
	return st && st != 'Z' && st != 'X';
}

int procfs_gone(pid_t pid)
{
	/* Signal 0 checks that the process exists, and nothing else: no path
	 * to walk (a failed /proc lookup allocates a dentry and drops it). A
	 * process we may not signal answers EPERM: it exists. */
	return pid > 0 && kill(pid, 0) && errno == ESRCH;
}

int procfs_task_dir(pid_t pid, char *out, size_t size)
{
	char dir[64];
	struct dirent *de;
	DIR *d;
	int found;
	char st;

	snprintf(out, size, "/proc/%d", pid);
	if (procfs_gone(pid))
		return -1;	/* most short commands, by the time their exec is read */
	st = task_state(out);
	if (state_live(st))
		return 0;
	if (!st)
		return -1;	/* no such process */
	found = -1;
	/* The main thread is gone (a zombie until the last thread exits) or
	 * the whole process is: one of its other threads, if any runs on. */
	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while (found < 0 && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || atoi(de->d_name) == pid)
			continue;
		snprintf(out, size, "/proc/%d/task/%s", pid, de->d_name);
		if (state_live(task_state(out)))
			found = 1;
	}
	closedir(d);
	if (found < 0)
		snprintf(out, size, "/proc/%d", pid);
	return found;
}

void procfs_exe(pid_t pid, char *out, size_t size)
{
	char path[96], dir[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, out, size - 1);
	/* a main thread that exited first has no memory, hence no exe: a live thread's */
	if (n <= 0 && procfs_task_dir(pid, dir, sizeof(dir)) == 1) {
		snprintf(path, sizeof(path), "%s/exe", dir);
		n = readlink(path, out, size - 1);
	}
	out[n > 0 ? n : 0] = 0;
}

void procfs_comm(pid_t pid, char *out, size_t size)
{
	char path[64];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, size, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

int procfs_alive(pid_t pid)
{
	char dir[96];

	return procfs_task_dir(pid, dir, sizeof(dir)) >= 0;
}

void procfs_cgroup(pid_t pid, char *out, size_t size)
{
	char path[64], line[4096], *p;
	int have_v1 = 0;
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	/* "ID:CONTROLLERS:PATH"; the unified hierarchy is "0::PATH" */
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		p = strchr(line, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		if (!p || !strcmp(p + 1, "/") || !p[1])
			continue;
		if (!strncmp(line, "0::", 3)) {
			snprintf(out, size, "%s", p + 1);
			break;
		}
		if (!have_v1) {
			snprintf(out, size, "%s", p + 1);
			have_v1 = 1;
		}
	}
	fclose(f);
}

int procfs_container_id(const char *cgroup, char out[65])
{
	const char *p = cgroup, *found = NULL;
	size_t n;

	out[0] = 0;
	while (p && *p) {
		for (n = 0; isxdigit((unsigned char)p[n]); n++)
			;
		/* exactly 64: a longer run is something else */
		if (n == 64 && !isxdigit((unsigned char)p[n]))
			found = p;
		p += n ? n : 1;
	}
	if (!found)
		return 0;
	memcpy(out, found, 64);
	out[64] = 0;
	return 1;
}

ino_t procfs_mnt_ns(const char *who)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/mnt", who);
	return stat(path, &st) ? 0 : st.st_ino;
}

unsigned long long procfs_start_ticks(pid_t pid)
{
	char dir[32], buf[1024], *p;
	int i;

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	p = stat_fields(dir, buf, sizeof(buf));
	/* from field 3 (the state) to 22, starttime */
	for (i = 3; p && i < 22; i++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}
