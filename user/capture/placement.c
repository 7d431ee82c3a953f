/* placement.c -- where a TLS function pair's probes go: the exported entries, or an internal function both share whose first instruction the kernel emulates. */
#include "capture/placement.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/x86dec.h"

/* Functions longer than this are not thin wrappers: not walked. */
#define PLACE_WRAPPER_MAX 4096
/* Bytes read at a probe point to decode its first instructions. */
#define PLACE_PEEK 32

struct place_elf {
	int fd;
	Elf *e;
	int x86_64;
};

int place_open(struct place_elf **out, const char *path)
{
	struct place_elf *pe = calloc(1, sizeof(*pe));
	GElf_Ehdr eh;
	int err;

	if (!pe)
		return -ENOMEM;
	pe->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pe->fd < 0) {
		err = -errno;
		goto out_free;
	}
	elf_version(EV_CURRENT);
	pe->e = elf_begin(pe->fd, ELF_C_READ, NULL);	/* not mapped: see attach.c */
	if (!pe->e || !gelf_getehdr(pe->e, &eh)) {
		err = -EINVAL;
		goto out_close;
	}
	pe->x86_64 = eh.e_machine == EM_X86_64 && eh.e_ident[EI_CLASS] == ELFCLASS64;
	*out = pe;
	return 0;

out_close:
	if (pe->e)
		elf_end(pe->e);
	close(pe->fd);
out_free:
	free(pe);
	return err;
}

void place_close(struct place_elf *pe)
{
	if (!pe)
		return;
	elf_end(pe->e);
	close(pe->fd);
	free(pe);
	/* decoding is done for this file: capstone may be unloaded */
	x86_release();
}

/* Look name up in symbol tables of type type. Returns 0 when found. */
static int sym_in(struct place_elf *pe, Elf64_Word type, const char *name, uint64_t *addr,
		  uint64_t *size)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Data *data;
	size_t i, n;

	while ((scn = elf_nextscn(pe->e, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			const char *s;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
				continue;
			s = elf_strptr(pe->e, sh.sh_link, sym.st_name);
			if (!s || strncmp(s, name, strlen(name)))
				continue;
			/* "SSL_write" or a versioned "SSL_write@@OPENSSL_3.0.0" */
			if (s[strlen(name)] && s[strlen(name)] != '@')
				continue;
			*addr = sym.st_value;
			*size = sym.st_size;
			return 0;
		}
	}
	return -ENOENT;
}

int place_sym(struct place_elf *pe, const char *name, uint64_t *addr, uint64_t *size)
{
	if (!sym_in(pe, SHT_DYNSYM, name, addr, size))
		return 0;
	return sym_in(pe, SHT_SYMTAB, name, addr, size);
}

/* The section holding addr (allocated, with bytes in the file). */
static Elf_Scn *scn_of(struct place_elf *pe, uint64_t addr, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(pe->e, scn))) {
		if (!gelf_getshdr(scn, sh) || !(sh->sh_flags & SHF_ALLOC) || sh->sh_type == SHT_NOBITS)
			continue;
		if (addr >= sh->sh_addr && addr < sh->sh_addr + sh->sh_size)
			return scn;
	}
	return NULL;
}

uint64_t place_file_offset(struct place_elf *pe, uint64_t addr)
{
	GElf_Shdr sh;

	if (!scn_of(pe, addr, &sh))
		return 0;
	return addr - sh.sh_addr + sh.sh_offset;
}

/* Copy up to n code bytes at addr into buf (not past its section). Returns
 * the bytes copied (0: none). */
static size_t code_read(struct place_elf *pe, uint64_t addr, uint8_t *buf, size_t n)
{
	GElf_Shdr sh;
	uint64_t left;
	ssize_t r;

	if (!scn_of(pe, addr, &sh) || !(sh.sh_flags & SHF_EXECINSTR))
		return 0;
	left = sh.sh_addr + sh.sh_size - addr;
	if (n > left)
		n = left;
	r = pread(pe->fd, buf, n, (off_t)(addr - sh.sh_addr + sh.sh_offset));
	return r > 0 ? (size_t)r : 0;
}

/* 1 when addr is in a PLT section: a call there leaves the library. */
static int in_plt(struct place_elf *pe, uint64_t addr)
{
	size_t shstrndx;
	GElf_Shdr sh;
	Elf_Scn *scn;
	const char *name;

	scn = scn_of(pe, addr, &sh);
	if (!scn || elf_getshdrstrndx(pe->e, &shstrndx))
		return 0;
	name = elf_strptr(pe->e, shstrndx, sh.sh_name);
	return name && strncmp(name, ".plt", 4) == 0;
}

