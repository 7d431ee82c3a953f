/* gopclntab.c -- Go crypto/tls in an executable, stripped or not: (*Conn).Read/Write/Close and the handshake from the runtime's own function table (.gopclntab), with the RET instructions of each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/elfimg.h"
#include "capture/scan.h"
#include "capture/xdec.h"

/*
 * .gopclntab starts with a pcHeader: magic, two zero bytes, the minimum
 * instruction size, the pointer size, then pointer-sized fields. The
 * function table (pclnOffset) lists (entry, _func offset) pairs sorted by
 * entry, one more entry than functions (the end of the text); a _func
 * holds the offset of its name in the name table. Layouts:
 *   0xfffffffa Go 1.16-1.17: nfunc, nfiles, funcname, cu, filetab, pctab,
 *              pcln; table entries are two pointers, nameoff at _func+8
 *   0xfffffff0 Go 1.18-1.19, 0xfffffff1 Go 1.20+: nfunc, nfiles, textStart,
 *              funcname, cu, filetab, pctab, pcln; entries are two uint32
 *              (entry relative to textStart), nameoff at _func+4
 * Uprobes go on the function entries and, since uretprobes rewrite the
 * return address on a goroutine stack that Go may move, on each RET.
 * Register ABI (Go 1.17+): RAX, RBX, RCX... carry the arguments and the
 * results; R14 is the current goroutine.
 */

/* The functions probed, by their Go name and the role the probes use. */
static const struct {
	const char *go;
	const char *role;
	int rets;		/* its RETs are probed too */
	int required;
} wanted[] = {
	{ "crypto/tls.(*Conn).Write", "Conn.Write", 1, 1 },
	{ "crypto/tls.(*Conn).Read", "Conn.Read", 1, 1 },
	{ "crypto/tls.(*Conn).Close", "Conn.Close", 0, 0 },
	{ "crypto/tls.(*Conn).clientHandshake", "Conn.clientHandshake", 0, 0 },
};

#define NWANTED (sizeof(wanted) / sizeof(wanted[0]))

struct pcln {
	const uint8_t *tab;
	size_t size;
	uint32_t magic;
	uint64_t nfunc, text_start, funcname, pcln;
};

/* Native (little-endian) 64- and 32-bit values at p, unaligned. */
static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Find and check the pcHeader: the section, else its magic in the file. */
static int pcln_open(const struct elfimg *im, struct pcln *t)
{
	static const uint8_t magics[][4] = {
		{ 0xf1, 0xff, 0xff, 0xff }, { 0xf0, 0xff, 0xff, 0xff }, { 0xfa, 0xff, 0xff, 0xff },
	};
	uint64_t va, off, size, tva, toff, tsize;
	size_t i;

	memset(t, 0, sizeof(*t));
	if ((!elfimg_section(im, ".gopclntab", &va, &off, &size) ||
	     !elfimg_section(im, ".data.rel.ro.gopclntab", &va, &off, &size)) && off + size <= im->size) {
		t->tab = im->data + off;
		t->size = size;
	} else if (!elfimg_section(im, ".text", &tva, &toff, &tsize)) {
		return -1;	/* section headers without a Go table: not Go */
	} else {
		/* no section headers: look for the header's magic */
		for (i = 0; i < 3 && !t->tab; i++) {
			uint8_t pat[8] = { 0, 0, 0, 0, 0, 0, 1, 8 };
			const uint8_t *hit;

			memcpy(pat, magics[i], 4);
			hit = elfimg_find(im, pat, sizeof(pat), 1);
			if (hit) {
				t->tab = hit;
				t->size = im->size - (hit - im->data);
			}
		}
	}
	if (!t->tab || t->size < 72 || t->tab[4] || t->tab[5] || t->tab[7] != 8)
		return -1;
	t->magic = rd32(t->tab);
	t->nfunc = rd64(t->tab + 8);
	if (t->magic == 0xfffffff0 || t->magic == 0xfffffff1) {
		t->text_start = rd64(t->tab + 24);
		t->funcname = rd64(t->tab + 32);
		t->pcln = rd64(t->tab + 64);
		/* a PIE's textStart is relocated at run time: take .text */
		if (!t->text_start && !elfimg_section(im, ".text", &tva, &toff, &tsize))
			t->text_start = tva;
	} else if (t->magic == 0xfffffffa) {
		t->funcname = rd64(t->tab + 24);
		t->pcln = rd64(t->tab + 56);
	} else {
		return -1;
	}
	if (t->pcln >= t->size || t->funcname >= t->size || t->nfunc > t->size / 8)
		return -1;
	return 0;
}

