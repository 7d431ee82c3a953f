/* events.c -- the events table's inbox: what llmtap notices and what agents post, queued from any thread and written by the main loop.
 *
 * Only the main thread writes the database (through the store). Notices
 * come from it too, but also from the retention thread (rows deleted for
 * space) and the HTTP thread (what agents post), so every events and
 * agent_spans row goes through this one mutex-guarded queue, bounded so a
 * flood costs memory only up to EVENTS_QUEUE_MAX rows. */
#include "track/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

struct inbox_item {
	struct inbox_item *next;
	enum row_kind kind;
	void *row;
};

static pthread_mutex_t inbox_mu = PTHREAD_MUTEX_INITIALIZER;
static struct inbox_item *inbox_head, *inbox_tail;
static size_t inbox_n;
static uint64_t inbox_dropped;

int events_post(enum row_kind kind, void *row)
{
	struct inbox_item *it = malloc(sizeof(*it));

	pthread_mutex_lock(&inbox_mu);
	if (!it || inbox_n >= EVENTS_QUEUE_MAX) {
		inbox_dropped++;
		pthread_mutex_unlock(&inbox_mu);
		free(it);
		row_free(kind, row);
		return -1;
	}
	it->next = NULL;
	it->kind = kind;
	it->row = row;
	if (inbox_tail)
		inbox_tail->next = it;
	else
		inbox_head = it;
	inbox_tail = it;
	inbox_n++;
	pthread_mutex_unlock(&inbox_mu);
	return 0;
}

int events_post_all(enum row_kind kind, void **rows, size_t n)
{
	struct inbox_item *first = NULL, *last = NULL, *it;
	size_t i;

	for (i = 0; i < n; i++) {
		it = malloc(sizeof(*it));
		if (!it)
			goto out_free;
		it->next = NULL;
		it->kind = kind;
		it->row = rows[i];
		if (last)
			last->next = it;
		else
			first = it;
		last = it;
	}
	pthread_mutex_lock(&inbox_mu);
	if (inbox_n + n > EVENTS_QUEUE_MAX) {
		pthread_mutex_unlock(&inbox_mu);
		goto out_free;
	}
	if (last) {
		if (inbox_tail)
			inbox_tail->next = first;
		else
			inbox_head = first;
		inbox_tail = last;
		inbox_n += n;
	}
	pthread_mutex_unlock(&inbox_mu);
	return 0;

out_free:
	while (first) {
		it = first->next;
		free(first);
		first = it;
	}
	return -1;
}

size_t events_room(void)
{
	size_t room;

	pthread_mutex_lock(&inbox_mu);
	room = inbox_n < EVENTS_QUEUE_MAX ? EVENTS_QUEUE_MAX - inbox_n : 0;
	pthread_mutex_unlock(&inbox_mu);
	return room;
}

void events_notice(const char *severity, const char *name, int64_t pid, json_t *attrs)
{
	struct event_row *r = calloc(1, sizeof(*r));

	if (!r || !(r->name = strdup(name))) {
		free(r);
		json_decref(attrs);
		pthread_mutex_lock(&inbox_mu);
		inbox_dropped++;
		pthread_mutex_unlock(&inbox_mu);
		return;
	}
	uuid7(r->id);
	r->ts_ns = (int64_t)real_ns();
	r->source = "llmtap";
	snprintf(r->severity, sizeof(r->severity), "%s", severity);
	r->pid = pid;
	r->attributes = attrs ? json_dumps(attrs, JSON_COMPACT) : NULL;
	json_decref(attrs);
	events_post(ROW_EVENT, r);
}

size_t events_drain(void (*fn)(void *ud, enum row_kind kind, void *row), void *ud)
{
	struct inbox_item *it, *next;
	size_t n = 0;

	pthread_mutex_lock(&inbox_mu);
	it = inbox_head;
	inbox_head = inbox_tail = NULL;
	inbox_n = 0;
	pthread_mutex_unlock(&inbox_mu);
	for (; it; it = next) {
		next = it->next;
		fn(ud, it->kind, it->row);
		free(it);
		n++;
	}
	return n;
}

size_t events_queued(void)
{
	size_t n;

	pthread_mutex_lock(&inbox_mu);
	n = inbox_n;
	pthread_mutex_unlock(&inbox_mu);
	return n;
}

uint64_t events_dropped(void)
{
	uint64_t n;

	pthread_mutex_lock(&inbox_mu);
	n = inbox_dropped;
	pthread_mutex_unlock(&inbox_mu);
	return n;
}

/* Drop each queued row (the drain callback of events_clear). */
static void events_free_one(void *ud, enum row_kind kind, void *row)
{
	(void)ud;
	row_free(kind, row);
}

void events_clear(void)
{
	events_drain(events_free_one, NULL);
}
