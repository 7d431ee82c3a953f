/* sse.h -- pure, resumable Server-Sent Events (text/event-stream) parser. */
#ifndef LLMTAP_SSE_H
#define LLMTAP_SSE_H

#include <stddef.h>

struct sse_event {
	const char *event;	/* "event:" field, "" when absent; NUL-terminated */
	const char *data;	/* "data:" lines joined with '\n'; NUL-terminated */
	size_t data_len;
	const char *id;		/* "id:" field, "" when absent */
	size_t end_offset;	/* stream offset just past the blank line ending it */
};

/* Called once per dispatched event; pointers valid only during the call. */
typedef void (*sse_event_fn)(void *ud, const struct sse_event *ev);

struct sse_parser;

/* Returns a new parser, or NULL when out of memory. */
struct sse_parser *sse_parser_new(sse_event_fn fn, void *ud);
void sse_parser_free(struct sse_parser *p);

/* Feed stream bytes (UTF-8, any split). Lines end in \n, \r\n or \r; a
 * leading BOM is skipped; ':' lines are comments. An event with no data
 * lines is not dispatched (per the spec). Returns 0, or -1 on out of memory
 * or a line (or one event's joined data) over 16 MiB; the parser then stays
 * failed. */
int sse_parser_feed(struct sse_parser *p, const char *data, size_t len);

/* End of stream: a last event not ended by a blank line is dispatched too
 * (a truncated stream still yields what it carried). */
void sse_parser_finish(struct sse_parser *p);

#endif
