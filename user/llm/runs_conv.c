/* runs_conv.c -- the conversations of the run builder: which earlier request a request continues, the tool results it carries matched to the pending tool calls, tool steps closing. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "llm/runs_int.h"
#include "llm/tools.h"

#define TEXT_KEY_MIN 48		/* a response text prefix this long identifies it */
#define TEXT_KEY_MAX 160

void runs_conv_free(struct rconv *c)
{
	free(c->msgs);
	free(c->response_id);
	free(c->text_key);
	free(c->pending);
	free(c->used);
	free(c);
}

/* A new conversation of run. NULL on OOM. */
struct rconv *runs_conv_new(struct rrun *run)
{
	struct rconv *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->run = run;
	c->last_metric = -1;
	c->next = run->convs;
	run->convs = c;
	return c;
}

/* The prefix of a response text that identifies it inside a later request
 * body (the summary a compaction carries): up to TEXT_KEY_MAX bytes with
 * nothing a JSON encoder escapes; NULL when shorter than TEXT_KEY_MIN. */
static char *text_key(const char *text)
{
	size_t n = 0;

	if (!text)
		return NULL;
	while (text[n] && n < TEXT_KEY_MAX) {
		unsigned char c = (unsigned char)text[n];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '/')
			break;
		n++;
	}
	return n >= TEXT_KEY_MIN ? strndup(text, n) : NULL;
}

/* The conversation of agent a this request continues, or NULL; *from is the
 * index of its first new message (SIZE_MAX when unknown), *compacted 1 when
 * it was found by the summary of a compaction. */
struct rconv *runs_conv_match(struct ragent *a, const struct tool_request *q, const char *body,
				size_t *from, int *compacted)
{
	struct rconv *best = NULL, *c;
	struct rrun *run;
	size_t i;

	*from = SIZE_MAX;
	*compacted = 0;
	if (!q->parsed)
		return NULL;
	/* Responses API state: previous_response_id names the last response */
	for (run = a->runs; run && q->previous_response_id; run = run->next)
		for (c = run->convs; c; c = c->next)
			if (c->response_id && !strcmp(c->response_id, q->previous_response_id)) {
				*from = 0;
				return c;
			}
	if (!q->nmsgs)
		return NULL;
	/* the longest earlier request this one extends (equal: a retry) */
	for (run = a->runs; run; run = run->next) {
		for (c = run->convs; c; c = c->next) {
			if (!c->nmsgs || c->nmsgs > q->nmsgs || (best && c->nmsgs <= best->nmsgs))
				continue;
			for (i = 0; i < c->nmsgs && c->msgs[i] == q->msgs[i]; i++)
				;
			if (i == c->nmsgs)
				best = c;
		}
	}
	if (best) {
		*from = best->nmsgs;
		return best;
	}
	/* the same instructions and first message: the history was edited */
	for (run = a->runs; run; run = run->next)
		for (c = run->convs; c; c = c->next)
			if (c->head && c->head == q->head)
				return c;
	/* the summary of a compaction: the last response's text, now in the request */
	for (run = a->runs; run && body; run = run->next)
		for (c = run->convs; c; c = c->next)
			if (c->text_key && strstr(body, c->text_key)) {
				*compacted = 1;
				return c;
			}
	return NULL;
}

/* 1 when the normalised id hash h was matched before in c. */
static int conv_used(const struct rconv *c, uint64_t h)
{
	size_t i;

	for (i = 0; i < c->nused; i++)
		if (c->used[i] == h)
			return 1;
	return 0;
}

/* Note the normalised id hash h as matched in c (forgotten on OOM: a later match may reuse it). */
static void conv_use(struct rconv *c, uint64_t h)
{
	uint64_t *n = realloc(c->used, (c->nused + 1) * sizeof(*n));

	if (n) {
		c->used = n;
		c->used[c->nused++] = h;
	}
}

/* Hash of a normalised id (0 for none). */
static uint64_t id_hash(const char *id)
{
	char norm[64];

	if (!id || !*id)
		return 0;
	tools_norm_id(id, norm, sizeof(norm));
	return hash64(norm, strlen(norm), HASH64_INIT);
}

