/* test_procfs.c -- unit tests of procfs.c: a process's cgroup path and the container id it names, a process whose main thread exited first, and its start time. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/procfs.h"
#include "harness.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_container_id(void)
{
	static const struct {
		const char *cgroup, *want;
	} cases[] = {
		{ "/system.slice/docker-" ID64 ".scope", ID64 },
		{ "/docker/" ID64, ID64 },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/"
		  "cri-containerd-" ID64 ".scope", ID64 },
		{ "/kubepods/besteffort/pod5f1c-4e2a/crio-" ID64, ID64 },
		{ "/machine.slice/libpod-" ID64 ".scope/container", ID64 },
		/* the last id wins: a container inside a container's cgroup */
		{ "/docker/" ID64 "/docker/fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210" },
		/* not 64 hex digits: none */
		{ "/user.slice/user-0.slice/session-3.scope", "" },
		{ "/process_api/c2f7c8d0604bf93182386be1a538e597", "" },
		{ "/docker/" ID64 "0", "" },
		{ "/x" ID64 "g", ID64 },
		{ "", "" },
		{ "/", "" },
	};
	char out[65];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = procfs_container_id(cases[i].cgroup, out);

		CHECKF(rc == (cases[i].want[0] != 0) && !strcmp(out, cases[i].want),
		       "case %zu (%s): rc %d got \"%s\"", i, cases[i].cgroup, rc, out);
	}
}

/* Our own cgroup as /proc/self/cgroup says, parsed independently here. */
static void test_cgroup_self(void)
{
	char out[4096], line[4096], want[4096] = "", *p;
	int have_v1 = 0;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f) {
		CHECK(0);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		p = strchr(strchr(line, ':') + 1, ':') + 1;
		if (!strcmp(p, "/"))
			continue;
		if (!strncmp(line, "0::", 3)) {
			snprintf(want, sizeof(want), "%s", p);
			break;
		}
		if (!have_v1++)
			snprintf(want, sizeof(want), "%s", p);
	}
	fclose(f);
	procfs_cgroup(getpid(), out, sizeof(out));
	CHECKF(!strcmp(out, want), "got \"%s\" want \"%s\"", out, want);
	procfs_cgroup(-1, out, sizeof(out));
	CHECKF(!strcmp(out, ""), "got \"%s\" for a pid that does not exist", out);
	/* a short buffer is cut, still terminated */
	procfs_cgroup(getpid(), out, 4);
	CHECK(strlen(out) <= 3);
}

/* The child's other thread: waits for the parent to close the pipe, then
 * ends the process. */
static void *child_thread(void *arg)
{
	char c;

	while (read(*(int *)arg, &c, 1) > 0)
		;
	_exit(0);
}

/* Does /proc/PID/stat say state st? */
static int stat_is(pid_t pid, char st)
{
	char path[64], buf[512], *p;
	FILE *f;
	int yes = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		yes = p[1] == ' ' && p[2] == st;
	fclose(f);
	return yes;
}

/* Wait up to 5 s for /proc/PID/stat to say st and for procfs_alive() to
 * say alive (the main thread's exit and the whole process's both show Z). */
static int wait_stat(pid_t pid, char st, int alive)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	for (i = 0; i < 5000 && !(stat_is(pid, st) && procfs_alive(pid) == alive); i++)
		nanosleep(&ms, NULL);
	return stat_is(pid, st) && procfs_alive(pid) == alive;
}

/* A child whose main thread exits first (pthread_exit) lives on in its
 * other thread: alive, spoken for by that thread's directory, its exe
 * read there. Once that thread ends too (a zombie nobody reaped), gone. */
static void test_main_exited(void)
{
	char dir[64], exe[4096], self[4096], want[64];
	ssize_t n;
	int fds[2];
	pid_t pid;

	CHECK(procfs_task_dir(getpid(), dir, sizeof(dir)) == 0);
	snprintf(want, sizeof(want), "/proc/%d", (int)getpid());
	CHECKF(!strcmp(dir, want), "got \"%s\"", dir);
	CHECK(procfs_alive(getpid()));
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	if (pipe(fds)) {
		CHECK(0);
		return;
	}
	pid = fork();
	if (pid == 0) {
		pthread_t t;

		close(fds[1]);
		if (pthread_create(&t, NULL, child_thread, &fds[0]))
			_exit(1);
		pthread_exit(NULL);
	}
	close(fds[0]);
	CHECK(pid > 0 && wait_stat(pid, 'Z', 1));
	CHECK(procfs_task_dir(pid, dir, sizeof(dir)) == 1);
	snprintf(want, sizeof(want), "/proc/%d/task/", (int)pid);
	CHECKF(!strncmp(dir, want, strlen(want)) && atoi(dir + strlen(want)) != pid, "got \"%s\"", dir);
	procfs_exe(pid, exe, sizeof(exe));
	CHECKF(!strcmp(exe, self), "exe \"%s\", want \"%s\"", exe, self);
	close(fds[1]);	/* the other thread ends the process: a zombie until reaped */
	CHECK(wait_stat(pid, 'Z', 0));
	CHECK(procfs_task_dir(pid, dir, sizeof(dir)) == -1);
	procfs_exe(pid, exe, sizeof(exe));
	CHECKF(!strcmp(exe, ""), "exe \"%s\" of a zombie", exe);
	waitpid(pid, NULL, 0);
	CHECK(!procfs_alive(pid));
}

/* procfs_start_ticks() reads field 22 after a name with spaces and
 * parentheses in it; 0 for a process that is gone. */
static void test_start_ticks(void)
{
	unsigned long long want = 0, got;
	char path[64], buf[1024], *p;
	int ready[2], n;
	FILE *f;
	pid_t pid;

	if (pipe(ready)) {
		CHECK(0);
		return;
	}
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "a) b (c", 0, 0, 0);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK(pid > 0 && read(ready[0], buf, 1) == 1);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f) && (p = strstr(buf, "(a) b (c) ")))
		n = sscanf(p + 10, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
				   "%*d %*d %*d %*d %*d %*d %llu", &want);
	else
		n = 0;
	if (f)
		fclose(f);
	got = procfs_start_ticks(pid);
	CHECKF(n == 1 && want && got == want, "got %llu want %llu", got, want);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(procfs_start_ticks(pid) == 0);
	close(ready[0]);
	close(ready[1]);
}

/* procfs_gone(): a process that runs, a zombie (exists until reaped) and
 * a reaped one, which alone is gone; procfs_task_dir() says -1 for it. */
static void test_gone(void)
{
	char dir[96];
	pid_t child;
	int st, i;

	CHECK(procfs_gone(getpid()) == 0);
	CHECK(procfs_gone(1) == 0);
	child = fork();
	if (child == 0)
		_exit(0);
	CHECK(child > 0);
	/* a zombie until waited for */
	for (i = 0; i < 500 && procfs_alive(child); i++)
		usleep(2000);
	CHECK(procfs_gone(child) == 0);
	CHECK(waitpid(child, &st, 0) == child);
	CHECK(procfs_gone(child) == 1);
	CHECK(procfs_task_dir(child, dir, sizeof(dir)) == -1);
	CHECK(procfs_alive(child) == 0);
	CHECK(procfs_gone(0) == 0 && procfs_gone(-1) == 0);
}

int main(void)
{
	test_container_id();
	test_cgroup_self();
	test_main_exited();
	test_start_ticks();
	test_gone();
	return harness_done("test_procfs");
}
