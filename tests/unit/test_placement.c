/* test_placement.c -- unit tests of probe placement: x86-64 instruction lengths, emulation and text, the walk of OpenSSL's wrappers, and the placement of the system's libssl and node. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "capture/placement.h"
#include "capture/x86dec.h"
#include "harness.h"

struct insn_case {
	const char *name;
	uint8_t bytes[15];
	int len;	/* 0: not decoded */
	int emulated;
};

/* Instruction lengths and whether a uprobe on them is emulated; every
 * shorter prefix of the bytes must fail to decode (no read past the end). */
static void test_decode(void)
{
	static const struct insn_case cases[] = {
		{ "push %r14", { 0x41, 0x56 }, 2, 1 },
		{ "push %rbp", { 0x55 }, 1, 1 },
		{ "push %rbx", { 0x53 }, 1, 1 },
		{ "push %r15 with REX.W", { 0x49, 0x57 }, 2, 0 },
		{ "sub $0x18,%rsp", { 0x48, 0x83, 0xec, 0x18 }, 4, 0 },
		{ "sub $0x1000,%rsp", { 0x48, 0x81, 0xec, 0x00, 0x10, 0x00, 0x00 }, 7, 0 },
		{ "mov %fs:0x28,%rax", { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0 }, 9, 0 },
		{ "mov %rax,0x8(%rsp)", { 0x48, 0x89, 0x44, 0x24, 0x08 }, 5, 0 },
		{ "mov %rsp,%rbp", { 0x48, 0x89, 0xe5 }, 3, 0 },
		{ "call rel32", { 0xe8, 0xfd, 0xfb, 0xff, 0xff }, 5, 1 },
		{ "jmp rel8", { 0xeb, 0xac }, 2, 1 },
		{ "je rel32", { 0x0f, 0x84, 0x2d, 0x01, 0x00, 0x00 }, 6, 1 },
		{ "js rel8", { 0x78, 0x2f }, 2, 1 },
		{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, 0 },
		{ "lea rip", { 0x48, 0x8d, 0x15, 0x05, 0xcf, 0x04, 0x00 }, 7, 0 },
		{ "mov $imm32,%esi", { 0xbe, 0x46, 0x08, 0x00, 0x00 }, 5, 0 },
		{ "movabs $imm64,%rax", { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 }, 10, 0 },
		{ "cmovs %edx,%eax", { 0x0f, 0x48, 0xc2 }, 3, 0 },
		{ "testb $1,0x9f1(%rbx)", { 0xf6, 0x83, 0xf1, 0x09, 0x00, 0x00, 0x01 }, 7, 0 },
		{ "nopw 0(%rax,%rax)", { 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 }, 11, 0 },
		{ "nop", { 0x90 }, 1, 1 },
		{ "ret", { 0xc3 }, 1, 0 },
		{ "jmp *%rax", { 0xff, 0xe0 }, 2, 0 },
		{ "pshufb %xmm1,%xmm0", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, 0 },
		{ "in (%dx),%al", { 0xec }, 1, 0 },
		{ "jrcxz (not emulated)", { 0xe3, 0x10 }, 2, 0 },
		{ "push $1 (not emulated)", { 0x6a, 0x01 }, 2, 0 },
		{ "nop with 0x66 (not emulated)", { 0x66, 0x90 }, 2, 0 },
		{ "push %es (invalid in 64-bit mode)", { 0x06 }, 0, 0 },
		{ "call with 0x66 (Intel and AMD disagree)", { 0x66, 0xe8, 0, 0, 0, 0 }, 0, 0 },
	};
	struct x86_insn in;
	size_t i;
	int n, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct insn_case *c = &cases[i];

		n = x86_decode(c->bytes, sizeof(c->bytes), &in);
		CHECKF(n == c->len, "%s: length %d, want %d", c->name, n, c->len);
		if (c->len)
			CHECKF(x86_uprobe_emulated(&in) == c->emulated, "%s: emulated", c->name);
		for (k = 0; k < c->len; k++)
			CHECKF(x86_decode(c->bytes, (size_t)k, &in) == 0, "%s: cut at %d decodes", c->name, k);
	}
	n = x86_decode(cases[13].bytes, 4, &in);
	CHECK(n == 4 && x86_is_endbr64(&in));
}

