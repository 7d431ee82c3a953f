/* ring.c -- the reader of the BPF ring buffers: each ring's data pages mapped once (not twice, as libbpf does), records that wrap copied out, one epoll for all, and a thread that spools a ring the reader is behind on to disk. */
#include "capture/ring.h"

#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "capture/spool.h"

/* One BPF ring: its consumer page (ours to write), its producer page and
 * data pages (read-only), and where its records go. */
struct ring {
	int fd;
	size_t size;			/* data bytes: a power of two */
	size_t page;
	unsigned long *consumer;	/* consumer position (we write it) */
	const unsigned long *producer;	/* producer position */
	const uint8_t *data;
	ring_fn fn;
	void *ctx;
	/* with a spool thread: the consumer position is moved under mu, by
	 * the reader or by that thread; the spool holds the records older
	 * than the ring's */
	pthread_mutex_t mu;
	struct spool *spool;
	int spool_dead;			/* a write failed: the ring alone now */
	int spool_full;			/* said so; cleared when it empties */
};

/* Taken from each ring per rings_poll(): so many records, or so many bytes
 * of them (per rings_consume() too). The rows these records make wait in
 * memory until the caller writes them, after the call: a pass over a full
 * ring of 16 KiB records held 20-28 MB of them, fresh heap that each burst
 * faulted in again (on this VM a fault costs about 8 us: 20 % of the
 * reader's time at 16 KiB). */
#define RINGS_POLL_BUDGET 1024
#define RINGS_PIECE_BYTES (1u << 20)
#define RINGS_MAX 16		/* rings one reader takes */

/* With a spool thread the reader copies so many records of a ring (or
 * bytes of them) out per hold of its lock, then hands them on without it. */
#define RING_LOCKED_RECORDS 64
#define RING_LOCKED_BYTES (64u << 10)
/* The thread moves records out while more than this part of a ring waits
 * (it is woken at a quarter: wake_bytes in common.bpf.h), so much per
 * hold of the ring's lock. */
#define RING_SPOOL_LOW 32
#define RING_SPOOL_PIECE (256u << 10)
#define RING_SPOOL_TICK_MS 1
#define RING_SPOOL_HOT_TICKS 100	/* looks on after the last move: 100 ms */

struct rings {
	int epfd;
	struct ring r[RINGS_MAX];	/* fixed: the spool thread reads it */
	int n;
	struct buf scratch;		/* the reader's record that wraps, made whole */
	struct buf batch;		/* records copied out (ring_copy_out()) */
	unsigned long mark[RINGS_MAX];	/* rings_mark()'s producer positions */
	int behind;			/* the last pass left records behind */
	/* the spool thread */
	int spooling;			/* it runs: rings are read under their locks */
	int sp_epfd, stop_fd;
	pthread_t thread;
	uint64_t spool_cap;
};

int rings_new(struct rings **out)
{
	struct rings *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return -ENOMEM;
	rs->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rs->epfd < 0) {
		int err = -errno;

		free(rs);
		return err;
	}
	*out = rs;
	return 0;
}

int rings_add(struct rings *rs, int map_fd, size_t size, ring_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ring *r;
	void *cons, *prod;
	long page = sysconf(_SC_PAGESIZE);
	int err;

	if (size < (size_t)page || (size & (size - 1)))
		return -EINVAL;
	if (rs->n >= RINGS_MAX)
		return -E2BIG;
	if (rs->spooling)
		return -EBUSY;	/* rings_spool() takes the rings there are */
	cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (cons == MAP_FAILED)
		return -errno;
	/* The producer page and the data, once: the kernel maps the data twice
	 * over so that a record is contiguous; a wrapped one is copied instead,
	 * and the ring is resident once. */
	prod = mmap(NULL, (size_t)page + size, PROT_READ, MAP_SHARED, map_fd, page);
	if (prod == MAP_FAILED) {
		err = -errno;
		munmap(cons, (size_t)page);
		return err;
	}
	ev.data.u32 = (uint32_t)rs->n;
	if (epoll_ctl(rs->epfd, EPOLL_CTL_ADD, map_fd, &ev)) {
		err = -errno;
		munmap(prod, (size_t)page + size);
		munmap(cons, (size_t)page);
		return err;
	}
	r = &rs->r[rs->n++];
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->fd = map_fd;
	r->size = size;
	r->page = (size_t)page;
	r->consumer = cons;
	r->producer = prod;
	r->data = (const uint8_t *)prod + page;
	r->fn = fn;
	r->ctx = ctx;
	return 0;
}

