/* sse.c -- pure, resumable Server-Sent Events (text/event-stream) parser (WHATWG rules). */
#include "proto/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* A line (and the data of one event) may not grow past this. */
#define SSE_MAX_LINE (16u * 1024 * 1024)

static const uint8_t bom[3] = { 0xEF, 0xBB, 0xBF };

struct sse_parser {
	sse_event_fn fn;
	void *ud;
	struct buf line;	/* the line being read, terminator not included */
	struct buf data;	/* "data" values, each followed by '\n' */
	struct buf event;	/* "event" value */
	struct buf id;		/* "id" value */
	size_t offset;		/* stream bytes processed so far (BOM included) */
	int have_data;		/* a "data" field was seen for this event */
	int after_cr;		/* the last byte processed was a '\r' line end */
	int pending;		/* a blank line ended by '\r' waits for a possible '\n' */
	size_t pending_off;	/* offset just past that '\r' */
	unsigned bom_n;		/* bytes of a leading BOM matched so far */
	int bom_done;		/* the BOM check is over */
	int failed;		/* out of memory or over-long line: stays failed */
};

/* Reset the per-event buffers. */
static void event_reset(struct sse_parser *p)
{
	buf_reset(&p->data);
	buf_reset(&p->event);
	buf_reset(&p->id);
	p->have_data = 0;
}

/* Dispatch the event being built, if it has data, with end_offset = off;
 * then start a new one. */
static void dispatch(struct sse_parser *p, size_t off)
{
	struct sse_event ev;
	size_t len;

	if (!p->have_data) {
		event_reset(p);
		return;
	}
	len = p->data.len;
	if (len && p->data.data[len - 1] == '\n')
		len--;
	ev.data = p->data.data ? (const char *)p->data.data : "";
	if (p->data.data)
		p->data.data[len] = 0;
	ev.data_len = len;
	ev.event = p->event.data ? (const char *)p->event.data : "";
	ev.id = p->id.data ? (const char *)p->id.data : "";
	ev.end_offset = off;
	p->fn(p->ud, &ev);
	event_reset(p);
}

/* Interpret one complete line (without its terminator) whose terminator
 * ends at stream offset off. Returns 0, or -1 on out of memory. */
static int process_line(struct sse_parser *p, const char *s, size_t n, size_t off)
{
	const char *colon, *val;
	size_t flen, vlen;

	if (n == 0) {
		dispatch(p, off);
		return 0;
	}
	if (s[0] == ':')
		return 0;	/* comment */
	colon = memchr(s, ':', n);
	if (colon) {
		flen = colon - s;
		val = colon + 1;
		vlen = n - flen - 1;
		if (vlen && val[0] == ' ') {
			val++;
			vlen--;
		}
	} else {
		flen = n;
		val = "";
		vlen = 0;
	}

	if (flen == 4 && !memcmp(s, "data", 4)) {
		if (p->data.len + vlen + 1 > SSE_MAX_LINE)
			return -1;
		p->have_data = 1;
		if (buf_append(&p->data, val, vlen) || buf_append(&p->data, "\n", 1))
			return -1;
	} else if (flen == 5 && !memcmp(s, "event", 5)) {
		buf_reset(&p->event);
		if (buf_append(&p->event, val, vlen))
			return -1;
	} else if (flen == 2 && !memcmp(s, "id", 2)) {
		/* per the spec an id containing NUL is ignored */
		if (memchr(val, 0, vlen))
			return 0;
		buf_reset(&p->id);
		if (buf_append(&p->id, val, vlen))
			return -1;
	}
	/* "retry" and unknown fields are ignored */
	return 0;
}

/* Process stream bytes after the BOM check. Returns 0, or -1 on failure. */
static int process(struct sse_parser *p, const char *d, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start, seg;
		int rc;

		if (p->after_cr) {
			p->after_cr = 0;
			if (d[i] == '\n') {
				/* the '\n' of a "\r\n" line end */
				i++;
				p->offset++;
				if (p->pending) {
					p->pending = 0;
					dispatch(p, p->offset);
				}
				continue;
			}
		}
		if (p->pending) {
			p->pending = 0;
			dispatch(p, p->pending_off);
		}

		start = i;
		while (i < len && d[i] != '\n' && d[i] != '\r')
			i++;
		seg = i - start;
		if (p->line.len + seg > SSE_MAX_LINE)
			return -1;
		if (seg && buf_append(&p->line, d + start, seg))
			return -1;
		p->offset += seg;
		if (i == len)
			break;	/* line continues in the next feed */

		/* d[i] ends the line */
		p->offset++;
		if (d[i] == '\r')
			p->after_cr = 1;
		i++;
		if (p->line.len == 0 && p->after_cr) {
			/* a blank line: wait to see whether '\n' follows */
			p->pending = 1;
			p->pending_off = p->offset;
			continue;
		}
		rc = process_line(p, p->line.data ? (const char *)p->line.data : "",
				  p->line.len, p->offset);
		buf_reset(&p->line);
		if (rc)
			return -1;
	}
	return 0;
}

/* See sse.h. */
struct sse_parser *sse_parser_new(sse_event_fn fn, void *ud)
{
	struct sse_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->fn = fn;
	p->ud = ud;
	return p;
}

/* Free the parser and its buffers; NULL is allowed. */
void sse_parser_free(struct sse_parser *p)
{
	if (!p)
		return;
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->event);
	buf_free(&p->id);
	free(p);
}

/* Feed bytes; see sse.h. Returns 0, or -1 (and stays failed) on out of
 * memory or a line or event data over SSE_MAX_LINE. */
int sse_parser_feed(struct sse_parser *p, const char *data, size_t len)
{
	if (p->failed)
		return -1;

	/* Skip one leading BOM, which may arrive split across feeds. */
	while (!p->bom_done && len) {
		if ((uint8_t)data[0] != bom[p->bom_n]) {
			p->bom_done = 1;
			/* the bytes held back were content after all */
			if (p->bom_n && process(p, (const char *)bom, p->bom_n))
				p->failed = 1;
			break;
		}
		data++;
		len--;
		if (++p->bom_n == sizeof(bom)) {
			p->bom_done = 1;
			p->offset += sizeof(bom);
		}
	}
	if (!p->failed && len && process(p, data, len))
		p->failed = 1;
	return p->failed ? -1 : 0;
}

/* End of stream: flush a held-back partial BOM, a '\r'-ended blank line,
 * an unterminated last line, then dispatch whatever event is left with
 * end_offset = the stream end. Calling it again does nothing new. Does
 * nothing once the parser has failed. */
void sse_parser_finish(struct sse_parser *p)
{
	int rc;

	if (p->failed)
		return;
	if (!p->bom_done) {
		p->bom_done = 1;
		if (p->bom_n && process(p, (const char *)bom, p->bom_n)) {
			p->failed = 1;
			return;
		}
	}
	p->after_cr = 0;
	if (p->pending) {
		p->pending = 0;
		dispatch(p, p->pending_off);
	}
	if (p->line.len) {
		rc = process_line(p, (const char *)p->line.data, p->line.len, p->offset);
		buf_reset(&p->line);
		if (rc) {
			p->failed = 1;
			return;
		}
	}
	dispatch(p, p->offset);
}
