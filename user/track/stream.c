/* stream.c -- per-connection plaintext streams: HTTP/1.1 (and, via stream_h2.c, HTTP/2) exchanges in, finished LLM call rows out.
 *
 * A connection is keyed by (tgid, SSL*), or for plain TCP (no TLS) by the
 * socket's cookie (the two key spaces are kept apart). The first request written on it makes
 * the process the client; a request read on it makes it a server, whose
 * traffic is not ours to record. Requests and responses are paired in order
 * (pipelining works); each pair becomes one row when both ends are complete,
 * or earlier with an error when the connection, the process or the tracer
 * ends first (stream_rows.c makes the row). An HTTP/2 connection (stream_h2.c) makes one exchange per stream.
 */
#include "track/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "track/stream_int.h"
#include "llm/provider.h"
#include "base/procfs.h"
#include "base/util.h"

/* Record the first problem of an exchange; later ones are consequences. */
void exchange_fail(struct exchange *x, const char *why)
{
	if (!x->error)
		x->error = strdup(why);
}

/* A head with lines past the parser's limits: the row says so (a large head
 * does not hide a call). */
static void head_dropped(struct exchange *x, const struct http1_head *h)
{
	char msg[128];

	if (!h->dropped_headers)
		return;
	snprintf(msg, sizeof(msg), "%s head over %d KiB or %d headers: %zu header(s) not kept",
		 h->type == HTTP1_REQUEST ? "request" : "response", HTTP1_MAX_HEAD >> 10,
		 HTTP1_MAX_HEADERS, h->dropped_headers);
	exchange_fail(x, msg);
}

/* Decode body bytes into out, capped at max_body and at what the budget
 * has left; marks the exchange on trouble. */
void stream_body_add(struct stream *c, struct exchange *x, int dir, struct decoder *d,
		     struct buf *out, const uint8_t *p, size_t n)
{
	struct stream_table *t = c->t;
	size_t lim = t->max_body, cap0 = out->cap, room;
	int err;

	if (!d || x->truncated[dir])
		return;
	if (t->body_budget) {
		/* a buffer holds up to a quarter more than its bytes (buf.c) */
		room = t->body_budget > t->body_mem ? (t->body_budget - t->body_mem) / 5 * 4 : 0;
		if (out->len + room < lim)
			lim = out->len + room;
	}
	err = decoder_feed(d, p, n, out, lim);
	t->body_mem += out->cap - cap0;
	if (err == DECODE_ERR_LIMIT) {
		x->truncated[dir] = 1;
		if (lim < t->max_body && !t->budget_cuts++)
			log_warn("bodies in memory reached the --body-memory budget (%zu MiB): "
				 "bodies are cut (error = 'truncated') until calls finish",
				 t->body_budget >> 20);
	}
	else if (err == DECODE_ERR_CORRUPT)
		exchange_fail(x, "body could not be decoded (corrupt compressed data)");
	else if (err)
		exchange_fail(x, "out of memory decoding body");
}

/* ---- request side callbacks ---- */

static int stream_req_on_head(void *ud, const struct http1_head *h)
{
	struct stream *c = ud;
	struct exchange *x, **pp;
	const char *host;

	x = calloc(1, sizeof(*x));
	if (!x)
		return 0;
	x->tid = c->cur->tid;
	x->reused = c->exchanges++ > 0;
	x->t_req_start = c->msg_start_ts[0];
	snprintf(x->method, sizeof(x->method), "%s", h->method);
	x->target = strdup(h->target ? h->target : "");
	host = http1_head_get(h, "host");
	x->host = host ? strdup(host) : NULL;
	stream_head_format(&x->req_head, h);
	head_dropped(x, h);
	x->ws_upgrade = http1_head_get(h, "upgrade") &&
			strcasestr(http1_head_get(h, "upgrade"), "websocket") != NULL;
	x->req_dec = decoder_new(decode_parse_encoding(http1_head_get(h, "content-encoding")));
	for (pp = &c->xq; *pp; pp = &(*pp)->next)
		;
	*pp = x;
	c->req_x = x;
	return 0;
}

void stream_req_on_body(void *ud, const uint8_t *p, size_t n)
{
	struct stream *c = ud;

	if (c->req_x)
		stream_body_add(c, c->req_x, 0, c->req_x->req_dec, &c->req_x->req_body, p, n);
}

void stream_req_on_done(void *ud)
{
	struct stream *c = ud;
	struct exchange *x = c->req_x;

	c->req_x = NULL;
	if (!x)
		return;
	x->req_done = 1;
	x->t_req_end = c->cur->ts_end_ns;
	if (x->req_dec && !x->truncated[0] && decoder_finish(x->req_dec))
		exchange_fail(x, "request body could not be decoded (truncated compressed data)");
	if (x->resp_done)
		exchange_emit(c, x, NULL);
}