/* What the header word at position cons of r says (*size: the record's
 * bytes, unless it is still being written). */
enum { RING_BUSY, RING_SKIP, RING_REC };

static int ring_head(const struct ring *r, unsigned long cons, size_t *size)
{
	uint32_t len = __atomic_load_n((const uint32_t *)(r->data + (cons & (r->size - 1))), __ATOMIC_ACQUIRE);

	if (len & BPF_RINGBUF_BUSY_BIT)
		return RING_BUSY;
	*size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
	return len & BPF_RINGBUF_DISCARD_BIT ? RING_SKIP : RING_REC;
}

/* The position after the record of size bytes at cons. */
static unsigned long ring_next(unsigned long cons, size_t size)
{
	return cons + ((size + BPF_RINGBUF_HDR_SZ + 7) & ~7ul);
}

/* The bytes of the record of size at cons: the first part at *p1, its
 * length returned; the rest (a record that wraps around the end) at
 * r->data. */
static size_t ring_parts(const struct ring *r, unsigned long cons, size_t size, const uint8_t **p1)
{
	size_t off = (cons + BPF_RINGBUF_HDR_SZ) & (r->size - 1);

	*p1 = r->data + off;
	return off + size <= r->size ? size : r->size - off;
}

/* Append the bytes of the record of size at cons (both parts) to b.
 * Returns 0, or -1 when out of memory (a part may have been appended). */
static int ring_append(const struct ring *r, struct buf *b, unsigned long cons, size_t size)
{
	const uint8_t *p1;
	size_t n1 = ring_parts(r, cons, size, &p1);

	return buf_append(b, p1, n1) || buf_append(b, r->data, size - n1) ? -1 : 0;
}

/* The record of size at cons as one piece: in place, or copied into sc
 * when it wraps. NULL when out of memory. */
static const uint8_t *ring_record(struct ring *r, struct buf *sc, unsigned long cons, size_t size)
{
	const uint8_t *p1;

	if (ring_parts(r, cons, size, &p1) == size)
		return p1;
	buf_reset(sc);
	return ring_append(r, sc, cons, size) ? NULL : sc->data;
}

/* What one pass over a ring may take, and what it took. */
struct take {
	int budget;		/* records (0: no limit) */
	size_t bytes;		/* bytes of them (0: no limit); the record that crosses is the last */
	unsigned long upto;	/* producer position (0: none): records written later wait */
	int n;			/* records handed on */
	size_t taken;		/* their bytes */
	int more;		/* stopped at a limit, not at the end */
};

static int take_full(const struct take *t)
{
	return (t->budget && t->n >= t->budget) || (t->bytes && t->taken >= t->bytes);
}

/* Without a spool thread: hand the committed records of r to its callback
 * in place, in order, up to the first one still being written or a limit
 * of t (a client that keeps the ring full cannot keep a drain going).
 * Returns 0 or a negative errno. */
static int ring_consume_direct(struct rings *rs, struct ring *r, struct take *t)
{
	unsigned long cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE), prod;

	prod = t->upto ? t->upto : __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	while (cons < prod) {
		size_t size;
		const uint8_t *sample;
		int kind = ring_head(r, cons, &size);

		if (kind == RING_BUSY)
			break;
		if (kind == RING_REC) {
			sample = ring_record(r, &rs->scratch, cons, size);
			if (!sample)
				return -ENOMEM;
			r->fn(r->ctx, (void *)sample, size);
			t->n++;
		}
		cons = ring_next(cons, size);
		__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
		t->taken += size;
		if (take_full(t)) {
			t->more = 1;
			break;
		}
		if (cons >= prod && !t->upto)
			prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	}
	return 0;
}

/* Hand on r's spooled records (older than the ring's) up to a limit of t.
 * Returns SPOOL_DONE when all of it is read (a failed read skips what is
 * left: counted, and said), SPOOL_MARK when the next one is past t->upto
 * (so is the ring), 0 at a limit of t. */
enum { SPOOL_DONE = 1, SPOOL_MARK = 2 };

