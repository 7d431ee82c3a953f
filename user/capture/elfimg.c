/* elfimg.c -- a read-only view of an x86-64 ELF file for the scanners: its bytes, load segments (address <-> file offset), sections, strings, code references and function starts. */
#include "capture/elfimg.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* elfimg_code()'s bytes: a window of the file read with pread(). */
#define WIN_SIZE (64 << 10)
#define WIN_MIN 4096

struct elfimg_win {
	uint64_t va;		/* of buf[0] */
	size_t len;
	uint8_t buf[WIN_SIZE];
};

static int u64_cmp(const void *a, const void *b);
static void eh_frame_load(struct elfimg *im);

/* Read a little-endian value of n bytes (n <= 8) at p. */
static uint64_t rd_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A little-endian signed 32-bit value at p. */
static int32_t rd_s32(const uint8_t *p)
{
	return (int32_t)(uint32_t)rd_le(p, 4);
}

/* Size in bytes of a DWARF EH pointer of encoding enc (its low nibble), or
 * 0 when unsupported. */
static int eh_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	case 0x04: case 0x0c: return 8;
	default: return 0;
	}
}

/* Find .eh_frame_hdr (section, else PT_GNU_EH_FRAME) and its search table. */
static void fde_load(struct elfimg *im, Elf *e)
{
	uint64_t va = 0, off = 0, size = 0;
	const uint8_t *h;
	size_t i, n, pos;
	GElf_Phdr ph;
	int sz;

	if (elfimg_section(im, ".eh_frame_hdr", &va, &off, &size)) {
		if (elf_getphdrnum(e, &n))
			return;
		for (i = 0; i < n; i++) {
			if (gelf_getphdr(e, i, &ph) && ph.p_type == PT_GNU_EH_FRAME) {
				va = ph.p_vaddr;
				off = ph.p_offset;
				size = ph.p_filesz;
				break;
			}
		}
		if (i == n)
			return;
	}
	if (off + 12 > im->size || size < 12)
		return;
	h = im->data + off;
	/* version 1, then the encodings of eh_frame_ptr, fde_count and the table */
	if (h[0] != 1 || h[3] != 0x3b)
		return;
	sz = eh_size(h[1]);
	if (!sz || eh_size(h[2]) != 4)
		return;
	pos = 4 + sz;
	n = (uint32_t)rd_le(h + pos, 4);
	pos += 4;
	if (off + pos + n * 8 > im->size)
		return;
	im->fde = (const int32_t *)(h + pos);
	im->nfde = n;
	im->fde_base = va;
}