/* ---- response side callbacks ---- */

static int stream_resp_on_head(void *ud, const struct http1_head *h)
{
	struct stream *c = ud;
	struct exchange *x;
	const char *ct;

	c->resp_interim = h->status >= 100 && h->status < 200;
	for (x = c->xq; x && x->resp_done; x = x->next)
		;
	if (h->status == 101 && x && x->ws_upgrade && !stream_ws_upgrade(c, x, h))
		exchange_drop(c, x);	/* the upgrade itself is no call */
	if (c->resp_interim)
		return 0;
	for (x = c->xq; x && x->resp_done; x = x->next)
		;
	c->resp_x = x;
	if (!x)
		return 0;	/* a response to a request we did not see */
	x->status = h->status;
	x->t_resp_first = c->msg_start_ts[1];
	x->t_resp_last = c->cur->ts_end_ns;
	stream_head_format(&x->resp_head, h);
	head_dropped(x, h);
	ct = http1_head_get(h, "content-type");
	x->content_type = ct ? strdup(ct) : NULL;
	x->resp_dec = decoder_new(decode_parse_encoding(http1_head_get(h, "content-encoding")));
	return strcasecmp(x->method, "HEAD") == 0;
}

void stream_resp_on_body(void *ud, const uint8_t *p, size_t n)
{
	struct stream *c = ud;
	struct exchange *x = c->resp_x;
	size_t before;

	if (!x)
		return;
	before = x->resp_body.len;
	stream_body_add(c, x, 1, x->resp_dec, &x->resp_body, p, n);
	x->t_resp_last = c->cur->ts_end_ns;
	if (x->resp_body.len == before)
		return;
	/* Remember when each decoded byte arrived: ttft maps an offset to a time. */
	if (x->nticks && x->ticks[x->nticks - 1].ts == c->cur->ts_end_ns) {
		x->ticks[x->nticks - 1].off = x->resp_body.len;
		return;
	}
	if (x->nticks == x->cap_ticks) {
		size_t cap = x->cap_ticks ? 2 * x->cap_ticks : 64;
		struct tick *t = realloc(x->ticks, cap * sizeof(*t));

		if (!t)
			return;
		x->ticks = t;
		x->cap_ticks = cap;
	}
	x->ticks[x->nticks].off = x->resp_body.len;
	x->ticks[x->nticks].ts = c->cur->ts_end_ns;
	x->nticks++;
}

void stream_resp_on_done(void *ud)
{
	struct stream *c = ud;
	struct exchange *x = c->resp_x;

	if (c->resp_interim) {
		c->resp_interim = 0;
		return;
	}
	c->resp_x = NULL;
	if (!x)
		return;
	x->resp_done = 1;
	x->t_resp_last = c->cur ? c->cur->ts_end_ns : x->t_resp_last;
	if (x->resp_dec && !x->truncated[1] && decoder_finish(x->resp_dec))
		exchange_fail(x, "response body could not be decoded (truncated compressed data)");
	if (x->req_done)
		exchange_emit(c, x, NULL);
}

static const struct http1_callbacks req_cb = { stream_req_on_head, stream_req_on_body, stream_req_on_done };
static const struct http1_callbacks resp_cb = { stream_resp_on_head, stream_resp_on_body, stream_resp_on_done };


/* ---- connections ---- */

/* The htab key's first word: sockets and SSL*s never share a key. */
static uint64_t stream_k1(uint32_t tgid, int sock)
{
	return tgid | (sock ? 1ull << 32 : 0);
}

static struct stream *stream_find(struct stream_table *t, uint32_t tgid, uint64_t ssl, int sock)
{
	struct htab_node *n = htab_find(&t->streams, stream_k1(tgid, sock), ssl);

	return n ? htab_entry(n, struct stream, node) : NULL;
}

