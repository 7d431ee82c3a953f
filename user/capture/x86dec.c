/* x86dec.c -- a small x86-64 decoder for probe placement: instruction lengths, what the kernel emulates, and which argument registers reach a call. */
#include "capture/x86dec.h"

#include <stdio.h>
#include <string.h>

/* Operand flags of an opcode. */
enum {
	F_BAD = 1,	/* not decoded: proves nothing */
	F_M = 2,	/* ModRM (and SIB, displacement) follow */
	F_I8 = 4,	/* imm8 / rel8 */
	F_IZ = 8,	/* imm16 with 0x66, else imm32 (rel32 too) */
	F_I16 = 16,	/* imm16 */
	F_IV = 32,	/* imm32, imm64 with REX.W (mov reg, imm) */
	F_GRP3 = 64,	/* 0xf6/0xf7: an immediate only for /0 and /1 (test) */
};

/* Flags of one-byte opcode op (prefixes and REX already consumed). */
static int op1_flags(uint8_t op)
{
	if (op < 0x40) {
		if (op == 0x0f)
			return 0;	/* escape: handled by the caller */
		switch (op & 7) {
		case 0: case 1: case 2: case 3: return F_M;
		case 4: return F_I8;
		case 5: return F_IZ;
		default: return F_BAD;
		}
	}
	if (op >= 0x50 && op <= 0x5f)
		return 0;
	if (op >= 0x70 && op <= 0x7f)
		return F_I8;
	if (op >= 0x84 && op <= 0x8f && op != 0x8c && op != 0x8e)
		return F_M;
	if (op >= 0x90 && op <= 0x99)
		return 0;
	if (op >= 0xb0 && op <= 0xb7)
		return F_I8;
	if (op >= 0xb8 && op <= 0xbf)
		return F_IV;
	if (op >= 0xd0 && op <= 0xd3)
		return F_M;
	switch (op) {
	case 0x63: return F_M;
	case 0x68: return F_IZ;
	case 0x69: return F_M | F_IZ;
	case 0x6a: return F_I8;
	case 0x6b: return F_M | F_I8;
	case 0x80: return F_M | F_I8;
	case 0x81: return F_M | F_IZ;
	case 0x83: return F_M | F_I8;
	case 0xa8: return F_I8;
	case 0xa9: return F_IZ;
	case 0xc0: case 0xc1: return F_M | F_I8;
	case 0xc2: return F_I16;
	case 0xc3: case 0xc9: case 0xcc: case 0xf4: return 0;
	case 0xc6: return F_M | F_I8;
	case 0xc7: return F_M | F_IZ;
	case 0xe8: case 0xe9: return F_IZ;
	case 0xeb: return F_I8;
	case 0xf6: case 0xf7: return F_M | F_GRP3;
	case 0xfe: case 0xff: return F_M;
	}
	return F_BAD;
}

/* Flags of two-byte opcode 0x0f op. */
static int op2_flags(uint8_t op)
{
	if (op >= 0x80 && op <= 0x8f)
		return F_IZ;
	if (op >= 0xc8 && op <= 0xcf)
		return 0;
	if (op >= 0x70 && op <= 0x73)
		return F_M | F_I8;
	if ((op >= 0x10 && op <= 0x1f) || (op >= 0x28 && op <= 0x2f) || (op >= 0x40 && op <= 0x6f) ||
	    (op >= 0x74 && op <= 0x7f && op != 0x77) || (op >= 0x90 && op <= 0x9f) || op >= 0xd0)
		return op == 0xff ? F_BAD : F_M;
	switch (op) {
	case 0x05: case 0x0b: case 0x77: case 0xa2: return 0;
	case 0xa3: case 0xa5: case 0xab: case 0xad: case 0xaf: case 0xb0: case 0xb1:
	case 0xb3: case 0xb6: case 0xb7: case 0xbb: case 0xbc: case 0xbd: case 0xbe:
	case 0xbf: case 0xc0: case 0xc1: return F_M;
	case 0xa4: case 0xac: case 0xba: case 0xc2: case 0xc6: return F_M | F_I8;
	}
	return F_BAD;
}

