/* x86dec.h -- x86-64 decoding for probe placement (capstone): instruction lengths, what the kernel emulates, and which argument registers reach a call. */
#ifndef LLMTAP_X86DEC_H
#define LLMTAP_X86DEC_H

#include <stddef.h>
#include <stdint.h>

/* What an instruction does to the flow of a walk. */
enum x86_kind {
	X86_K_OTHER = 0,
	X86_K_CALL,	/* direct call: rel set */
	X86_K_JMP,	/* direct jmp: rel set */
	X86_K_JCC,	/* conditional branch (jcc, jrcxz, loop, xbegin): rel set */
	X86_K_ICALL,	/* indirect or far call */
	X86_K_IJMP,	/* indirect or far jmp */
	X86_K_END,	/* ret, iret, int3, hlt, ud2: the path ends */
};

/* An operand as the walker reads it. */
struct x86_opnd {
	uint8_t type;		/* X86_OPND_* */
	uint8_t size;		/* bytes */
	int8_t reg;		/* register, or a memory operand's base: 0 rax .. 15 r15, -1 other or none */
	int8_t index;		/* a memory operand's index register, -1 none */
};

enum { X86_OPND_NONE = 0, X86_OPND_REG, X86_OPND_IMM, X86_OPND_MEM };

/* One decoded instruction (only what placement needs), from capstone. */
struct x86_insn {
	uint8_t len;
	uint8_t bytes[15];	/* its encoding */
	uint8_t kind;		/* enum x86_kind */
	uint8_t rex;		/* REX prefix, 0 when none */
	unsigned id;		/* capstone's X86_INS_* */
	int64_t rel;		/* direct branch: target minus the next instruction's address */
	uint16_t writes;	/* general registers it writes (bit n: register n, 0 rax .. 15 r15) */
	uint8_t nops;
	struct x86_opnd ops[2];	/* its first two operands (Intel order: destination first) */
};

/* Decode the instruction at p[0..n) with capstone. Returns its length
 * (1..15), or 0 when the bytes are not an instruction, or are a branch whose
 * length Intel and AMD disagree on (an 0x66 prefix): placement then proves
 * nothing. */
int x86_decode(const uint8_t *p, size_t n, struct x86_insn *in);

/* Close the calling thread's capstone handle (the next decode opens one
 * again): called when a file's placement is done, so capstone need not
 * stay loaded (capture/cslazy.c). */
void x86_release(void);

/* 1 for endbr64 (f3 0f 1e fa): a marker that can be stepped over. */
int x86_is_endbr64(const struct x86_insn *in);

/* 1 when Linux emulates the instruction at a uprobe instead of
 * single-stepping it out of line (arch/x86/kernel/uprobes.c): push of a
 * register (no prefix, or REX.B 0x41 alone), call rel32, jmp rel8/rel32,
 * conditional jumps, nop 0x90. */
int x86_uprobe_emulated(const struct x86_insn *in);

/* Short text of a decoded instruction p[0..in->len) for messages, AT&T
 * operand order ("push %r14", "sub $0x18,%rsp", "mov %fs:0x28,%rax"). */
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