/* Entry address and name of function i (i == nfunc: the end of text, no
 * name). Returns 0, or -1 when the table is out of bounds. */
static int pcln_func(const struct pcln *t, uint64_t i, uint64_t *entry, const char **name)
{
	int wide = t->magic == 0xfffffffa;
	uint64_t ent = t->pcln + i * (wide ? 16 : 8), fo, no;
	int32_t nameoff;

	if (ent + (wide ? 16 : 8) > t->size)
		return -1;
	*entry = wide ? rd64(t->tab + ent) : t->text_start + rd32(t->tab + ent);
	if (!name)
		return 0;
	fo = t->pcln + (wide ? rd64(t->tab + ent + 8) : rd32(t->tab + ent + 4));
	if (fo + 12 > t->size)
		return -1;
	nameoff = (int32_t)rd32(t->tab + fo + (wide ? 8 : 4));
	no = t->funcname + (int64_t)nameoff;
	if (nameoff < 0 || no >= t->size || !memchr(t->tab + no, 0, t->size - no))
		return -1;
	*name = (const char *)t->tab + no;
	return 0;
}

/* The Go version from the build info ("\xff Go buildinf:") or a
 * "go1.N" string; its minor number in *minor. Returns 0, or -1. */
static int go_version(const struct elfimg *im, char *ver, size_t vlen, int *minor)
{
	static const char tag[] = "\xff Go buildinf:";
	uint64_t va, off, size;
	const uint8_t *p = NULL, *end, *q;
	size_t n;

	if (!elfimg_section(im, ".go.buildinfo", &va, &off, &size) && off + 16 <= im->size &&
	    !memcmp(im->data + off, tag, sizeof(tag) - 1))
		p = im->data + off;
	if (!p)
		p = elfimg_find(im, tag, sizeof(tag) - 1, 1);

	if (!p)
		return -1;
	end = p + 4096 < im->data + im->size ? p + 4096 : im->data + im->size;
	for (q = p; q + 4 < end; q++) {
		if (memcmp(q, "go1.", 4) || q[4] < '0' || q[4] > '9')
			continue;
		for (n = 0; q + n < end && n + 1 < vlen && ((q[n] >= '0' && q[n] <= '9') ||
			     q[n] == '.' || (n < 2 && (q[n] == 'g' || q[n] == 'o'))); n++)
			;
		memcpy(ver, q, n);
		ver[n] = 0;
		*minor = atoi((const char *)ver + 4);
		return 0;
	}
	return -1;
}

struct rets_ctx {
	const struct elfimg *im;
	struct scan_func *f;
	int full;
};

/* xdec_range()'s visitor: record the file offset of each RET. */
static int rets_visit(void *ctx, const struct xdec_insn *in)
{
	struct rets_ctx *c = ctx;

	if (in->kind != XK_RET)
		return 0;
	if (c->f->nrets == SCAN_RETS_MAX) {
		c->full = 1;
		return 1;
	}
	c->f->rets[c->f->nrets++] = (uint64_t)elfimg_va2off(c->im, in->va);
	return 0;
}

/* Where the entry probe of the Go function at va costs least: Go's prologue
 * compares the stack pointer (or r12 = sp - frame) with g's stack guard and
 * branches to grow the stack; the kernel emulates that branch instead of
 * single-stepping it, and the argument registers are untouched until then
 * (a stack growth re-enters the function: its probe fires twice, harmless).
 * Returns the branch's file offset, or the entry's when the prologue is
 * another. */