/* How instructions are shown in placement messages. */
static void test_describe(void)
{
	static const struct {
		uint8_t bytes[15];
		const char *text;
	} cases[] = {
		{ { 0x41, 0x56 }, "push %r14" },
		{ { 0x55 }, "push %rbp" },
		{ { 0x48, 0x83, 0xec, 0x18 }, "sub $0x18,%rsp" },
		{ { 0x48, 0x89, 0xe5 }, "mov %rsp,%rbp" },
		{ { 0xf3, 0x0f, 0x1e, 0xfa }, "endbr64" },
		{ { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0 }, "mov %fs:0x28,%rax" },
		{ { 0x48, 0x8d, 0x54, 0x24, 0xf8 }, "lea -0x8(%rsp),%rdx" },
		{ { 0x48, 0x8b, 0x44, 0xd3, 0x10 }, "mov 0x10(%rbx,%rdx,8),%rax" },
		{ { 0xeb, 0xac }, "jmp .-0x52" },
	};
	struct x86_insn in;
	char text[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(x86_decode(cases[i].bytes, sizeof(cases[i].bytes), &in) > 0);
		x86_describe(&in, cases[i].bytes, text, sizeof(text));
		CHECK_STR(text, cases[i].text);
	}
	x86_decode(cases[5].bytes, sizeof(cases[5].bytes), &in);
	x86_describe(&in, cases[5].bytes, text, 8);	/* truncated, terminated */
	CHECK_STR(text, "mov %fs");
}

/* OpenSSL 3.0's SSL_write as Debian builds it (a wrapper of
 * ssl_write_internal: its int length widened, a stack slot for *written),
 * and SSL_write_ex (the same call with its own arguments). */
static const uint8_t ssl_write[] = {
	0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00, 0x48, 0x89,
	0x44, 0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x78, 0x2f, 0x48, 0x89, 0xe1, 0x48, 0x63, 0xd2,
	0xe8, 0xfd, 0xfb, 0xff, 0xff, 0x85, 0xc0, 0x7e, 0x03, 0x8b, 0x04, 0x24, 0x48, 0x8b, 0x54,
	0x24, 0x08, 0x64, 0x48, 0x2b, 0x14, 0x25, 0x28, 0x00, 0x00, 0x00, 0x75, 0x44, 0x48, 0x83,
	0xc4, 0x18, 0x31, 0xd2, 0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff, 0xc3, 0xe8, 0xb4, 0x99, 0xfe,
	0xff, 0x48, 0x8d, 0x15, 0x05, 0xcf, 0x04, 0x00, 0xbe, 0x46, 0x08, 0x00, 0x00, 0x48, 0x8d,
	0x3d, 0xf2, 0xc6, 0x04, 0x00, 0xe8, 0x8c, 0xa0, 0xfe, 0xff, 0x31, 0xc0, 0x31, 0xd2, 0xbe,
	0x0f, 0x01, 0x00, 0x00, 0xbf, 0x14, 0x00, 0x00, 0x00, 0xe8, 0xa9, 0x9e, 0xfe, 0xff, 0xb8,
	0xff, 0xff, 0xff, 0xff, 0xeb, 0xac, 0xe8, 0x9d, 0xab, 0xfe, 0xff, 0x66, 0x66, 0x2e, 0x0f,
	0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x66, 0x90,
};
static const uint8_t ssl_write_ex[] = {
	0x48, 0x83, 0xec, 0x08, 0xe8, 0x87, 0xfb, 0xff, 0xff, 0x31, 0xd2, 0x85, 0xc0, 0x0f, 0x48,
	0xc2, 0x48, 0x83, 0xc4, 0x08, 0x31, 0xd2, 0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff, 0xc3, 0x0f,
	0x1f, 0x00,
};