/* See capture/elfimg.h for the contracts of the public functions. */
int elfimg_open(struct elfimg *im, const char *path)
{
	size_t i, n, shstr;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	Elf *e;
	uint64_t tva, toff, tsize;

	memset(im, 0, sizeof(*im));
	im->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (im->fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	e = elf_begin(im->fd, ELF_C_READ_MMAP, NULL);
	if (!e)
		goto out_noexec;
	im->elf = e;
	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		goto out_noexec;
	im->type = eh.e_type;
	im->data = (const uint8_t *)elf_rawfile(e, &im->size);
	if (!im->data || elf_getphdrnum(e, &n) || elf_getshdrstrndx(e, &shstr) < 0)
		goto out_noexec;
	for (i = 0; i < n && im->nsegs < ELFIMG_SEGS_MAX; i++) {
		if (!gelf_getphdr(e, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset > im->size || ph.p_filesz > im->size - ph.p_offset)
			continue;
		im->segs[im->nsegs++] = (struct elfimg_seg){
			.vaddr = ph.p_vaddr, .off = ph.p_offset, .filesz = ph.p_filesz,
			.exec = !!(ph.p_flags & PF_X),
		};
	}
	if (!elfimg_section(im, ".text", &tva, &toff, &tsize) && tsize && toff + tsize <= im->size) {
		im->text_off = toff;
		im->text_va = tva;
		im->text_size = tsize;
	} else {
		for (i = 0; i < (size_t)im->nsegs; i++) {
			if (im->segs[i].exec) {
				im->text_off = im->segs[i].off;
				im->text_va = im->segs[i].vaddr;
				im->text_size = im->segs[i].filesz;
				break;
			}
		}
	}
	if (im->text_size)
		im->text = im->data + im->text_off;
	im->win = calloc(1, sizeof(*im->win));
	if (!im->win) {
		elfimg_close(im);
		return -ENOMEM;
	}
	if (!elfimg_section(im, ".rodata", &tva, &toff, &tsize) && toff + tsize <= im->size) {
		im->rodata = im->data + toff;
		im->rodata_size = tsize;
	} else {
		im->rodata = im->data;
		im->rodata_size = im->size;
	}
	fde_load(im, e);
	eh_frame_load(im);
	return 0;

out_noexec:
	elfimg_close(im);
	return -ENOEXEC;
}

void elfimg_close(struct elfimg *im)
{
	free(im->fn_ranges);
	free(im->win);
	if (im->elf)
		elf_end(im->elf);
	if (im->fd > 0)
		close(im->fd);
	memset(im, 0, sizeof(*im));
}

int64_t elfimg_va2off(const struct elfimg *im, uint64_t va)
{
	int i;

	for (i = 0; i < im->nsegs; i++)
		if (va >= im->segs[i].vaddr && va - im->segs[i].vaddr < im->segs[i].filesz)
			return (int64_t)(va - im->segs[i].vaddr + im->segs[i].off);
	return -1;
}

uint64_t elfimg_off2va(const struct elfimg *im, uint64_t off)
{
	int i;

	for (i = 0; i < im->nsegs; i++)
		if (off >= im->segs[i].off && off - im->segs[i].off < im->segs[i].filesz)
			return off - im->segs[i].off + im->segs[i].vaddr;
	return 0;
}

int elfimg_section(const struct elfimg *im, const char *name, uint64_t *va, uint64_t *off,
		   uint64_t *size)
{
	Elf *e = im->elf;
	Elf_Scn *scn = NULL;
	size_t shstr;
	GElf_Shdr sh;
	const char *s;

	if (!e || elf_getshdrstrndx(e, &shstr) < 0)
		return -1;
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		s = elf_strptr(e, shstr, sh.sh_name);
		if (!s || strcmp(s, name))
			continue;
		if (sh.sh_type == SHT_NOBITS)
			return -1;
		*va = sh.sh_addr;
		*off = sh.sh_offset;
		*size = sh.sh_size;
		return 0;
	}
	return -1;
}

int elfimg_defines(const struct elfimg *im, const char *name)
{
	Elf *e = im->elf;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Data *data;
	size_t i, n;
	const char *s;

	if (!e)
		return 0;
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			s = elf_strptr(e, sh.sh_link, sym.st_name);
			if (s && !strcmp(s, name))
				return 1;
		}
	}
	return 0;
}

/* Insert v into the ascending array a[0..*n) of capacity max, unless
 * there; past max only the count grows. */
static void set_add(uint64_t *a, size_t *n, size_t max, uint64_t v)
{
	size_t i, j;

	if (*n >= max) {
		(*n)++;
		return;
	}
	for (i = 0; i < *n; i++) {
		if (a[i] == v)
			return;
		if (a[i] > v)
			break;
	}
	for (j = *n; j > i; j--)
		a[j] = a[j - 1];
	a[i] = v;
	(*n)++;
}

const uint8_t *elfimg_find(const struct elfimg *im, const void *pat, size_t n, int whole)
{
	if (whole)
		return memmem(im->data, im->size, pat, n);
	return memmem(im->rodata, im->rodata_size, pat, n);
}

