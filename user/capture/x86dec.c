/* x86dec.c -- x86-64 decoding for probe placement (capstone): instruction lengths, what the kernel emulates, and which argument registers reach a call. */
/* capstone's x86.h names its instruction-id enum x86_insn, the name of
 * x86dec.h's struct: it is included first, its enum renamed. */
#define x86_insn cs_x86_insn
#include <capstone/capstone.h>
#undef x86_insn

#include "capture/x86dec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One capstone handle (detail on) per thread that decodes: a handle is
 * not safe to share between threads. Opened on first use, kept until
 * x86_release(). */
static __thread csh dec_cs;
static __thread cs_insn *dec_insn;

/* The thread's handle and instruction buffer. Returns 0, or -1 when
 * capstone cannot be opened. */
static int dec_open(void)
{
	if (dec_insn)
		return 0;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &dec_cs) != CS_ERR_OK)
		return -1;
	cs_option(dec_cs, CS_OPT_DETAIL, CS_OPT_ON);
	dec_insn = cs_malloc(dec_cs);
	if (!dec_insn) {
		cs_close(&dec_cs);
		return -1;
	}
	return 0;
}

void x86_release(void)
{
	if (!dec_insn)
		return;
	cs_free(dec_insn, 1);
	dec_insn = NULL;
	cs_close(&dec_cs);
}

/* Decode p[0..n) at address 0 into the thread's buffer. Returns it, or NULL. */
static const cs_insn *dec_one(const uint8_t *p, size_t n)
{
	uint64_t addr = 0;

	if (dec_open())
		return NULL;
	if (n > 15)
		n = 15;
	if (!n || !cs_disasm_iter(dec_cs, &p, &n, &addr, dec_insn))
		return NULL;
	return dec_insn;
}

/* The encoding number (0 rax .. 15 r15) of general register reg of any
 * width (ah..dh: their full register), else -1 (rip, vector, segment...). */
static int gpr_num(unsigned reg)
{
	static const unsigned regs[][16] = {
		{ X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX, X86_REG_RSP, X86_REG_RBP,
		  X86_REG_RSI, X86_REG_RDI, X86_REG_R8, X86_REG_R9, X86_REG_R10, X86_REG_R11,
		  X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15 },
		{ X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX, X86_REG_ESP, X86_REG_EBP,
		  X86_REG_ESI, X86_REG_EDI, X86_REG_R8D, X86_REG_R9D, X86_REG_R10D, X86_REG_R11D,
		  X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D },
		{ X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX, X86_REG_SP, X86_REG_BP,
		  X86_REG_SI, X86_REG_DI, X86_REG_R8W, X86_REG_R9W, X86_REG_R10W, X86_REG_R11W,
		  X86_REG_R12W, X86_REG_R13W, X86_REG_R14W, X86_REG_R15W },
		{ X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL, X86_REG_SPL, X86_REG_BPL,
		  X86_REG_SIL, X86_REG_DIL, X86_REG_R8B, X86_REG_R9B, X86_REG_R10B, X86_REG_R11B,
		  X86_REG_R12B, X86_REG_R13B, X86_REG_R14B, X86_REG_R15B },
		{ X86_REG_AH, X86_REG_CH, X86_REG_DH, X86_REG_BH },	/* the rest 0: invalid */
	};
	size_t w, i;

	if (reg == X86_REG_INVALID)
		return -1;
	for (w = 0; w < sizeof(regs) / sizeof(regs[0]); w++)
		for (i = 0; i < 16; i++)
			if (regs[w][i] == reg)
				return (int)i;
	return -1;
}

/* 1 for an instruction whose register operands are all read: capstone 4
 * leaves some destinations unmarked (cmpxchg's), so a register in the first
 * place of any other instruction counts as written. */
static int reads_only(unsigned id)
{
	switch (id) {
	case X86_INS_CMP: case X86_INS_TEST: case X86_INS_BT: case X86_INS_PUSH:
	case X86_INS_NOP: case X86_INS_OUT: case X86_INS_CALL: case X86_INS_JMP:
		return 1;
	}
	return 0;
}

