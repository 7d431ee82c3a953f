/* sig_boringssl.c -- BoringSSL linked into an executable without symbols (Bun, Claude Code): SSL_read, SSL_write and their handshake and teardown, by prologue signatures verified through ssl_lib.cc's error sites and the call graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/elfimg.h"
#include "capture/scan.h"
#include "capture/sigpat.h"
#include "capture/xdec.h"

/*
 * The anchor: OPENSSL_PUT_ERROR(SSL, reason) compiles to
 * ERR_put_error(16, [0,] reason, __FILE__, __LINE__) with immediates only,
 * so every error site of ssl/ssl_lib.cc loads that file name's address and
 * its reason code. Each function below is recognised by its prologue (a
 * few compiler variants seen over Bun 1.0 - 1.4 and Claude Code 2.1.x) and
 * verified by the error sites it holds and the functions it calls:
 *   SSL_read          (SSL_peek inlined) error 66 only, calls ssl_read_impl
 *   ssl_read_impl     errors 226 and 215, calls SSL_do_handshake
 *   SSL_do_handshake  error 134 only
 *   SSL_write         errors 66, 226, 215, 111, calls SSL_do_handshake
 *   SSL_new           error 185; calls ssl_st::~ssl_st on failure
 * Reasons: 66 ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED, 111 SSL_R_BAD_LENGTH,
 * 134 SSL_R_CONNECTION_TYPE_NOT_SET, 185 SSL_R_NULL_SSL_CTX,
 * 215 SSL_R_SSL_HANDSHAKE_FAILURE, 226 SSL_R_UNINITIALIZED.
 */

/* Optional stack-protector load. */
#define SSP "(64 48 8b 04 25 28 00 00 00 48 89 45 ..)?"

/* SSL_read up to its `if (ssl->quic_method) { OPENSSL_PUT_ERROR(66) ...`:
 * the error site starts where this ends; after it, `return -1`. */
static const char READ_PRO[] =
	"(41 57 41 56 53|55 48 89 e5 41 57 41 56 53 50) 48 83 bf .. .. 00 00 00 74 ..";
static const char READ_TAIL[] = "bb ff ff ff ff 89 d8";
/* SSL_write: ssl_reset_error_state() inlined, then the same QUIC check. */
static const char WRITE_PRO[] =
	"55 (48 89 e5)? 41 57 41 56 41 55 41 54 53 48 83 ec .. (89 d5|41 89 d7) 49 89 f6 48 89 fb "
	SSP " 48 8b 47 .. c7 80 .. .. 00 00 00 00 00 00 e8 .. .. .. .. e8 .. .. .. .. "
	"(c7 00 00 00 00 00)? 48 83 bb .. .. 00 00 00 74 ..";
static const char WRITE_TAIL[] = "b8 ff ff ff ff";
static const char IMPL_PRO[] =
	"55 (48 89 e5)? 41 57 41 56 41 55 41 54 53 48 (83 ec ..|81 ec .. .. 00 00) 48 89 fb "
	SSP " 48 8b 47 .. c7 80 .. .. 00 00 00 00 00 00 e8";
static const char DH_PRO[] =
	"55 (48 89 e5)? (41 57 41 56 41 55 41 54 53 48 83 ec .. (48 89 fb|49 89 fc)|"
	"41 56 53 48 83 ec .. 48 89 fb) " SSP " 48 8b 47 .. c7 80 .. .. 00 00 00 00 00 00 e8";
/* ssl_st::~ssl_st(): CRYPTO_free_ex_data(&g_ex_data_class_ssl, [this,] &ex_data) first. */
static const char DTOR_PRO[] =
	"(55 48 89 e5)? (41 56)? 53 (50)? 48 89 fb 48 8d (57|77) .. (48 8d 3d .. .. .. ..|bf .. .. .. ..) "
	"(48 89 de)? e8";
/* SSL_free(ssl): if (ssl) { ssl->~ssl_st(); OPENSSL_free(ssl); } */
static const char FREE_PRO[] =
	"((55 48 89 e5)? (41 56)? 53 (50)? 48 85 ff 74 ..|48 85 ff 74 .. 53) 48 89 fb e8";

#define SITES_MAX	1024
#define CANDS_MAX	8
#define CALLS_MAX	256

/* One OPENSSL_PUT_ERROR(SSL, ...) of ssl_lib.cc. */
struct site {
	uint64_t va;		/* the instruction loading __FILE__ */
	uint64_t end;		/* after the call to ERR_put_error */
	uint64_t err_fn;	/* ERR_put_error */
	uint32_t reason, line;
	int nargs;		/* 5: ERR_put_error(lib, 0, reason, file, line); 4 after LTO */
};