static const struct x86_call *call_to(const struct x86_walk *w, uint64_t target)
{
	int i;

	for (i = 0; i < w->ncalls; i++)
		if (w->calls[i].target == target)
			return &w->calls[i];
	return NULL;
}

/* The walk finds the shared callee and what each wrapper passes it. */
static void test_walk(void)
{
	static const uint8_t swapped[] = {	/* xchg: rdi and rsi trade places, then call */
		0x48, 0x87, 0xfe, 0xe8, 0x00, 0x01, 0x00, 0x00, 0xc3,
	};
	static const uint8_t copied[] = {	/* rdi kept in rbx across another call */
		0x53, 0x48, 0x89, 0xfb, 0xe8, 0x00, 0x02, 0x00, 0x00, 0x48, 0x89, 0xdf,
		0xe8, 0x00, 0x01, 0x00, 0x00, 0x5b, 0xc3,
	};
	static const uint8_t indirect[] = { 0xff, 0xd0, 0xc3 };	/* call *%rax */
	static const uint8_t cmpxchg[] = {	/* cmpxchg %rdi,%rsi; call */
		0x48, 0x0f, 0xb1, 0xfe, 0xe8, 0x00, 0x01, 0x00, 0x00, 0xc3,
	};
	static const uint8_t syscall[] = {	/* syscall; call */
		0x0f, 0x05, 0xe8, 0x00, 0x01, 0x00, 0x00, 0xc3,
	};
	static const uint8_t widen[] = {	/* movsxd %edx,%edi; mov %dx,%si; mov %rdx,%rcx; mov %edx,%edx; call */
		0x63, 0xfa, 0x66, 0x89, 0xd6, 0x48, 0x89, 0xd1, 0x89, 0xd2,
		0xe8, 0x00, 0x01, 0x00, 0x00, 0xc3,
	};
	static const uint8_t readonly[] = {	/* cmp %rsi,%rdi; test %edx,%edx; nop; loop .; call */
		0x48, 0x39, 0xf7, 0x85, 0xd2, 0x90, 0xe2, 0xfe, 0xe8, 0x00, 0x01, 0x00, 0x00, 0xc3,
	};
	const struct x86_call *c;
	struct x86_walk w;

	CHECK(x86_walk_function(ssl_write, sizeof(ssl_write), 0x359c0, &w) == 0);
	CHECK(w.complete && !w.indirect);
	c = call_to(&w, 0x355e0);
	CHECK(c != NULL);
	if (c) {
		CHECK(c->args[0] == X86_ARG0 && c->args[1] == X86_ARG1);
		CHECK(c->args[2] == X86_ARG2_EXT && c->args[3] == X86_STACK);
		CHECK(c->sites == 1);
	}
	CHECK(call_to(&w, 0x1f3c0) != NULL);	/* ERR_new@plt on the error path */
	CHECK(x86_walk_function(ssl_write_ex, sizeof(ssl_write_ex), 0x35a50, &w) == 0);
	c = call_to(&w, 0x355e0);
	CHECK(c && c->args[0] == X86_ARG0 && c->args[1] == X86_ARG1 && c->args[2] == X86_ARG2 &&
	      c->args[3] == X86_ARG3);
	CHECK(w.ncalls == 1);

	CHECK(x86_walk_function(swapped, sizeof(swapped), 0x1000, &w) == 0);
	c = call_to(&w, 0x1000 + 8 + 0x100);
	CHECK(c && c->args[0] == X86_UNKNOWN && c->args[1] == X86_UNKNOWN);
	CHECK(x86_walk_function(copied, sizeof(copied), 0x1000, &w) == 0);
	c = call_to(&w, 0x1000 + 17 + 0x100);
	CHECK(c && c->args[0] == X86_ARG0 && c->args[1] == X86_UNKNOWN);
	CHECK(x86_walk_function(indirect, sizeof(indirect), 0x1000, &w) == 0 && w.indirect);
	/* an undecodable instruction on a path proves nothing */
	CHECK(x86_walk_function((const uint8_t *)"\x06\xc3", 2, 0x1000, &w) == -1);

	/* writes capstone 4 does not mark are still seen */
	CHECK(x86_walk_function(cmpxchg, sizeof(cmpxchg), 0x1000, &w) == 0);
	c = call_to(&w, 0x1000 + 9 + 0x100);
	CHECK(c && c->args[0] == X86_ARG0 && c->args[1] == X86_UNKNOWN && c->args[2] == X86_ARG2);
	CHECK(x86_walk_function(syscall, sizeof(syscall), 0x1000, &w) == 0);
	c = call_to(&w, 0x1000 + 7 + 0x100);
	CHECK(c && c->args[0] == X86_ARG0 && c->args[3] == X86_UNKNOWN);
	/* 32-bit moves widen edx; movsxd without REX.W, 16-bit moves do not */
	CHECK(x86_walk_function(widen, sizeof(widen), 0x1000, &w) == 0);
	c = call_to(&w, 0x1000 + 15 + 0x100);
	CHECK(c && c->args[0] == X86_UNKNOWN && c->args[1] == X86_UNKNOWN && c->args[2] == X86_ARG2_EXT &&
	      c->args[3] == X86_ARG2);
	/* cmp and test read only; loop counts rcx down */
	CHECK(x86_walk_function(readonly, sizeof(readonly), 0x1000, &w) == 0);
	c = call_to(&w, 0x1000 + 13 + 0x100);
	CHECK(c && c->args[0] == X86_ARG0 && c->args[1] == X86_ARG1 && c->args[2] == X86_ARG2 &&
	      c->args[3] == X86_UNKNOWN);
}

