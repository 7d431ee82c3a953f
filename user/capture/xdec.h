/* xdec.h -- x86-64 instruction decoding for the scanners (capstone): one instruction, a function's linear sweep, a byte range. */
#ifndef LLMTAP_XDEC_H
#define LLMTAP_XDEC_H

#include <stddef.h>
#include <stdint.h>

struct elfimg;
struct xdec;

enum xdec_kind {
	XK_OTHER = 0,
	XK_CALL,	/* direct call: target set */
	XK_JMP,	/* direct jmp: target set */
	XK_JCC,	/* conditional jump: target set */
	XK_RET,
	XK_IJMP,	/* indirect jmp */
	XK_ICALL,	/* indirect call */
	XK_INT3,
	XK_NOP,
};

/* The registers, numbered as in the encoding (0 rax .. 15 r15). */
enum xdec_reg {
	XR_AX = 0, XR_CX, XR_DX, XR_BX, XR_SP, XR_BP, XR_SI, XR_DI,
	XR_8, XR_9, XR_10, XR_11, XR_12, XR_13, XR_14, XR_15,
};

struct xdec_insn {
	uint64_t va;
	uint8_t len;
	uint8_t kind;		/* enum xdec_kind */
	int8_t imm_reg;		/* mov reg, imm / xor reg, reg (imm 0): the register, else -1 */
	uint64_t target;	/* direct branches */
	uint64_t imm;
	uint16_t regs_written;	/* general registers it writes explicitly (bit = number) */
	const uint8_t *bytes;
};

/* Open a decoder. Returns 0 and *out, or -ENOMEM / -EINVAL. */
int xdec_open(struct xdec **out);
void xdec_close(struct xdec *x);

/* Decode the instruction at va in im's code. Returns 0, or -1 when the
 * bytes are not an instruction (or va is outside the code). */
int xdec_insn(struct xdec *x, const struct elfimg *im, uint64_t va, struct xdec_insn *out);

/* Called for each instruction; non-zero stops the walk. */
typedef int (*xdec_visit_fn)(void *ctx, const struct xdec_insn *in);

/* Walk the function that starts at start, instruction by instruction, at
 * most maxlen bytes: it ends at int3, or at padding or after a ret/jmp once
 * no branch seen so far jumps further. *end gets the address after its last
 * instruction. Returns 0, 1 when fn stopped the walk, or -1 when an
 * instruction did not decode. */
int xdec_sweep(struct xdec *x, const struct elfimg *im, uint64_t start, size_t maxlen,
	      xdec_visit_fn fn, void *ctx, uint64_t *end);

/* Decode every instruction of [start, end) in order. Returns 0, 1 when fn
 * stopped, or -1 when one did not decode or the last overran end. */
int xdec_range(struct xdec *x, const struct elfimg *im, uint64_t start, uint64_t end,
	      xdec_visit_fn fn, void *ctx);

#endif