struct bssl {
	struct scan_ctx *sc;
	struct site sites[SITES_MAX];
	size_t nsites;
};

/* Decode forward from the site at va until its call, collecting the
 * immediates loaded into registers. Returns 0 and *s, or -1. */
static int site_decode(struct bssl *b, uint64_t va, struct site *s)
{
	uint64_t regs[16], cur = va;
	unsigned set = 0;
	struct xdec_insn in;
	int i, followed = 0;

	for (i = 0; i < 10; i++) {
		if (xdec_insn(b->sc->xd, b->sc->im, cur, &in))
			return -1;
		if (in.imm_reg >= 0) {
			regs[in.imm_reg] = in.imm & 0xffffffff;
			set |= 1u << in.imm_reg;
		} else if (in.kind == XK_JMP && in.len == 2 && !followed) {
			/* a shared error tail: follow one short jump */
			followed = 1;
			cur = in.target;
			continue;
		} else if (in.kind == XK_CALL || in.kind == XK_JMP) {
			if (!(set & (1u << XR_DI)) || regs[XR_DI] != 16)
				return -1;
			s->va = va;
			s->end = cur + in.len;
			s->err_fn = in.target;
			if (set & (1u << XR_8)) {
				/* ERR_put_error(lib, unused, reason, file, line) */
				s->reason = regs[XR_DX];
				s->line = regs[XR_8];
				s->nargs = 5;
			} else {
				/* 4 arguments after LTO dropped the unused one */
				s->reason = regs[XR_SI];
				s->line = regs[XR_CX];
				s->nargs = 4;
			}
			return 0;
		}
		cur += in.len;
	}
	return -1;
}

/* Collect the error sites of ssl_lib.cc. Returns how many. */
static size_t sites_find(struct bssl *b, const uint64_t *file_vas, size_t nfile)
{
	struct elfimg_ref *refs = malloc(SITES_MAX * sizeof(*refs));
	size_t n, i;

	if (!refs)
		return 0;
	n = elfimg_refs(b->sc->im, file_vas, nfile, refs, SITES_MAX);
	if (n > SITES_MAX)
		n = SITES_MAX;
	for (i = 0; i < n; i++)
		if (!site_decode(b, refs[i].site, &b->sites[b->nsites]))
			b->nsites++;
	free(refs);
	return b->nsites;
}

/* 1 when va is in the scanned code. */
static int in_text(const struct elfimg *im, uint64_t va)
{
	const uint8_t *p;

	return elfimg_code(im, va, &p) > 0;
}

/* Length of signature pat matched at va, or -1. */
static long match_va(const struct elfimg *im, const char *pat, uint64_t va)
{
	const uint8_t *p;
	size_t n = elfimg_code(im, va, &p);

	return n ? sigpat_match(pat, p, n < 256 ? n : 256) : -1;
}

/* The function walked from start: its end and its direct call targets. */
struct fn_info {
	uint64_t start, end;
	uint64_t calls[CALLS_MAX];
	size_t ncalls;
};

/* fn_walk()'s visitor: note each direct call's target. */
static int fn_visit(void *ctx, const struct xdec_insn *in)
{
	struct fn_info *f = ctx;

	if (in->kind == XK_CALL && f->ncalls < CALLS_MAX)
		f->calls[f->ncalls++] = in->target;
	return 0;
}

/* Walk the function at start (maxlen bytes at most). Returns 0, or -1 when
 * it did not decode. */
static int fn_walk(struct bssl *b, uint64_t start, size_t maxlen, struct fn_info *f)
{
	memset(f, 0, sizeof(*f));
	f->start = start;
	return xdec_sweep(b->sc->xd, b->sc->im, start, maxlen, fn_visit, f, &f->end) < 0 ? -1 : 0;
}

/* 1 when f calls target directly. */
static int fn_calls(const struct fn_info *f, uint64_t target)
{
	size_t i;

	for (i = 0; i < f->ncalls; i++)
		if (f->calls[i] == target)
			return 1;
	return 0;
}

/* 1 when an error site with reason lies inside f. */
static int fn_has_reason(const struct bssl *b, const struct fn_info *f, uint32_t reason)
{
	size_t i;

	for (i = 0; i < b->nsites; i++)
		if (b->sites[i].reason == reason && b->sites[i].va >= f->start && b->sites[i].va < f->end)
			return 1;
	return 0;
}

/* Distinct direct call targets of f. */
static size_t fn_ncallees(const struct fn_info *f)
{
	size_t i, j, n = 0;

	for (i = 0; i < f->ncalls; i++) {
		for (j = 0; j < i && f->calls[j] != f->calls[i]; j++)
			;
		n += j == i;
	}
	return n;
}

