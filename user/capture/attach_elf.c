/* attach_elf.c -- the ELF lookups of the kinds found by symbol: where a function is in the file, whether it is defined, whether the file is of our machine. */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

#include "capture/attach_int.h"

/* File offsets of the functions names[0..n) in the ELF file at path, from
 * .dynsym or .symtab (what a uprobe is placed at: the symbol's address
 * made relative to the file through its section). offs[i] is 0 when
 * names[i] is not defined there. Returns how many were found. */
size_t elf_func_offsets(const char *path, const char *const *names, size_t n, uint64_t *offs)
{
	Elf_Scn *scn = NULL, *in;
	GElf_Shdr sh, ish;
	GElf_Sym sym;
	Elf_Data *data;
	size_t i, j, nsym, found = 0;
	Elf *e;
	int fd;

	memset(offs, 0, n * sizeof(*offs));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	/* read, not mapped: a file truncated while we look (a build rewriting it)
	 * must give an error here, not SIGBUS the tracer */
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		goto out_close;
	while (found < n && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		nsym = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < nsym && found < n; i++) {
			const char *s;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    sym.st_shndx >= SHN_LORESERVE || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			s = elf_strptr(e, sh.sh_link, sym.st_name);
			if (!s)
				continue;
			for (j = 0; j < n; j++) {
				if (offs[j] || strcmp(s, names[j]))
					continue;
				in = elf_getscn(e, sym.st_shndx);
				if (!in || !gelf_getshdr(in, &ish) || sym.st_value < ish.sh_addr)
					break;
				offs[j] = sym.st_value - ish.sh_addr + ish.sh_offset;
				found += offs[j] != 0;
			}
		}
	}
	elf_end(e);
out_close:
	close(fd);
	return found;
}

/* 1 when the ELF file at path defines function name (.dynsym or .symtab). */
int elf_defines(const char *path, const char *name)
{
	uint64_t off;

	return elf_func_offsets(path, &name, 1, &off) == 1;
}

/* 1 when the ELF file at path has our own class, byte order and machine:
 * programs that read argument registers and struct layouts need that. */
int elf_native(const char *path)
{
	unsigned char a[20], b[20];
	int fd, ok = 0;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ok = read(fd, b, sizeof(b)) == (ssize_t)sizeof(b);
	close(fd);
	if (!ok)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* e_machine is the 2 bytes at offset 18 */
	ok = read(fd, a, sizeof(a)) == (ssize_t)sizeof(a) && !memcmp(a, ELFMAG, SELFMAG) &&
	     a[EI_CLASS] == b[EI_CLASS] && a[EI_DATA] == b[EI_DATA] && !memcmp(a + 18, b + 18, 2);
	close(fd);
	return ok;
}

