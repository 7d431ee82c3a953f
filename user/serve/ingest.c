/* ingest.c -- the front door on the --listen address: POST /v1/events, /v1/traces and /v1/logs, checked, limited and queued for the main loop.
 *
 * Everything here runs in libmicrohttpd's one internal thread, so the
 * counters and the rate limiter need no lock. A request is refused before
 * its body is read when it can be (401 token, 405 method, 415 type or
 * encoding, 413 by Content-Length, 429 rate or a full inbox); otherwise
 * the body is read (bounded, gzip decoded with the same bound), decoded
 * by the pure modules (proto/evapi.c, proto/otlp.c, which redact), and
 * its rows are queued whole in the events inbox: the answer (202, or 200
 * for OTLP) goes out at once and the main loop writes the rows. */
#include "serve/ingest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/util.h"
#include "proto/decode.h"
#include "proto/evapi.h"
#include "proto/otlp.h"
#include "track/events.h"

#define INGEST_REQ_MAGIC 0x6c6d7467u	/* marks our request state among others */

enum endpoint { EP_EVENTS, EP_TRACES, EP_LOGS };

struct ingest {
	struct ingest_opts o;
	char *token;
	double tokens;			/* the rate limiter's bucket */
	uint64_t refilled_ns;
	struct ingest_stats st;
};

struct ingest_req {
	uint32_t magic;
	enum endpoint ep;
	enum otlp_format fmt;
	struct decoder *dec;
	struct buf body;		/* decoded */
	int too_large, corrupt;
	uint16_t peer_port, local_port;
	uint64_t posted_mono;		/* when the request came */
};

struct ingest *ingest_new(const struct ingest_opts *o)
{
	struct ingest *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->o = *o;
	if (o->token && *o->token && !(in->token = strdup(o->token))) {
		free(in);
		return NULL;
	}
	in->o.token = in->token;
	if (!in->o.max_body)
		in->o.max_body = INGEST_MAX_BODY_DEFAULT;
	if (in->o.rate <= 0)
		in->o.rate = INGEST_RATE_DEFAULT;
	in->tokens = in->o.rate;
	in->refilled_ns = mono_ns();
	return in;
}

void ingest_free(struct ingest *in)
{
	if (!in)
		return;
	if (in->token)
		explicit_bzero(in->token, strlen(in->token));
	free(in->token);
	free(in);
}

int ingest_owns(const char *url)
{
	return !strcmp(url, "/v1/events") || !strcmp(url, "/v1/traces") || !strcmp(url, "/v1/logs");
}

int ingest_token_equal(const char *secret, const char *given)
{
	size_t n = strlen(secret), m = given ? strlen(given) : 0, i;
	unsigned char diff = (unsigned char)(n != m);

	for (i = 0; i < n; i++)
		diff |= (unsigned char)secret[i] ^ (unsigned char)(i < m ? given[i] : 0);
	return diff == 0;
}

void ingest_stats(const struct ingest *in, struct ingest_stats *out)
{
	*out = in->st;
}

/* Take one request from the bucket (refilled at o.rate per second, holding
 * one second's worth at most). Returns 1 when allowed. */
static int rate_take(struct ingest *in)
{
	uint64_t now = mono_ns();

	in->tokens += (now - in->refilled_ns) / 1e9 * in->o.rate;
	if (in->tokens > in->o.rate)
		in->tokens = in->o.rate;
	in->refilled_ns = now;
	if (in->tokens < 1)
		return 0;
	in->tokens -= 1;
	return 1;
}

/* Queue a response: status, content type, body (copied), and a
 * Retry-After / Allow / WWW-Authenticate header when given. */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
			      const void *body, size_t len, const char *hname, const char *hval)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hname)
		MHD_add_response_header(r, hname, hval);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An error as JSON {"error": reason} (text for protobuf requests). */
static enum MHD_Result answer_error(struct ingest *in, struct MHD_Connection *c, unsigned status,
				    int proto, const char *reason, const char *hname, const char *hval)
{
	struct buf b = { 0 };
	enum MHD_Result ret;
	json_t *o;
	char *s;

	switch (status) {
	case MHD_HTTP_BAD_REQUEST: in->st.bad++; break;
	case MHD_HTTP_CONTENT_TOO_LARGE: in->st.too_large++; break;
	case MHD_HTTP_TOO_MANY_REQUESTS: in->st.limited++; break;
	case MHD_HTTP_UNAUTHORIZED: in->st.unauthorized++; break;
	default: break;
	}
	in->st.requests++;
	if (proto) {
		buf_puts(&b, reason);
		buf_puts(&b, "\n");
		ret = answer(c, status, "text/plain; charset=utf-8", b.data, b.len, hname, hval);
		buf_free(&b);
		return ret;
	}
	o = json_pack("{s:s}", "error", reason);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	ret = answer(c, status, "application/json", s ? s : "{}", s ? strlen(s) : 2, hname, hval);
	free(s);
	return ret;
}

