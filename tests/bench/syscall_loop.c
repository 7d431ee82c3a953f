/* syscall_loop.c -- `make bench` workload: N small writes, to a file or over a TCP connection (echoed back), timed; what socket tracing costs a process that is not an LLM client. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* usage: syscall_loop file N | syscall_loop tcp PORT N | syscall_loop http PORT N |
 *        syscall_loop echo
 * file: N write()s of 64 bytes to /dev/null; tcp: N write()+read() of 64 bytes on one
 * connection to 127.0.0.1:PORT (an echo server); http: N "GET /health" on one keep-alive
 * connection. Prints the mean ns per iteration. echo: an echo server on a free loopback
 * port (printed), one connection at a time, forever. */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The echo server: prints its port, echoes each connection until it closes. */
static int echo_serve(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	char b[4096];
	int s = socket(AF_INET, SOCK_STREAM, 0), c, one = 1;
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4) ||
	    getsockname(s, (struct sockaddr *)&a, &al))
		return 1;
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	while ((c = accept(s, NULL, NULL)) >= 0) {
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while ((n = read(c, b, sizeof(b))) > 0)
			if (write(c, b, n) != n)
				break;
		close(c);
	}
	return 0;
}

/* Read until the HTTP response to one GET /health (Content-Length body) is in. */
static int http_read(int fd)
{
	char b[4096];
	int len = 0, n;

	while ((n = read(fd, b + len, sizeof(b) - 1 - len)) > 0) {
		char *h, *cl;

		len += n;
		b[len] = 0;
		h = strstr(b, "\r\n\r\n");
		cl = strcasestr(b, "content-length:");
		if (h && cl && len >= (h - b) + 4 + atoi(cl + 15))
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	char buf[64], req[128];
	long i, n;
	int fd, one = 1;
	double t0;
	struct sockaddr_in a = { .sin_family = AF_INET };

	memset(buf, 'x', sizeof(buf));
	if (argc == 2 && !strcmp(argv[1], "echo"))
		return echo_serve();
	if (argc == 3 && !strcmp(argv[1], "file")) {
		n = atol(argv[2]);
		fd = open("/dev/null", O_WRONLY);
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (write(fd, buf, sizeof(buf)) != sizeof(buf))
				return 1;
		printf("%.1f\n", (now_ns() - t0) / n);
		return 0;
	}
	if (argc != 4)
		return 2;
	n = atol(argv[3]);
	a.sin_port = htons(atoi(argv[2]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nHost: localhost:%s\r\nx-test-delay-ms: 0\r\n\r\n", argv[2]);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (!strcmp(argv[1], "tcp")) {
			if (write(fd, buf, sizeof(buf)) != sizeof(buf) || read(fd, buf, sizeof(buf)) <= 0)
				return 1;
		} else if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || http_read(fd)) {
			return 1;
		}
	}
	printf("%.1f\n", (now_ns() - t0) / n);
	return 0;
}
