/* http.c -- the push targets' HTTP client: one libcurl handle per target, POSTs bounded by the exit deadline, errors free of secrets.
 *
 * The only file of llmtap that includes libcurl. A target keeps one easy
 * handle for its whole run so that connections (and TLS sessions) are
 * reused between batches. */
#include "push/push_int.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/util.h"

#define HTTP_CONNECT_TIMEOUT_MS 5000
#define HTTP_TIMEOUT_MS 30000

int push_http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		return 0;
	log_warn("push: curl_global_init failed");
	return -1;
}

void push_http_global_cleanup(void)
{
	curl_global_cleanup();
}

int push_http_open(struct push_target *t)
{
	t->curl = curl_easy_init();
	if (t->curl)
		return 0;
	log_warn("push: %s: curl_easy_init failed", t->url.key);
	return -1;
}

void push_http_close(struct push_target *t)
{
	if (t->curl)
		curl_easy_cleanup(t->curl);
	t->curl = NULL;
}

/* Replace each occurrence of secret in s by [REDACTED] (in place, s has room for n). */
static void http_scrub(char *s, size_t n, const char *secret)
{
	size_t sl = secret ? strlen(secret) : 0, head;
	char *hit, *tmp, *from = s;

	if (sl < 3 || !(tmp = malloc(n)))
		return;
	while ((hit = strstr(from, secret))) {
		head = hit - s;
		snprintf(tmp, n, "%s", hit + sl);
		snprintf(hit, n - head, "[REDACTED]%s", tmp);
		from = hit + strlen(hit) - strlen(tmp);	/* past the replacement */
		if (from < hit)
			break;
	}
	free(tmp);
}

void push_set_error(struct push_target *t, struct push_result *r, const char *fmt, ...)
{
	va_list ap;
	char *c;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	for (c = r->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	http_scrub(r->err, sizeof(r->err), t->url.pass);
	http_scrub(r->err, sizeof(r->err), t->p->token);
}

/* libcurl write callback: keep the first PUSH_RESP_MAX bytes of the response body. */
static size_t http_on_body(char *data, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n, room = b->len < PUSH_RESP_MAX ? PUSH_RESP_MAX - b->len : 0;

	if (room)
		buf_append(b, data, len < room ? len : room);
	return len;
}

/* libcurl header callback: note Retry-After (seconds or an HTTP date) in h->retry_after. */
static size_t http_on_header(char *data, size_t size, size_t n, void *ud)
{
	struct push_http *h = ud;
	size_t len = size * n;
	char line[256];
	double s;

	if (len > 12 && len < sizeof(line) && !strncasecmp(data, "retry-after:", 12)) {
		memcpy(line, data + 12, len - 12);
		line[len - 12] = 0;
		line[strcspn(line, "\r\n")] = 0;
		if (!retry_after_parse(line, time(NULL), &s))
			h->retry_after = s;
	}
	return len;
}

/* Abort a transfer once the final push's deadline passed. */
static int http_on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct pusher *p = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	return push_stopping(p) && mono_ns() >= p->deadline_ns;
}

int push_http_post(struct push_target *t, struct push_http *h, int gzip)
{
	struct pusher *p = t->p;
	struct curl_slist *hdrs = NULL;
	struct buf z = { 0 }, line = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	long timeout = HTTP_TIMEOUT_MS;
	const void *body = h->body;
	size_t len = h->len;
	CURLcode rc;

	h->status = 0;
	h->retry_after = -1;
	h->err[0] = 0;
	memset(&h->resp, 0, sizeof(h->resp));
	if (push_stopping(p)) {
		int64_t left = (int64_t)(p->deadline_ns - mono_ns()) / 1000000;

		if (left <= 0) {
			snprintf(h->err, sizeof(h->err), "no time left before exit");
			return -1;
		}
		if (left < timeout)
			timeout = (long)left;
	}
	if (gzip && len) {
		if (gzip_buf(h->body, h->len, &z)) {
			snprintf(h->err, sizeof(h->err), "gzip failed");
			return -1;
		}
		body = z.data;
		len = z.len;
		hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
	}
	if (h->content_type) {
		buf_puts(&line, "Content-Type: ");
		buf_puts(&line, h->content_type);
		hdrs = curl_slist_append(hdrs, (char *)line.data);
		buf_reset(&line);
	}
	if (h->idempotency_key) {
		buf_puts(&line, "Idempotency-Key: ");
		buf_puts(&line, h->idempotency_key);
		hdrs = curl_slist_append(hdrs, (char *)line.data);
		buf_reset(&line);
	}
	if (h->bearer && p->token && *p->token) {
		buf_puts(&line, "Authorization: Bearer ");
		buf_puts(&line, p->token);
		hdrs = curl_slist_append(hdrs, (char *)line.data);
		memset(line.data, 0, line.len);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	buf_free(&line);

	curl_easy_reset(t->curl);
	curl_easy_setopt(t->curl, CURLOPT_URL, h->url);
	curl_easy_setopt(t->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(t->curl, CURLOPT_USERAGENT, "llmtap");
	curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout < HTTP_CONNECT_TIMEOUT_MS ?
								    timeout : HTTP_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(t->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(t->curl, CURLOPT_XFERINFOFUNCTION, http_on_progress);
	curl_easy_setopt(t->curl, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, http_on_body);
	curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, &h->resp);
	curl_easy_setopt(t->curl, CURLOPT_HEADERFUNCTION, http_on_header);
	curl_easy_setopt(t->curl, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(t->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(t->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(t->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_file)
		curl_easy_setopt(t->curl, CURLOPT_CAINFO, p->ca_file);
	if (t->url.user) {
		curl_easy_setopt(t->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(t->curl, CURLOPT_USERNAME, t->url.user);
		curl_easy_setopt(t->curl, CURLOPT_PASSWORD, t->url.pass ? t->url.pass : "");
	}
	rc = curl_easy_perform(t->curl);
	curl_slist_free_all(hdrs);
	buf_free(&z);
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(t->curl, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		snprintf(h->err, sizeof(h->err), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &h->status);
	return 0;
}
