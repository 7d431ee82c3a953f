/* sig_awslc.c -- AWS-LC's AEAD methods in a stripped executable (rustls on aws-lc-rs, as in Codex): the seal, open and cleanup functions of AES-GCM, read from the code that fills its method tables, and of ChaCha20-Poly1305, read from its constant table. */
#include <stdio.h>
#include <string.h>

#include "capture/elfimg.h"
#include "capture/scan.h"

/*
 * AWS-LC's FIPS module builds each EVP_AEAD at run time, in a function
 * that stores its constants and function pointers into a table in .bss
 * (struct evp_aead_st):
 *
 *   0  key_len nonce_len overhead max_tag_len   (16|32, 12, 16, 16)
 *   4  aead_id (u16)                            (16, 18 GCM; 21, 22 TLS 1.2; 23, 24 TLS 1.3)
 *   8  seal_scatter_supports_extra_in
 *   16 init, 24 init_with_direction, 32 cleanup, 40 open, 48 seal_scatter,
 *   56 open_gather, ...
 *
 * Compiled, that is `movl $imm32, table(%rip)` with the four lengths,
 * `movw $id, table+4(%rip)`, then `lea fn(%rip), %reg; mov %reg,
 * table+off(%rip)` for each pointer. A table counts when its seal and open
 * are both there and start functions; the TLS 1.3 tables (the ones rustls
 * uses for TLS 1.3) must be among them. The seal's plaintext is its `in`
 * argument; the open's, its `out` after it returns (bpf/rustls.bpf.c).
 */

#define TABLES_MAX	8
#define INIT_SPAN	256	/* bytes of an init function searched for its stores */

#define OFF_CLEANUP	32
#define OFF_SEAL	48
#define OFF_OPEN	56

struct aead_table {
	uint64_t va;
	unsigned id;
	uint64_t cleanup, seal, open;
};

/* Signed 32-bit little-endian value at p. */
static int32_t rel32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* The TLS AES-GCM method ids. */
static int gcm_id(unsigned id)
{
	return id == 16 || id == 18 || (id >= 21 && id <= 24);
}

/* Read the pointer stores of the init function whose table starts at
 * t->va, from code at p (va pc) for up to n bytes: `lea d(%rip), %r;
 * mov %r, d'(%rip)` pairs (REX.W, the same register in both). */
static void table_stores(const uint8_t *p, uint64_t pc, size_t n, struct aead_table *t)
{
	size_t i;

	for (i = 0; i + 14 <= n; i++) {
		const uint8_t *q = p + i;
		uint64_t fn, dst;

		if ((q[0] != 0x48 && q[0] != 0x4c) || q[1] != 0x8d || (q[2] & 0xc7) != 0x05)
			continue;
		if (q[7] != q[0] || q[8] != 0x89 || q[9] != q[2])
			continue;
		fn = pc + i + 7 + (int64_t)rel32(q + 3);
		dst = pc + i + 14 + (int64_t)rel32(q + 10);
		if (dst == t->va + OFF_CLEANUP && !t->cleanup)
			t->cleanup = fn;
		else if (dst == t->va + OFF_SEAL && !t->seal)
			t->seal = fn;
		else if (dst == t->va + OFF_OPEN && !t->open)
			t->open = fn;
		i += 13;
	}
}

/* 1 when va is in the code and starts a function (by the unwind tables
 * when the file has them). */
static int fn_start(const struct elfimg *im, uint64_t va)
{
	uint64_t s;

	if (va < im->text_va || va >= im->text_va + im->text_size)
		return 0;
	s = elfimg_fde_start(im, va);
	return s ? s == va : 1;
}

/* Find the AES-GCM tables' init code in the text. Returns how many tables
 * verified (written to t[0..max)). */
static int tables_find(const struct elfimg *im, struct aead_table *t, int max)
{
	static const uint8_t lens[] = { 0x0c, 0x10, 0x10 };	/* nonce, overhead, tag */
	const uint8_t *p = im->text, *end = im->text + im->text_size, *hit;
	int n = 0;

	while (n < max && p < end && (hit = memmem(p, end - p, lens, sizeof(lens)))) {
		const uint8_t *s = hit - 7;	/* c7 05 rel32 key_len */
		struct aead_table cur = { 0 };
		uint64_t pc;
		size_t span;

		p = hit + 1;
		if (s < im->text || s[0] != 0xc7 || s[1] != 0x05 || (s[6] != 16 && s[6] != 32))
			continue;
		if (hit + 3 + 9 > end || hit[3] != 0x66 || hit[4] != 0xc7 || hit[5] != 0x05)
			continue;
		pc = im->text_va + (uint64_t)(s - im->text);
		cur.va = pc + 10 + (int64_t)rel32(s + 2);
		/* movw $id, table+4(%rip): rel32 from the end of its 9 bytes */
		if (pc + 10 + 9 + (int64_t)rel32(hit + 6) != cur.va + 4)
			continue;
		cur.id = (unsigned)hit[10] | (unsigned)hit[11] << 8;
		if (!gcm_id(cur.id))
			continue;
		span = (size_t)(end - (hit + 12)) < INIT_SPAN ? (size_t)(end - (hit + 12)) : INIT_SPAN;
		table_stores(hit + 12, pc + 19, span, &cur);
		if (!fn_start(im, cur.seal) || !fn_start(im, cur.open) ||
		    (cur.cleanup && !fn_start(im, cur.cleanup)))
			continue;
		t[n++] = cur;
	}
	return n;
}

