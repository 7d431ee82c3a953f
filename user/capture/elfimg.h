/* elfimg.h -- a read-only view of an x86-64 ELF file for the scanners: its bytes, load segments (address <-> file offset), sections, strings, code references and function starts. */
#ifndef LLMTAP_ELFIMG_H
#define LLMTAP_ELFIMG_H

#include <stddef.h>
#include <stdint.h>

#define ELFIMG_SEGS_MAX 16

/* One PT_LOAD segment. */
struct elfimg_seg {
	uint64_t vaddr, off, filesz;
	int exec;
};

struct elfimg {
	const uint8_t *data;		/* the whole file, mapped */
	size_t size;
	int type;			/* ET_EXEC or ET_DYN */
	struct elfimg_seg segs[ELFIMG_SEGS_MAX];
	int nsegs;
	/* The code to scan: .text, else the first executable segment. These
	 * mapped bytes are for whole passes only: a uprobe already on the file
	 * (ours of an earlier run, anyone's) shows as an int3 in any mapping of
	 * it, so elfimg_code() reads code with pread() instead. */
	const uint8_t *text;
	uint64_t text_va;
	uint64_t text_off;
	size_t text_size;
	struct elfimg_win *win;		/* elfimg_code()'s window */
	/* Where strings live: .rodata, else the whole file. */
	const uint8_t *rodata;
	size_t rodata_size;
	/* .eh_frame_hdr's sorted table of function starts (may be absent). */
	const int32_t *fde;		/* pairs: (start, fde) relative to fde_base */
	size_t nfde;
	uint64_t fde_base;
	/* Without .eh_frame_hdr: the FDEs of .eh_frame, sorted by start. */
	uint64_t *fn_ranges;		/* pairs: start, end */
	size_t nfn;
	void *elf;			/* libelf handle */
	int fd;
};

/* Map the ELF file at path. Only 64-bit little-endian x86-64 files are
 * accepted. Returns 0, -ENOEXEC (not such a file) or another -errno. */
int elfimg_open(struct elfimg *im, const char *path);

/* Unmap; a zeroed or closed image is fine. */
void elfimg_close(struct elfimg *im);

/* File offset of virtual address va (in a segment's file part), or -1. */
int64_t elfimg_va2off(const struct elfimg *im, uint64_t va);

/* Virtual address of file offset off, or 0 when no segment maps it. */
uint64_t elfimg_off2va(const struct elfimg *im, uint64_t off);

/* Find section name: *va, *off, *size. Returns 0, or -1 when absent. */
int elfimg_section(const struct elfimg *im, const char *name, uint64_t *va, uint64_t *off,
		   uint64_t *size);

/* 1 when the file's .dynsym or .symtab defines function name. */
int elfimg_defines(const struct elfimg *im, const char *name);

/* First occurrence of the n bytes pat in the file's read-only data (or in
 * the whole file with whole), or NULL. */
const uint8_t *elfimg_find(const struct elfimg *im, const void *pat, size_t n, int whole);

/* Virtual addresses of the NUL-terminated strings (in .rodata) equal to s (a longer
 * string's tail counts: linkers merge them) or, with suffix, ending with s
 * (the address is then the string's start). Writes up to max addresses,
 * returns how many there are. */
size_t elfimg_strings(const struct elfimg *im, const char *s, int suffix, uint64_t *vas, size_t max);

/* A code reference: the instruction at site loads address target. */
struct elfimg_ref {
	uint64_t site;
	uint64_t target;
};

/* Instructions of .text that load one of the addresses vas[0..n): a
 * RIP-relative LEA, or in non-PIE code a `mov r32, imm32`. One pass over
 * the code for all of them. Writes up to max references (by ascending
 * site), returns how many there are. */
size_t elfimg_refs(const struct elfimg *im, const uint64_t *vas, size_t n, struct elfimg_ref *out,
		   size_t max);

/* Direct calls and jumps (E8/E9 rel32) to target found in .text. Writes
 * up to max sites, returns how many there are. Byte-level: a site may lie
 * inside another instruction, so use it only to confirm an expected edge. */
size_t elfimg_callers(const struct elfimg *im, uint64_t target, uint64_t *out, size_t max);

/* Which of the ascending addresses cands[0..n) are the target of a direct
 * call (E8 rel32) somewhere in .text: hit[i] set to 1 or 0. One pass. */
void elfimg_call_targets(const struct elfimg *im, const uint64_t *cands, size_t n, uint8_t *hit);

/* Start of the function containing va by its unwind entry (.eh_frame_hdr,
 * else .eh_frame), or 0 without one. */
uint64_t elfimg_fde_start(const struct elfimg *im, uint64_t va);

/* The file's own bytes at va in .text (read, not mapped: see text): *p is
 * set and the count available returned, at least 4096 unless .text ends
 * sooner; 0 when va is outside or the read fails. *p stays valid until
 * the next call. */
size_t elfimg_code(const struct elfimg *im, uint64_t va, const uint8_t **p);

#endif
