/* hostload.c -- `make bench` host work that is not an LLM client: short loopback TCP connections, a pipe ping-pong between two processes, short-lived commands. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Usage: hostload tcp N     N connections: connect, 1 byte each way, close
 *        hostload pipe N    N round trips of 1 byte between two processes
 *        hostload exec N    N commands run one after another (fork, exec
 *                           of /bin/true, wait)
 * Prints "us_per_op U cpu_us_per_op C ops N": U wall time, C the CPU time
 * of both ends (threads, or both processes; the commands too) per
 * operation. */

/* CPU seconds of rusage r. */
static double cpu_s(const struct rusage *r)
{
	return r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + r->ru_stime.tv_sec +
	       r->ru_stime.tv_usec / 1e6;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "hostload: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The server side of the TCP loop: echo one byte per connection, close. */
static void *tcp_server(void *arg)
{
	int lfd = (int)(long)arg, fd;
	char c;

	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (read(fd, &c, 1) == 1 && write(fd, &c, 1) != 1)
			c = 0;
		close(fd);
	}
	return NULL;
}

static double tcp_loop(long n, double *cpu)
{
	struct rusage r0, r1;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int lfd, fd, one = 1;
	pthread_t t;
	double t0;
	char c = 'x';
	long i;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen))
		die("listen");
	if (pthread_create(&t, NULL, tcp_server, (void *)(long)lfd))
		die("pthread_create");
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
			die("connect");
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
			die("echo");
		close(fd);
	}
	t0 = (now_us() - t0) / n;
	getrusage(RUSAGE_SELF, &r1);
	*cpu = (cpu_s(&r1) - cpu_s(&r0)) * 1e6 / n;
	return t0;
}

static double pipe_loop(long n, double *cpu)
{
	struct rusage r0, r1, rc;
	int ab[2], ba[2];
	pid_t pid;
	double t0;
	char c = 'x';
	long i;

	if (pipe(ab) || pipe(ba))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(ab[1]);
		close(ba[0]);
		while (read(ab[0], &c, 1) == 1 && write(ba[1], &c, 1) == 1)
			;
		_exit(0);
	}
	close(ab[0]);
	close(ba[1]);
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_us();
	for (i = 0; i < n; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			die("ping-pong");
	t0 = (now_us() - t0) / n;
	getrusage(RUSAGE_SELF, &r1);
	close(ab[1]);
	if (wait4(pid, NULL, 0, &rc) < 0)
		memset(&rc, 0, sizeof(rc));
	*cpu = (cpu_s(&r1) - cpu_s(&r0) + cpu_s(&rc)) * 1e6 / n;
	return t0;
}

static double exec_loop(long n, double *cpu)
{
	struct rusage r0, r1, c0, c1;
	double t0;
	pid_t pid;
	long i;
	int st;

	getrusage(RUSAGE_SELF, &r0);
	getrusage(RUSAGE_CHILDREN, &c0);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			die("/bin/true");
	}
	t0 = (now_us() - t0) / n;
	getrusage(RUSAGE_SELF, &r1);
	getrusage(RUSAGE_CHILDREN, &c1);
	*cpu = (cpu_s(&r1) - cpu_s(&r0) + cpu_s(&c1) - cpu_s(&c0)) * 1e6 / n;
	return t0;
}

int main(int argc, char **argv)
{
	long n;
	double us, cpu = 0;

	if (argc != 3 || (n = atol(argv[2])) <= 0)
		die("usage: hostload tcp|pipe|exec N");
	if (strcmp(argv[1], "tcp") == 0)
		us = tcp_loop(n, &cpu);
	else if (strcmp(argv[1], "pipe") == 0)
		us = pipe_loop(n, &cpu);
	else if (strcmp(argv[1], "exec") == 0)
		us = exec_loop(n, &cpu);
	else
		die("usage: hostload tcp|pipe|exec N");
	printf("us_per_op %.3f cpu_us_per_op %.3f ops %ld\n", us, cpu, n);
	return 0;
}