/* Close a pending tool step at end_ns with status (its execs past the end leave). */
static void step_close(struct runs *r, struct rrun *run, struct rstep *s, int64_t end_ns,
		       const char *status)
{
	struct rrun *sub;

	s->open = 0;
	s->end_ns = end_ns > s->start_ns ? end_ns : s->start_ns;
	s->status = status;
	runs_step_mark(run, s);
	run->dirty = 1;
	run->tool_ms += (s->end_ns - s->start_ns) / 1e6;
	runs_exec_trim(r, run, s);
	/* the in-process sub-agents it waited for are over */
	for (sub = run->agent->runs; sub; sub = sub->next) {
		if (sub != run && sub->state == RS_RUNNING && sub->parent_seq == s->seq &&
		    !strcmp(sub->parent_id, run->id)) {
			sub->state = RS_ENDED;	/* first: its own steps may close sub-runs */
			runs_close_pending(r, sub, end_ns);
			sub->dirty = 1;
			runs_hist_add(r, sub);
		}
	}
}

/* The tool results of request q (from message index from on) answer the
 * pending tool steps of c: by exact id, by normalised id, then in order by
 * name. Steps left are unanswered. The request is call c. */
void runs_conv_answer(struct runs *r, struct rconv *cv, const struct tool_request *q, size_t from,
			const struct call_row *c)
{
	size_t i, k, n = q->nresults;
	char *taken = n ? calloc(n, 1) : NULL;
	struct rstep **match = cv->npending ? calloc(cv->npending, sizeof(*match)) : NULL;
	size_t *res = cv->npending ? calloc(cv->npending, sizeof(*res)) : NULL;
	char norm[64];
	int pass;

	if ((n && !taken) || (cv->npending && (!match || !res)))
		goto out_close;	/* OOM: every step unanswered, never a wrong match */
	/* results already matched, or before the new part, are not candidates */
	for (k = 0; k < n; k++)
		if ((from != SIZE_MAX && q->results[k].msg < from) ||
		    (q->results[k].id && conv_used(cv, id_hash(q->results[k].id))))
			taken[k] = 1;
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < cv->npending; i++) {
			struct rstep *s = cv->pending[i];

			if (match[i])
				continue;
			for (k = 0; k < n; k++) {
				const struct tool_result *t = &q->results[k];

				if (taken[k])
					continue;
				if (pass == 0 && !(s->id && t->id && !strcmp(s->id, t->id)))
					continue;
				if (pass == 1 && !(s->norm[0] && t->id &&
						   !strcmp(s->norm, tools_norm_id(t->id, norm, sizeof(norm)))))
					continue;
				if (pass == 2 && t->name && s->name && strcmp(t->name, s->name))
					continue;
				if (pass == 2 && t->id && s->id && !t->name)
					continue;	/* two ids that differ: not the same call */
				match[i] = s;
				res[i] = k;
				taken[k] = 1;
				break;
			}
		}
	}
out_close:
	for (i = 0; i < cv->npending; i++) {
		struct rstep *s = cv->pending[i];

		if (match && match[i]) {
			const struct tool_result *t = &q->results[res[i]];

			s->result_bytes = (int64_t)t->bytes;
			memcpy(s->result_call_id, c->id, sizeof(s->result_call_id));
			if (t->id)
				conv_use(cv, id_hash(t->id));
			step_close(r, cv->run, s, c->start_ns, t->is_error ? "error" : "ok");
		} else {
			step_close(r, cv->run, s, c->start_ns, "unanswered");
		}
	}
	cv->npending = 0;
	free(taken);
	free(match);
	free(res);
}

/* Unanswered: every pending tool step of run, closed at end_ns. */
void runs_close_pending(struct runs *r, struct rrun *run, int64_t end_ns)
{
	struct rconv *c;
	size_t i;

	for (c = run->convs; c; c = c->next) {
		for (i = 0; i < c->npending; i++)
			step_close(r, run, c->pending[i], end_ns, "unanswered");
		c->npending = 0;
	}
}

/* Record request q and response resp of call c as conversation cv's latest. */
void runs_conv_update(struct rconv *cv, struct tool_request *q, const struct tool_response *resp,
			const struct call_row *c, int continued_by_id)
{
	uint64_t *m;

	if (continued_by_id && cv->nmsgs) {
		/* Responses with previous_response_id: the new items extend the history */
		m = realloc(cv->msgs, (cv->nmsgs + q->nmsgs) * sizeof(*m));
		if (m) {
			memcpy(m + cv->nmsgs, q->msgs, q->nmsgs * sizeof(*m));
			cv->msgs = m;
			cv->nmsgs += q->nmsgs;
		}
	} else if (q->nmsgs) {
		free(cv->msgs);
		cv->msgs = q->msgs;
		cv->nmsgs = q->nmsgs;
		q->msgs = NULL;
		q->nmsgs = 0;
		cv->head = q->head;
	}
	cv->has_tools |= q->has_tools;
	if (resp->response_id) {
		free(cv->response_id);
		cv->response_id = strdup(resp->response_id);
	}
	free(cv->text_key);
	cv->text_key = text_key(c->response_text);
}