/* Functions starting 16-aligned at most 0x80 before site s whose prologue
 * pat ends exactly at s and whose tail follows the error call. */
static size_t cands_at(const struct bssl *b, const struct site *s, const char *pat,
		       const char *tail, uint64_t *out, size_t n)
{
	uint64_t a;
	long len;

	for (a = s->va & ~15ull; a + 0x80 >= s->va && a >= b->sc->im->text_va; a -= 16) {
		len = match_va(b->sc->im, pat, a);
		if (len < 0 || a + len != s->va || match_va(b->sc->im, tail, s->end) < 0)
			continue;
		if (n < CANDS_MAX)
			out[n++] = a;
	}
	return n;
}

/* Entry of the function holding va: the nearest 16-aligned address before
 * it (within limit) that is called from somewhere or follows padding, and
 * whose walk covers va. Returns 0 when there is none. */
static uint64_t fn_start_guess(struct bssl *b, uint64_t va, uint64_t limit)
{
	const struct elfimg *im = b->sc->im;
	uint64_t cands[256], a;
	uint8_t called[256];
	size_t n = 0, i;

	for (a = (va & ~15ull) - (limit & ~15ull) + 16; a <= va && n < 256; a += 16)
		if (a > im->text_va)
			cands[n++] = a;
	elfimg_call_targets(im, cands, n, called);
	for (i = n; i-- > 0;) {
		const uint8_t *p;
		struct fn_info f;

		if (!elfimg_code(im, cands[i] - 1, &p))
			continue;
		if (!called[i] && p[0] != 0xcc && p[0] != 0x90 && p[0] != 0xc3)
			continue;
		if (!fn_walk(b, cands[i], va - cands[i] + 16, &f) && f.end > va)
			return cands[i];
	}
	return 0;
}

/* Optional: the ssl_st destructor (a callee of SSL_new with its prologue)
 * and SSL_free. The destructor is hooked when found: from Bun 1.4 SSL_free
 * is inlined into its callers. Adds "SSL_free" to out, or a note. */
static void teardown_find(struct bssl *b, struct scan_lib *out)
{
	const struct elfimg *im = b->sc->im;
	uint64_t dtor = 0, entry, sites[64], free_fn = 0;
	size_t i, j, n, nfree = 0;
	struct fn_info f;

	for (i = 0; i < b->nsites && !dtor; i++) {
		if (b->sites[i].reason != 185)
			continue;
		entry = fn_start_guess(b, b->sites[i].va, 0x1000);
		if (!entry || fn_walk(b, entry, 0x2000, &f))
			continue;
		for (j = 0; j < f.ncalls; j++) {
			if (match_va(im, DTOR_PRO, f.calls[j]) >= 0) {
				dtor = f.calls[j];
				break;
			}
		}
	}
	if (!dtor) {
		snprintf(out->reason, sizeof(out->reason),
			 "teardown not located: connections end at their TCP close");
		return;
	}
	/* SSL_free: the one `test rdi,rdi; ...; call dtor` function */
	n = elfimg_callers(im, dtor, sites, 64);
	for (i = 0; i < n && i < 64; i++) {
		uint64_t st;

		for (st = (sites[i] - 0x18 + 15) & ~15ull; st <= sites[i]; st += 16) {
			long len = match_va(im, FREE_PRO, st);

			if (len > 0 && st + len - 1 == sites[i] && st != free_fn) {
				free_fn = st;
				nfree++;
			}
		}
	}
	/* Few callers: SSL_free is the one; else it is inlined, hook the destructor. */
	if (nfree == 1 && n <= 3)
		scan_add(im, out, "SSL_free", free_fn);
	else
		scan_add(im, out, "SSL_free", dtor);
}

