/* spool.c -- a ring's overflow on disk: records moved out of a BPF ring that the reader is behind on, kept in order in an unlinked file, read back before the ring. */
#include "capture/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* A record in the file: this header, then size bytes, padded to 8. */
struct spool_hdr {
	uint64_t pos;
	uint32_t size;
	uint32_t pad;
};

#define SPOOL_RECS 256		/* records gathered per write, at most */
#define SPOOL_IOV (4 * SPOOL_RECS)	/* header, two parts, padding each */
#define SPOOL_RBUF (256u << 10)	/* read back per read, at least */

struct spool {
	char *dir;
	int fd;			/* -1 until the first record */
	uint64_t cap;
	/* writer: the records put since the last write, gathered in place
	 * (their bytes stay the caller's until spool_sync()) */
	struct spool_hdr hdr[SPOOL_RECS];
	struct iovec iov[SPOOL_IOV];
	int nhdr, niov;
	size_t wlen;
	uint64_t woff;		/* file bytes written */
	/* reader: the file's bytes [boff, boff + blen) are in rbuf */
	uint8_t *rbuf;
	size_t rcap, blen;
	uint64_t boff, roff;	/* roff: the next record */
	/* counters */
	uint64_t records, bytes, peak, lost;
};

static size_t rec_len(uint32_t size)
{
	return sizeof(struct spool_hdr) + (((size_t)size + 7) & ~(size_t)7);
}

int spool_new(struct spool **out, const char *dir, uint64_t cap)
{
	struct spool *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->dir = strdup(dir && *dir ? dir : "/var/tmp");
	if (!s->dir) {
		free(s);
		return -ENOMEM;
	}
	s->fd = -1;
	s->cap = cap;
	*out = s;
	return 0;
}

/* An unlinked file of our own in dir (or /var/tmp): only this process
 * ever sees it, and it goes with the process, killed or not. */
static int spool_create(const char *dir)
{
	const char *dirs[] = { dir, "/var/tmp" };
	char path[4096];
	size_t i;
	int fd;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		/* a filesystem without O_TMPFILE: a named file, unlinked at once */
		if (snprintf(path, sizeof(path), "%s/.llmtap-spool.XXXXXX", dirs[i]) >= (int)sizeof(path))
			continue;
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0) {
			unlink(path);
			return fd;
		}
	}
	return -errno;
}

/* Write the gathered records at the file's end. Returns 0 or a negative
 * errno (what was written stays counted in woff: spool_rollback()). */
static int spool_write(struct spool *s)
{
	struct iovec *v = s->iov;
	int n = s->niov;
	ssize_t w;

	while (n) {
		w = pwritev(s->fd, v, n > IOV_MAX ? IOV_MAX : n, (off_t)s->woff);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		s->woff += (uint64_t)w;
		/* a short write: on from where it stopped */
		while (n && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n) {
			v->iov_base = (uint8_t *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int spool_sync(struct spool *s)
{
	int err;

	if (!s->niov)
		return 0;
	err = spool_write(s);
	s->niov = s->nhdr = 0;
	s->wlen = 0;
	return err;
}

static void iov_add(struct spool *s, const void *p, size_t n)
{
	if (n)
		s->iov[s->niov++] = (struct iovec){ .iov_base = (void *)p, .iov_len = n };
}

int spool_put(struct spool *s, uint64_t pos, const void *p1, uint32_t n1, const void *p2, uint32_t n2)
{
	static const uint8_t zeros[8];
	uint32_t size = n1 + n2;
	size_t len = rec_len(size);
	struct spool_hdr *h;
	int err;

	if (s->woff + s->wlen + len > s->cap)
		return -ENOSPC;
	if (s->fd < 0) {
		s->fd = spool_create(s->dir);
		if (s->fd < 0)
			return s->fd;
	}
	if (s->nhdr == SPOOL_RECS) {
		err = spool_sync(s);
		if (err)
			return err;
	}
	h = &s->hdr[s->nhdr++];
	*h = (struct spool_hdr){ .pos = pos, .size = size };
	iov_add(s, h, sizeof(*h));
	iov_add(s, p1, n1);
	iov_add(s, p2, n2);
	iov_add(s, zeros, len - sizeof(*h) - size);
	s->wlen += len;
	s->records++;
	s->bytes += size;
	if (s->woff + s->wlen > s->peak)
		s->peak = s->woff + s->wlen;
	return 0;
}

uint64_t spool_end(const struct spool *s)
{
	return s->woff;
}

int spool_pending(const struct spool *s, uint64_t end)
{
	return s->roff < end;
}

/* Read the file from s->roff on: at least need bytes, more up to end.
 * Returns 0 or a negative errno. */
static int spool_fill(struct spool *s, uint64_t end, size_t need)
{
	size_t want = end - s->roff < SPOOL_RBUF ? (size_t)(end - s->roff) : SPOOL_RBUF;
	ssize_t r;
	size_t got = 0;

	if (want < need)
		want = need;
	if (want > s->rcap) {
		uint8_t *b = realloc(s->rbuf, want);

		if (!b)
			return -ENOMEM;
		s->rbuf = b;
		s->rcap = want;
	}
	while (got < want) {
		r = pread(s->fd, s->rbuf + got, want - got, (off_t)(s->roff + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		got += (size_t)r;
	}
	s->boff = s->roff;
	s->blen = got;
	return 0;
}

int spool_take(struct spool *s, uint64_t end, uint64_t upto, struct spool_rec *r)
{
	const struct spool_hdr *h;
	size_t at, len;
	int err;

	if (s->roff >= end)
		return 0;
	at = (size_t)(s->roff - s->boff);
	if (s->roff < s->boff || s->roff + sizeof(*h) > s->boff + s->blen) {
		err = spool_fill(s, end, sizeof(*h));
		if (err)
			goto out_skip;
		at = 0;
	}
	h = (const struct spool_hdr *)(s->rbuf + at);
	len = rec_len(h->size);
	if (s->roff + len > end) {
		err = -EIO;	/* a header the writer never wrote */
		goto out_skip;
	}
	if (at + len > s->blen) {
		err = spool_fill(s, end, len);
		if (err)
			goto out_skip;
		at = 0;
		h = (const struct spool_hdr *)s->rbuf;
	}
	if (upto && h->pos >= upto)
		return 0;	/* written to the ring after the mark: it waits */
	r->pos = h->pos;
	r->size = h->size;
	r->data = s->rbuf + at + sizeof(*h);
	s->roff += len;
	return 1;

out_skip:
	s->lost += end - s->roff;
	s->roff = end;
	s->blen = 0;
	return err;
}

void spool_reset(struct spool *s)
{
	/* the pages go (never written back, most of the time); a failure
	 * leaves the file its size, written over from 0 */
	if (s->fd >= 0 && s->woff && ftruncate(s->fd, 0)) {
	}
	s->woff = s->roff = s->boff = 0;
	s->blen = 0;
}

void spool_rollback(struct spool *s, uint64_t end)
{
	s->wlen = 0;
	s->niov = s->nhdr = 0;
	if (end < s->woff)
		s->woff = end;
}

uint64_t spool_records(const struct spool *s)
{
	return s->records;
}

uint64_t spool_bytes(const struct spool *s)
{
	return s->bytes;
}

uint64_t spool_peak(const struct spool *s)
{
	return s->peak;
}

uint64_t spool_lost(const struct spool *s)
{
	return s->lost;
}

uint64_t spool_unread(const struct spool *s)
{
	return s->woff + s->wlen - s->roff;
}

void spool_free(struct spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->rbuf);
	free(s->dir);
	free(s);
}