/* The media type of a Content-Type value without parameters, lowercase. */
static void media_type(const char *v, char *out, size_t n)
{
	size_t i = 0;

	while (v && *v == ' ')
		v++;
	for (; v && *v && *v != ';' && *v != ' ' && i + 1 < n; v++)
		out[i++] = (*v >= 'A' && *v <= 'Z') ? *v + 32 : *v;
	out[i] = 0;
}

/* The client's and our own TCP ports of c (0 when unknown). */
static void conn_ports(struct MHD_Connection *c, uint16_t *peer, uint16_t *local)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	*peer = *local = 0;
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		*peer = sa->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port) :
			ntohs(((const struct sockaddr_in *)sa)->sin_port);
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci && !getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len))
		*local = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
			 ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Check a new request before its body: returns its state, or NULL with an
 * answer queued in *ret. */
static struct ingest_req *req_begin(struct ingest *in, struct MHD_Connection *c, const char *url,
				    const char *method, enum MHD_Result *ret)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	enum endpoint ep = !strcmp(url, "/v1/events") ? EP_EVENTS : !strcmp(url, "/v1/traces") ?
			   EP_TRACES : EP_LOGS;
	enum decode_enc enc = decode_parse_encoding(ce);
	struct ingest_req *r;
	char mt[64];
	int proto;

	media_type(ct, mt, sizeof(mt));
	proto = ep != EP_EVENTS && (!strcmp(mt, "application/x-protobuf") ||
				    !strcmp(mt, "application/protobuf"));
	if (strcmp(method, MHD_HTTP_METHOD_POST)) {
		*ret = answer_error(in, c, MHD_HTTP_METHOD_NOT_ALLOWED, 0, "method not allowed: POST only",
				    MHD_HTTP_HEADER_ALLOW, "POST");
		return NULL;
	}
	if (in->token && (!auth || strncasecmp(auth, "Bearer ", 7) ||
			  !ingest_token_equal(in->token, auth + 7))) {
		*ret = answer_error(in, c, MHD_HTTP_UNAUTHORIZED, proto, "missing or wrong bearer token",
				    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
		return NULL;
	}
	/* /v1/events reads any body as JSON (curl -d sends a form type); OTLP says its type */
	if (ep == EP_EVENTS ? !strcmp(mt, "application/x-protobuf") :
	    !proto && mt[0] && strcmp(mt, "application/json")) {
		*ret = answer_error(in, c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, 0, ep == EP_EVENTS ?
				    "Content-Type must be application/json" :
				    "Content-Type must be application/json or application/x-protobuf",
				    NULL, NULL);
		return NULL;
	}
	if (enc != DEC_IDENTITY && enc != DEC_GZIP && enc != DEC_DEFLATE && enc != DEC_ZSTD &&
	    enc != DEC_BR) {
		*ret = answer_error(in, c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, proto,
				    "Content-Encoding must be gzip, deflate, br, zstd or none", NULL, NULL);
		return NULL;
	}
	if (cl && strtoull(cl, NULL, 10) > in->o.max_body) {
		*ret = answer_error(in, c, MHD_HTTP_CONTENT_TOO_LARGE, proto, "body too large",
				    NULL, NULL);
		return NULL;
	}
	if (!events_room() || !rate_take(in)) {
		*ret = answer_error(in, c, MHD_HTTP_TOO_MANY_REQUESTS, proto,
				    events_room() ? "too many requests" : "write queue full",
				    MHD_HTTP_HEADER_RETRY_AFTER, "1");
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r && !(r->dec = decoder_new(enc))) {
		free(r);
		r = NULL;
	}
	if (!r) {
		*ret = MHD_NO;
		return NULL;
	}
	r->magic = INGEST_REQ_MAGIC;
	r->ep = ep;
	r->fmt = proto ? OTLP_PROTOBUF : OTLP_JSON;
	conn_ports(c, &r->peer_port, &r->local_port);
	r->posted_mono = mono_ns();
	return r;
}

