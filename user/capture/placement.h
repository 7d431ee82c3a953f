/* placement.h -- where a TLS function pair's probes go: the exported entries, or an internal function both share whose first instruction the kernel emulates. */
#ifndef LLMTAP_PLACEMENT_H
#define LLMTAP_PLACEMENT_H

#include <stdint.h>

/* An ELF file opened for placement decisions. */
struct place_elf;

/* Open path (libelf, read-only). Returns 0 and *out, or a negative errno. */
int place_open(struct place_elf **out, const char *path);
void place_close(struct place_elf *pe);

/* Address and size of defined function name (.dynsym, then .symtab).
 * Returns 0, or -ENOENT. */
int place_sym(struct place_elf *pe, const char *name, uint64_t *addr, uint64_t *size);

/* File offset of virtual address addr (what a uprobe is attached at), or 0
 * when no section holds it. */
uint64_t place_file_offset(struct place_elf *pe, uint64_t addr);

/* Where one probe goes. */
struct place_point {
	uint64_t addr;		/* virtual address of the probed instruction */
	uint64_t off;		/* its file offset */
	int emulated;		/* the kernel emulates it (no single-step) */
	char insn[48];		/* the instruction, for messages */
};

/* The placement of a pair of functions with the same job: a plain one
 * (int f(SSL *, buf, int num): byte count or <= 0) and an _ex one (int
 * f_ex(SSL *, buf, size_t num, size_t *out): 1 and *out). */
struct placement {
	int shared;		/* 1: one probe pair at the function both call */
	struct place_point at;	/* shared: that function's entry */
	struct place_point plain, ex;	/* else: the exported entries (ex.off 0: none) */
	char desc[200];		/* what was chosen and why, for -v and doctor */
};

/* How placement may choose (LLMTAP_PLACEMENT=exported forces the exported
 * entries: the tests compare what both placements capture). */
enum place_mode {
	PLACE_AUTO = 0,
	PLACE_EXPORTED,
};

/* The mode from the environment (LLMTAP_PLACEMENT: auto | exported). */
enum place_mode place_mode_env(void);

/* Decide for the pair at plain_addr (size plain_size) and ex_addr (0 when
 * the file has no _ex variant). A shared internal function is chosen only
 * when decoding proves it: both functions are walked on every path; each
 * calls it directly with its own SSL* and buffer, the _ex one with its own
 * length and out-pointer, the plain one with its widened length and a
 * pointer into its frame; every other call is through the PLT (no second
 * data path inside the library); no indirect branch; and its first
 * instruction is one the kernel emulates while the exported ones are not.
 * Otherwise the exported entries (after an endbr64 when the next
 * instruction is emulated). Returns 0, or a negative errno (no code). */
int place_pair(struct place_elf *pe, const char *names, uint64_t plain_addr, uint64_t plain_size,
	       uint64_t ex_addr, uint64_t ex_size, enum place_mode mode, struct placement *out);

/* The entry probe point of the function at addr: its first instruction, or
 * the one after an endbr64 when that one is emulated. Returns 0 or -ENOENT. */
int place_entry(struct place_elf *pe, uint64_t addr, struct place_point *out);

#endif
