/* spans.c -- agent spans joined to the captured calls they describe: same process, overlapping time, same model.
 *
 * An exporter usually sends a span seconds after it ended, and the call it
 * describes is written as soon as its response is parsed, so the join is
 * made in memory: the last SPANS_CALLS_MAX calls (of the last 15 minutes)
 * are remembered, and a span waits until SPANS_GRACE_NS after its end (or
 * its arrival) before it is matched and written. Only spans that name a
 * model are joined: a span around a whole agent step overlaps many calls
 * and describes none of them. */
#include "track/spans.h"

#include <stdlib.h>
#include <string.h>

#include "proto/otlp.h"

struct pending {
	struct pending *next;
	struct span_row *s;
	int64_t due_ns;
};

struct span_join {
	struct row_sink sink;
	struct span_call *calls;	/* a ring of SPANS_CALLS_MAX */
	size_t ncalls, next;
	struct pending *head, *tail;
	size_t waiting;
};

double spans_score(const struct span_row *s, const struct span_call *c)
{
	int64_t lo, hi, ov, len_s, len_c;

	if (!s->model || s->pid == PROC_NULL || s->pid != c->pid || s->start_ns == PROC_NULL ||
	    s->end_ns == PROC_NULL || !otlp_model_match(s->model, c->model))
		return 0;
	if (c->start_ns > s->end_ns + SPANS_SLACK_NS || c->end_ns < s->start_ns - SPANS_SLACK_NS)
		return 0;
	lo = s->start_ns > c->start_ns ? s->start_ns : c->start_ns;
	hi = s->end_ns < c->end_ns ? s->end_ns : c->end_ns;
	ov = hi > lo ? hi - lo : 0;
	len_s = s->end_ns - s->start_ns;
	len_c = c->end_ns - c->start_ns;
	if (len_c > len_s)
		len_s = len_c;
	/* within the slack but not overlapping (or instants): a small score */
	return len_s > 0 && ov > 0 ? (double)ov / len_s : 1e-6;
}

struct span_join *spans_new(const struct row_sink *sink)
{
	struct span_join *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->calls = calloc(SPANS_CALLS_MAX, sizeof(*j->calls));
	if (!j->calls) {
		free(j);
		return NULL;
	}
	if (sink)
		j->sink = *sink;
	return j;
}

void spans_call(struct span_join *j, const struct call_row *c)
{
	struct span_call *e;

	if (!j || !c->start_ns || c->start_ns == CALL_NULL_INT)
		return;
	e = &j->calls[j->next];
	memset(e, 0, sizeof(*e));
	memcpy(e->id, c->id, sizeof(e->id));
	e->pid = c->pid;
	e->start_ns = c->start_ns;
	e->end_ns = c->start_ns + (c->duration_ms > 0 ? (int64_t)(c->duration_ms * 1e6) : 0);
	if (c->model)
		strncpy(e->model, c->model, sizeof(e->model) - 1);
	j->next = (j->next + 1) % SPANS_CALLS_MAX;
	if (j->ncalls < SPANS_CALLS_MAX)
		j->ncalls++;
}

/* Set s->call_id to the best-fitting remembered call (none: left ""). */
static void spans_match(struct span_join *j, struct span_row *s, int64_t now_ns)
{
	double best = 0, sc;
	size_t i;

	for (i = 0; i < j->ncalls; i++) {
		const struct span_call *c = &j->calls[i];

		if (now_ns - c->end_ns > SPANS_CALLS_KEEP_NS)
			continue;
		sc = spans_score(s, c);
		if (sc > best) {
			best = sc;
			memcpy(s->call_id, c->id, sizeof(s->call_id));
		}
	}
}

void spans_add(struct span_join *j, struct span_row *s)
{
	struct pending *p = malloc(sizeof(*p));
	int64_t end = s->end_ns != PROC_NULL ? s->end_ns : s->received_ns;

	/* a span without a model joins nothing: no reason to wait */
	if (!p || !s->model) {
		free(p);
		row_emit(&j->sink, ROW_SPAN, s);
		return;
	}
	/* the call is written within moments of the span's end: wait for that
	 * (an end in the future, a clock off, waits no longer than the grace) */
	if (end > s->received_ns + SPANS_GRACE_NS)
		end = s->received_ns + SPANS_GRACE_NS;
	p->next = NULL;
	p->s = s;
	p->due_ns = end + SPANS_GRACE_NS > s->received_ns ? end + SPANS_GRACE_NS : s->received_ns;
	if (j->tail)
		j->tail->next = p;
	else
		j->head = p;
	j->tail = p;
	j->waiting++;
	if (j->waiting > SPANS_WAITING_MAX) {
		p = j->head;
		j->head = p->next;
		if (!j->head)
			j->tail = NULL;
		j->waiting--;
		if (p->s->model)
			spans_match(j, p->s, p->s->received_ns);
		row_emit(&j->sink, ROW_SPAN, p->s);
		free(p);
	}
}

void spans_tick(struct span_join *j, int64_t now_ns, int all)
{
	struct pending **pp = &j->head, *p;

	j->tail = NULL;
	while ((p = *pp)) {
		if (!all && p->due_ns > now_ns) {
			j->tail = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (p->s->model)
			spans_match(j, p->s, now_ns);
		row_emit(&j->sink, ROW_SPAN, p->s);
		free(p);
		j->waiting--;
	}
}

size_t spans_waiting(const struct span_join *j)
{
	return j ? j->waiting : 0;
}

void spans_free(struct span_join *j)
{
	if (!j)
		return;
	spans_tick(j, 0, 1);
	free(j->calls);
	free(j);
}