static int ring_consume_spool(struct ring *r, struct take *t)
{
	struct spool_rec rec;
	uint64_t end;
	int k;

	pthread_mutex_lock(&r->mu);
	end = spool_end(r->spool);
	pthread_mutex_unlock(&r->mu);
	/* what is before end is in the file for good: read without the lock */
	while ((k = spool_take(r->spool, end, t->upto, &rec)) > 0) {
		r->fn(r->ctx, (void *)rec.data, rec.size);
		t->n++;
		t->taken += rec.size;
		if (take_full(t)) {
			t->more = 1;
			return 0;
		}
	}
	if (k < 0) {
		struct spool_stats st = { 0 };

		spool_stats_add(r->spool, &st);
		log_warn("ring spool: read failed (%s): %llu bytes of events lost", strerror(-k),
			 (unsigned long long)st.lost);
		return SPOOL_DONE;
	}
	return spool_pending(r->spool, end) ? SPOOL_MARK : SPOOL_DONE;
}

/* Copy the next few records of r (within the limits of t) into rs->batch
 * and free their room in the ring, under r's lock. Returns the records
 * copied, -EAGAIN when the spool has records (they go first), or -ENOMEM
 * when none could be. */
static int ring_copy_out(struct rings *rs, struct ring *r, struct take *t)
{
	unsigned long cons, prod;
	size_t copied = 0;
	uint64_t end;
	int n = 0, err = 0;

	buf_reset(&rs->batch);
	pthread_mutex_lock(&r->mu);
	end = spool_end(r->spool);
	if (spool_pending(r->spool, end)) {
		err = -EAGAIN;
		goto out_unlock;
	}
	if (end) {
		/* all read: the file starts over */
		log_debug("ring spool: the reader caught up (%.1f MB read back)", end / 1048576.0);
		spool_reset(r->spool);
		__atomic_store_n(&r->spool_full, 0, __ATOMIC_RELAXED);
	}
	cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	prod = t->upto ? t->upto : __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	while (cons < prod && n < RING_LOCKED_RECORDS && copied < RING_LOCKED_BYTES &&
	       !(t->budget && t->n + n >= t->budget) && !(t->bytes && t->taken + copied >= t->bytes)) {
		static const uint8_t pad[8];
		size_t size, start = rs->batch.len;
		int kind = ring_head(r, cons, &size);
		uint64_t len;

		if (kind == RING_BUSY)
			break;
		if (kind == RING_REC) {
			/* its size, its bytes, padded to 8 (the next size is read in place) */
			len = size;
			if (buf_append(&rs->batch, &len, sizeof(len)) || ring_append(r, &rs->batch, cons, size) ||
			    buf_append(&rs->batch, pad, ((size + 7) & ~(size_t)7) - size)) {
				buf_truncate(&rs->batch, start);
				err = -ENOMEM;
				break;
			}
			n++;
		}
		cons = ring_next(cons, size);
		copied += size;
	}
	__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
	/* stopped short of the end: the pass goes on */
	if (cons < prod && !err)
		t->more = 1;
out_unlock:
	pthread_mutex_unlock(&r->mu);
	/* what was copied before a failure is handed on */
	return n ? n : err;
}

/* Hand on r's records up to the limits of t: with a spool thread, the
 * spooled ones first, then the ring's, a few at a time copied out under
 * its lock (the thread may move the rest out meanwhile, and they are read
 * from the spool next; a callback can take milliseconds, and the ring
 * cannot wait that long). Returns 0 or a negative errno. */
static int ring_consume(struct rings *rs, struct ring *r, struct take *t)
{
	size_t at;
	int n;

	if (!rs->spooling)
		return ring_consume_direct(rs, r, t);
	for (;;) {
		n = ring_copy_out(rs, r, t);
		if (n == -EAGAIN) {
			/* the spool holds the older records: they go first */
			if (ring_consume_spool(r, t) != SPOOL_DONE)
				return 0;
			t->more = 0;
			continue;
		}
		if (n < 0)
			return n;
		for (at = 0; at < rs->batch.len;) {
			uint64_t size = *(const uint64_t *)(rs->batch.data + at);

			r->fn(r->ctx, rs->batch.data + at + sizeof(uint64_t), (size_t)size);
			t->n++;
			t->taken += (size_t)size;
			at += sizeof(uint64_t) + (((size_t)size + 7) & ~(size_t)7);
		}
		if (!n || !t->more || take_full(t))
			return 0;
	}
}

/* Every ring, each up to budget records and bytes of them (0: no limit),
 * or up to its mark. Returns the records handed on or a negative errno. */