static struct stream *stream_get(struct stream_table *t, const struct stream_chunk *ch)
{
	struct stream *c = stream_find(t, ch->tgid, ch->ssl, ch->sock);
	char exe[4096], id[65];

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->t = t;
	c->first_ns = ch->ts_start_ns;
	c->tgid = ch->tgid;
	c->ssl = ch->ssl;
	c->sock = ch->sock != 0;
	/* The process's name, not the thread's: Bun and tokio do TLS on
	 * threads named "HTTP Client" and "tokio-runtime-w". */
	procfs_comm(ch->tgid, c->comm, sizeof(c->comm));
	if (!c->comm[0])
		snprintf(c->comm, sizeof(c->comm), "%s", ch->comm ? ch->comm : "");
	procfs_exe(ch->tgid, exe, sizeof(exe));
	c->exe = strdup(exe);
	procfs_cgroup(ch->tgid, exe, sizeof(exe));
	c->cgroup = exe[0] ? strdup(exe) : NULL;
	if (c->cgroup && procfs_container_id(c->cgroup, id))
		c->container_id = strdup(id);
	if (htab_add(&t->streams, &c->node, stream_k1(c->tgid, c->sock), c->ssl)) {
		free(c->exe);
		free(c->cgroup);
		free(c->container_id);
		free(c);
		return NULL;
	}
	return c;
}

void stream_parsers_free(struct stream *c)
{
	if (c->req_p)
		http1_parser_free(c->req_p);
	if (c->resp_p)
		http1_parser_free(c->resp_p);
	c->req_p = c->resp_p = NULL;
	h2_parser_free(c->h2p[0]);
	h2_parser_free(c->h2p[1]);
	c->h2p[0] = c->h2p[1] = NULL;
	stream_ws_free(c);
}

/* Set c's role. The ones that never change back (a server's side, not
 * HTTP) are told to the capture, which then stops copying the bytes. */
static void stream_set_role(struct stream *c, enum role role)
{
	c->role = role;
	if ((role == ROLE_SERVER || role == ROLE_OTHER) && c->t && c->t->mute)
		c->t->mute(c->t->mute_ctx, c->tgid, c->ssl);
}

/* End every exchange of c with error why (complete ones first) and reset
 * the parsers: the connection starts over as unknown. */
void stream_flush(struct stream *c, const char *why)
{
	struct exchange *x;

	/* A response delimited by the close completes here. */
	if (c->resp_p && c->resp_x)
		http1_parser_finish(c->resp_p);
	while ((x = c->xq))
		exchange_emit(c, x, why);
	/* HTTP/2 and WebSocket framing (and their compression) cannot be
	 * picked up mid-stream. */
	stream_set_role(c, c->h2 || c->ws ? ROLE_OTHER : ROLE_UNKNOWN);
	stream_parsers_free(c);
	c->h2 = 0;
	c->probes = 0;
	c->resp_interim = 0;
}

void stream_protocol_error(struct stream *c, const char *proto, int dir, const char *err)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "malformed %s %s: %s", proto,
		 dir == 0 ? "request" : "response", err);
	log_debug("pid %u conn %#llx: %s", c->tgid, (unsigned long long)c->ssl, msg);
	stream_flush(c, msg);
	stream_set_role(c, ROLE_OTHER);
}

static void stream_destroy(struct stream_table *t, struct stream *c, const char *why)
{

	c->cur = NULL;
	stream_flush(c, why);
	htab_del(&t->streams, &c->node);
	free(c->exe);
	free(c->cgroup);
	free(c->container_id);
	free(c);
}

/* Does p start like an HTTP request line? Only used to spot servers. */
static int looks_like_request(const uint8_t *p, size_t n)
{
	static const char *const methods[] = {
		"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "PATCH ", "OPTIONS ", "PRI * ",
	};
	size_t i, l;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		l = strlen(methods[i]);
		if (n >= l && memcmp(p, methods[i], l) == 0)
			return 1;
	}
	return 0;
}

static void stream_feed(struct stream *c, int dir, const uint8_t *p, size_t n)
{
	struct http1_parser *hp = dir == 0 ? c->req_p : c->resp_p;
	long rc;

	if (c->h2) {
		stream_h2_feed(c, dir, p, n);
		return;
	}
	if (c->ws) {
		stream_ws_feed(c, dir, p, n);
		return;
	}
	if (!hp || c->role != ROLE_CLIENT)
		return;
	if (!http1_parser_in_message(hp))
		c->msg_start_ts[dir] = dir == 0 ? c->cur->ts_start_ns : c->cur->ts_end_ns;
	rc = http1_parser_feed(hp, p, n);
	if (rc >= 0 && dir == 1 && http1_parser_switched(hp)) {
		/* after a 101: frames when it upgraded to a WebSocket, else a
		 * protocol we do not follow */
		if (c->ws)
			stream_ws_feed(c, dir, p + rc, n - rc);
		else
			stream_flush(c, "connection switched to a protocol llmtap does not parse");
		return;
	}
	if (rc >= 0)
		return;
	if (rc == HTTP1_ERR_NOT_HTTP && dir == 0 && !c->xq) {
		/* Mid-message (attached late) or not HTTP/1: try the next write. */
		stream_parsers_free(c);
		stream_set_role(c, ++c->probes >= STREAM_PROBE_WRITES ? ROLE_OTHER : ROLE_UNKNOWN);
		return;
	}
	if (rc == HTTP1_ERR_HEAD_BIG && dir == 0) {
		/* a request line too long to parse is still a call: its row says why */
		struct http1_head h;

		if (!http1_parser_partial(hp, &h) && !stream_req_on_head(c, &h) && c->req_x)
			c->req_x->head_only = 1;
	}
	stream_protocol_error(c, "HTTP", dir, http1_strerror((int)rc));
}

