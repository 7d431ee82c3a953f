/* mbedtls_client.c -- an LLM API client on mbed TLS, a TLS library llmtap does not hook: what `llmtap doctor` must name (built by cover_test.py, static and dynamic). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

/* usage: mbedtls_client HOST PORT TAG KEY
 * POSTs one OpenAI chat request (x-test-call: TAG) over TLS without checking
 * the certificate, prints {"tag", "status", "bytes"} once the response head
 * and body have arrived, then keeps the connection open until a line comes
 * on stdin. Exit 0 when the answer was 200. */
int main(int argc, char **argv)
{
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	char req[1024], resp[16384], line[16];
	const char *body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	int n, len = 0, status = 0, rc = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: %s HOST PORT TAG KEY\n", argv[0]);
		return 2;
	}
	mbedtls_net_init(&net);
	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) ||
	    mbedtls_net_connect(&net, argv[1], argv[2], MBEDTLS_NET_PROTO_TCP) ||
	    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT)) {
		fprintf(stderr, "mbedtls_client: cannot connect to %s:%s\n", argv[1], argv[2]);
		goto out;
	}
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	if (mbedtls_ssl_setup(&ssl, &conf))
		goto out;
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
	while ((n = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (n != MBEDTLS_ERR_SSL_WANT_READ && n != MBEDTLS_ERR_SSL_WANT_WRITE) {
			fprintf(stderr, "mbedtls_client: handshake failed: -0x%x\n", -n);
			goto out;
		}
	}
	n = snprintf(req, sizeof(req),
		     "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
		     "x-test-call: %s\r\nx-test-delay-ms: 0\r\nContent-Length: %zu\r\n\r\n%s",
		     argv[4], argv[3], strlen(body), body);
	if (mbedtls_ssl_write(&ssl, (const unsigned char *)req, n) != n)
		goto out;
	/* The fake server sends a Content-Length: read until the body is in. */
	while (len < (int)sizeof(resp) - 1) {
		char *hend, *cl;

		n = mbedtls_ssl_read(&ssl, (unsigned char *)resp + len, sizeof(resp) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		resp[len] = 0;
		hend = strstr(resp, "\r\n\r\n");
		cl = strstr(resp, "content-length: ");
		if (hend && cl && len >= (hend - resp) + 4 + atoi(cl + 16))
			break;
	}
	sscanf(resp, "HTTP/1.1 %d", &status);
	printf("{\"tag\": \"%s\", \"status\": %d, \"bytes\": %d}\n", argv[3], status, len);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	rc = status == 200 ? 0 : 1;
out:
	mbedtls_ssl_close_notify(&ssl);
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return rc;
}