static uint64_t entry_probe(struct scan_ctx *sc, uint64_t va, uint64_t off)
{
	/* RAX, RCX, RBX, RSI, RDI, R8-R11 carry arguments; R14 is g */
	const unsigned args = 1u << XR_AX | 1u << XR_CX | 1u << XR_BX | 1u << XR_SI | 1u << XR_DI |
			      1u << XR_8 | 1u << XR_9 | 1u << XR_10 | 1u << XR_11 | 1u << XR_14;
	struct xdec_insn in;
	int i;

	for (i = 0; i < 3; i++, va += in.len) {
		if (xdec_insn(sc->xd, sc->im, va, &in) || (in.regs_written & args))
			return off;
		if (in.kind == XK_JCC)
			return i ? (uint64_t)elfimg_va2off(sc->im, va) : off;
		if (in.kind != XK_OTHER)
			return off;
	}
	return off;
}

int gopclntab_scan(struct scan_ctx *sc, struct scan_lib *out)
{
	uint64_t i, entry, next, found[NWANTED][2] = { { 0 } };
	const char *name;
	struct pcln t;
	size_t k;
	int minor = 0;

	if (pcln_open(sc->im, &t))
		return scan_set(out, SCAN_ABSENT, "no .gopclntab");
	if (go_version(sc->im, out->version, sizeof(out->version), &minor))
		snprintf(out->version, sizeof(out->version), "go (version unknown)");
	for (i = 0; i < t.nfunc; i++) {
		if (pcln_func(&t, i, &entry, &name))
			return scan_set(out, SCAN_UNVERIFIED, "%s: .gopclntab entry %llu out of bounds",
					out->version, (unsigned long long)i);
		if (strncmp(name, "crypto/tls.(*Conn).", 19))
			continue;
		for (k = 0; k < NWANTED; k++) {
			if (strcmp(name, wanted[k].go) || pcln_func(&t, i + 1, &next, NULL))
				continue;
			found[k][0] = entry;
			found[k][1] = next;
		}
	}
	if (!found[0][0] && !found[1][0])
		return scan_set(out, SCAN_ABSENT, "Go without crypto/tls");
	/* Before Go 1.17 arguments were passed on the stack. */
	if (t.magic == 0xfffffffa && minor < 17)
		return scan_set(out, SCAN_UNSUPPORTED, "%s: crypto/tls before Go 1.17 (stack ABI) is not probed",
				out->version);
	for (k = 0; k < NWANTED; k++) {
		struct rets_ctx c = { .im = sc->im };
		int rc;

		if (!found[k][0]) {
			if (wanted[k].required)
				return scan_set(out, SCAN_UNVERIFIED, "%s: %s not in .gopclntab", out->version,
						wanted[k].go);
			continue;
		}
		c.f = scan_add(sc->im, out, wanted[k].role, found[k][0]);
		if (!c.f)
			return scan_set(out, SCAN_UNVERIFIED, "%s: %s is outside the file", out->version,
					wanted[k].go);
		c.f->entry_probe = entry_probe(sc, found[k][0], c.f->off);
		if (!wanted[k].rets)
			continue;
		rc = xdec_range(sc->xd, sc->im, found[k][0], found[k][1], rets_visit, &c);
		if ((rc || c.full || !c.f->nrets) && !wanted[k].required) {
			out->nfuncs--;		/* optional: left out */
			continue;
		}
		if (rc || c.full || !c.f->nrets)
			return scan_set(out, SCAN_UNVERIFIED, "%s: %s did not decode to its end (%s)",
					out->version, wanted[k].go,
					c.full ? "too many RETs" : rc ? "undecodable bytes" : "no RET");
	}
	snprintf(out->variant, sizeof(out->variant), "pclntab %#x", t.magic);
	out->status = SCAN_FOUND;
	return 0;
}
