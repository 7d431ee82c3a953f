/* xdec.c -- x86-64 instruction decoding for the scanners (capstone): one instruction, a function's linear sweep, a byte range. */
#include "capture/xdec.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture/elfimg.h"

struct xdec {
	csh cs;
	cs_insn *insn;
};

/* See capture/xdec.h for the contracts of the public functions. */
int xdec_open(struct xdec **out)
{
	struct xdec *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &x->cs) != CS_ERR_OK) {
		free(x);
		return -EINVAL;
	}
	cs_option(x->cs, CS_OPT_DETAIL, CS_OPT_ON);
	x->insn = cs_malloc(x->cs);
	if (!x->insn) {
		cs_close(&x->cs);
		free(x);
		return -ENOMEM;
	}
	*out = x;
	return 0;
}

void xdec_close(struct xdec *x)
{
	if (!x)
		return;
	cs_free(x->insn, 1);
	cs_close(&x->cs);
	free(x);
}

/* The encoding number of a 32- or 64-bit general register, else -1. */
static int reg_num(unsigned r)
{
	static const unsigned r64[16] = {
		X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX, X86_REG_RSP, X86_REG_RBP,
		X86_REG_RSI, X86_REG_RDI, X86_REG_R8, X86_REG_R9, X86_REG_R10, X86_REG_R11,
		X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15,
	};
	static const unsigned r32[16] = {
		X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX, X86_REG_ESP, X86_REG_EBP,
		X86_REG_ESI, X86_REG_EDI, X86_REG_R8D, X86_REG_R9D, X86_REG_R10D, X86_REG_R11D,
		X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D,
	};
	int i;

	for (i = 0; i < 16; i++)
		if (r64[i] == r || r32[i] == r)
			return i;
	return -1;
}

/* The encoding number of a general register of any width, else -1. */
static int reg_num8(unsigned r)
{
	static const unsigned r16[16] = {
		X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX, X86_REG_SP, X86_REG_BP,
		X86_REG_SI, X86_REG_DI, X86_REG_R8W, X86_REG_R9W, X86_REG_R10W, X86_REG_R11W,
		X86_REG_R12W, X86_REG_R13W, X86_REG_R14W, X86_REG_R15W,
	};
	static const unsigned r8[16] = {
		X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL, X86_REG_SPL, X86_REG_BPL,
		X86_REG_SIL, X86_REG_DIL, X86_REG_R8B, X86_REG_R9B, X86_REG_R10B, X86_REG_R11B,
		X86_REG_R12B, X86_REG_R13B, X86_REG_R14B, X86_REG_R15B,
	};
	int i = reg_num(r);

	for (i = i >= 0 ? 16 : 0; i < 16; i++)
		if (r16[i] == r || r8[i] == r)
			return i;
	return reg_num(r);
}

/* Fill out from capstone's decoded instruction in. */
static void insn_fill(const cs_insn *in, const uint8_t *bytes, struct xdec_insn *out)
{
	const cs_x86 *d = &in->detail->x86;
	int i;

	memset(out, 0, sizeof(*out));
	out->va = in->address;
	out->len = in->size;
	out->bytes = bytes;
	out->imm_reg = -1;
	for (i = 0; i < in->detail->groups_count; i++) {
		switch (in->detail->groups[i]) {
		case X86_GRP_CALL:
			out->kind = XK_ICALL;
			break;
		case X86_GRP_RET:
			out->kind = XK_RET;
			break;
		case X86_GRP_JUMP:
			out->kind = in->id == X86_INS_JMP ? XK_IJMP : XK_JCC;
			break;
		case X86_GRP_INT:
			if (in->id == X86_INS_INT3)
				out->kind = XK_INT3;
			break;
		}
	}
	if (in->id == X86_INS_NOP)
		out->kind = XK_NOP;
	for (i = 0; i < d->op_count; i++) {
		int r = d->operands[i].type == X86_OP_REG ? reg_num8(d->operands[i].reg) : -1;

		if (r >= 0 && (d->operands[i].access & CS_AC_WRITE))
			out->regs_written |= 1u << r;
	}
	/* A direct branch has one immediate operand: its target. */
	if ((out->kind == XK_ICALL || out->kind == XK_IJMP || out->kind == XK_JCC) &&
	    d->op_count == 1 && d->operands[0].type == X86_OP_IMM) {
		out->target = (uint64_t)d->operands[0].imm;
		if (out->kind == XK_ICALL)
			out->kind = XK_CALL;
		else if (out->kind == XK_IJMP)
			out->kind = XK_JMP;
	}
	if (in->id == X86_INS_MOV && d->op_count == 2 && d->operands[0].type == X86_OP_REG &&
	    d->operands[1].type == X86_OP_IMM) {
		out->imm_reg = reg_num(d->operands[0].reg);
		out->imm = (uint64_t)d->operands[1].imm;
	} else if (in->id == X86_INS_XOR && d->op_count == 2 && d->operands[0].type == X86_OP_REG &&
		   d->operands[1].type == X86_OP_REG && d->operands[0].reg == d->operands[1].reg) {
		out->imm_reg = reg_num(d->operands[0].reg);
		out->imm = 0;
	}
}

int xdec_insn(struct xdec *x, const struct elfimg *im, uint64_t va, struct xdec_insn *out)
{
	const uint8_t *p, *code;
	size_t n = elfimg_code(im, va, &p);
	uint64_t addr = va;

	if (!n)
		return -1;
	if (n > 16)
		n = 16;
	code = p;
	if (!cs_disasm_iter(x->cs, &code, &n, &addr, x->insn))
		return -1;
	insn_fill(x->insn, p, out);
	return 0;
}

/* 1 when in is padding between functions (a nop of any form). */
static int is_pad(const struct xdec_insn *in)
{
	return in->kind == XK_NOP || (in->len == 2 && in->bytes[0] == 0x66 && in->bytes[1] == 0x90);
}

int xdec_sweep(struct xdec *x, const struct elfimg *im, uint64_t start, size_t maxlen,
	      xdec_visit_fn fn, void *ctx, uint64_t *end)
{
	uint64_t va = start, maxfwd = start, lim = start + maxlen;
	struct xdec_insn in;
	int prev_term = 0;

	*end = start;
	while (va < lim) {
		if (xdec_insn(x, im, va, &in))
			return -1;
		if (in.kind == XK_INT3)
			return 0;
		if (va != start && va > maxfwd && (prev_term || is_pad(&in)))
			return 0;
		*end = va + in.len;
		if (fn && fn(ctx, &in))
			return 1;
		if ((in.kind == XK_JCC || in.kind == XK_JMP) && in.target > va &&
		    in.target < lim && in.target > maxfwd)
			maxfwd = in.target;
		prev_term = in.kind == XK_RET || in.kind == XK_JMP || in.kind == XK_IJMP;
		va += in.len;
	}
	return 0;
}

int xdec_range(struct xdec *x, const struct elfimg *im, uint64_t start, uint64_t end,
	      xdec_visit_fn fn, void *ctx)
{
	struct xdec_insn in;
	uint64_t va = start;

	while (va < end) {
		if (xdec_insn(x, im, va, &in))
			return -1;
		if (fn && fn(ctx, &in))
			return 1;
		va += in.len;
	}
	return va == end ? 0 : -1;
}