size_t elfimg_strings(const struct elfimg *im, const char *s, int suffix, uint64_t *vas, size_t max)
{
	size_t len = strlen(s) + 1, n = 0, start;
	const uint8_t *p = im->rodata, *end = im->rodata + im->rodata_size, *hit;
	uint64_t va;

	while (p < end && (hit = memmem(p, end - p, s, len))) {
		start = hit - im->data;
		if (suffix) {
			while (start > 0 && im->data[start - 1] && (size_t)(hit - im->data) - start < 512)
				start--;
		}
		va = elfimg_off2va(im, start);
		if (va)
			set_add(vas, &n, max, va);
		p = hit + 1;
	}
	return n;
}

/* qsort/bsearch order of uint64_t values. */
static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* qsort order of references: by site. */
static int ref_cmp(const void *a, const void *b)
{
	return u64_cmp(&((const struct elfimg_ref *)a)->site, &((const struct elfimg_ref *)b)->site);
}

/* 1 when v is in the ascending array set[0..n). */
static int in_sorted(const uint64_t *set, size_t n, uint64_t v)
{
	return bsearch(&v, set, n, sizeof(*set), u64_cmp) != NULL;
}

/* Record reference (site, target) in out[0..max), counting past max. */
static void ref_add(struct elfimg_ref *out, size_t *cnt, size_t max, uint64_t site, uint64_t target)
{
	if (*cnt < max)
		out[*cnt] = (struct elfimg_ref){ .site = site, .target = target };
	(*cnt)++;
}

size_t elfimg_refs(const struct elfimg *im, const uint64_t *vas, size_t n, struct elfimg_ref *out,
		   size_t max)
{
	const uint8_t *b = im->text;
	int abs = im->type == ET_EXEC;
	uint64_t *set, lo, hi;
	size_t i, cnt = 0;

	if (!b || !n || im->text_size < 8)
		return 0;
	set = malloc(n * sizeof(*set));
	if (!set)
		return 0;
	memcpy(set, vas, n * sizeof(*set));
	qsort(set, n, sizeof(*set), u64_cmp);
	lo = set[0];
	hi = set[n - 1];
	/* One pass: lea r64, [rip + disp32] (REX.W 48 or 4c, 8d, modrm with
	 * mod=00 rm=101), and in non-PIE code mov r32, imm32 (b8+r, or 41 b8+r). */
	for (i = 1; i + 6 < im->text_size; i++) {
		uint8_t c = b[i];
		uint64_t t;

		if (c == 0x8d) {
			if ((b[i - 1] != 0x48 && b[i - 1] != 0x4c) || (b[i + 1] & 0xc7) != 0x05)
				continue;
			t = im->text_va + i - 1 + 7 + (int64_t)rd_s32(b + i + 2);
			if (t >= lo && t <= hi && in_sorted(set, n, t))
				ref_add(out, &cnt, max, im->text_va + i - 1, t);
		} else if ((c & 0xf8) == 0xb8 && abs) {
			t = (uint32_t)rd_le(b + i + 1, 4);
			if (t >= lo && t <= hi && in_sorted(set, n, t))
				ref_add(out, &cnt, max, im->text_va + i - (b[i - 1] == 0x41), t);
		}
	}
	free(set);
	qsort(out, cnt < max ? cnt : max, sizeof(*out), ref_cmp);
	return cnt;
}

size_t elfimg_callers(const struct elfimg *im, uint64_t target, uint64_t *out, size_t max)
{
	const uint8_t *b = im->text;
	size_t i, n = 0;
	int op;

	if (!b || im->text_size < 5)
		return 0;
	for (op = 0xe8; op <= 0xe9; op++) {
		for (i = 0; i + 5 <= im->text_size; i++) {
			const uint8_t *q = memchr(b + i, op, im->text_size - 5 - i + 1);

			if (!q)
				break;
			i = q - b;
			if (im->text_va + i + 5 + (int64_t)rd_s32(b + i + 1) == target)
				set_add(out, &n, max, im->text_va + i);
		}
	}
	return n;
}