int place_entry(struct place_elf *pe, uint64_t addr, struct place_point *out)
{
	uint8_t code[PLACE_PEEK];
	struct x86_insn in, next;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->addr = addr;
	out->off = place_file_offset(pe, addr);
	if (!out->off)
		return -ENOENT;
	snprintf(out->insn, sizeof(out->insn), "not decoded");
	if (!pe->x86_64)
		return 0;
	n = code_read(pe, addr, code, sizeof(code));
	if (!n || !x86_decode(code, n, &in))
		return 0;
	/* Past an endbr64 when what follows is emulated: the probe sits on it. */
	if (x86_is_endbr64(&in) && x86_decode(code + in.len, n - in.len, &next) &&
	    x86_uprobe_emulated(&next)) {
		out->addr += in.len;
		out->off += in.len;
		x86_describe(&next, code + in.len, out->insn, sizeof(out->insn));
		out->emulated = 1;
		return 0;
	}
	x86_describe(&in, code, out->insn, sizeof(out->insn));
	out->emulated = x86_uprobe_emulated(&in);
	return 0;
}

/* Walk the function at addr (size bytes; 0: unknown). Returns 0 with *w. */
static int walk(struct place_elf *pe, uint64_t addr, uint64_t size, struct x86_walk *w)
{
	static uint8_t code[PLACE_WRAPPER_MAX];
	size_t n;

	if (!size || size > sizeof(code))
		return -E2BIG;
	n = code_read(pe, addr, code, size);
	if (n != size)
		return -EIO;
	return x86_walk_function(code, n, addr, w) ? -EINVAL : 0;
}

/* The single direct callee of w that gets args (X86_UNKNOWN: any), every
 * other callee being in the PLT; 0 when there is none or more than one. */
static uint64_t sole_callee(struct place_elf *pe, const struct x86_walk *w, const uint8_t args[4],
			    const uint8_t alt[4])
{
	uint64_t found = 0;
	int i, j, ok;

	if (!w->complete || w->indirect)
		return 0;
	for (i = 0; i < w->ncalls; i++) {
		const struct x86_call *c = &w->calls[i];

		if (in_plt(pe, c->target))
			continue;
		for (j = 0, ok = 1; j < 4 && ok; j++)
			ok = c->args[j] == args[j] || (alt[j] && c->args[j] == alt[j]);
		if (!ok || found)
			return 0;	/* a second way into the library, or other arguments */
		found = c->target;
	}
	return found;
}

/* The internal function both wrappers provably share, or 0 (why in *why). */
static uint64_t shared_callee(struct place_elf *pe, uint64_t plain, uint64_t plain_size,
			      uint64_t ex, uint64_t ex_size, const char **why)
{
	static const uint8_t ex_args[4] = { X86_ARG0, X86_ARG1, X86_ARG2, X86_ARG3 };
	static const uint8_t plain_args[4] = { X86_ARG0, X86_ARG1, X86_ARG2_EXT, X86_STACK };
	static const uint8_t plain_alt[4] = { 0, 0, X86_ARG2, 0 };
	static const uint8_t none[4] = { 0 };
	struct x86_walk wp, we;
	uint64_t tp, te;

	*why = "no _ex variant";
	if (!ex)
		return 0;
	*why = "a wrapper could not be decoded";
	if (walk(pe, plain, plain_size, &wp) || walk(pe, ex, ex_size, &we))
		return 0;
	*why = "no single callee with the same arguments";
	tp = sole_callee(pe, &wp, plain_args, plain_alt);
	te = sole_callee(pe, &we, ex_args, none);
	if (!tp || tp != te)
		return 0;
	return tp;
}

enum place_mode place_mode_env(void)
{
	const char *v = getenv("LLMTAP_PLACEMENT");

	return v && strcmp(v, "exported") == 0 ? PLACE_EXPORTED : PLACE_AUTO;
}

int place_pair(struct place_elf *pe, const char *names, uint64_t plain_addr, uint64_t plain_size,
	       uint64_t ex_addr, uint64_t ex_size, enum place_mode mode, struct placement *out)
{
	const char *why = "forced by LLMTAP_PLACEMENT=exported";
	uint64_t t;
	int err;

	memset(out, 0, sizeof(*out));
	err = place_entry(pe, plain_addr, &out->plain);
	if (err)
		return err;
	if (ex_addr && place_entry(pe, ex_addr, &out->ex))
		ex_addr = 0;
	if (mode == PLACE_AUTO && out->plain.emulated && (!ex_addr || out->ex.emulated)) {
		snprintf(out->desc, sizeof(out->desc), "%s: exported entries (%s, emulated)", names,
			 out->plain.insn);
		return 0;
	}
	if (mode == PLACE_AUTO) {
		t = shared_callee(pe, plain_addr, plain_size, ex_addr, ex_size, &why);
		if (t && !place_entry(pe, t, &out->at)) {
			if (out->at.emulated) {
				out->shared = 1;
				snprintf(out->desc, sizeof(out->desc),
					 "%s: shared internal function at 0x%llx (%s, emulated; "
					 "exported entries begin with %s)", names,
					 (unsigned long long)t, out->at.insn, out->plain.insn);
				return 0;
			}
			why = "the shared function's first instruction is not emulated either";
		}
	}
	snprintf(out->desc, sizeof(out->desc), "%s: exported entries (%s, %s; %s)", names,
		 out->plain.insn, out->plain.emulated ? "emulated" : "single-stepped", why);
	return 0;
}
