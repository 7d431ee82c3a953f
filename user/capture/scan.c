/* scan.c -- finding TLS functions in executables without symbols: runs the scanners over one mapped file and caches what they found per file version. */
#include "capture/scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture/elfimg.h"
#include "capture/xdec.h"

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

/* rustls: its crate path ("/rustls-0.23.46/src/") in panic locations. Its
 * plaintext crosses generic, inlined Rust code reached through trait
 * objects: there is no stable place for a probe in a stripped build. */
static void rustls_scan(const struct elfimg *im, struct scan_lib *out)
{
	static const char tag[] = "/rustls-";
	const uint8_t *p = im->rodata, *end = im->rodata + im->rodata_size, *hit;

	while (p < end && (hit = memmem(p, end - p, tag, sizeof(tag) - 1))) {
		const uint8_t *v = hit + sizeof(tag) - 1;

		p = hit + 1;
		if (v >= end || *v < '0' || *v > '9')
			continue;
		memcpy(out->version, "rustls ", 7);
		text_copy(out->version + 7, sizeof(out->version) - 7, v, end, '/');
		scan_set(out, SCAN_UNSUPPORTED, "%s: not captured (rustls in a stripped executable has no "
			 "function that can be found and probed)", out->version);
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
	/* One cheap look first: both OpenSSL and BoringSSL name ssl/ssl_lib.c(c). */
	if (elfimg_find(&im, "ssl/ssl_lib.c", 13, 0)) {
		sig_boringssl(&sc, &out->libs[SCAN_BORINGSSL]);
		if (out->libs[SCAN_BORINGSSL].status != SCAN_ABSENT)
			bun_version(&im, &out->libs[SCAN_BORINGSSL]);
		sig_openssl(&sc, &out->libs[SCAN_OPENSSL]);
	}
	gopclntab_scan(&sc, &out->libs[SCAN_GO]);
	rustls_scan(&im, &out->libs[SCAN_RUSTLS]);
	xdec_close(sc.xd);
	elfimg_close(&im);
	out->ms = ms_since(&t0);
	return 0;
}

/* ---- the cache ------------------------------------------------------------ */

#define CACHE_MAX 8192

struct cache_entry {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns, size;
	struct scan_result *res;	/* NULL: nothing found (shared answer) */
};

struct scan_cache {
	struct cache_entry *e;
	size_t n, next;			/* filled, and the slot to reuse when full */
	struct scan_result none;	/* the answer for files carrying no TLS stack */
};

struct scan_cache *scan_cache_new(void)
{
	struct scan_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->e = calloc(CACHE_MAX, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	return c;
}

void scan_cache_free(struct scan_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		free(c->e[i].res);
	free(c->e);
	free(c);
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

const struct scan_result *scan_cached(struct scan_cache *c, const char *path)
{
	struct scan_result *r;
	struct cache_entry *e;
	struct stat st;
	int64_t mt;
	size_t i;

	if (stat(path, &st))
		return NULL;
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	for (i = 0; i < c->n; i++) {
		e = &c->e[i];
		if (e->dev == st.st_dev && e->ino == st.st_ino && e->mtime_ns == mt && e->size == st.st_size)
			return e->res ? e->res : &c->none;
	}
	r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	scan_path(path, r);
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->mtime_ns = mt;
	r->size = st.st_size;
	if (c->n < CACHE_MAX) {
		e = &c->e[c->n++];
	} else {
		e = &c->e[c->next];
		c->next = (c->next + 1) % CACHE_MAX;
		free(e->res);
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->mtime_ns = mt;
	e->size = st.st_size;
	if (result_empty(r)) {
		free(r);
		e->res = NULL;
		c->none.dev = st.st_dev;
		c->none.ino = st.st_ino;
		return &c->none;
	}
	e->res = r;
	return r;
}