void elfimg_call_targets(const struct elfimg *im, const uint64_t *cands, size_t n, uint8_t *hit)
{
	const uint8_t *b = im->text;
	uint64_t lo, hi, t;
	const uint64_t *f;
	size_t i;

	memset(hit, 0, n);
	if (!b || !n || im->text_size < 5)
		return;
	lo = cands[0];
	hi = cands[n - 1];
	for (i = 0; i + 5 <= im->text_size; i++) {
		if (b[i] != 0xe8)
			continue;
		t = im->text_va + i + 5 + (int64_t)rd_s32(b + i + 1);
		if (t < lo || t > hi)
			continue;
		f = bsearch(&t, cands, n, sizeof(*cands), u64_cmp);
		if (f)
			hit[f - cands] = 1;
	}
}

/* Read a ULEB128 at *p (below end), advancing *p. */
static uint64_t uleb(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	int shift = 0;

	while (*p < end) {
		uint8_t c = *(*p)++;

		if (shift < 64)
			v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80))
			break;
	}
	return v;
}

/* Decode the EH pointer of encoding enc at *p (file offset pos), advancing
 * *p. Returns 0 and *v, or -1 for an unsupported encoding. */
static int eh_ptr(const struct elfimg *im, const uint8_t **p, const uint8_t *end, uint8_t enc,
		  uint64_t *v)
{
	int sz = enc == 0 ? 8 : eh_size(enc);
	uint64_t raw;

	if (!sz || *p + sz > end || (enc & 0x70) > 0x10)
		return -1;
	raw = rd_le(*p, sz);
	if ((enc & 0x0f) == 0x0b && sz == 4)
		raw = (uint64_t)(int64_t)(int32_t)raw;
	else if ((enc & 0x0f) == 0x0a && sz == 2)
		raw = (uint64_t)(int64_t)(int16_t)raw;
	if ((enc & 0x70) == 0x10)
		raw += elfimg_off2va(im, *p - im->data);
	*p += sz;
	*v = raw;
	return 0;
}