static int rings_take(struct rings *rs, int budget, size_t bytes, int to_mark)
{
	int i, n = 0, err, behind = 0;

	for (i = 0; i < rs->n; i++) {
		struct ring *r = &rs->r[i];
		struct take t = { .budget = budget, .bytes = bytes, .upto = to_mark ? rs->mark[i] : 0 };

		if (to_mark && !rs->spooling &&
		    __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE) >= rs->mark[i])
			continue;
		err = ring_consume(rs, r, &t);
		if (err)
			return err;
		n += t.n;
		behind |= t.more;
		if (rs->spooling && !behind) {
			pthread_mutex_lock(&r->mu);
			behind = spool_pending(r->spool, spool_end(r->spool));
			pthread_mutex_unlock(&r->mu);
		}
	}
	rs->behind = behind;
	return n;
}

void rings_mark(struct rings *rs)
{
	int i;

	/* every ring's position first: what was written before this call
	 * (a process's data before its exit, read from another ring) */
	for (i = 0; i < rs->n; i++)
		rs->mark[i] = __atomic_load_n(rs->r[i].producer, __ATOMIC_ACQUIRE);
}

int rings_consume(struct rings *rs)
{
	return rings_take(rs, 0, RINGS_PIECE_BYTES, 1);
}

int rings_poll(struct rings *rs, int timeout_ms)
{
	struct epoll_event ev[8];
	int n;

	/* records left behind (in a ring, or a spool the poll cannot see)
	 * are read on at once */
	n = epoll_wait(rs->epfd, ev, 8, rs->behind ? 0 : timeout_ms);
	if (n < 0)
		return -errno;
	/* every ring (most events come without a wakeup), a bounded number of
	 * records each: the caller then writes the rows they made before it
	 * reads on, so a backlog does not pile up in memory; what is left
	 * keeps the poll awake */
	return rings_take(rs, RINGS_POLL_BUDGET, RINGS_PIECE_BYTES, 0);
}

int rings_behind(const struct rings *rs)
{
	return rs->behind;
}

/* Move r's oldest records into its spool, a piece at most, while more
 * than 1/RING_SPOOL_LOW of it waits. Called with r->mu held. Returns the
 * bytes moved: a full piece or more when more may wait. */
static size_t ring_spool_move(struct rings *rs, struct ring *r)
{
	unsigned long cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	uint64_t start = spool_end(r->spool);
	size_t moved = 0;
	int err = 0;

	while (cons < prod && prod - cons > r->size / RING_SPOOL_LOW && moved < RING_SPOOL_PIECE) {
		size_t size, n1;
		const uint8_t *p1;
		int kind = ring_head(r, cons, &size);

		if (kind == RING_BUSY)
			break;
		if (kind == RING_REC) {
			n1 = ring_parts(r, cons, size, &p1);
			err = spool_put(r->spool, cons, p1, (uint32_t)n1, r->data, (uint32_t)(size - n1));
			if (err)
				break;
		}
		cons = ring_next(cons, size);
		moved += size;
	}
	if (!err || err == -ENOSPC) {
		int serr = spool_sync(r->spool);

		if (serr)
			err = serr;
	}
	if (err == -ENOSPC) {
		if (!r->spool_full)
			log_warn("ring spool full (%llu MB, --spool-size): events are dropped in the ring "
				 "until the reader catches up", (unsigned long long)(rs->spool_cap >> 20));
		__atomic_store_n(&r->spool_full, 1, __ATOMIC_RELAXED);
	} else if (err) {
		/* what was put since start is still in the ring: read from there */
		spool_rollback(r->spool, start);
		log_warn("ring spool: %s: the ring alone holds the events from now on", strerror(-err));
		r->spool_dead = 1;
		return 0;
	}
	__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
	if (!start && spool_end(r->spool))
		log_debug("ring spool: the reader is behind on a ring of %zu KiB: its records go to disk",
			  r->size >> 10);
	return err ? 0 : moved;
}

/* The spool thread: woken by the rings' wakeups (a quarter full), it moves
 * what the reader is behind on into the spools, a piece per hold of a
 * ring's lock, until rings_free() stops it. While it has work it also
 * looks every RING_SPOOL_TICK_MS: a full ring takes no record, so wakes
 * no one, and a wakeup can come late on a busy guest (by 3 ms here). */
