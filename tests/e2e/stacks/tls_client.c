/* tls_client.c -- an OpenSSL client for llmtap's end-to-end tests, linked statically with Debian's libssl.a and stripped at test time: sends raw HTTP requests, saves the raw responses. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: tls_client IP PORT SNI CAFILE [--wait] [--late-send MS | --slow-return MS] REQUEST...
 *        tls_client IP PORT SNI CAFILE --echo N     (make bench)
 *        tls_client --membench CERT KEY N           (make bench)
 * Each REQUEST file holds a whole HTTP/1.1 request ("Connection: close"):
 * one TLS connection each, the head written with SSL_write and the body with
 * SSL_write_ex, the response read with SSL_read until the server closes and
 * saved as REQUEST.out. --wait prints {"event":"waiting","pid":N} and reads a
 * line from stdin first. Exit status 0 when every request got a response.
 * --late-send MS: every handshake message and the request are encrypted
 * into memory, and written to the socket after MS ms of spinning (as rustls
 * seals first and writes later, or a thread preempted between the two on a
 * loaded host). The connection is closed without a close_notify: its last
 * send is the request's.
 * --slow-return MS: the request's writes go to the socket at once, and each
 * spins MS ms after its send before SSL_write returns (a thread preempted
 * between its send and the return, on a loaded host).
 * --echo N: against an echo server, N rounds of a 64-byte SSL_write and the
 * SSL_reads that bring it back on one connection; prints microseconds per round,
 * wall clock and this process's CPU time. --membench: a client and a server
 * SSL in this process over a memory BIO pair, N rounds of 64 bytes each way
 * (four SSL calls, no system call); prints microseconds per SSL call.
 */