/* The 8-byte value at virtual address va of the file: what the file holds
 * there, or, when that is 0 (a linker that leaves relocated words to the
 * loader), the addend of the R_X86_64_RELATIVE relocation for va. 0 when
 * neither. */
static uint64_t ptr_at(const struct elfimg *im, uint64_t va)
{
	uint64_t v = 0, rva, roff, rsize, i;
	int64_t off = elfimg_va2off(im, va);

	if (off < 0 || (uint64_t)off + 8 > im->size)
		return 0;
	memcpy(&v, im->data + off, 8);
	if (v || elfimg_section(im, ".rela.dyn", &rva, &roff, &rsize) || roff > im->size ||
	    rsize > im->size - roff)
		return v;
	for (i = 0; i + 24 <= rsize; i += 24) {
		uint64_t r[3];

		memcpy(r, im->data + roff + i, sizeof(r));
		if (r[0] == va && (uint32_t)r[1] == 8 /* R_X86_64_RELATIVE */)
			return r[2];
	}
	return 0;
}

/* ChaCha20-Poly1305 is outside the FIPS module: its table is a constant in
 * .data.rel.ro, found by its first 16 bytes (32, 12, 16, 16, id 5, padding,
 * seal_scatter_supports_extra_in 0 or 1, padding). Returns 1 and *t when it
 * is there and verifies. */
static int chacha_find(const struct elfimg *im, struct aead_table *t)
{
	static const uint8_t head[] = { 32, 12, 16, 16, 5, 0, 0, 0 };
	uint64_t va, off, size;
	const uint8_t *p, *end, *hit;

	if (elfimg_section(im, ".data.rel.ro", &va, &off, &size) || off > im->size || size > im->size - off)
		return 0;
	p = im->data + off;
	end = p + size;
	while (p < end && (hit = memmem(p, end - p, head, sizeof(head)))) {
		uint64_t at = va + (uint64_t)(hit - (im->data + off));

		p = hit + 1;
		if ((at & 7) || end - hit < 64 || hit[8] > 1 || hit[9] || hit[10] || hit[11] ||
		    memcmp(hit + 12, "\0\0\0\0", 4))
			continue;
		memset(t, 0, sizeof(*t));
		t->va = at;
		t->id = 5;
		t->cleanup = ptr_at(im, at + OFF_CLEANUP);
		t->seal = ptr_at(im, at + OFF_SEAL);
		t->open = ptr_at(im, at + OFF_OPEN);
		if (fn_start(im, t->seal) && fn_start(im, t->open) && (!t->cleanup || fn_start(im, t->cleanup)))
			return 1;
	}
	return 0;
}

/* Add fn to out under name base + a number, unless it is there already
 * (several tables share functions). Returns 0, or -1 when out is full. */
static int func_add(const struct elfimg *im, struct scan_lib *out, const char *base, uint64_t va)
{
	char name[16];
	int i, k = 1;

	if (!va)
		return 0;
	for (i = 0; i < out->nfuncs; i++) {
		if (out->funcs[i].va == va)
			return 0;
		if (!strncmp(out->funcs[i].name, base, strlen(base)))
			k++;
	}
	snprintf(name, sizeof(name), "%s%d", base, k);
	return scan_add(im, out, name, va) ? 0 : -1;
}

int sig_awslc(struct scan_ctx *sc, struct scan_lib *out)
{
	const struct elfimg *im = sc->im;
	struct aead_table t[TABLES_MAX];
	int i, n, tls13 = 0, chacha;

	if (!elfimg_find(im, "AWS-LC", 6, 0))
		return scan_set(out, SCAN_UNSUPPORTED, "%s: not captured (its crypto provider is not "
				"AWS-LC: ring's AEADs are Rust code, inlined)", out->version);
	n = tables_find(im, t, TABLES_MAX - 1);
	for (i = 0; i < n; i++)
		tls13 += t[i].id == 23 || t[i].id == 24;
	chacha = tls13 && chacha_find(im, &t[n]);
	n += chacha;
	if (!tls13)
		return scan_set(out, SCAN_UNVERIFIED, "%s: AWS-LC's TLS 1.3 AES-GCM methods not found "
				"(%d other tables)", out->version, n);
	for (i = 0; i < n; i++) {
		if (func_add(im, out, "seal", t[i].seal) || func_add(im, out, "open", t[i].open) ||
		    func_add(im, out, "free", t[i].cleanup))
			return scan_set(out, SCAN_UNVERIFIED, "%s: too many distinct AWS-LC AEAD functions",
					out->version);
	}
	snprintf(out->variant, sizeof(out->variant), "AWS-LC AES-GCM%s, %d tables",
		 chacha ? " + ChaCha20-Poly1305" : "", n);
	strncat(out->version, " on AWS-LC", sizeof(out->version) - strlen(out->version) - 1);
	if (chacha)
		return scan_set(out, SCAN_FOUND, "%s: records sealed and opened by its AES-GCM and "
				"ChaCha20-Poly1305", out->version);
	return scan_set(out, SCAN_FOUND, "%s: records sealed and opened by its AES-GCM "
			"(its ChaCha20-Poly1305 table was not found: such connections are not captured)",
			out->version);
}
