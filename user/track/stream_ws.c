/* stream_ws.c -- WebSocket client connections (HTTP/1.1 Upgrade, RFC 6455): each Responses API response streamed over one becomes an exchange of stream.c's machinery.
 *
 * After a 101 answer to an "Upgrade: websocket" request, each direction is
 * a frame parser (proto/ws.c). A text message the client writes with
 * "type": "response.create" opens an exchange; the server's messages after
 * it are its response events, kept as SSE text ("event: TYPE\ndata: JSON")
 * so that llm/'s Responses stream parser reads them; "response.completed",
 * "response.failed", "response.incomplete" or "error" ends it. The row has
 * the upgrade's method, path, headers and status (GET, 101), the
 * response.create message as its request body.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "track/stream_int.h"
#include "base/util.h"
#include "llm/jparse.h"

/* What the upgrade said, kept for the exchanges of the connection. */
struct ws_conn {
	char method[32];
	char *target, *host;
	struct buf req_head, resp_head;
	int responses;		/* exchanges opened so far */
};

/* A copy of b's bytes into out (emptied first). Returns 0, -1 on OOM. */
static int buf_copy(struct buf *out, const struct buf *b)
{
	buf_reset(out);
	return b->len ? buf_append(out, b->data, b->len) : 0;
}

/* The "type" of a JSON message (static "" when it has none); *root is the
 * parsed message (NULL when it is not JSON), to be json_decref()'d. */
static const char *msg_type(const uint8_t *d, size_t n, json_t **root)
{
	const char *t;

	*root = jparse_loadb((const char *)d, n, JSON_ALLOW_NUL, NULL);
	t = json_string_value(json_object_get(*root, "type"));
	return t ? t : "";
}

/* The exchange whose response is being read: the oldest not answered. */
static struct exchange *ws_open_exchange(struct stream *c)
{
	struct exchange *x;

	for (x = c->xq; x && x->resp_done; x = x->next)
		;
	return x;
}

/* A client message: response.create opens an exchange. */
static void ws_client_message(struct stream *c, const uint8_t *d, size_t n, int truncated)
{
	struct ws_conn *w = c->wsc;
	struct exchange *x, **pp;
	json_t *root, *inner;
	char *flat;

	if (strcmp(msg_type(d, n, &root), "response.create"))
		goto out_root;
	x = calloc(1, sizeof(*x));
	if (!x)
		goto out_root;
	x->ws = 1;
	x->tid = c->cur->tid;
	x->reused = w->responses++ > 0;
	x->t_req_start = c->cur->ts_start_ns;
	x->t_req_end = c->cur->ts_end_ns;
	snprintf(x->method, sizeof(x->method), "%s", w->method);
	x->target = strdup(w->target ? w->target : "");
	x->host = w->host ? strdup(w->host) : NULL;
	buf_copy(&x->req_head, &w->req_head);
	buf_copy(&x->resp_head, &w->resp_head);
	buf_append(&x->req_body, d, n);
	x->truncated[0] = truncated;
	/* The request's fields may sit in a "response" object, or beside
	 * "type": the provider reads the flat form. */
	inner = json_object_get(root, "response");
	flat = json_dumps(json_is_object(inner) ? inner : root, JSON_COMPACT);
	if (flat) {
		buf_puts(&x->ws_req, flat);
		free(flat);
	}
	x->req_done = 1;
	x->status = 101;
	x->content_type = strdup("text/event-stream");
	x->resp_dec = decoder_new(DEC_IDENTITY);
	for (pp = &c->xq; *pp; pp = &(*pp)->next)
		;
	*pp = x;
out_root:
	json_decref(root);
}

