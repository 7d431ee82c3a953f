/* spool.c -- a ring's overflow on disk: records moved out of a BPF ring that the reader is behind on, kept in order in an unlinked file (encrypted: spool_cipher.c), read back before the ring. */
#include "capture/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/spool_cipher.h"

/* A record in the file: this header, then size bytes, padded to the
 * cipher's block (every record starts one, so every write and every read
 * does). */
struct spool_hdr {
	uint64_t pos;
	uint32_t size;
	uint32_t pad;
};

#define SPOOL_WBUF (256u << 10)	/* records gathered per write (one larger goes alone) */
#define SPOOL_RBUF (256u << 10)	/* read back per read, at least */

struct spool {
	char *dir;
	int fd;			/* -1 until the first record */
	uint64_t cap;
	struct spool_cipher *cipher;	/* made with the file */
	/* writer: the records put since the last write, encrypted */
	uint8_t *wbuf;
	size_t wcap, wlen;
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
	return (sizeof(struct spool_hdr) + (size_t)size + SPOOL_CIPHER_BLOCK - 1) & ~(size_t)(SPOOL_CIPHER_BLOCK - 1);
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

int spool_sync(struct spool *s)
{
	const uint8_t *b = s->wbuf;
	size_t n = s->wlen;
	ssize_t w;

	s->wlen = 0;
	if (n && spool_cipher_xor(s->cipher, s->woff, s->wbuf, n))
		return -EIO;
	while (n) {
		w = pwrite(s->fd, b, n, (off_t)s->woff);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		b += w;
		n -= (size_t)w;
		s->woff += (uint64_t)w;
	}
	return 0;
}

/* The file and its cipher, at the first record. Returns 0 or a negative errno. */
static int spool_open(struct spool *s)
{
	int err;

	if (!s->cipher) {
		err = spool_cipher_new(&s->cipher);
		if (err)
			return err;
	}
	if (s->fd < 0) {
		s->fd = spool_create(s->dir);
		if (s->fd < 0) {
			err = s->fd;
			s->fd = -1;
			return err;
		}
	}
	return 0;
}

int spool_put(struct spool *s, uint64_t pos, const void *p1, uint32_t n1, const void *p2, uint32_t n2)
{
	uint32_t size = n1 + n2;
	size_t len = rec_len(size);
	struct spool_hdr h = { .pos = pos, .size = size };
	uint8_t *out;
	int err;

	if (s->woff + s->wlen + len > s->cap)
		return -ENOSPC;
	if (s->fd < 0 && (err = spool_open(s)))
		return err;
	if (s->wlen && s->wlen + len > SPOOL_WBUF && (err = spool_sync(s)))
		return err;
	if (s->wlen + len > s->wcap) {
		size_t cap = s->wlen + len > SPOOL_WBUF ? s->wlen + len : SPOOL_WBUF;
		uint8_t *b = realloc(s->wbuf, cap);

		if (!b)
			return -ENOMEM;
		s->wbuf = b;
		s->wcap = cap;
	}
	/* plaintext here; spool_sync() encrypts the buffer where it lands */
	out = s->wbuf + s->wlen;
	memcpy(out, &h, sizeof(h));
	if (n1)
		memcpy(out + sizeof(h), p1, n1);
	if (n2)
		memcpy(out + sizeof(h) + n1, p2, n2);
	memset(out + sizeof(h) + size, 0, len - sizeof(h) - size);
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
	/* records start blocks: so does every read */
	if (spool_cipher_xor(s->cipher, s->roff, s->rbuf, got))
		return -EIO;
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
	/* the file is written from 0 again: under a keystream of its own */
	if (s->cipher)
		spool_cipher_renonce(s->cipher);
	/* a burst is over: its buffers go back (the next one makes them) */
	free(s->wbuf);
	free(s->rbuf);
	s->wbuf = s->rbuf = NULL;
	s->wcap = s->rcap = 0;
}

void spool_rollback(struct spool *s, uint64_t end)
{
	s->wlen = 0;
	if (end < s->woff)
		s->woff = end;
}

void spool_stats_add(const struct spool *s, struct spool_stats *st)
{
	st->records += s->records;
	st->bytes += s->bytes;
	if (s->peak > st->peak)
		st->peak = s->peak;
	st->lost += s->lost;
	st->unread += s->woff + s->wlen - s->roff;
}

void spool_free(struct spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->rbuf);
	free(s->wbuf);
	spool_cipher_free(s->cipher);
	free(s->dir);
	free(s);
}
