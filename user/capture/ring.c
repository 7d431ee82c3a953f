/* ring.c -- the reader of the BPF ring buffers: each ring's data pages mapped once (not twice, as libbpf does), records that wrap copied out, one epoll for all. */
#include "capture/ring.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

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

struct rings {
	int epfd;
	struct ring *r;
	int n;
	uint8_t *scratch;		/* a record that wraps around the end, made whole */
	size_t scratch_size;
	unsigned long mark[RINGS_MAX];	/* rings_mark()'s producer positions */
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
	struct ring *r, *grown;
	void *cons, *prod;
	long page = sysconf(_SC_PAGESIZE);
	int err;

	if (size < (size_t)page || (size & (size - 1)))
		return -EINVAL;
	if (rs->n >= RINGS_MAX)
		return -E2BIG;
	grown = realloc(rs->r, (size_t)(rs->n + 1) * sizeof(*rs->r));
	if (!grown)
		return -ENOMEM;
	rs->r = grown;
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

/* Hand the committed records of r to its callback, in order, up to the
 * first one still being written, or budget of them or bytes of them (0: no
 * limit; the record that crosses bytes is the last), or, with upto
 * non-zero, the producer position upto (records written later wait: a
 * client that keeps the ring full cannot keep a drain going). Returns
 * records or a negative errno. */
static int ring_consume(struct rings *rs, struct ring *r, int budget, size_t bytes, unsigned long upto)
{
	unsigned long cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE), prod;
	size_t mask = r->size - 1, taken = 0;
	int n = 0;

	prod = upto ? upto : __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	while (cons < prod) {
		const uint32_t *hdr = (const uint32_t *)(r->data + (cons & mask));
		uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		size_t off, size;
		const uint8_t *sample;

		if (len & BPF_RINGBUF_BUSY_BIT)
			break;
		size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			off = (cons + BPF_RINGBUF_HDR_SZ) & mask;
			sample = r->data + off;
			if (off + size > r->size) {
				/* wraps: the two parts into one buffer */
				if (size > rs->scratch_size) {
					uint8_t *s = realloc(rs->scratch, size);

					if (!s)
						return -ENOMEM;
					rs->scratch = s;
					rs->scratch_size = size;
				}
				memcpy(rs->scratch, sample, r->size - off);
				memcpy(rs->scratch + (r->size - off), r->data, size - (r->size - off));
				sample = rs->scratch;
			}
			r->fn(r->ctx, (void *)sample, size);
			n++;
		}
		cons += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ul;
		__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
		taken += size;
		if ((budget && n >= budget) || (bytes && taken >= bytes))
			break;
		if (cons >= prod && !upto)
			prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	}
	return n;
}

/* Every ring, each up to budget records and bytes of them (0: no limit). */
static int rings_consume_budget(struct rings *rs, int budget, size_t bytes)
{
	int i, n = 0, m;

	for (i = 0; i < rs->n; i++) {
		m = ring_consume(rs, &rs->r[i], budget, bytes, 0);
		if (m < 0)
			return m;
		n += m;
	}
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
	int i, n = 0, m;

	for (i = 0; i < rs->n; i++) {
		if (__atomic_load_n(rs->r[i].consumer, __ATOMIC_ACQUIRE) >= rs->mark[i])
			continue;
		m = ring_consume(rs, &rs->r[i], 0, RINGS_PIECE_BYTES, rs->mark[i]);
		if (m < 0)
			return m;
		n += m;
	}
	return n;
}

int rings_poll(struct rings *rs, int timeout_ms)
{
	struct epoll_event ev[8];
	int n;

	n = epoll_wait(rs->epfd, ev, 8, timeout_ms);
	if (n < 0)
		return -errno;
	/* every ring (most events come without a wakeup), a bounded number of
	 * records each: the caller then writes the rows they made before it
	 * reads on, so a backlog does not pile up in memory; what is left
	 * keeps the poll awake */
	return rings_consume_budget(rs, RINGS_POLL_BUDGET, RINGS_PIECE_BYTES);
}

void rings_free(struct rings *rs)
{
	int i;

	if (!rs)
		return;
	for (i = 0; i < rs->n; i++) {
		munmap((void *)rs->r[i].producer, rs->r[i].page + rs->r[i].size);
		munmap(rs->r[i].consumer, rs->r[i].page);
	}
	close(rs->epfd);
	free(rs->scratch);
	free(rs->r);
	free(rs);
}
