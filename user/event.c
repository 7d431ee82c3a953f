/* event.c -- the only reader of raw ring-buffer records: validates them and dispatches typed calls. */
#include "event.h"

#include <stddef.h>
#include <string.h>
#include <linux/types.h>

#include "events.h"

/* Copy a fixed-size kernel string into a NUL-terminated one. */
static void copy_str(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n - 1] = 0;
}

static void handle_data(struct event_sink *s, const struct lt_data_event *e, size_t size)
{
	size_t hdr = offsetof(struct lt_data_event, data);
	char comm[LT_COMM_LEN];
	struct tls_chunk c;

	if (size < hdr || e->len > LT_CHUNK_MAX || size < hdr + e->len) {
		s->malformed++;
		return;
	}
	copy_str(comm, e->comm, sizeof(comm));
	memset(&c, 0, sizeof(c));
	c.tgid = e->hdr.tgid;
	c.tid = e->hdr.tid;
	c.ssl = e->ssl;
	c.dir = e->dir;
	c.ts_start_ns = e->hdr.ts_ns;
	c.ts_end_ns = e->ts_end_ns;
	c.offset = e->offset;
	c.comm = comm;
	c.data = (const uint8_t *)e->data;
	c.len = e->len;
	c.missing = e->missing;
	s->data(s->ud, &c);
}

int event_handle(void *ctx, void *data, size_t size)
{
	struct event_sink *s = ctx;
	const struct lt_hdr *h = data;

	if (size < sizeof(*h)) {
		s->malformed++;
		return 0;
	}
	switch (h->type) {
	case LT_EV_DATA:
		handle_data(s, data, size);
		break;
	case LT_EV_SSL_FREE: {
		const struct lt_ctl_event *e = data;

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		s->ssl_free(s->ud, h->tgid, e->ssl, h->ts_ns);
		break;
	}
	case LT_EV_EXIT: {
		const struct lt_ctl_event *e = data;

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		s->exit(s->ud, h->tgid, e->exit_code, h->ts_ns);
		break;
	}
	case LT_EV_EXEC: {
		const struct lt_exec_event *e = data;
		char comm[LT_COMM_LEN], file[LT_PATH_MAX];

		if (size < sizeof(*e)) {
			s->malformed++;
			break;
		}
		copy_str(comm, e->comm, sizeof(comm));
		copy_str(file, e->filename, sizeof(file));
		s->exec(s->ud, h->tgid, comm, file);
		break;
	}
	default:
		s->malformed++;
	}
	return 0;
}
