/* tlsloop.c -- `make bench` micro loop: an in-process TLS client and server over a memory BIO pair exchanging OpenAI HTTP/1.1 calls through the system libssl. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Usage: tlsloop CERT KEY CHUNK EXCHANGES
 * Each exchange is one valid OpenAI chat completion: the client writes the
 * request in SSL_write calls of CHUNK bytes (the last may be shorter), the
 * server reads each one, answers in SSL_write calls of CHUNK bytes and the
 * client reads those. Prints "calls N ns T us_per_call U cpu_us_per_call C
 * exchanges E resp_body B": N counts every SSL_write and SSL_read of both
 * sides, U is wall time, C this process's CPU time. */

#define PAIR_BUF (256 * 1024)

static void die(const char *what)
{
	fprintf(stderr, "tlsloop: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Drive both handshakes until both are done. */
static void handshake(SSL *c, SSL *s)
{
	int cd = 0, sd = 0, i;

	for (i = 0; i < 1000 && !(cd && sd); i++) {
		if (!cd) {
			int r = SSL_do_handshake(c);

			if (r == 1)
				cd = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
				die("client handshake");
		}
		if (!sd) {
			int r = SSL_do_handshake(s);

			if (r == 1)
				sd = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
				die("server handshake");
		}
	}
	if (!(cd && sd))
		die("handshake did not finish");
}

/* A message of exactly total bytes: head (with %zu for the body length),
 * then a JSON body whose padded string fills the rest. Returns malloc'd. */
static char *message(const char *head, const char *pre, const char *post, size_t total,
		     size_t *body_len)
{
	char hdr[1024];
	size_t fixed = strlen(pre) + strlen(post), body, hlen, pad;
	char *m;
	int i;

	/* the header's length depends on the body's digits: settle it */
	body = total > 200 ? total - 200 : 64;
	for (i = 0; i < 4; i++) {
		hlen = (size_t)snprintf(hdr, sizeof(hdr), head, body);
		body = total > hlen + fixed + 8 ? total - hlen : fixed + 8;
	}
	pad = body - fixed;
	m = malloc(hlen + body + 1);
	if (!m)
		die("out of memory");
	memcpy(m, hdr, hlen);
	memcpy(m + hlen, pre, strlen(pre));
	memset(m + hlen + strlen(pre), 'x', pad);
	memcpy(m + hlen + strlen(pre) + pad, post, strlen(post) + 1);
	*body_len = body;
	return m;
}

/* Write len bytes of p on w in chunks of chunk, reading each on r. */
static void move(SSL *w, SSL *r, const char *p, size_t len, size_t chunk, char *buf,
		 unsigned long *calls)
{
	size_t off = 0, n;
	int got;

	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		if (SSL_write(w, p + off, (int)n) != (int)n)
			die("SSL_write");
		got = SSL_read(r, buf, (int)chunk);
		if (got != (int)n)
			die("SSL_read");
		off += n;
		*calls += 2;
	}
}

int main(int argc, char **argv)
{
	SSL_CTX *sctx, *cctx;
	BIO *cb, *sb;
	SSL *c, *s;
	size_t chunk, total, req_len, resp_len, req_body, resp_body;
	long n, i;
	unsigned long calls = 0;
	char *req, *resp, *buf;
	double t0, t1, c0, c1;

	if (argc != 5)
		die("usage: tlsloop CERT KEY CHUNK EXCHANGES");
	chunk = strtoul(argv[3], NULL, 10);
	n = strtol(argv[4], NULL, 10);
	if (chunk < 16 || chunk > 16384 || n <= 0)
		die("CHUNK must be 16..16384, EXCHANGES > 0");
	/* 64 B calls: 10 per message; 16 KB calls: one per message */
	total = chunk >= 4096 ? chunk : 10 * chunk;
	req = message("POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		      "Authorization: Bearer sk-bench-0123456789\r\nContent-Type: application/json\r\n"
		      "Content-Length: %zu\r\n\r\n",
		      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"",
		      "\"}]}", total, &req_body);
	resp = message("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		       "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
		       "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"",
		       "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34,"
		       "\"total_tokens\":46}}", total, &resp_body);
	req_len = strlen(req);
	resp_len = strlen(resp);
	buf = malloc(chunk);
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	if (!buf || !sctx || !cctx)
		die("SSL_CTX_new");
	if (SSL_CTX_use_certificate_chain_file(sctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, argv[2], SSL_FILETYPE_PEM) != 1)
		die("cannot load the certificate or key");
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	if (!c || !s || !BIO_new_bio_pair(&cb, PAIR_BUF, &sb, PAIR_BUF))
		die("SSL_new");
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	handshake(c, s);
	t0 = clock_ns(CLOCK_MONOTONIC);
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n; i++) {
		move(c, s, req, req_len, chunk, buf, &calls);
		move(s, c, resp, resp_len, chunk, buf, &calls);
	}
	c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t1 = clock_ns(CLOCK_MONOTONIC);
	/* CPU time too: the probes run in this process, and on a shared host
	 * the wall time also holds the waits for a CPU */
	printf("calls %lu ns %.0f us_per_call %.3f cpu_us_per_call %.3f exchanges %ld resp_body %zu "
	       "req_body %zu\n", calls, t1 - t0, (t1 - t0) / 1e3 / calls, (c1 - c0) / 1e3 / calls, n,
	       resp_body, req_body);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	free(req);
	free(resp);
	free(buf);
	return 0;
}