/* Read the file at path into *buf. Returns its length, or -1. */
static long file_read(const char *path, char **buf)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*buf = malloc(n + 1);
	if (!*buf || fread(*buf, 1, n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return n;
}

/* Connect to ip:port over TCP with TCP_NODELAY. Returns the socket, or -1. */
static int tcp_connect(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Spin for ms milliseconds without a system call (the vDSO's clock). */
static void spin_ms(long ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

/* --slow-return: a write BIO that sends to its socket (the BIO's data) and
 * spins slow_ms before it returns. */
static long slow_ms;

static int slow_write(BIO *b, const char *d, int n)
{
	ssize_t w = send((int)(intptr_t)BIO_get_data(b), d, n, 0);

	spin_ms(slow_ms);
	return w < 0 ? -1 : (int)w;
}

static long slow_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH;
}

/* Point ssl's writes at a slow_write() BIO on fd. Returns 0, or -1. */
static int wbio_slow(SSL *ssl, int fd)
{
	static BIO_METHOD *m;
	BIO *b;

	if (!m) {
		m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "slow-return");
		if (!m || !BIO_meth_set_write(m, slow_write) || !BIO_meth_set_ctrl(m, slow_ctrl))
			return -1;
	}
	b = BIO_new(m);
	if (!b)
		return -1;
	BIO_set_data(b, (void *)(intptr_t)fd);
	BIO_set_init(b, 1);
	SSL_set0_wbio(ssl, b);
	return 0;
}

/* Point ssl's writes at a memory BIO (late) or back at its socket (!late);
 * the socket BIO stays the read BIO throughout. Returns 0, or -1. */
static int wbio_swap(SSL *ssl, int late)
{
	BIO *b = late ? BIO_new(BIO_s_mem()) : SSL_get_rbio(ssl);

	if (!b || (!late && !BIO_up_ref(b)))
		return -1;
	SSL_set0_wbio(ssl, b);
	return 0;
}

/* Write what the memory BIO holds to fd, late_ms after it was encrypted,
 * and empty it. Returns 0, or -1. */
static int wbio_flush(SSL *ssl, int fd, long late_ms)
{
	BIO *b = SSL_get_wbio(ssl);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	ssize_t w;

	if (n > 0)
		spin_ms(late_ms);
	for (; n > 0; p += w, n -= w) {
		w = send(fd, p, n, 0);
		if (w <= 0)
			return -1;
	}
	return BIO_reset(b) == 1 ? 0 : -1;
}

/* SSL_connect with writes into memory, each flight sent late_ms late.
 * Returns SSL_connect's last result. */
static int late_connect(SSL *ssl, int fd, long late_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int fl = fcntl(fd, F_GETFL), r;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		r = SSL_connect(ssl);
		if (wbio_flush(ssl, fd, late_ms) || r == 1 ||
		    SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ || poll(&pfd, 1, 10000) != 1)
			break;
	}
	fcntl(fd, F_SETFL, fl);
	return r;
}

/* One request over a new connection, written late_ms after it was
 * encrypted when late_ms > 0. Returns 0, or -1 (message printed). */
static int request_one(SSL_CTX *ctx, const char *ip, int port, const char *sni, const char *path,
		       long late_ms)
{
	char *req = NULL, *body, out_path[4096], buf[4096];
	long len = file_read(path, &req);
	size_t written, head;
	FILE *out = NULL;
	SSL *ssl = NULL;
	int fd = -1, n, rc = -1;

	if (len < 0) {
		fprintf(stderr, "tls_client: cannot read %s\n", path);
		return -1;
	}
	req[len] = 0;
	body = strstr(req, "\r\n\r\n");
	head = body ? (size_t)(body - req) + 4 : (size_t)len;
	fd = tcp_connect(ip, port);
	if (fd < 0) {
		perror("tls_client: connect");
		goto out;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, sni);
	SSL_set1_host(ssl, sni);
	if (late_ms > 0 && wbio_swap(ssl, 1))
		goto out;
	if ((late_ms > 0 ? late_connect(ssl, fd, late_ms) : SSL_connect(ssl)) != 1) {
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if (slow_ms > 0 && wbio_slow(ssl, fd))
		goto out;
	if (SSL_write(ssl, req, (int)head) != (int)head ||
	    (len > (long)head && (SSL_write_ex(ssl, req + head, len - head, &written) != 1 ||
				 written != (size_t)(len - head)))) {
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if (late_ms > 0) {
		if (wbio_flush(ssl, fd, late_ms) || wbio_swap(ssl, 0)) {
			perror("tls_client: late send");
			goto out;
		}
	}
	snprintf(out_path, sizeof(out_path), "%s.out", path);
	out = fopen(out_path, "wb");
	if (!out)
		goto out;
	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, out);
	rc = 0;
out:
	if (out)
		fclose(out);
	if (ssl) {
		if (!late_ms)
			SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
	free(req);
	return rc;
}

/* N echo rounds over one connection. Returns 0, or -1 (message printed). */
static int echo_rounds(SSL_CTX *ctx, const char *ip, int port, const char *sni, long n)
{
	char msg[64], buf[64];
	struct timespec t0, t1, c0, c1;
	SSL *ssl = NULL;
	int fd, got, r, rc = -1;
	long i;

	memset(msg, 'e', sizeof(msg));
	fd = tcp_connect(ip, port);
	if (fd < 0) {
		perror("tls_client: connect");
		return -1;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, sni);
	if (SSL_connect(ssl) != 1)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (i = 0; i < n; i++) {
		if (SSL_write(ssl, msg, sizeof(msg)) != sizeof(msg))
			goto out;
		for (got = 0; got < (int)sizeof(buf); got += r) {
			r = SSL_read(ssl, buf + got, sizeof(buf) - got);
			if (r <= 0)
				goto out;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	printf("%.3f %.3f\n", ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) / n,
	       ((c1.tv_sec - c0.tv_sec) * 1e6 + (c1.tv_nsec - c0.tv_nsec) / 1e3) / n);
	rc = 0;
out:
	if (rc)
		ERR_print_errors_fp(stderr);
	SSL_free(ssl);
	close(fd);
	return rc;
}

/* Move what one side wrote to the other: nothing to do with a BIO pair, but
 * the handshake needs both sides driven until neither wants more. */
static int mem_handshake(SSL *c, SSL *s)
{
	int i, rc, rs;

	for (i = 0; i < 100; i++) {
		rc = SSL_do_handshake(c);
		rs = SSL_do_handshake(s);
		if (rc == 1 && rs == 1)
			return 0;
	}
	return -1;
}

/* --membench: N rounds over a memory BIO pair. Returns 0, or -1. */
static int mem_bench(const char *cert, const char *key, long n)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method()), *sctx = SSL_CTX_new(TLS_server_method());
	char msg[64], buf[64];
	struct timespec t0, t1, c0, c1;
	BIO *bc, *bs;
	SSL *c, *s;
	long i;

	memset(msg, 'm', sizeof(msg));
	if (!cctx || !sctx || SSL_CTX_use_certificate_file(sctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1)
		return -1;
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	if (!BIO_new_bio_pair(&bc, 1 << 17, &bs, 1 << 17))
		return -1;
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	if (mem_handshake(c, s))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (i = 0; i < n; i++) {
		if (SSL_write(c, msg, sizeof(msg)) != sizeof(msg) || SSL_read(s, buf, sizeof(buf)) != sizeof(buf) ||
		    SSL_write(s, buf, sizeof(buf)) != sizeof(buf) || SSL_read(c, buf, sizeof(buf)) != sizeof(buf))
			return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	printf("%.3f %.3f\n", ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) / (4.0 * n),
	       ((c1.tv_sec - c0.tv_sec) * 1e6 + (c1.tv_nsec - c0.tv_nsec) / 1e3) / (4.0 * n));
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 5, rc = 0;
	long late_ms = 0;
	SSL_CTX *ctx;

	if (argc == 5 && !strcmp(argv[1], "--membench")) {
		if (mem_bench(argv[2], argv[3], atol(argv[4]))) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
		return 0;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: tls_client IP PORT SNI CAFILE [--wait] REQUEST...\n");
		return 2;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[4], NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!strcmp(argv[i], "--echo"))
		return echo_rounds(ctx, argv[1], atoi(argv[2]), argv[3], argc > 6 ? atol(argv[6]) : 1000) ? 1 : 0;
	if (!strcmp(argv[i], "--wait")) {
		char line[64];

		printf("{\"event\":\"waiting\",\"pid\":%d}\n", (int)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		i++;
	}
	if (i + 1 < argc && !strcmp(argv[i], "--late-send")) {
		late_ms = atol(argv[i + 1]);
		i += 2;
	} else if (i + 1 < argc && !strcmp(argv[i], "--slow-return")) {
		slow_ms = atol(argv[i + 1]);
		i += 2;
	}
	for (; i < argc; i++)
		if (request_one(ctx, argv[1], atoi(argv[2]), argv[3], argv[i], late_ms))
			rc = 1;
	SSL_CTX_free(ctx);
	return rc;
}
