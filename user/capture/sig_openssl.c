/* sig_openssl.c -- OpenSSL 3 linked statically into a stripped executable (Codex): ssl_read_internal, ssl_write_internal, SSL_do_handshake and SSL_new, found by the function names their error sites record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/elfimg.h"
#include "capture/scan.h"
#include "capture/xdec.h"

/*
 * The anchor: OpenSSL 3's ERR_raise() expands to ERR_new();
 * ERR_set_debug(OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC); ERR_set_error()
 * and OPENSSL_FUNC is __func__. A function that raises an error therefore
 * loads the address of "ssl/ssl_lib.c" and, a few bytes away, the address
 * of a string holding its own name. Compilers differ in prologues (gcc
 * with CET and stack protector, clang with frame pointers); the names stay.
 * Every public read and write call funnels into ssl_read_internal and
 * ssl_write_internal, so those are hooked; SSL_read / SSL_write, when they
 * are there, must call them.
 */

#define REFS_MAX	8192
#define ENTRIES_MAX	8
#define NEAR		32	/* bytes between the file and function-name loads */
#define VAS_MAX		16	/* addresses of one string */

static const char *const names[] = {
	"ssl_read_internal", "ssl_write_internal", "SSL_read", "SSL_write", "SSL_do_handshake", "SSL_new",
};

#define NNAMES (sizeof(names) / sizeof(names[0]))

struct ossl {
	struct scan_ctx *sc;
	uint64_t vas[NNAMES + 1][VAS_MAX];	/* the names' strings, then the file's */
	size_t nvas[NNAMES + 1];
	struct elfimg_ref *refs;		/* every load of one of them */
	size_t nrefs;
};

/* Entry of the function holding va: its FDE, else the nearest 16-aligned
 * address after padding from which a walk reaches past va. 0 if none. */
static uint64_t fn_entry(struct ossl *o, uint64_t va)
{
	const struct elfimg *im = o->sc->im;
	uint64_t a, end, e = elfimg_fde_start(im, va);

	if (e)
		return e;
	for (a = va & ~15ull; a + 0x2000 > va && a > im->text_va; a -= 16) {
		const uint8_t *p;

		if (!elfimg_code(im, a - 1, &p) || (p[0] != 0xcc && p[0] != 0x90 && p[0] != 0xc3))
			continue;
		if (xdec_sweep(o->sc->xd, im, a, va - a + 16, NULL, NULL, &end) >= 0 && end > va)
			return a;
	}
	return 0;
}

/* 1 when target is one of the addresses of string i. */
static int is_string(const struct ossl *o, size_t i, uint64_t target)
{
	size_t k;

	for (k = 0; k < o->nvas[i] && k < VAS_MAX; k++)
		if (o->vas[i][k] == target)
			return 1;
	return 0;
}

/* The distinct functions raising an ssl_lib.c error with __func__
 * names[i]: a load of that name near a load of the file name. Returns how
 * many (entries written up to ENTRIES_MAX). */
static size_t locate(struct ossl *o, size_t i, uint64_t *ents)
{
	size_t r, j, k, n = 0;

	for (r = 0; r < o->nrefs; r++) {
		uint64_t site = o->refs[r].site, e;

		if (!is_string(o, i, o->refs[r].target))
			continue;
		/* refs are sorted by site: look at the neighbours */
		for (j = r; j > 0 && o->refs[j - 1].site + NEAR >= site; j--)
			;
		for (; j < o->nrefs && o->refs[j].site <= site + NEAR; j++)
			if (is_string(o, NNAMES, o->refs[j].target))
				break;
		if (j == o->nrefs || o->refs[j].site > site + NEAR)
			continue;
		e = fn_entry(o, site);
		if (!e)
			continue;
		for (k = 0; k < n && k < ENTRIES_MAX && ents[k] != e; k++)
			;
		if (k < n)
			continue;
		if (n < ENTRIES_MAX)
			ents[n] = e;
		n++;
	}
	return n;
}

struct calls_ctx {
	uint64_t target;
	int found;
};

