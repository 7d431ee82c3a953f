/* target_json.c -- the generic JSON target: batches {"host_id","batch_id","table","rows":[...]} POSTed with an Idempotency-Key. */
#include "push/push_int.h"

#include <stdlib.h>
#include <string.h>

/* The rows of st as one JSON batch object. As push_kind_ops.build. */
static int json_target_build(struct push_target *t, struct push_tab *tab, sqlite3_stmt *st,
			     const char *batch_id, struct buf *body, int64_t *last, int *nrows)
{
	struct pval *vals = calloc(tab->ncols ? tab->ncols : 1, sizeof(*vals));
	int rc;

	if (!vals || push_batch_open(body, push_host_id(t->p), batch_id, tab->name)) {
		free(vals);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		push_row_vals(st, tab, vals, push_opts_of(t->p)->bodies);
		if ((*nrows && buf_append(body, ",", 1)) ||
		    push_row_json(body, tab->cols, vals, tab->ncols)) {
			rc = SQLITE_NOMEM;
			break;
		}
		*last = sqlite3_column_int64(st, 0);
		(*nrows)++;
		if (body->len >= PUSH_BATCH_BYTES) {
			rc = SQLITE_FULL;
			break;
		}
	}
	free(vals);
	if ((rc != SQLITE_DONE && rc != SQLITE_FULL) || push_batch_close(body))
		return -1;
	return rc == SQLITE_FULL;
}

/* POST the batch with its id as Idempotency-Key; 400, 413 and 422 drop it,
 * other failures are retried. As push_kind_ops.send. */
static void json_target_send(struct push_target *t, struct push_tab *tab, const struct buf *body,
			     const char *batch_id, int nrows, struct push_result *r)
{
	struct push_http h = { 0 };

	(void)tab;
	(void)nrows;
	r->outcome = PUSH_RETRY;
	h.url = t->url.endpoint;
	h.content_type = "application/json";
	h.body = body->data;
	h.len = body->len;
	h.idempotency_key = batch_id;
	h.bearer = 1;
	if (push_http_post(t, &h, 1)) {
		push_set_error(t, r, "%s", h.err);
	} else if (h.status >= 200 && h.status < 300) {
		r->outcome = PUSH_OK;
	} else {
		/* A batch the receiver says it can never take is dropped (and counted);
		 * anything else (auth, overload, outage) is retried. */
		if (h.status == 400 || h.status == 413 || h.status == 422)
			r->outcome = PUSH_DROP;
		push_set_error(t, r, "HTTP %ld: %.200s", h.status,
			       h.resp.data ? (const char *)h.resp.data : "");
		r->retry_after = h.retry_after;
	}
	buf_free(&h.resp);
}

const struct push_kind_ops push_json_ops = {
	.name = "json",
	.tables = NULL,
	.setup = NULL,
	.build = json_target_build,
	.send = json_target_send,
};