int sig_boringssl(struct scan_ctx *sc, struct scan_lib *out)
{
	uint64_t file_vas[16], reads[CANDS_MAX], writes[CANDS_MAX], rd, wr, impl = 0, dh = 0, peek = 0;
	size_t nfile, nr = 0, nw = 0, i;
	struct fn_info *fr, *fi, *fw, *fd;
	const struct site *rsite = NULL;
	struct bssl *b;
	int ret = 0;

	nfile = elfimg_strings(sc->im, "ssl/ssl_lib.cc", 1, file_vas, 16);
	if (!nfile)
		return scan_set(out, SCAN_ABSENT, "no ssl/ssl_lib.cc");
	b = calloc(1, sizeof(*b));
	fr = calloc(4, sizeof(*fr));
	if (!b || !fr) {
		free(b);
		free(fr);
		return scan_set(out, SCAN_UNVERIFIED, "out of memory");
	}
	fi = fr + 1;
	fw = fr + 2;
	fd = fr + 3;
	b->sc = sc;
	/* A bare string is no library: BoringSSL's code refers to it. */
	if (!sites_find(b, file_vas, nfile < 16 ? nfile : 16)) {
		scan_set(out, SCAN_ABSENT, "ssl/ssl_lib.cc without BoringSSL error sites");
		goto out_free;
	}
	for (i = 0; i < b->nsites; i++) {
		size_t before = nr;

		if (b->sites[i].reason != 66)
			continue;
		nr = cands_at(b, &b->sites[i], READ_PRO, READ_TAIL, reads, nr);
		if (nr > before)
			rsite = &b->sites[i];
		nw = cands_at(b, &b->sites[i], WRITE_PRO, WRITE_TAIL, writes, nw);
	}
	if (nr == 2) {
		/* Older builds keep SSL_peek beside SSL_read, same prologue:
		 * SSL_peek calls only ERR_put_error, ssl_read_impl and memcpy. */
		size_t c0, c1;

		if (fn_walk(b, reads[0], 0x400, fr) || fn_walk(b, reads[1], 0x400, fi))
			goto out_nomatch;
		c0 = fn_ncallees(fr);
		c1 = fn_ncallees(fi);
		if ((c0 == 3) == (c1 == 3))
			goto out_nomatch;
		peek = c0 == 3 ? reads[0] : reads[1];
		reads[0] = c0 == 3 ? reads[1] : reads[0];
		nr = 1;
	}
	if (nr != 1 || nw != 1)
		goto out_nomatch;
	rd = reads[0];
	wr = writes[0];
	if (fn_walk(b, rd, 0x400, fr) || fn_walk(b, wr, 0x1000, fw)) {
		scan_set(out, SCAN_UNVERIFIED, "SSL_read or SSL_write candidate did not decode");
		goto out_free;
	}
	/* ssl_read_impl: SSL_read's first direct callee besides ERR_put_error */
	for (i = 0; i < fr->ncalls; i++) {
		if (fr->calls[i] != rsite->err_fn && in_text(sc->im, fr->calls[i])) {
			impl = fr->calls[i];
			break;
		}
	}
	if (!impl || match_va(sc->im, IMPL_PRO, impl) < 0 || fn_walk(b, impl, 0x1000, fi)) {
		scan_set(out, SCAN_UNVERIFIED, "SSL_read at %#llx: its first callee is not ssl_read_impl",
			 (unsigned long long)rd);
		goto out_free;
	}
	if (!fn_has_reason(b, fi, 226)) {
		scan_set(out, SCAN_UNVERIFIED, "ssl_read_impl at %#llx lacks the SSL_R_UNINITIALIZED site",
			 (unsigned long long)impl);
		goto out_free;
	}
	/* SSL_do_handshake: a callee of ssl_read_impl with its prologue and error 134 */
	for (i = 0; i < fi->ncalls && !dh; i++) {
		if (match_va(sc->im, DH_PRO, fi->calls[i]) < 0 || fn_walk(b, fi->calls[i], 0x400, fd))
			continue;
		if (fn_has_reason(b, fd, 134))
			dh = fi->calls[i];
	}
	if (!dh) {
		scan_set(out, SCAN_UNVERIFIED, "no SSL_do_handshake (error 134) among ssl_read_impl's callees");
		goto out_free;
	}
	if (!fn_has_reason(b, fw, 66) || !fn_has_reason(b, fw, 226) || !fn_calls(fw, dh)) {
		scan_set(out, SCAN_UNVERIFIED,
			 "SSL_write at %#llx: lacks its error sites or does not call SSL_do_handshake",
			 (unsigned long long)wr);
		goto out_free;
	}
	if (peek && (fn_walk(b, peek, 0x400, fd) || !fn_calls(fd, impl))) {
		scan_set(out, SCAN_UNVERIFIED, "the SSL_peek candidate does not call ssl_read_impl");
		goto out_free;
	}
	scan_add(sc->im, out, "SSL_read", rd);
	scan_add(sc->im, out, "SSL_write", wr);
	scan_add(sc->im, out, "SSL_do_handshake", dh);
	snprintf(out->variant, sizeof(out->variant), "%s/err%d-%s",
		 match_va(sc->im, "55 48 89 e5", rd) >= 0 ? "fp" : "nofp", rsite->nargs,
		 match_va(sc->im, "48 8d", rsite->va) >= 0 ? "rip" : "abs");
	out->status = SCAN_FOUND;
	teardown_find(b, out);
	goto out_free;

out_nomatch:
	scan_set(out, SCAN_UNVERIFIED,
		 "BoringSSL (ssl_lib.cc) is there but no signature set verified "
		 "(SSL_read candidates %zu, SSL_write candidates %zu)", nr, nw);
out_free:
	free(fr);
	free(b);
	return ret;
}