/* The general registers ci writes: its written operands, what it writes
 * implicitly, and what capstone 4 does not list. */
static uint16_t insn_writes(const cs_insn *ci)
{
	const cs_detail *dt = ci->detail;
	const cs_x86 *d = &dt->x86;
	uint16_t w = 0;
	int i, r;

	for (i = 0; i < dt->regs_write_count; i++)
		if ((r = gpr_num(dt->regs_write[i])) >= 0)
			w |= (uint16_t)(1u << r);
	for (i = 0; i < d->op_count; i++) {
		const cs_x86_op *o = &d->operands[i];

		if (o->type != X86_OP_REG || (r = gpr_num(o->reg)) < 0)
			continue;
		if ((o->access & CS_AC_WRITE) || !o->access || (i == 0 && !reads_only(ci->id)))
			w |= (uint16_t)(1u << r);
	}
	switch (ci->id) {
	case X86_INS_CMPXCHG: case X86_INS_XLATB:
		w |= 1u << 0;				/* rax */
		break;
	case X86_INS_CMPXCHG8B: case X86_INS_CMPXCHG16B:
		w |= 1u << 0 | 1u << 2;			/* rax, rdx */
		break;
	case X86_INS_SYSCALL: case X86_INS_SYSENTER:
		w |= 1u << 0 | 1u << 1 | 1u << 11;	/* rax, rcx, r11 */
		break;
	case X86_INS_INT: case X86_INS_INT1: case X86_INS_INTO:
		w |= 1u << 0;				/* a system call's result */
		break;
	case X86_INS_RDTSCP:
		w |= 1u << 0 | 1u << 1 | 1u << 2;	/* rax, rcx, rdx */
		break;
	case X86_INS_ENTER:
		w |= 1u << 5;				/* rbp */
		break;
	}
	return w;
}

/* What ci does to the flow of a walk. */
static uint8_t insn_kind(const cs_insn *ci)
{
	const cs_detail *dt = ci->detail;
	int direct = dt->x86.op_count == 1 && dt->x86.operands[0].type == X86_OP_IMM;
	int i, jump = 0;

	switch (ci->id) {
	case X86_INS_INT3: case X86_INS_HLT: case X86_INS_UD2: case X86_INS_UD2B: case X86_INS_UD0:
		return X86_K_END;
	case X86_INS_LCALL:
		return X86_K_ICALL;
	case X86_INS_LJMP:
		return X86_K_IJMP;
	case X86_INS_JMP:
		return direct ? X86_K_JMP : X86_K_IJMP;
	}
	for (i = 0; i < dt->groups_count; i++) {
		switch (dt->groups[i]) {
		case X86_GRP_RET: case X86_GRP_IRET:
			return X86_K_END;
		case X86_GRP_CALL:
			return direct ? X86_K_CALL : X86_K_ICALL;
		case X86_GRP_JUMP: case X86_GRP_BRANCH_RELATIVE:
			jump = 1;
			break;
		}
	}
	if (jump)
		return direct ? X86_K_JCC : X86_K_IJMP;
	return X86_K_OTHER;
}

/* Operand o as the walker reads it. */
static void opnd_fill(const cs_x86_op *o, struct x86_opnd *out)
{
	out->size = o->size;
	out->reg = out->index = -1;
	switch (o->type) {
	case X86_OP_REG:
		out->type = X86_OPND_REG;
		out->reg = (int8_t)gpr_num(o->reg);
		break;
	case X86_OP_IMM:
		out->type = X86_OPND_IMM;
		break;
	case X86_OP_MEM:
		out->type = X86_OPND_MEM;
		out->reg = (int8_t)gpr_num(o->mem.base);
		out->index = (int8_t)gpr_num(o->mem.index);
		break;
	default:
		out->type = X86_OPND_NONE;
	}
}