/* Give the rows their ids, times and ports, and queue them whole. Returns
 * 0, -1 when the inbox has no room for them all. */
static int rows_queue(struct ingest_req *r, struct otlp_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++) {
		if (rows->kind == ROW_EVENT) {
			struct event_row *e = rows->rows[i];

			uuid7(e->id);
			e->peer_port = r->peer_port;
			e->local_port = r->local_port;
			e->posted_mono = r->posted_mono;
		} else {
			struct span_row *s = rows->rows[i];

			s->peer_port = r->peer_port;
			s->local_port = r->local_port;
			s->posted_mono = r->posted_mono;
		}
	}
	if (events_post_all(rows->kind, rows->rows, rows->n))
		return -1;
	free(rows->rows);
	rows->rows = NULL;
	rows->n = rows->cap = 0;
	return 0;
}

/* The whole body is in: decode it, queue the rows, answer. */
static enum MHD_Result req_finish(struct ingest *in, struct MHD_Connection *c, struct ingest_req *r)
{
	struct otlp_rows rows = { 0 };
	char err[256] = "", ok[64];
	int proto = r->fmt == OTLP_PROTOBUF, rc;
	size_t n;

	if (r->too_large)
		return answer_error(in, c, MHD_HTTP_CONTENT_TOO_LARGE, proto, "body too large", NULL, NULL);
	if (r->corrupt || decoder_finish(r->dec))
		return answer_error(in, c, MHD_HTTP_BAD_REQUEST, proto,
				    "the body does not decode as its Content-Encoding says", NULL, NULL);
	if (r->ep == EP_EVENTS)
		rc = evapi_decode(r->body.data ? (const char *)r->body.data : "", r->body.len,
				  (int64_t)real_ns(), &rows, err, sizeof(err));
	else if (r->ep == EP_TRACES)
		rc = otlp_traces_decode(r->body.data, r->body.len, r->fmt, (int64_t)real_ns(), &rows, err,
					sizeof(err));
	else
		rc = otlp_logs_decode(r->body.data, r->body.len, r->fmt, (int64_t)real_ns(), &rows, err,
				      sizeof(err));
	if (rc < 0)
		return answer_error(in, c, MHD_HTTP_BAD_REQUEST, proto, err, NULL, NULL);
	n = rows.n;
	if (n && rows_queue(r, &rows)) {
		otlp_rows_free(&rows);
		return answer_error(in, c, MHD_HTTP_TOO_MANY_REQUESTS, proto, "write queue full",
				    MHD_HTTP_HEADER_RETRY_AFTER, "1");
	}
	otlp_rows_free(&rows);
	in->st.requests++;
	in->st.rows += n;
	if (r->ep == EP_EVENTS) {
		snprintf(ok, sizeof(ok), "{\"accepted\":%zu}", n);
		return answer(c, MHD_HTTP_ACCEPTED, "application/json", ok, strlen(ok), NULL, NULL);
	}
	/* an empty Export*ServiceResponse: full success */
	if (proto)
		return answer(c, MHD_HTTP_OK, "application/x-protobuf", "", 0, NULL, NULL);
	return answer(c, MHD_HTTP_OK, "application/json", "{}", 2, NULL, NULL);
}

enum MHD_Result ingest_request(struct ingest *in, struct MHD_Connection *c, const char *url,
			       const char *method, const char *upload_data, size_t *upload_data_size,
			       void **req)
{
	struct ingest_req *r = *req;
	enum MHD_Result ret;

	if (!r) {
		r = req_begin(in, c, url, method, &ret);
		if (!r)
			return ret;
		*req = r;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* past the bound the rest is read and thrown away; 413 at the end */
		if (!r->too_large && !r->corrupt) {
			int rc = decoder_feed(r->dec, (const uint8_t *)upload_data, *upload_data_size,
					      &r->body, in->o.max_body);

			if (rc == DECODE_ERR_LIMIT)
				r->too_large = 1;
			else if (rc)
				r->corrupt = 1;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return req_finish(in, c, r);
}

void ingest_completed(void *cls, struct MHD_Connection *c, void **req,
		      enum MHD_RequestTerminationCode toe)
{
	struct ingest_req *r = *req;

	(void)cls;
	(void)c;
	(void)toe;
	if (!r || r->magic != INGEST_REQ_MAGIC)
		return;
	decoder_free(r->dec);
	buf_free(&r->body);
	free(r);
	*req = NULL;
}
