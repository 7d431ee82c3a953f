/* mainexit_client.c -- an HTTPS client (the system libssl) whose main thread exits first: another thread makes the call (built by robust.py, case mainexit). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Usage: mainexit_client PORT CAFILE REQUEST DELAY_S
 *   Prints {"event":"waiting","pid":N}, then its main thread exits
 *   (pthread_exit: the process lives on, its main thread a zombie). The
 *   other thread waits for a line on stdin, connects to 127.0.0.1:PORT
 *   (trusting CAFILE, the name "localhost"), writes the file REQUEST as it
 *   is (an HTTP/1.1 request with "connection: close"), waits DELAY_S
 *   seconds (the response sits unread meanwhile), reads the response to
 *   its end and prints {"event":"done","status":S,"bytes":N}; exit 0.
 */

static const char *port, *cafile, *request;
static int delay_s;

static void die(const char *what)
{
	fprintf(stderr, "mainexit_client: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* The file at path, malloc'd, its length in *len. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die("cannot read the request file");
	b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		die("cannot read the request file");
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void *call(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char line[64], *req, buf[16384], head[64] = "";
	size_t req_len, got = 0;
	SSL_CTX *ctx;
	int fd, n, status = 0;
	SSL *s;

	(void)arg;
	if (!fgets(line, sizeof(line), stdin))
		die("no line on stdin");
	req = slurp(request, &req_len);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
		die("TLS context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	sa.sin_port = htons((unsigned short)atoi(port));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	s = SSL_new(ctx);
	if (!s || !SSL_set_fd(s, fd) || !SSL_set_tlsext_host_name(s, "localhost") ||
	    !SSL_set1_host(s, "localhost") || SSL_connect(s) != 1)
		die("TLS handshake");
	if (SSL_write(s, req, (int)req_len) != (int)req_len)
		die("SSL_write");
	sleep((unsigned)delay_s);
	while ((n = SSL_read(s, buf, sizeof(buf))) > 0) {
		if (!got)
			snprintf(head, sizeof(head), "%.*s", n < 63 ? n : 63, buf);
		got += (size_t)n;
	}
	sscanf(head, "HTTP/1.1 %d", &status);
	printf("{\"event\":\"done\",\"status\":%d,\"bytes\":%zu}\n", status, got);
	fflush(stdout);
	SSL_free(s);
	close(fd);
	SSL_CTX_free(ctx);
	free(req);
	exit(0);
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc != 5)
		die("usage: mainexit_client PORT CAFILE REQUEST DELAY_S");
	port = argv[1];
	cafile = argv[2];
	request = argv[3];
	delay_s = atoi(argv[4]);
	if (pthread_create(&t, NULL, call, NULL))
		die("pthread_create");
	printf("{\"event\":\"waiting\",\"pid\":%d}\n", (int)getpid());
	fflush(stdout);
	pthread_exit(NULL);
}
