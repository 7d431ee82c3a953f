/* scan.c -- finding TLS functions in executables without symbols: runs the scanners over one mapped file and caches what they found per file version. */
#include "capture/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/elfimg.h"
#include "capture/xdec.h"

/* See capture/scan.h for the contracts of the public functions. */
const char *scan_lib_name(enum scan_lib_id id)
{
	static const char *const names[SCAN_NLIBS] = {
		[SCAN_BORINGSSL] = "boringssl", [SCAN_OPENSSL] = "openssl-static",
		[SCAN_GO] = "go", [SCAN_RUSTLS] = "rustls",
	};

	return id < SCAN_NLIBS ? names[id] : "?";
}

int scan_set(struct scan_lib *l, enum scan_status st, const char *fmt, ...)
{
	va_list ap;

	l->status = st;
	va_start(ap, fmt);
	vsnprintf(l->reason, sizeof(l->reason), fmt, ap);
	va_end(ap);
	return 0;
}

struct scan_func *scan_add(const struct elfimg *im, struct scan_lib *l, const char *name, uint64_t va)
{
	int64_t off = elfimg_va2off(im, va);
	struct scan_func *f;

	if (l->nfuncs == SCAN_FUNCS_MAX || off < 0)
		return NULL;
	f = &l->funcs[l->nfuncs++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->va = va;
	f->off = (uint64_t)off;
	f->entry_probe = f->off;
	return f;
}

const struct scan_func *scan_func(const struct scan_lib *l, const char *name)
{
	int i;

	for (i = 0; i < l->nfuncs; i++)
		if (!strcmp(l->funcs[i].name, name))
			return &l->funcs[i];
	return NULL;
}

/* Copy the printable text at p (up to stop or a NUL) into out. */
static void text_copy(char *out, size_t n, const uint8_t *p, const uint8_t *end, char stop)
{
	size_t i;

	for (i = 0; i + 1 < n && p + i < end && p[i] >= ' ' && p[i] < 0x7f && p[i] != stop; i++)
		out[i] = p[i];
	out[i] = 0;
}

/* rustls: its crate path ("/rustls-0.23.46/src/") in panic locations.
 * rustls itself is generic, inlined Rust with no stable place for a probe;
 * its records are sealed and opened by its crypto provider, probed when
 * that is AWS-LC (capture/sig_awslc.c). */
static void rustls_scan(struct scan_ctx *sc, struct scan_lib *out)
{
	static const char tag[] = "/rustls-";
	const struct elfimg *im = sc->im;
	const uint8_t *p = im->rodata, *end = im->rodata + im->rodata_size, *hit;

	while (p < end && (hit = memmem(p, end - p, tag, sizeof(tag) - 1))) {
		const uint8_t *v = hit + sizeof(tag) - 1;

		p = hit + 1;
		if (v >= end || *v < '0' || *v > '9')
			continue;
		memcpy(out->version, "rustls ", 7);
		text_copy(out->version + 7, sizeof(out->version) - 7, v, end, '/');
		sig_awslc(sc, out);
		return;
	}
	scan_set(out, SCAN_ABSENT, "no rustls");
}

/* Bun's version ("Bun v1.4.6") for the BoringSSL result. */
static void bun_version(const struct elfimg *im, struct scan_lib *out)
{
	static const char tag[] = "Bun v1.";
	const uint8_t *hit = elfimg_find(im, tag, sizeof(tag) - 1, 0);

	if (hit) {
		memcpy(out->version, "Bun v", 5);
		text_copy(out->version + 5, sizeof(out->version) - 5, hit + 5, im->data + im->size, ' ');
	}
	else
		snprintf(out->version, sizeof(out->version), "BoringSSL");
}

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int scan_path(const char *path, struct scan_result *out)
{
	struct scan_ctx sc = { 0 };
	struct timespec t0;
	struct elfimg im;
	int err;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = elfimg_open(&im, path);
	if (err) {
		out->err = err;
		return err;
	}
	err = xdec_open(&sc.xd);
	if (err) {
		elfimg_close(&im);
		out->err = err;
		return err;
	}
	sc.im = &im;
	out->ssl_symbols = elfimg_defines(&im, "SSL_write") || elfimg_defines(&im, "SSL_read");
	/* One cheap look first: both OpenSSL and BoringSSL name ssl/ssl_lib.c(c). */
	if (elfimg_find(&im, "ssl/ssl_lib.c", 13, 0)) {
		sig_boringssl(&sc, &out->libs[SCAN_BORINGSSL]);
		if (out->libs[SCAN_BORINGSSL].status != SCAN_ABSENT)
			bun_version(&im, &out->libs[SCAN_BORINGSSL]);
		sig_openssl(&sc, &out->libs[SCAN_OPENSSL]);
	}
	gopclntab_scan(&sc, &out->libs[SCAN_GO]);
	rustls_scan(&sc, &out->libs[SCAN_RUSTLS]);
	xdec_close(sc.xd);
	elfimg_close(&im);
	out->ms = ms_since(&t0);
	return 0;
}

/* ---- the cache and its scanning thread ---------------------------------- */

#define CACHE_MAX	8192
#define JOBS_MAX	64
#define PATH_MAX_LEN	4400
/* Files up to this size are scanned at once: it takes milliseconds. */
#define SCAN_NOW_BYTES	(16 << 20)

struct cache_entry {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns, size;
	struct scan_result *res;	/* NULL: no TLS stack in it */
};

struct scan_job {
	char path[PATH_MAX_LEN];
	int fd;				/* the file, held open: its process may exit meanwhile */
	pid_t pid;
	dev_t dev;
	ino_t ino;
	int done;			/* scanned and cached */
};

struct scan_queue {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int started, stop;
	int busy;			/* the thread is scanning a file */
	struct cache_entry *e;
	size_t n, next;			/* filled, and the slot to reuse when full */
	struct scan_job jobs[JOBS_MAX];
	int njobs;
};

/* The version of the file stat'ed in st. */
static int64_t mtime_of(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The cache entry of st's version, or NULL. Call with the lock held. */
static struct cache_entry *cache_find(struct scan_queue *q, const struct stat *st)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		struct cache_entry *e = &q->e[i];

		if (e->dev == st->st_dev && e->ino == st->st_ino && e->mtime_ns == mtime_of(st) &&
		    e->size == st->st_size)
			return e;
	}
	return NULL;
}

