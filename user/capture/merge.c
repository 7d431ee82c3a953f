/* merge.c -- the records of several rings handed on in the order they happened: the small records of the connection, process and lookup rings held, and let through before each data record that is newer than they are. */
#include "capture/merge.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

/* A record held until the data records before it are handed on. */
struct held {
	uint64_t ts;
	size_t seq;
	size_t size;
	void *data;
};

struct merge {
	merge_fn fn;
	void *ctx;
	struct held *held;	/* the small rings' records not handed on yet */
	size_t nheld, cap_held, next_held;
	size_t seq;		/* order read */
	int sorted;		/* held[next_held..nheld) is in time order */
	int passed;		/* a data record was handed on in this drain */
	uint64_t last_data;	/* the newest data record handed on */
};

int merge_new(struct merge **out, merge_fn fn, void *ctx)
{
	struct merge *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->ctx = ctx;
	*out = m;
	return 0;
}

/* When a record happened, for ordering: a plaintext chunk counts at its
 * call's return, anything else at its header's time. */
static uint64_t record_time(const void *data, size_t size)
{
	const struct lt_hdr *h = data;

	if (size < sizeof(*h))
		return 0;
	if ((h->type == LT_EV_DATA || h->type == LT_EV_SOCK_DATA) &&
	    size >= offsetof(struct lt_data_event, data))
		return ((const struct lt_data_event *)data)->ts_end_ns;
	return h->ts_ns;
}

/* Oldest first; records of one time in the order read. */
static int held_cmp(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hand on the held records up to time upto, oldest first (sorted on the
 * first call after a record came: in a drain they are all in by then). */
static void held_flush(struct merge *m, uint64_t upto)
{
	if (!m->sorted && m->nheld - m->next_held > 1)
		qsort(m->held + m->next_held, m->nheld - m->next_held, sizeof(*m->held), held_cmp);
	m->sorted = 1;
	while (m->next_held < m->nheld && m->held[m->next_held].ts <= upto) {
		struct held *h = &m->held[m->next_held++];

		m->fn(m->ctx, h->data, h->size);
		free(h->data);
	}
	if (m->next_held == m->nheld)
		m->nheld = m->next_held = 0;
}

int merge_hold(void *ctx, void *data, size_t size)
{
	struct merge *m = ctx;
	struct held *h;
	void *copy;

	/* a small ring read after the data in this drain: its records are
	 * newer than what was handed on, or as good as */
	if (m->passed)
		return m->fn(m->ctx, data, size);
	if (m->nheld == m->cap_held) {
		size_t cap = m->cap_held ? 2 * m->cap_held : 256;

		h = realloc(m->held, cap * sizeof(*h));
		if (!h)
			return m->fn(m->ctx, data, size);	/* out of order rather than lost */
		m->held = h;
		m->cap_held = cap;
	}
	copy = malloc(size);
	if (!copy)
		return m->fn(m->ctx, data, size);
	memcpy(copy, data, size);
	m->held[m->nheld] = (struct held){ .ts = record_time(data, size), .seq = m->seq++,
					   .size = size, .data = copy };
	m->nheld++;
	m->sorted = 0;
	return 0;
}

int merge_pass(void *ctx, void *data, size_t size)
{
	struct merge *m = ctx;
	uint64_t ts = record_time(data, size);

	m->passed = 1;
	if (ts > m->last_data)
		m->last_data = ts;
	if (m->nheld)
		held_flush(m, ts);
	return m->fn(m->ctx, data, size);
}

void merge_flush(struct merge *m, int behind)
{
	if (m->nheld) {
		/* records newer than the data handed on wait for the data
		 * still behind them (a process's last calls before its exit) */
		held_flush(m, behind ? m->last_data : UINT64_MAX);
		if (m->next_held) {
			memmove(m->held, m->held + m->next_held, (m->nheld - m->next_held) * sizeof(*m->held));
			m->nheld -= m->next_held;
			m->next_held = 0;
		}
	}
	m->passed = 0;
}

void merge_free(struct merge *m)
{
	if (!m)
		return;
	while (m->next_held < m->nheld)
		free(m->held[m->next_held++].data);
	free(m->held);
	free(m);
}
