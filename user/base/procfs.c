/* procfs.c -- small readers of /proc for the daemon side: a process's executable and name, whether it is alive. */
#include "base/procfs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void procfs_exe(pid_t pid, char *out, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, out, size - 1);
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
	char path[64], buf[512], *p;
	FILE *f;
	int alive = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	}
	fclose(f);
	return alive;
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

unsigned long long procfs_start_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	int i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f)) {
		/* after "pid (comm)", the fields from 3 (state) on; starttime is 22 */
		p = strrchr(buf, ')');
		for (i = 3; p && i <= 22; i++)
			p = strchr(p + 1, ' ');
		if (p)
			t = strtoull(p + 1, NULL, 10);
	}
	fclose(f);
	return t;
}