/* 1 when every stack is absent from r. */
static int result_empty(const struct scan_result *r)
{
	int i;

	for (i = 0; i < SCAN_NLIBS; i++)
		if (r->libs[i].status != SCAN_ABSENT)
			return 0;
	return !r->err;
}

/* Keep r (taken over) as the result for st's version. Lock held. */
static void cache_put(struct scan_queue *q, const struct stat *st, struct scan_result *r)
{
	struct cache_entry *e = cache_find(q, st);

	if (!e && q->n < CACHE_MAX) {
		e = &q->e[q->n++];
	} else if (!e) {
		e = &q->e[q->next];
		q->next = (q->next + 1) % CACHE_MAX;
	}
	free(e->res);
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->mtime_ns = mtime_of(st);
	e->size = st->st_size;
	if (result_empty(r)) {
		free(r);
		r = NULL;
	}
	e->res = r;
}

/* Copy entry e's result to out. */
static void cache_copy(const struct cache_entry *e, struct scan_result *out)
{
	if (e->res) {
		*out = *e->res;
		return;
	}
	memset(out, 0, sizeof(*out));
	out->dev = e->dev;
	out->ino = e->ino;
	out->mtime_ns = e->mtime_ns;
	out->size = e->size;
}

/* Scan path (stat'ed as st) and cache the result. Returns 0 or -ENOMEM. */
static int scan_and_put(struct scan_queue *q, const char *path, const struct stat *st)
{
	struct scan_result *r = malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	scan_path(path, r);
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->mtime_ns = mtime_of(st);
	r->size = st->st_size;
	pthread_mutex_lock(&q->lock);
	cache_put(q, st, r);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* The thread: scan queued files one at a time, outside the lock. */
static void *queue_run(void *arg)
{
	struct scan_queue *q = arg;
	char path[PATH_MAX_LEN];
	struct stat st;
	dev_t dev;
	ino_t ino;
	int i;

	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		for (i = 0; i < q->njobs && q->jobs[i].done; i++)
			;
		if (i == q->njobs) {
			pthread_cond_wait(&q->wake, &q->lock);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", q->jobs[i].fd);
		dev = q->jobs[i].dev;
		ino = q->jobs[i].ino;
		q->busy = 1;
		pthread_mutex_unlock(&q->lock);
		if (!stat(path, &st))
			scan_and_put(q, path, &st);
		pthread_mutex_lock(&q->lock);
		q->busy = 0;
		/* scan_queue_done() may have moved the jobs meanwhile */
		for (i = 0; i < q->njobs; i++)
			if (q->jobs[i].dev == dev && q->jobs[i].ino == ino)
				q->jobs[i].done = 1;
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int scan_queue_new(struct scan_queue **out)
{
	struct scan_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->e = calloc(CACHE_MAX, sizeof(*q->e));
	if (!q->e) {
		free(q);
		return -ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	*out = q;
	return 0;
}

/* Start the thread with the first job (under q->lock). Not before: `run`
 * drops its privileges after attaching, and capabilities are per thread,
 * so a thread made before the drop would keep root's. Returns 0 or -errno. */
static int queue_start(struct scan_queue *q)
{
	int err;

	if (q->started)
		return 0;
	err = pthread_create(&q->thread, NULL, queue_run, q);
	if (err)
		return -err;
	q->started = 1;
	return 0;
}

void scan_queue_free(struct scan_queue *q)
{
	size_t i;

	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->stop = 1;
		pthread_cond_signal(&q->wake);
		if (q->busy) {
			/* A large file can take seconds: stopping must not wait
			 * for it. The thread ends after it; q stays to the exit. */
			pthread_mutex_unlock(&q->lock);
			pthread_detach(q->thread);
			return;
		}
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
	}
	for (i = 0; i < q->n; i++)
		free(q->e[i].res);
	for (i = 0; i < (size_t)q->njobs; i++)
		close(q->jobs[i].fd);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q->e);
	free(q);
}

enum scan_get scan_queue_get(struct scan_queue *q, const char *path, const char *shown, pid_t pid,
			     int wait, struct scan_result *out)
{
	struct cache_entry *e;
	struct stat st;
	int i, fd;

	if (stat(path, &st))
		return SCAN_GET_ERROR;
	pthread_mutex_lock(&q->lock);
	e = cache_find(q, &st);
	if (e) {
		cache_copy(e, out);
		pthread_mutex_unlock(&q->lock);
		return SCAN_GET_DONE;
	}
	if (!wait && st.st_size > SCAN_NOW_BYTES && q->njobs < JOBS_MAX && !queue_start(q)) {
		for (i = 0; i < q->njobs; i++)
			if (q->jobs[i].dev == st.st_dev && q->jobs[i].ino == st.st_ino && !q->jobs[i].done)
				break;
		fd = i == q->njobs ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0) {
			struct scan_job *j = &q->jobs[q->njobs++];

			snprintf(j->path, sizeof(j->path), "%s", shown);
			j->fd = fd;
			j->pid = pid;
			j->dev = st.st_dev;
			j->ino = st.st_ino;
			j->done = 0;
			pthread_cond_signal(&q->wake);
		}
		pthread_mutex_unlock(&q->lock);
		return SCAN_GET_QUEUED;
	}
	/* small, asked to wait, or the queue is full: scan here */
	pthread_mutex_unlock(&q->lock);
	if (scan_and_put(q, path, &st))
		return SCAN_GET_ERROR;
	pthread_mutex_lock(&q->lock);
	e = cache_find(q, &st);
	if (e)
		cache_copy(e, out);
	pthread_mutex_unlock(&q->lock);
	return e ? SCAN_GET_DONE : SCAN_GET_ERROR;
}

void scan_queue_done(struct scan_queue *q,
		     void (*fn)(void *ctx, const char *io, const char *path, pid_t pid), void *ctx)
{
	struct scan_job done[JOBS_MAX];
	int i, j, n = 0;

	pthread_mutex_lock(&q->lock);
	for (i = 0, j = 0; i < q->njobs; i++) {
		if (q->jobs[i].done)
			done[n++] = q->jobs[i];
		else
			q->jobs[j++] = q->jobs[i];
	}
	q->njobs = j;
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < n; i++) {
		char io[32];

		snprintf(io, sizeof(io), "/proc/self/fd/%d", done[i].fd);
		fn(ctx, io, done[i].path, done[i].pid);
		close(done[i].fd);
	}
}