/* The system's libssl and node, when present: placed where decoding says. */
static void test_files(void)
{
	static const char *const libssl = "/lib/x86_64-linux-gnu/libssl.so.3";
	static const char *const node = "/usr/bin/node";
	struct place_elf *pe;
	struct placement p;
	uint64_t a, s, ea, es;

	if (access(libssl, R_OK) == 0 && place_open(&pe, libssl) == 0) {
		CHECK(place_sym(pe, "SSL_write", &a, &s) == 0 && place_sym(pe, "SSL_write_ex", &ea, &es) == 0);
		CHECK(place_pair(pe, "SSL_write", a, s, ea, es, PLACE_AUTO, &p) == 0);
		/* shared when the exported entries are single-stepped (Debian 12),
		 * else the exported entries are cheap already */
		CHECKF(p.shared ? p.at.emulated && !p.plain.emulated : p.plain.emulated, "%s", p.desc);
		CHECK(p.shared ? p.at.off != 0 : p.plain.off != 0);
		CHECK(place_pair(pe, "SSL_write", a, s, ea, es, PLACE_EXPORTED, &p) == 0);
		CHECKF(!p.shared && p.plain.off && p.ex.off, "%s", p.desc);
		CHECK(place_sym(pe, "SSL_read", &a, &s) == 0 && place_sym(pe, "SSL_read_ex", &ea, &es) == 0);
		CHECK(place_pair(pe, "SSL_read", a, s, ea, es, PLACE_AUTO, &p) == 0);
		CHECKF(p.shared ? p.at.emulated : p.plain.emulated, "%s", p.desc);
		CHECK(place_sym(pe, "no_such_function", &a, &s) != 0);
		place_close(pe);
	} else {
		printf("test_placement: %s not present, its placement not checked\n", libssl);
	}
	if (access(node, R_OK) == 0 && place_open(&pe, node) == 0) {
		if (place_sym(pe, "SSL_write", &a, &s) == 0) {
			if (place_sym(pe, "SSL_write_ex", &ea, &es))
				ea = es = 0;
			CHECK(place_pair(pe, "SSL_write", a, s, ea, es, PLACE_AUTO, &p) == 0);
			CHECKF(p.shared || p.plain.off, "%s", p.desc);
		}
		place_close(pe);
	}
	CHECK(place_open(&pe, "/nonexistent/libssl.so") < 0);
}

int main(void)
{
	test_decode();
	test_describe();
	test_walk();
	test_files();
	return harness_done("test_placement");
}