/* fn_calls()'s visitor: stops at a call or jump to the target. */
static int calls_visit(void *ctx, const struct xdec_insn *in)
{
	struct calls_ctx *c = ctx;

	if ((in->kind == XK_CALL || in->kind == XK_JMP) && in->target == c->target)
		c->found = 1;
	return c->found;
}

/* 1 when the function at fn calls (or tail-jumps to) target. */
static int fn_calls(struct ossl *o, uint64_t fn, uint64_t target)
{
	struct calls_ctx c = { .target = target };
	uint64_t end;

	xdec_sweep(o->sc->xd, o->sc->im, fn, 0x400, calls_visit, &c, &end);
	return c.found;
}

/* The highest "OpenSSL 3.x.y" version in the file: *minor, and its text in
 * ver. Returns 0, or -1 when there is none. */
static int version_find(const struct elfimg *im, int *minor, char *ver, size_t vlen)
{
	static const char tag[] = "OpenSSL 3.";
	const uint8_t *p = im->rodata, *end = im->rodata + im->rodata_size, *hit;
	int best = -1;

	while (p < end && (hit = memmem(p, end - p, tag, sizeof(tag) - 1))) {
		const uint8_t *q = hit + sizeof(tag) - 1;
		int m = 0, digits = 0;
		size_t len = 0;

		while (q < end && *q >= '0' && *q <= '9' && digits < 3) {
			m = m * 10 + (*q++ - '0');
			digits++;
		}
		if (digits && q < end && *q == '.' && m > best) {
			int spaces = 0;

			best = m;
			/* "OpenSSL 3.6.4 25 Aug 2026": up to the second space */
			while (hit + len < end && len + 1 < vlen && hit[len] >= ' ' && hit[len] < 0x7f &&
			       !(hit[len] == ' ' && ++spaces == 2))
				len++;
			memcpy(ver, hit, len);
			ver[len] = 0;
		}
		p = hit + 1;
	}
	if (best < 0)
		return -1;
	*minor = best;
	return 0;
}

/* What a caller loads before calling ssl_write_internal: r8 (the
 * `written` pointer from OpenSSL 3.3) since its previous call. */
struct abi_ctx {
	uint64_t target;
	int r8_set;		/* r8 written since the last call */
	int calls, r8_calls;	/* calls to target, and with r8 set */
};

/* write_abi()'s visitor: whether r8 was set before each call to the target. */
static int abi_visit(void *ctx, const struct xdec_insn *in)
{
	struct abi_ctx *c = ctx;

	if (in->kind == XK_CALL || in->kind == XK_JMP || in->kind == XK_ICALL) {
		if (in->target == c->target) {
			c->calls++;
			c->r8_calls += c->r8_set;
		}
		c->r8_set = 0;
		return 0;
	}
	if (in->regs_written & (1u << XR_8))
		c->r8_set = 1;
	return 0;
}

/* How ssl_write_internal at fn takes *written, from its direct callers:
 * 1 in r8 (OpenSSL >= 3.3, after a flags argument), 0 in rcx, -1 unknown. */
static int write_abi(struct ossl *o, uint64_t fn)
{
	uint64_t sites[32], end;
	struct abi_ctx c = { .target = fn };
	size_t n, i;

	n = elfimg_callers(o->sc->im, fn, sites, 32);
	for (i = 0; i < n && i < 32; i++) {
		uint64_t e = elfimg_fde_start(o->sc->im, sites[i]);

		if (!e || sites[i] - e > 0x400)
			continue;
		c.r8_set = 0;
		xdec_sweep(o->sc->xd, o->sc->im, e, sites[i] - e + 16, abi_visit, &c, &end);
	}
	if (!c.calls)
		return -1;
	return c.r8_calls ? 1 : 0;
}

