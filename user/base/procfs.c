/* procfs.c -- small readers of /proc for the daemon side: a process's executable and name, whether it is alive. */
#include "base/procfs.h"

#include <stdio.h>
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