/* A server message: one event of the open exchange's response. */
static void ws_server_message(struct stream *c, const uint8_t *d, size_t n)
{
	struct exchange *x = ws_open_exchange(c);
	const char *type;
	json_t *root;

	if (!x)
		return;		/* nothing asked (a session event, a late one) */
	type = msg_type(d, n, &root);
	if (!x->t_resp_first)
		x->t_resp_first = c->cur->ts_end_ns;
	/* As SSE text: stream.c's body path records when each byte came. */
	c->resp_x = x;
	stream_resp_on_body(c, (const uint8_t *)"event: ", 7);
	stream_resp_on_body(c, (const uint8_t *)type, strlen(type));
	stream_resp_on_body(c, (const uint8_t *)"\ndata: ", 7);
	stream_resp_on_body(c, d, n);
	stream_resp_on_body(c, (const uint8_t *)"\n\n", 2);
	c->resp_x = NULL;
	if (!strcmp(type, "response.completed") || !strcmp(type, "response.failed") ||
	    !strcmp(type, "response.incomplete") || !strcmp(type, "error")) {
		x->resp_done = 1;
		x->t_resp_last = c->cur->ts_end_ns;
		exchange_emit(c, x, NULL);
	}
	json_decref(root);
}

/* ws_callbacks of the client's direction and of the server's. The client's
 * text messages: a response.create opens an exchange. */
static void ws_on_client(void *ud, int op, const uint8_t *d, size_t n, int truncated)
{
	if (op == WS_OP_TEXT)
		ws_client_message(ud, d, n, truncated);
}

/* The server's text messages: events of the open exchange (a cut one marks it truncated). */
static void ws_on_server(void *ud, int op, const uint8_t *d, size_t n, int truncated)
{
	struct stream *c = ud;

	if (op != WS_OP_TEXT)
		return;
	if (truncated) {
		struct exchange *x = ws_open_exchange(c);

		if (x)
			x->truncated[1] = 1;
	}
	ws_server_message(c, d, n);
}

/* A close frame either way: the open exchanges end with an error. */
static void ws_on_close(void *ud, int code)
{
	char msg[80];

	snprintf(msg, sizeof(msg), "WebSocket closed (code %d) before the response completed", code);
	stream_ws_end(ud, msg);
}

static const struct ws_callbacks client_cb = { ws_on_client, ws_on_close };
static const struct ws_callbacks server_cb = { ws_on_server, ws_on_close };

int stream_ws_upgrade(struct stream *c, struct exchange *x, const struct http1_head *h)
{
	const char *ext = http1_head_get(h, "sec-websocket-extensions");
	struct ws_conn *w = calloc(1, sizeof(*w));
	int snct = 0, cnct = 0;

	if (!w)
		return -1;
	snprintf(w->method, sizeof(w->method), "%s", x->method);
	w->target = x->target;
	w->host = x->host;
	x->target = x->host = NULL;
	w->req_head = x->req_head;
	memset(&x->req_head, 0, sizeof(x->req_head));
	/* the 101 head, formatted like every response head */
	stream_head_format(&w->resp_head, h);
	c->wsp[0] = ws_parser_new(&client_cb, c, c->t->max_body);
	c->wsp[1] = ws_parser_new(&server_cb, c, c->t->max_body);
	if (!c->wsp[0] || !c->wsp[1] ||
	    (ext && ws_deflate_params(ext, &snct, &cnct) &&
	     (ws_parser_deflate(c->wsp[0], cnct) || ws_parser_deflate(c->wsp[1], snct)))) {
		c->wsc = w;
		stream_ws_free(c);
		return -1;
	}
	c->wsc = w;
	c->ws = 1;
	log_debug("pid %u: WebSocket on %s%s%s", c->tgid, w->host ? w->host : "?",
		  w->target ? w->target : "", ext ? " (permessage-deflate)" : "");
	return 0;
}

void stream_ws_feed(struct stream *c, int dir, const uint8_t *p, size_t n)
{
	long rc = ws_parser_feed(c->wsp[dir], p, n);

	if (rc < 0)
		stream_protocol_error(c, "WebSocket", dir, ws_strerror((int)rc));
}

void stream_ws_end(struct stream *c, const char *why)
{
	struct exchange *x;

	while ((x = ws_open_exchange(c)))
		exchange_emit(c, x, why);
}

void stream_ws_free(struct stream *c)
{
	struct ws_conn *w = c->wsc;

	ws_parser_free(c->wsp[0]);
	ws_parser_free(c->wsp[1]);
	c->wsp[0] = c->wsp[1] = NULL;
	c->ws = 0;
	if (!w)
		return;
	free(w->target);
	free(w->host);
	buf_free(&w->req_head);
	buf_free(&w->resp_head);
	free(w);
	c->wsc = NULL;
}