static void *rings_spool_main(void *arg)
{
	struct rings *rs = arg;
	struct epoll_event ev[RINGS_MAX + 1];
	int i, n, hot = 0;
	size_t moved, all;

	pthread_setname_np(pthread_self(), "llmtap-spool");	/* for top -H, perf */
	for (;;) {
		n = epoll_wait(rs->sp_epfd, ev, RINGS_MAX + 1, hot ? RING_SPOOL_TICK_MS : -1);
		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++)
			if (ev[i].data.u32 == RINGS_MAX)
				return NULL;	/* rings_free() */
		all = 0;
		for (i = 0; i < rs->n; i++) {
			struct ring *r = &rs->r[i];

			/* a full spool waits for the reader to empty it */
			if (r->spool_dead || __atomic_load_n(&r->spool_full, __ATOMIC_RELAXED))
				continue;
			/* cold, a quarter (the wakeup's mark); hot, anything past
			 * the low mark */
			if (!hot && __atomic_load_n(r->producer, __ATOMIC_ACQUIRE) -
					    __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE) < r->size / 4)
				continue;
			do {
				pthread_mutex_lock(&r->mu);
				moved = ring_spool_move(rs, r);
				pthread_mutex_unlock(&r->mu);
				all += moved;
			} while (moved >= RING_SPOOL_PIECE);
		}
		hot = all ? RING_SPOOL_HOT_TICKS : hot ? hot - 1 : 0;
	}
	return NULL;
}

int rings_spool(struct rings *rs, const char *dir, uint64_t cap)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t all, old;
	int i, err;

	if (!cap || rs->spooling)
		return 0;
	rs->sp_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rs->sp_epfd < 0)
		return -errno;
	rs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rs->stop_fd < 0) {
		err = -errno;
		goto out_epfd;
	}
	ev.data.u32 = RINGS_MAX;
	if (epoll_ctl(rs->sp_epfd, EPOLL_CTL_ADD, rs->stop_fd, &ev)) {
		err = -errno;
		goto out_stop;
	}
	rs->spool_cap = cap;
	for (i = 0; i < rs->n; i++) {
		/* edge-triggered: woken by the wakeups alone, not by each
		 * record the reader has yet to read */
		ev.events = EPOLLIN | EPOLLET;
		ev.data.u32 = (uint32_t)i;
		err = spool_new(&rs->r[i].spool, dir, cap);
		if (!err && epoll_ctl(rs->sp_epfd, EPOLL_CTL_ADD, rs->r[i].fd, &ev))
			err = -errno;
		if (err)
			goto out_spools;
	}
	/* the thread takes no signal: they are the main loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* the reader's priority, inherited: run raises it to nice -20, and
	 * a client at full speed fills a ring within milliseconds */
	err = -pthread_create(&rs->thread, NULL, rings_spool_main, rs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out_spools;
	rs->spooling = 1;
	return 0;

out_spools:
	for (i = 0; i < rs->n; i++) {
		spool_free(rs->r[i].spool);
		rs->r[i].spool = NULL;
	}
out_stop:
	close(rs->stop_fd);
out_epfd:
	close(rs->sp_epfd);
	return err;
}

void rings_spool_stats(const struct rings *rs, struct spool_stats *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < rs->n; i++) {
		struct ring *r = (struct ring *)&rs->r[i];

		if (!r->spool)
			continue;
		pthread_mutex_lock(&r->mu);
		spool_stats_add(r->spool, st);
		pthread_mutex_unlock(&r->mu);
	}
}

void rings_free(struct rings *rs)
{
	uint64_t one = 1;
	int i;

	if (!rs)
		return;
	if (rs->spooling) {
		if (write(rs->stop_fd, &one, sizeof(one)) != sizeof(one))
			return;	/* the thread cannot be told: it keeps rs */
		pthread_join(rs->thread, NULL);
		close(rs->stop_fd);
		close(rs->sp_epfd);
	}
	for (i = 0; i < rs->n; i++) {
		munmap((void *)rs->r[i].producer, rs->r[i].page + rs->r[i].size);
		munmap(rs->r[i].consumer, rs->r[i].page);
		spool_free(rs->r[i].spool);
		pthread_mutex_destroy(&rs->r[i].mu);
	}
	close(rs->epfd);
	buf_free(&rs->scratch);
	buf_free(&rs->batch);
	free(rs);
}