/* Decide what the connection is from its first bytes. Returns 1 when the
 * chunk should be parsed as a client's: the request parser then has the
 * last word (a write that is not a request start sends us back here). */
static int stream_classify(struct stream *c, const struct stream_chunk *ch)
{
	if (ch->dir == 1) {
		if (looks_like_request(ch->data, ch->len))
			stream_set_role(c, ROLE_SERVER);
		return 0;	/* a response to a request we did not see */
	}
	if (ch->len >= 4 && memcmp(ch->data, H2_PREFACE,
				   ch->len < H2_PREFACE_LEN ? ch->len : H2_PREFACE_LEN) == 0) {
		/* An HTTP/2 client: the preface, then frames both ways. */
		if (stream_h2_start(c)) {
			stream_parsers_free(c);
			return 0;
		}
		c->role = ROLE_CLIENT;
		return 1;
	}
	c->req_p = http1_parser_new(HTTP1_REQUEST, &req_cb, c);
	c->resp_p = http1_parser_new(HTTP1_RESPONSE, &resp_cb, c);
	if (!c->req_p || !c->resp_p) {
		stream_parsers_free(c);
		return 0;
	}
	c->role = ROLE_CLIENT;
	return 1;
}

void stream_data(struct stream_table *t, const struct stream_chunk *ch)
{
	static const uint8_t filler[4096];
	struct stream *c;
	int dir = ch->dir ? 1 : 0;
	uint64_t skip = 0, left;
	char msg[96];

	c = stream_get(t, ch);
	if (!c)
		return;
	c->cur = ch;
	c->tid = ch->tid;
	if (c->seen[dir] && ch->offset != c->next_off[dir]) {
		if (ch->offset < c->next_off[dir]) {
			skip = c->next_off[dir] - ch->offset;	/* already had these bytes */
		} else {
			snprintf(msg, sizeof(msg), "capture gap: %llu bytes lost (ring buffer full)",
				 (unsigned long long)(ch->offset - c->next_off[dir]));
			log_warn("pid %u (%s): %s", ch->tgid, c->comm, msg);
			log_debug("pid %u: %s stream %#llx, %s: at %llu, expected %llu", ch->tgid,
				  c->sock ? "socket" : "TLS", (unsigned long long)c->ssl,
				  dir ? "read" : "written", (unsigned long long)ch->offset,
				  (unsigned long long)c->next_off[dir]);
			stream_flush(c, msg);
		}
	}
	c->seen[dir] = 1;
	if (ch->offset + ch->len + ch->missing > c->next_off[dir])
		c->next_off[dir] = ch->offset + ch->len + ch->missing;
	if (skip >= ch->len)
		goto out;

	if (c->role == ROLE_UNKNOWN && !stream_classify(c, ch))
		goto out;
	if (c->role != ROLE_CLIENT)
		goto out;
	stream_feed(c, dir, ch->data + skip, ch->len - skip);
	if ((c->h2 || c->ws) && ch->missing) {
		/* Filler cannot stand in for frames: the connection is lost. */
		snprintf(msg, sizeof(msg), "capture gap: %llu bytes not copied (%s framing lost)",
			 (unsigned long long)ch->missing, c->h2 ? "HTTP/2" : "WebSocket");
		log_warn("pid %u: %s", ch->tgid, msg);
		stream_flush(c, msg);
		goto out;
	}
	/* Bytes BPF did not copy (one SSL call over the cap): keep the framing
	 * with filler so later messages still parse; the call is truncated. */
	for (left = ch->missing; left && c->role == ROLE_CLIENT;) {
		size_t n = left < sizeof(filler) ? left : sizeof(filler);
		struct exchange *x = dir == 0 ? c->req_x : c->resp_x;

		if (x)
			x->truncated[dir] = 1;
		stream_feed(c, dir, filler, n);
		left -= n;
	}
out:
	c->cur = NULL;
}