/* See capture/x86dec.h for the contracts of the public functions. */
int x86_decode(const uint8_t *p, size_t n, struct x86_insn *in)
{
	const cs_insn *ci = dec_one(p, n);
	const cs_x86 *d;
	int i;

	memset(in, 0, sizeof(*in));
	if (!ci)
		return 0;
	d = &ci->detail->x86;
	in->kind = insn_kind(ci);
	/* 66 on a branch: Intel ignores it, AMD takes a 16-bit displacement */
	if (in->kind != X86_K_OTHER && in->kind != X86_K_END && d->prefix[2] == 0x66)
		return 0;
	in->len = (uint8_t)ci->size;
	memcpy(in->bytes, p, in->len);
	in->rex = d->rex;
	in->id = ci->id;
	if (in->kind == X86_K_CALL || in->kind == X86_K_JMP || in->kind == X86_K_JCC)
		in->rel = (int64_t)((uint64_t)d->operands[0].imm - in->len);
	in->writes = insn_writes(ci);
	in->nops = d->op_count < 2 ? d->op_count : 2;
	for (i = 0; i < in->nops; i++)
		opnd_fill(&d->operands[i], &in->ops[i]);
	return in->len;
}

int x86_is_endbr64(const struct x86_insn *in)
{
	return in->id == X86_INS_ENDBR64;
}

/* The kernel decides on the encoding (opcode bytes, prefixes, length), so
 * this does too, on the length capstone found. */
int x86_uprobe_emulated(const struct x86_insn *in)
{
	const uint8_t *b = in->bytes;

	switch (in->len) {
	case 1:		/* push reg, nop */
		return (b[0] >= 0x50 && b[0] <= 0x57) || b[0] == 0x90;
	case 2:		/* push r8..r15 (REX.B alone), jmp rel8, jcc rel8 */
		return (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) || b[0] == 0xeb ||
		       (b[0] >= 0x70 && b[0] <= 0x7f);
	case 5:		/* call rel32, jmp rel32 */
		return b[0] == 0xe8 || b[0] == 0xe9;
	case 6:		/* jcc rel32 */
		return b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f;
	}
	return 0;
}

/* Append printf text to out[0..outlen) at *k (truncating). */
static void put(char *out, size_t outlen, size_t *k, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*k + 1 >= outlen)
		return;
	va_start(ap, fmt);
	r = vsnprintf(out + *k, outlen - *k, fmt, ap);
	va_end(ap);
	if (r > 0)
		*k = *k + (size_t)r < outlen ? *k + (size_t)r : outlen - 1;
}

/* Append pre and v as signed hex ("$0x18", "-0x8"; with plus, "+0x10"). */
static void put_hex(char *out, size_t outlen, size_t *k, const char *pre, int64_t v, int plus)
{
	put(out, outlen, k, "%s%s0x%llx", pre, v < 0 ? "-" : plus ? "+" : "",
	    (unsigned long long)(v < 0 ? -(uint64_t)v : (uint64_t)v));
}

void x86_describe(const struct x86_insn *in, const uint8_t *p, char *out, size_t outlen)
{
	const cs_insn *ci = in->len ? dec_one(p, in->len) : NULL;
	const cs_x86 *d;
	size_t k = 0;
	int i;

	if (!outlen)
		return;
	out[0] = 0;
	if (!ci) {
		put(out, outlen, &k, "not decoded");
		return;
	}
	d = &ci->detail->x86;
	put(out, outlen, &k, "%s", ci->mnemonic);
	for (i = d->op_count - 1; i >= 0; i--) {	/* AT&T order: source first */
		const cs_x86_op *o = &d->operands[i];

		put(out, outlen, &k, i == d->op_count - 1 ? " " : ",");
		if (o->type == X86_OP_REG) {
			put(out, outlen, &k, "%%%s", cs_reg_name(dec_cs, o->reg));
		} else if (o->type == X86_OP_IMM) {
			/* a branch target, decoded at 0: relative to this instruction */
			if (in->kind == X86_K_OTHER)
				put_hex(out, outlen, &k, "$", o->imm, 0);
			else
				put_hex(out, outlen, &k, ".", o->imm, 1);
		} else if (o->type == X86_OP_MEM) {
			if (o->mem.segment != X86_REG_INVALID)
				put(out, outlen, &k, "%%%s:", cs_reg_name(dec_cs, o->mem.segment));
			if (o->mem.disp || (o->mem.base == X86_REG_INVALID && o->mem.index == X86_REG_INVALID))
				put_hex(out, outlen, &k, "", o->mem.disp, 0);
			if (o->mem.base != X86_REG_INVALID || o->mem.index != X86_REG_INVALID) {
				put(out, outlen, &k, "(");
				if (o->mem.base != X86_REG_INVALID)
					put(out, outlen, &k, "%%%s", cs_reg_name(dec_cs, o->mem.base));
				if (o->mem.index != X86_REG_INVALID)
					put(out, outlen, &k, ",%%%s,%d", cs_reg_name(dec_cs, o->mem.index),
					    o->mem.scale);
				put(out, outlen, &k, ")");
			}
		}
	}
}