int x86_decode(const uint8_t *p, size_t n, struct x86_insn *in)
{
	size_t i = 0, imm = 0;
	int f;

	memset(in, 0, sizeof(*in));
	if (n > 15)
		n = 15;
	for (; i < n; i++) {
		uint8_t b = p[i];

		if (b == 0x66)
			in->pfx66 = 1;
		else if (b == 0xf3)
			in->pfxf3 = 1;
		else if (b != 0xf2 && b != 0xf0 && b != 0x2e && b != 0x3e && b != 0x26 &&
			 b != 0x36 && b != 0x64 && b != 0x65)
			break;
		in->npfx++;
	}
	if (i < n && (p[i] & 0xf0) == 0x40)
		in->rex = p[i++];
	if (i >= n)
		return 0;
	in->op = p[i++];
	if (in->op == 0x0f) {
		if (i >= n)
			return 0;
		in->op2 = p[i++];
		f = op2_flags(in->op2);
	} else {
		f = op1_flags(in->op);
	}
	if (f & F_BAD)
		return 0;
	if (f & F_M) {
		uint8_t mod, rm;

		if (i >= n)
			return 0;
		in->modrm = p[i++];
		in->has_modrm = 1;
		mod = in->modrm >> 6;
		rm = in->modrm & 7;
		if (mod != 3 && rm == 4) {
			if (i >= n)
				return 0;
			in->sib = p[i++];
			if (mod == 0 && (in->sib & 7) == 5)
				mod = 2;	/* disp32, no base */
		} else if (mod == 0 && rm == 5) {
			mod = 2;		/* rip-relative disp32 */
		}
		if (mod == 1) {
			if (i + 1 > n)
				return 0;
			in->disp = (int8_t)p[i];
			i += 1;
		} else if (mod == 2) {
			if (i + 4 > n)
				return 0;
			in->disp = (int32_t)((uint32_t)p[i] | (uint32_t)p[i + 1] << 8 |
					     (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24);
			i += 4;
		}
	}
	if (f & F_GRP3)
		imm = ((in->modrm >> 3) & 7) < 2 ? (in->op == 0xf6 ? 1 : (in->pfx66 ? 2 : 4)) : 0;
	else if (f & F_I8)
		imm = 1;
	else if (f & F_I16)
		imm = 2;
	else if (f & F_IZ)
		imm = (in->pfx66 && in->op != 0xe8 && in->op != 0xe9 && in->op != 0x0f) ? 2 : 4;
	else if (f & F_IV)
		imm = (in->rex & 8) ? 8 : (in->pfx66 ? 2 : 4);
	if (i + imm > n)
		return 0;
	if (imm) {
		uint64_t v = 0;
		size_t k;

		for (k = 0; k < imm; k++)
			v |= (uint64_t)p[i + k] << (8 * k);
		if (imm < 8 && (v >> (8 * imm - 1)) & 1)
			v |= ~0ull << (8 * imm);	/* sign-extend */
		in->imm = (int64_t)v;
		i += imm;
	}
	if (in->op == 0xe8 || in->op == 0xe9 || in->op == 0xeb || (in->op >= 0x70 && in->op <= 0x7f) ||
	    (in->op == 0x0f && in->op2 >= 0x80 && in->op2 <= 0x8f))
		in->rel = in->imm;
	in->len = (uint8_t)i;
	return (int)i;
}

int x86_is_endbr64(const struct x86_insn *in)
{
	return in->len == 4 && in->pfxf3 && in->op == 0x0f && in->op2 == 0x1e && in->modrm == 0xfa;
}

int x86_uprobe_emulated(const struct x86_insn *in)
{
	if (!in->len)
		return 0;
	/* push reg: one byte, or REX.B (0x41) and the byte; no other prefix */
	if (in->op >= 0x50 && in->op <= 0x57 && !in->npfx)
		return in->len == 1 || (in->len == 2 && in->rex == 0x41);
	if (in->npfx || in->rex)
		return 0;
	if (in->op == 0xe8 || in->op == 0xe9 || in->op == 0xeb || in->op == 0x90)
		return 1;
	if (in->op >= 0x70 && in->op <= 0x7f)
		return 1;
	return in->op == 0x0f && in->op2 >= 0x80 && in->op2 <= 0x8f;
}

void x86_describe(const struct x86_insn *in, const uint8_t *p, char *out, size_t outlen)
{
	static const char *const r64[16] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	};
	size_t i, k;

	if (in->op >= 0x50 && in->op <= 0x57 && !in->npfx) {
		snprintf(out, outlen, "push %%%s", r64[(in->op & 7) | ((in->rex & 1) << 3)]);
		return;
	}
	if (x86_is_endbr64(in)) {
		snprintf(out, outlen, "endbr64");
		return;
	}
	if (in->rex == 0x48 && in->op == 0x83 && in->modrm == 0xec) {
		snprintf(out, outlen, "sub $0x%llx,%%rsp", (unsigned long long)(uint8_t)in->imm);
		return;
	}
	if (in->rex == 0x48 && in->op == 0x81 && in->modrm == 0xec) {
		snprintf(out, outlen, "sub $0x%llx,%%rsp", (unsigned long long)(uint32_t)in->imm);
		return;
	}
	if (in->rex == 0x48 && in->op == 0x89 && in->modrm == 0xe5) {
		snprintf(out, outlen, "mov %%rsp,%%rbp");
		return;
	}
	k = (size_t)snprintf(out, outlen, "insn");
	for (i = 0; i < in->len && k + 6 < outlen; i++)
		k += (size_t)snprintf(out + k, outlen - k, " %02x", p[i]);
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

/* Apply in's effect on the tracked registers. */
static void walk_effect(const struct x86_insn *in, struct walk_state *st)
{
	int w = in->rex & 8;
	int reg = ((in->modrm >> 3) & 7) | ((in->rex & 4) << 1);
	int rm = (in->modrm & 7) | ((in->rex & 1) << 3);
	int mod3 = in->has_modrm && (in->modrm >> 6) == 3;
	int sub = (in->modrm >> 3) & 7;
	uint8_t op = in->op;

	if (op == 0x0f) {
		switch (in->op2) {
		case 0x1e: case 0x1f: case 0x0b:
			return;
		case 0x05:
			st->r[0] = st->r[1] = st->r[11] = X86_UNKNOWN;
			return;
		case 0xa2:
			st->r[0] = st->r[1] = st->r[2] = st->r[3] = X86_UNKNOWN;
			return;
		}
		if (in->op2 >= 0x80 && in->op2 <= 0x8f)
			return;
		if (in->op2 >= 0xc8 && in->op2 <= 0xcf) {
			reg_set(st, (in->op2 & 7) | ((in->rex & 1) << 3), X86_UNKNOWN);
			return;
		}
		/* anything else with ModRM: both operands may be written */
		if (in->has_modrm) {
			reg_set(st, reg, X86_UNKNOWN);
			if (mod3)
				reg_set(st, rm, X86_UNKNOWN);
		}
		if (in->op2 == 0xb0 || in->op2 == 0xb1)
			st->r[0] = X86_UNKNOWN;
		return;
	}
	if (op < 0x40) {
		int write = (op & 0xf8) != 0x38;	/* cmp writes nothing */

		if (!write)
			return;
		if ((op & 7) >= 4) {
			st->r[0] = X86_UNKNOWN;
			return;
		}
		if (op & 2)
			reg_set(st, reg, X86_UNKNOWN);
		else if (mod3)
			reg_set(st, rm, X86_UNKNOWN);
		return;
	}
	if (op >= 0x58 && op <= 0x5f) {
		reg_set(st, (op & 7) | ((in->rex & 1) << 3), X86_UNKNOWN);
		return;
	}
	if (op >= 0x91 && op <= 0x97) {
		st->r[0] = X86_UNKNOWN;
		reg_set(st, (op & 7) | ((in->rex & 1) << 3), X86_UNKNOWN);
		return;
	}
	if (op >= 0xb0 && op <= 0xbf) {
		reg_set(st, (op & 7) | ((in->rex & 1) << 3), X86_UNKNOWN);
		return;
	}
	switch (op) {
	case 0x89:	/* mov r/m, reg */
		if (mod3)
			reg_set(st, rm, w ? st->r[reg] : widen32(st->r[reg]));
		return;
	case 0x8b:	/* mov reg, r/m */
		reg_set(st, reg, mod3 ? (w ? st->r[rm] : widen32(st->r[rm])) : X86_UNKNOWN);
		return;
	case 0x8d: {	/* lea: an address off the stack pointer (or a copy) is in the frame */
		int base = (in->modrm & 7) == 4 ? (in->sib & 7) | ((in->rex & 1) << 3) : rm;
		int index = (in->modrm & 7) == 4 ? ((in->sib >> 3) & 7) | ((in->rex & 2) << 2) : 4;
		int ripish = (in->modrm >> 6) == 0 && ((in->modrm & 7) == 5 ||
						       ((in->modrm & 7) == 4 && (in->sib & 7) == 5));

		reg_set(st, reg, !ripish && index == 4 && st->r[base] == X86_STACK && w ?
				 X86_STACK : X86_UNKNOWN);
		return;
	}
	case 0x63:	/* movslq */
		reg_set(st, reg, mod3 && w ? widen32(st->r[rm]) : X86_UNKNOWN);
		return;
	case 0x84: case 0x85: case 0x90: case 0xa8: case 0xa9: case 0xf4: case 0xcc:
	case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
	case 0x68: case 0x6a: case 0xc2: case 0xc3: case 0xe8: case 0xe9: case 0xeb:
		return;
	case 0x98:
		st->r[0] = X86_UNKNOWN;
		return;
	case 0x99:
		st->r[2] = X86_UNKNOWN;
		return;
	case 0xc9:	/* leave */
		st->r[5] = X86_UNKNOWN;
		return;
	case 0x69: case 0x6b: case 0x8a:
		reg_set(st, reg, X86_UNKNOWN);
		return;
	case 0x86: case 0x87:
		reg_set(st, reg, X86_UNKNOWN);
		if (mod3)
			reg_set(st, rm, X86_UNKNOWN);
		return;
	case 0x80: case 0x81: case 0x83:
		if (sub != 7 && mod3)
			reg_set(st, rm, X86_UNKNOWN);
		return;
	case 0xf6: case 0xf7:
		if (sub >= 4) {
			st->r[0] = st->r[2] = X86_UNKNOWN;
		} else if (sub >= 2 && mod3) {
			reg_set(st, rm, X86_UNKNOWN);
		}
		return;
	case 0xfe: case 0xff:
		if (sub < 2 && mod3)
			reg_set(st, rm, X86_UNKNOWN);
		return;
	}
	/* 0x88, 0x8f, 0xc0, 0xc1, 0xc6, 0xc7, 0xd0..0xd3: the r/m operand */
	if (mod3)
		reg_set(st, rm, X86_UNKNOWN);
	(void)w;
}

int x86_walk_function(const uint8_t *code, size_t n, uint64_t base, struct x86_walk *w)
{
	static struct walker k;	/* large; placement runs on one thread */
	struct walk_state st;
	struct x86_insn in;
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
		uint32_t off;

		k.npend--;
		off = k.pend[k.npend].off;
		st = k.pend[k.npend].st;
		for (;;) {
			uint64_t next, target;

			if (++steps > WALK_STEPS_MAX)
				return -1;
			/* past the end: only after a call that does not return */
			if (off >= n)
				break;
			if (!x86_decode(code + off, n - off, &in))
				return -1;
			next = off + in.len;
			target = base + next + in.rel;
			if (in.op == 0xc3 || in.op == 0xc2 || in.op == 0xcc || in.op == 0xf4 ||
			    (in.op == 0x0f && in.op2 == 0x0b))
				break;
			if (in.op == 0xff && (((in.modrm >> 3) & 7) == 2 || ((in.modrm >> 3) & 7) == 3)) {
				w->indirect = 1;
				clobber(&st);
				off = (uint32_t)next;
				continue;
			}
			if (in.op == 0xff && (((in.modrm >> 3) & 7) == 4 || ((in.modrm >> 3) & 7) == 5)) {
				w->indirect = 1;
				break;
			}
			if (in.op == 0xe8) {
				walk_call(&k, target, &st);
				clobber(&st);
				off = (uint32_t)next;
				continue;
			}
			if (in.op == 0xe9 || in.op == 0xeb) {
				if (target >= base && target < base + n) {
					off = (uint32_t)(target - base);
					continue;
				}
				walk_call(&k, target, &st);	/* a tail call */
				break;
			}
			if ((in.op >= 0x70 && in.op <= 0x7f) ||
			    (in.op == 0x0f && in.op2 >= 0x80 && in.op2 <= 0x8f)) {
				if (target >= base && target < base + n) {
					if (walk_push(&k, (uint32_t)(target - base), &st))
						return -1;
				} else {
					walk_call(&k, target, &st);
				}
				off = (uint32_t)next;
				continue;
			}
			walk_effect(&in, &st);
			off = (uint32_t)next;
		}
	}
	return 0;
}
