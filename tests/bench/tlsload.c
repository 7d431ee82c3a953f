/* tlsload.c -- `make bench` load: N keep-alive TLS clients (threads) calling an in-process TLS server over loopback with OpenAI HTTP/1.1 requests, through the system libssl. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Usage: tlsload CERT KEY CLIENTS SECONDS
 * Each client thread opens one connection (TCP_NODELAY, like the test
 * servers need), then until the deadline writes a chat completion request
 * and reads its response. The server answers each connection on a thread
 * of its own. Prints "calls N seconds S calls_per_s R cpu_us_per_call C"
 * (C: this process's CPU time, clients and server, per call). */

static const char REQ_BODY[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}]}";
static const char RESP_BODY[] =
	"{\"id\":\"chatcmpl-load\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello from the load "
	"test server.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
	"\"completion_tokens\":7,\"total_tokens\":19}}";

static SSL_CTX *sctx, *cctx;
static int port;
static double deadline;
static atomic_long calls;
static atomic_int failures;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "tlsload: %s: %s\n", what, strerror(errno));
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* Read one HTTP/1.1 message (head, then Content-Length bytes) into buf.
 * Returns 1, or 0 at EOF or error. */
static int read_message(SSL *s, char *buf, size_t cap)
{
	size_t have = 0, need = 0;
	char *end;
	int n;

	for (;;) {
		if (have == cap)
			return 0;
		n = SSL_read(s, buf + have, (int)(cap - have));
		if (n <= 0)
			return 0;
		have += (size_t)n;
		buf[have < cap ? have : cap - 1] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (!need) {
			const char *cl = strstr(buf, "Content-Length: ");

			need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
		}
		if (have >= need)
			return 1;
	}
}

static int write_all(SSL *s, const char *p, size_t n)
{
	return SSL_write(s, p, (int)n) == (int)n;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[8192], resp[1024];
	SSL *s = SSL_new(sctx);
	int n;

	n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n%s", strlen(RESP_BODY), RESP_BODY);
	SSL_set_fd(s, fd);
	if (SSL_accept(s) == 1)
		while (read_message(s, buf, sizeof(buf)) && write_all(s, resp, (size_t)n))
			;
	SSL_free(s);
	close(fd);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(long)arg, fd;
	pthread_t t;

	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		nodelay(fd);
		if (pthread_create(&t, NULL, serve, (void *)(long)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static void *client(void *arg)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char buf[8192], req[1024];
	long mine = 0;
	int fd, n;
	SSL *s;

	(void)arg;
	n = snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		     "Authorization: Bearer sk-load-0123456789abcdef\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n%s", strlen(REQ_BODY), REQ_BODY);
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	nodelay(fd);
	s = SSL_new(cctx);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1) {
		atomic_fetch_add(&failures, 1);
		goto out;
	}
	while (now_s() < deadline) {
		if (!write_all(s, req, (size_t)n) || !read_message(s, buf, sizeof(buf))) {
			atomic_fetch_add(&failures, 1);
			break;
		}
		mine++;
	}
	SSL_shutdown(s);
out:
	SSL_free(s);
	close(fd);
	atomic_fetch_add(&calls, mine);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	pthread_t acc, *cl;
	int lfd, n, i, one = 1;
	double secs, t0, t1, cpu;
	struct rusage ru;

	if (argc != 5)
		die("usage: tlsload CERT KEY CLIENTS SECONDS");
	n = atoi(argv[3]);
	secs = atof(argv[4]);
	if (n <= 0 || secs <= 0)
		die("CLIENTS and SECONDS must be > 0");
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	if (!sctx || !cctx || SSL_CTX_use_certificate_chain_file(sctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, argv[2], SSL_FILETYPE_PEM) != 1)
		die("cannot load the certificate or key");
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 256) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen))
		die("listen");
	port = ntohs(a.sin_port);
	if (pthread_create(&acc, NULL, acceptor, (void *)(long)lfd))
		die("pthread_create");
	cl = calloc((size_t)n, sizeof(*cl));
	t0 = now_s();
	deadline = t0 + secs;
	for (i = 0; i < n; i++)
		if (pthread_create(&cl[i], NULL, client, NULL))
			die("pthread_create");
	for (i = 0; i < n; i++)
		pthread_join(cl[i], NULL);
	t1 = now_s();
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("calls %ld seconds %.3f calls_per_s %.1f cpu_us_per_call %.2f failures %d\n",
	       atomic_load(&calls), t1 - t0, atomic_load(&calls) / (t1 - t0),
	       cpu * 1e6 / (atomic_load(&calls) ? atomic_load(&calls) : 1), atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