/* ---- walking a function ------------------------------------------------- */

#define WALK_STEPS_MAX 4000
#define WALK_PENDING_MAX 64
#define WALK_SEEN_MAX 512

struct walk_state {
	uint8_t r[16];		/* enum x86_val per register */
};

struct walk_seen {
	uint32_t off;
	struct walk_state st;
};

struct walk_pending {
	uint32_t off;
	struct walk_state st;
};

struct walker {
	const uint8_t *code;
	size_t n;
	uint64_t base;
	struct x86_walk *w;
	struct walk_seen seen[WALK_SEEN_MAX];
	int nseen;
	struct walk_pending pend[WALK_PENDING_MAX];
	int npend;
};

/* Queue the path at off with state st unless an equal or wider state was
 * walked there already (states met at one place are merged). Returns 0, or
 * -1 when the walk is too large to finish. */
static int walk_push(struct walker *k, uint32_t off, const struct walk_state *st)
{
	struct walk_state m = *st;
	int i, j, changed;

	for (i = 0; i < k->nseen; i++) {
		if (k->seen[i].off != off)
			continue;
		changed = 0;
		for (j = 0; j < 16; j++) {
			if (k->seen[i].st.r[j] != m.r[j] && k->seen[i].st.r[j] != X86_UNKNOWN) {
				k->seen[i].st.r[j] = X86_UNKNOWN;
				changed = 1;
			}
		}
		if (!changed)
			return 0;
		m = k->seen[i].st;
		goto out_queue;
	}
	if (k->nseen == WALK_SEEN_MAX)
		return -1;
	k->seen[k->nseen].off = off;
	k->seen[k->nseen].st = m;
	k->nseen++;
out_queue:
	if (k->npend == WALK_PENDING_MAX)
		return -1;
	k->pend[k->npend].off = off;
	k->pend[k->npend].st = m;
	k->npend++;
	return 0;
}

/* Record a direct call (or tail jump) to target with the state's arguments. */
static void walk_call(struct walker *k, uint64_t target, const struct walk_state *st)
{
	static const int argreg[4] = { 7, 6, 2, 1 };	/* rdi, rsi, rdx, rcx */
	struct x86_walk *w = k->w;
	struct x86_call *c = NULL;
	int i;

	for (i = 0; i < w->ncalls; i++)
		if (w->calls[i].target == target)
			c = &w->calls[i];
	if (!c) {
		if (w->ncalls == X86_CALLS_MAX) {
			w->complete = 0;
			return;
		}
		c = &w->calls[w->ncalls++];
		c->target = target;
		for (i = 0; i < 4; i++)
			c->args[i] = st->r[argreg[i]];
		c->sites = 1;
		return;
	}
	for (i = 0; i < 4; i++)
		if (c->args[i] != st->r[argreg[i]])
			c->args[i] = X86_UNKNOWN;
	c->sites++;
}

/* A value written to register r: the stack pointer stays a stack address. */
static void reg_set(struct walk_state *st, int r, uint8_t v)
{
	st->r[r] = r == 4 ? X86_STACK : v;
}

/* The caller-saved registers after a call. */
static void clobber(struct walk_state *st)
{
	static const int regs[] = { 0, 1, 2, 6, 7, 8, 9, 10, 11 };
	size_t i;

	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		st->r[regs[i]] = X86_UNKNOWN;
}