/* The FDE pointer encoding of the CIE at file offset off, or -1. */
static int cie_enc(const struct elfimg *im, uint64_t off)
{
	const uint8_t *c, *end, *aug, *p;
	uint64_t len, v;
	uint8_t enc = 0;
	size_t i;

	if (off + 12 > im->size)
		return -1;
	c = im->data + off;
	len = rd_le(c, 4);
	if (len == 0xffffffff || off + 4 + len > im->size || rd_le(c + 4, 4))
		return -1;
	end = c + 4 + len;
	aug = c + 9;
	p = memchr(aug, 0, end - aug);
	if (!p || (c[8] != 1 && c[8] != 3))
		return -1;
	p++;
	if (strstr((const char *)aug, "eh"))
		return -1;
	uleb(&p, end);				/* code alignment */
	uleb(&p, end);				/* data alignment (SLEB: skipped alike) */
	if (c[8] == 1)
		p++;				/* return register */
	else
		uleb(&p, end);
	if (aug[0] != 'z')
		return 0;
	uleb(&p, end);				/* augmentation data length */
	for (i = 1; aug[i] && p < end; i++) {
		switch (aug[i]) {
		case 'R':
			return *p;
		case 'L':
			p++;
			break;
		case 'P':
			enc = *p++;
			if (eh_ptr(im, &p, end, enc & 0x7f, &v))
				return -1;
			break;
		case 'S': case 'B':
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* The pc range [*start, *end) of the FDE at file offset off in .eh_frame.
 * Returns 0, 1 for a CIE (no range), or -1. */
static int fde_range(const struct elfimg *im, uint64_t off, uint64_t *start, uint64_t *end)
{
	const uint8_t *f, *p, *fend;
	uint64_t len, id, range;
	int enc;

	if (off + 8 > im->size)
		return -1;
	f = im->data + off;
	len = rd_le(f, 4);
	id = rd_le(f + 4, 4);
	if (len == 0xffffffff || off + 4 + len > im->size)
		return -1;
	if (!id)
		return 1;
	enc = cie_enc(im, off + 4 - id);
	if (enc < 0)
		return -1;
	p = f + 8;
	fend = f + 4 + len;
	if (eh_ptr(im, &p, fend, enc, start) || eh_ptr(im, &p, fend, enc & 0x0f, &range))
		return -1;
	*end = *start + range;
	return 0;
}

/* qsort order of (start, end) pairs: by start. */
static int range_cmp(const void *a, const void *b)
{
	return u64_cmp(a, b);
}

/* Without .eh_frame_hdr: read every FDE of .eh_frame into a sorted table. */
static void eh_frame_load(struct elfimg *im)
{
	uint64_t va, off, size, pos, s, e, len;
	size_t cap = 0;

	if (im->nfde || elfimg_section(im, ".eh_frame", &va, &off, &size) || off + size > im->size)
		return;
	for (pos = off; pos + 8 <= off + size; pos += 4 + len) {
		len = rd_le(im->data + pos, 4);
		if (!len || len == 0xffffffff)
			break;
		if (fde_range(im, pos, &s, &e) || e <= s)
			continue;
		if (im->nfn == cap) {
			size_t ncap = cap ? 2 * cap : 1024;
			uint64_t *p = realloc(im->fn_ranges, ncap * 2 * sizeof(*p));

			if (!p)
				break;
			im->fn_ranges = p;
			cap = ncap;
		}
		im->fn_ranges[2 * im->nfn] = s;
		im->fn_ranges[2 * im->nfn + 1] = e;
		im->nfn++;
	}
	qsort(im->fn_ranges, im->nfn, 2 * sizeof(uint64_t), range_cmp);
}

uint64_t elfimg_fde_start(const struct elfimg *im, uint64_t va)
{
	size_t lo = 0, hi = im->nfde;
	uint64_t start, s, e;
	int64_t fde_off;

	if (!im->nfde) {
		for (hi = im->nfn; hi - lo > 1;) {
			size_t mid = (lo + hi) / 2;

			if (im->fn_ranges[2 * mid] <= va)
				lo = mid;
			else
				hi = mid;
		}
		if (!im->nfn || im->fn_ranges[2 * lo] > va || va >= im->fn_ranges[2 * lo + 1])
			return 0;
		return im->fn_ranges[2 * lo];
	}
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (im->fde_base + (int64_t)im->fde[2 * mid] <= va)
			lo = mid;
		else
			hi = mid;
	}
	start = im->fde_base + (int64_t)im->fde[2 * lo];
	if (start > va)
		return 0;
	/* A function without an FDE of its own must not take its neighbour's. */
	fde_off = elfimg_va2off(im, im->fde_base + (int64_t)im->fde[2 * lo + 1]);
	if (fde_off >= 0 && !fde_range(im, fde_off, &s, &e) && s == start && va >= e)
		return 0;
	return start;
}

size_t elfimg_code(const struct elfimg *im, uint64_t va, const uint8_t **p)
{
	struct elfimg_win *w = im->win;
	size_t want;
	ssize_t n;

	if (!im->text || va < im->text_va || va - im->text_va >= im->text_size)
		return 0;
	want = im->text_size - (va - im->text_va);
	if (!(va >= w->va && va - w->va < w->len && (w->len - (va - w->va) >= WIN_MIN ||
						      w->va + w->len >= im->text_va + im->text_size))) {
		n = pread(im->fd, w->buf, want < WIN_SIZE ? want : WIN_SIZE,
			  (off_t)(im->text_off + (va - im->text_va)));
		if (n <= 0) {
			w->len = 0;
			return 0;
		}
		w->va = va;
		w->len = (size_t)n;
	}
	*p = w->buf + (va - w->va);
	return w->len - (va - w->va);
}
