/* x86dec.h -- a small x86-64 decoder for probe placement: instruction lengths, what the kernel emulates, and which argument registers reach a call. */
#ifndef LLMTAP_X86DEC_H
#define LLMTAP_X86DEC_H

#include <stddef.h>
#include <stdint.h>

/* One decoded instruction (only what placement needs). */
struct x86_insn {
	uint8_t len;
	uint8_t op;		/* first opcode byte (after prefixes and REX) */
	uint8_t op2;		/* second opcode byte after 0x0f, else 0 */
	uint8_t rex;		/* REX prefix, 0 when none */
	uint8_t npfx;		/* legacy prefixes */
	uint8_t modrm;		/* when has_modrm */
	uint8_t has_modrm;
	uint8_t pfx66, pfxf3;
	int64_t rel;		/* call/jmp/jcc: displacement from the next instruction */
	int64_t imm;
	uint8_t sib;
	int32_t disp;
};

/* Decode the instruction at p[0..n). Returns its length (1..15), or 0 when
 * it is not one this decoder knows (placement then proves nothing). */
int x86_decode(const uint8_t *p, size_t n, struct x86_insn *in);

/* 1 for endbr64 (f3 0f 1e fa): a marker that can be stepped over. */
int x86_is_endbr64(const struct x86_insn *in);

/* 1 when Linux emulates the instruction at a uprobe instead of
 * single-stepping it out of line (arch/x86/kernel/uprobes.c): push of a
 * register (no prefix, or REX.B 0x41 alone), call rel32, jmp rel8/rel32,
 * conditional jumps, nop 0x90. */
int x86_uprobe_emulated(const struct x86_insn *in);

/* Short text of an instruction for messages ("push %r14", "sub $0x18,%rsp",
 * else "op 0x48 0x83"). */
void x86_describe(const struct x86_insn *in, const uint8_t *p, char *out, size_t outlen);

/* What reaches a callee in the SysV argument registers: the caller's own
 * arguments unchanged, a pointer into the caller's stack frame, the caller's
 * edx widened, or something else. */
enum x86_val {
	X86_UNKNOWN = 0,
	X86_ARG0, X86_ARG1, X86_ARG2, X86_ARG3,	/* rdi, rsi, rdx, rcx at entry */
	X86_STACK,				/* an address in the caller's frame */
	X86_ARG2_EXT,				/* edx sign- or zero-extended */
};

/* A direct call found on the paths of a function, with the argument
 * registers it gets: args[0..3] = rdi, rsi, rdx, rcx. A target called from
 * several places with different arguments is reported with X86_UNKNOWN
 * where they differ. */
struct x86_call {
	uint64_t target;	/* address, in the same space as base */
	uint8_t args[4];	/* enum x86_val */
	int sites;
};

#define X86_CALLS_MAX 16

/* What a walk of a function found. */
struct x86_walk {
	struct x86_call calls[X86_CALLS_MAX];
	int ncalls;
	int indirect;		/* an indirect call or jump is on some path */
	int complete;		/* every path was decoded to its end */
};

/* Walk every path of the function whose code is code[0..n), at address
 * base: conditional branches both ways, jumps inside [base, base+n), calls
 * (which clobber the caller-saved registers), until ret or a jump out.
 * Tracks rdi/rsi/rdx/rcx and copies of them. Returns 0 with *w, or -1 when
 * an instruction could not be decoded (nothing is proven then). */
int x86_walk_function(const uint8_t *code, size_t n, uint64_t base, struct x86_walk *w);

#endif