/* The value a 32-bit move of src's class leaves in a register. */
static uint8_t widen32(uint8_t src)
{
	return src == X86_ARG2 || src == X86_ARG2_EXT ? X86_ARG2_EXT : X86_UNKNOWN;
}

/* Apply in's effect on the tracked registers: the moves that keep an
 * argument (or a frame address) are followed, any other write forgets. */
static void walk_effect(const struct x86_insn *in, struct walk_state *st)
{
	const struct x86_opnd *dst = &in->ops[0], *src = &in->ops[1];
	int r, moved = -1;	/* the value a followed move leaves in dst */

	if (in->nops == 2 && dst->type == X86_OPND_REG && dst->reg >= 0) {
		if (in->id == X86_INS_MOV && src->type == X86_OPND_REG && src->reg >= 0)
			moved = dst->size == 8 ? st->r[src->reg] :
				dst->size == 4 ? widen32(st->r[src->reg]) : X86_UNKNOWN;
		else if (in->id == X86_INS_MOVSXD && (in->rex & 8) && src->type == X86_OPND_REG &&
			 src->reg >= 0)
			moved = widen32(st->r[src->reg]);
		else if (in->id == X86_INS_LEA)	/* an address off the stack pointer (or a copy) */
			moved = dst->size == 8 && src->reg >= 0 && src->index < 0 &&
				st->r[src->reg] == X86_STACK ? X86_STACK : X86_UNKNOWN;
	}
	for (r = 0; r < 16; r++)
		if (in->writes & (1u << r))
			reg_set(st, r, X86_UNKNOWN);
	if (moved >= 0)
		reg_set(st, dst->reg, (uint8_t)moved);
}

/* Walk one path from off with state st until it ends (ret, a jump out, the
 * end of the code), queueing the branches that stay inside. Returns 0, or
 * -1 when an instruction does not decode or the walk is too large. */
static int walk_path(struct walker *k, uint32_t off, struct walk_state st, int *steps)
{
	struct x86_insn in;

	for (;;) {
		uint64_t next, target;

		if (++*steps > WALK_STEPS_MAX)
			return -1;
		/* past the end: only after a call that does not return */
		if (off >= k->n)
			return 0;
		if (!x86_decode(k->code + off, k->n - off, &in))
			return -1;
		next = off + in.len;
		target = k->base + next + in.rel;
		switch (in.kind) {
		case X86_K_END:
			return 0;
		case X86_K_ICALL:
			k->w->indirect = 1;
			clobber(&st);
			break;
		case X86_K_IJMP:
			k->w->indirect = 1;
			return 0;
		case X86_K_CALL:
			walk_call(k, target, &st);
			clobber(&st);
			break;
		case X86_K_JMP:
			if (target < k->base || target >= k->base + k->n) {
				walk_call(k, target, &st);	/* a tail call */
				return 0;
			}
			next = target - k->base;
			break;
		case X86_K_JCC:
			walk_effect(&in, &st);	/* loop counts rcx down */
			if (target < k->base || target >= k->base + k->n)
				walk_call(k, target, &st);
			else if (walk_push(k, (uint32_t)(target - k->base), &st))
				return -1;
			break;
		default:
			walk_effect(&in, &st);
		}
		off = (uint32_t)next;
	}
}

int x86_walk_function(const uint8_t *code, size_t n, uint64_t base, struct x86_walk *w)
{
	static struct walker k;	/* large; placement runs on one thread */
	struct walk_state st;
	int steps = 0, i;

	memset(w, 0, sizeof(*w));
	memset(&k, 0, sizeof(k));
	k.code = code;
	k.n = n;
	k.base = base;
	k.w = w;
	w->complete = 1;
	for (i = 0; i < 16; i++)
		st.r[i] = X86_UNKNOWN;
	st.r[7] = X86_ARG0;
	st.r[6] = X86_ARG1;
	st.r[2] = X86_ARG2;
	st.r[1] = X86_ARG3;
	st.r[4] = X86_STACK;
	if (walk_push(&k, 0, &st))
		return -1;
	while (k.npend) {
		k.npend--;
		if (walk_path(&k, k.pend[k.npend].off, k.pend[k.npend].st, &steps))
			return -1;
	}
	return 0;
}