int sig_openssl(struct scan_ctx *sc, struct scan_lib *out)
{
	uint64_t ents[NNAMES][ENTRIES_MAX], all[(NNAMES + 1) * VAS_MAX];
	size_t n[NNAMES], i, k, nall = 0;
	struct ossl *o;
	int minor = -1, abi5;

	o = calloc(1, sizeof(*o));
	if (!o)
		return scan_set(out, SCAN_UNVERIFIED, "out of memory");
	o->sc = sc;
	o->nvas[NNAMES] = elfimg_strings(sc->im, "ssl/ssl_lib.c", 1, o->vas[NNAMES], VAS_MAX);
	if (!o->nvas[NNAMES]) {
		free(o);
		return scan_set(out, SCAN_ABSENT, "no ssl/ssl_lib.c");
	}
	for (i = 0; i < NNAMES; i++)
		o->nvas[i] = elfimg_strings(sc->im, names[i], 0, o->vas[i], VAS_MAX);
	for (i = 0; i <= NNAMES; i++)
		for (k = 0; k < o->nvas[i] && k < VAS_MAX; k++)
			all[nall++] = o->vas[i][k];
	o->refs = malloc(REFS_MAX * sizeof(*o->refs));
	if (!o->refs) {
		free(o);
		return scan_set(out, SCAN_UNVERIFIED, "out of memory");
	}
	o->nrefs = elfimg_refs(sc->im, all, nall, o->refs, REFS_MAX);
	if (o->nrefs > REFS_MAX)
		o->nrefs = REFS_MAX;
	/* A bare string is no library: OpenSSL's code refers to it. */
	for (i = 0; i < o->nrefs && !is_string(o, NNAMES, o->refs[i].target); i++)
		;
	if (i == o->nrefs) {
		scan_set(out, SCAN_ABSENT, "ssl/ssl_lib.c without references");
		goto out_free;
	}
	for (i = 0; i < NNAMES; i++)
		n[i] = locate(o, i, ents[i]);
	if (version_find(sc->im, &minor, out->version, sizeof(out->version)))
		snprintf(out->version, sizeof(out->version), "OpenSSL 3 (version string not linked in)");
	if (!n[0] && !n[1] && !n[2] && !n[3] && !n[4] && !n[5]) {
		scan_set(out, SCAN_ABSENT, "ssl/ssl_lib.c without OpenSSL error sites");
		goto out_free;
	}
	if (n[0] != 1 || n[1] != 1) {
		scan_set(out, SCAN_UNVERIFIED, "%s: no signature set verified (ssl_read_internal: %zu "
			 "candidates, ssl_write_internal: %zu)", out->version, n[0], n[1]);
		goto out_free;
	}
	/* The public calls, when not removed by the linker, use them. */
	if ((n[2] == 1 && !fn_calls(o, ents[2][0], ents[0][0])) ||
	    (n[3] == 1 && !fn_calls(o, ents[3][0], ents[1][0]))) {
		scan_set(out, SCAN_UNVERIFIED, "%s: SSL_read/SSL_write do not call the internal "
			 "functions found", out->version);
		goto out_free;
	}
	/* From 3.3 ssl_write_internal(s, buf, num, flags, written): *written in
	 * r8. Its callers say which; the version string, when linked in, must agree. */
	abi5 = write_abi(o, ents[1][0]);
	if (abi5 < 0 || (minor >= 0 && abi5 != (minor >= 3))) {
		scan_set(out, SCAN_UNVERIFIED, "%s: ssl_write_internal's arguments could not be told "
			 "(%s)", out->version, abi5 < 0 ? "no direct caller" : "callers disagree with the version");
		goto out_free;
	}
	scan_add(sc->im, out, "ssl_read_internal", ents[0][0]);
	scan_add(sc->im, out, abi5 ? "ssl_write_internal_flags" : "ssl_write_internal", ents[1][0]);
	if (n[4] == 1)
		scan_add(sc->im, out, "SSL_do_handshake", ents[4][0]);
	/* SSL_free raises no error: a session's end is seen when SSL_new
	 * returns the same address again, or at its TCP close. */
	if (n[5] == 1)
		scan_add(sc->im, out, "SSL_new", ents[5][0]);
	else
		snprintf(out->reason, sizeof(out->reason), "SSL_new not located: a new connection at a "
			 "freed connection's address is taken for the old one");
	snprintf(out->variant, sizeof(out->variant), "%s", abi5 ? "written in r8 (3.3+)" : "written in rcx");
	out->status = SCAN_FOUND;
out_free:
	free(o->refs);
	free(o);
	return 0;
}