/* The end of stream c: bytes lost at its end make a capture gap. */
static void stream_end(struct stream_table *t, struct stream *c, const uint64_t end_off[2])
{
	uint64_t lost = 0;
	char msg[96];
	int dir;

	for (dir = 0; end_off && dir < 2; dir++)
		if (end_off[dir] > c->next_off[dir])
			lost += end_off[dir] - c->next_off[dir];
	if (lost) {
		snprintf(msg, sizeof(msg), "capture gap: %llu bytes lost (ring buffer full)",
			 (unsigned long long)lost);
		log_warn("pid %u: %s", c->tgid, msg);
		stream_destroy(t, c, msg);
		return;
	}
	stream_destroy(t, c, "connection closed before the response completed");
}

void stream_close(struct stream_table *t, uint32_t tgid, uint64_t ssl,
		  const uint64_t end_off[2], uint64_t ts_ns)
{
	struct stream *c = stream_find(t, tgid, ssl, 0);

	(void)ts_ns;
	if (c)
		stream_end(t, c, end_off);
}

void stream_close_sock(struct stream_table *t, uint32_t tgid, uint64_t cookie,
		       const uint64_t end_off[2], uint64_t ts_ns)
{
	struct stream *c = stream_find(t, tgid, cookie, 1);

	(void)ts_ns;
	if (c)
		stream_end(t, c, end_off);
}

/* Destroy every connection of tgid (all processes when tgid is 0) that
 * began before before_ns (0: any). */
static void stream_destroy_tgid(struct stream_table *t, uint32_t tgid, int only_dead,
				uint64_t before_ns, const char *why)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	while ((n = htab_next(&t->streams, &it))) {
		struct stream *c = htab_entry(n, struct stream, node);

		if ((tgid && c->tgid != tgid) || (only_dead && procfs_alive(c->tgid)) ||
		    (before_ns && c->first_ns >= before_ns))
			continue;
		stream_destroy(t, c, why);
	}
}

void stream_process_exit(struct stream_table *t, uint32_t tgid, uint64_t ts_ns)
{
	/* Streams that began after the exit are a new process's with the
	 * same pid: its first data can be read before the old one's exit,
	 * which came through another ring. */
	stream_destroy_tgid(t, tgid, 0, ts_ns, "process exited before the response completed");
}

void stream_reap(struct stream_table *t)
{
	stream_destroy_tgid(t, 0, 1, 0, "process exited before the response completed");
}

struct stream_table *stream_table_new(size_t max_body, struct net_table *net,
				       const struct row_sink *sink)
{
	struct stream_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	htab_init(&t->streams);
	t->max_body = max_body;
	t->net = net;
	if (sink)
		t->sink = *sink;
	return t;
}

void stream_table_set_mute(struct stream_table *t, stream_mute_fn fn, void *ctx)
{
	t->mute = fn;
	t->mute_ctx = ctx;
}

void stream_table_free(struct stream_table *t, const char *why)
{
	if (!t)
		return;
	stream_destroy_tgid(t, 0, 0, 0, why);
	htab_fini(&t->streams);
	free(t);
}

void stream_set_body_budget(struct stream_table *t, size_t bytes)
{
	t->body_budget = bytes;
}

uint64_t stream_budget_cuts(const struct stream_table *t)
{
	return t->budget_cuts;
}

size_t stream_count(const struct stream_table *t)
{
	return t->streams.count;
}

size_t stream_inflight(const struct stream_table *t, struct inflight_row *out, size_t max)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;
	size_t k = 0;

	while (k < max && (n = htab_next(&t->streams, &it))) {
		struct stream *c = htab_entry(n, struct stream, node);
		struct exchange *x;

		if (c->role != ROLE_CLIENT)
			continue;
		for (x = c->xq; x && k < max; x = x->next) {
			struct inflight_row *f = &out[k];

			if (!x->t_req_start || !provider_llm_path(x->target))
				continue;
			memset(f, 0, sizeof(*f));
			f->pid = c->tgid;
			f->tid = x->tid;
			memcpy(f->comm, c->comm, sizeof(f->comm));
			snprintf(f->method, sizeof(f->method), "%.15s", x->method);
			snprintf(f->host, sizeof(f->host), "%s", x->host ? x->host : "");
			snprintf(f->path, sizeof(f->path), "%.*s", (int)strcspn(x->target, "?#"), x->target);
			f->start_ns = (int64_t)x->t_req_start;	/* monotonic: the caller dates it */
			f->phase = !x->req_done ? "sending" : !x->t_resp_first ? "waiting" : "receiving";
			f->response_bytes = (int64_t)x->resp_body.len;
			k++;
		}
	}
	return k;
}
