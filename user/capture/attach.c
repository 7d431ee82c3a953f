/* attach.c -- finding the files to probe (on the host and in a process) and attaching the TLS and DNS uprobes to them. */
#include "capture/attach.h"

#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/htab.h"
#include "base/procfs.h"
#include "base/util.h"
#include "track/events.h"
#include "capture/placement.h"
#include "privs.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- ELF checks ------------------------------------------------------------ */

/* File offsets of the functions names[0..n) in the ELF file at path, from
 * .dynsym or .symtab (what a uprobe is placed at: the symbol's address
 * made relative to the file through its section). offs[i] is 0 when
 * names[i] is not defined there. Returns how many were found. */
static size_t elf_func_offsets(const char *path, const char *const *names, size_t n,
			       uint64_t *offs)
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
static int elf_defines(const char *path, const char *name)
{
	uint64_t off;

	return elf_func_offsets(path, &name, 1, &off) == 1;
}

/* 1 when the ELF file at path has our own class, byte order and machine:
 * programs that read argument registers and struct layouts need that. */
static int elf_native(const char *path)
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

/* The file name part of path. */
static const char *base_name(const char *path)
{
	const char *base = strrchr(path, '/');

	return base ? base + 1 : path;
}

/* ---- the kinds of files we probe ------------------------------------------ */

/* One uprobe: our program on a function's entry or return. */
struct probe {
	const char *sym;
	const char *prog;	/* program name in its BPF object */
	int ret;		/* 1: on the function's return */
	int optional;		/* absent from some versions: skipped when missing */
};

/* A pair of functions with one job (a plain one and its _ex variant) whose
 * probes capture/placement.c places: at the exported entries, or at an
 * internal function both call (one probe pair for both). The programs of
 * each placement, by enum pair_prog. */
enum pair_prog {
	PP_PLAIN_ENTER, PP_PLAIN_EXIT, PP_EX_ENTER, PP_EX_EXIT, PP_SHARED_ENTER, PP_SHARED_EXIT,
	PP_MAX,
};

struct pair_probe {
	const char *plain, *ex;		/* exported names; ex may be absent from a file */
	const char *progs[PP_MAX];
};

/* OpenSSL's data functions: ssl.bpf.c. */
static const struct pair_probe openssl_pairs[] = {
	{ "SSL_write", "SSL_write_ex", { "ssl_write_enter", "ssl_write_exit", "ssl_write_ex_enter",
					 "ssl_write_ex_exit", "ssl_write_shared_enter",
					 "ssl_write_shared_exit" } },
	{ "SSL_read", "SSL_read_ex", { "ssl_read_enter", "ssl_read_exit", "ssl_read_ex_enter",
				       "ssl_read_ex_exit", "ssl_read_shared_enter",
				       "ssl_read_shared_exit" } },
};

/* OpenSSL's session functions (ssl.bpf.c), on their exported entries:
 * called once or twice per connection, their cost does not matter. */
static const struct probe openssl_probes[] = {
	{ "SSL_free", "ssl_free_enter", 0, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_enter", 0, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_exit", 1, 1 },
	{ "SSL_connect", "ssl_connect_enter", 0, 1 }, { "SSL_connect", "ssl_connect_exit", 1, 1 },
};

/* GnuTLS: the record layer has SSL_write/SSL_read's convention (session,
 * buffer, size; returns the bytes moved), so ssl.bpf.c's programs serve it.
 * gnutls_record_send tail-calls gnutls_record_send2: only the outer one is
 * probed (the chained return fires once per call). gnutls_handshake
 * returns 0 when done, hence its own return program. */
static const struct probe gnutls_probes[] = {
	{ "gnutls_record_send", "ssl_write_enter", 0, 0 },
	{ "gnutls_record_send", "ssl_write_exit", 1, 0 },
	{ "gnutls_record_recv", "ssl_read_enter", 0, 0 },
	{ "gnutls_record_recv", "ssl_read_exit", 1, 0 },
	{ "gnutls_deinit", "ssl_free_enter", 0, 1 },
	{ "gnutls_handshake", "ssl_do_handshake_enter", 0, 1 },
	{ "gnutls_handshake", "gnutls_handshake_exit", 1, 1 },
};

/* glibc's resolver entry point: dns.bpf.c. */
static const struct probe gai_probes[] = {
	{ "getaddrinfo", "gai_enter", 0, 0 }, { "getaddrinfo", "gai_exit", 1, 0 },
};

#define PROBES_MAX 16
#define PAIRS_MAX 4
_Static_assert(ARRAY_SIZE(openssl_pairs) <= PAIRS_MAX, "raise PAIRS_MAX");
_Static_assert(ARRAY_SIZE(openssl_probes) <= PROBES_MAX, "raise PROBES_MAX");
_Static_assert(ARRAY_SIZE(gai_probes) <= PROBES_MAX, "raise PROBES_MAX");
_Static_assert(ARRAY_SIZE(gnutls_probes) <= PROBES_MAX, "raise PROBES_MAX");

/* What a kind's probes report. */
enum role {
	ROLE_TLS,	/* plaintext of TLS connections: counted in attach_tls_files() */
	ROLE_DNS,	/* name lookups */
};

/* A kind of file we probe: where it is found, how it is recognised, which
 * probes it gets. A new TLS stack is a new row here (and its programs). */
struct kind {
	const char *name;			/* in messages */
	enum role role;
	const char *method;			/* how its probes find the functions */
	int (*name_match)(const char *base);	/* could a library of this name be one? */
	/* 1 when the file is one, 0 when not; -1 when it is one that cannot
	 * be hooked, with the reason in why[0..n) (`doctor` shows it). */
	int (*detect)(const char *path, char *why, size_t n);
	/* File offsets of the probes' functions into offs[0..nprobes) (0: not
	 * found). Returns 0, or -1 with the reason in why. NULL: by symbol
	 * (kinds whose method is "symbols"). */
	int (*locate)(const char *path, const struct probe *probes, size_t nprobes,
		      uint64_t *offs, char *why, size_t n);
	const char *const *globs;		/* where the loader finds it (NULL-ended) */
	const char *const *sonames;		/* its usual file names (NULL-ended) */
	const char *const *path_exes;		/* runtimes looked up on PATH (NULL-ended) */
	int exe;				/* a process's executable may be one */
	const struct probe *probes;
	size_t nprobes;
	const struct pair_probe *pairs;		/* placed by capture/placement.c */
	size_t npairs;
};

/* libssl*, or _ssl* (Python's module, linked with OpenSSL statically at times). */
static int openssl_name(const char *base)
{
	return strncmp(base, "libssl", 6) == 0 || strncmp(base, "_ssl", 4) == 0;
}

/* OpenSSL's API is there when SSL_write is. */
static int openssl_detect(const char *path, char *why, size_t n)
{
	(void)why;
	(void)n;
	return elf_defines(path, "SSL_write");
}

/* libgnutls.so.30 (not libgnutls-dane, libgnutlsxx, libgnutls-openssl). */
static int gnutls_name(const char *base)
{
	return strncmp(base, "libgnutls.so", 12) == 0;
}

/* GnuTLS's API is there when gnutls_record_send is. */
static int gnutls_detect(const char *path, char *why, size_t n)
{
	(void)why;
	(void)n;
	return elf_defines(path, "gnutls_record_send");
}

/* glibc's libc: libc.so.6, or libc-2.31.so before glibc 2.34. */
static int libc_name(const char *base)
{
	return strncmp(base, "libc.so", 7) == 0 ||
	       (strncmp(base, "libc-", 5) == 0 && isdigit((unsigned char)base[5]));
}

/* A native libc with getaddrinfo: dns.bpf.c reads x86-64 struct addrinfo. */
static int libc_detect(const char *path, char *why, size_t n)
{
	(void)why;
	(void)n;
	return elf_native(path) && elf_defines(path, "getaddrinfo");
}

static const char *const openssl_globs[] = {
	"/lib/*-linux-gnu/libssl.so*", "/usr/lib/*-linux-gnu/libssl.so*",
	"/lib64/libssl.so*", "/usr/lib64/libssl.so*", "/lib/libssl.so*",
	"/usr/lib/libssl.so*", "/usr/local/lib/libssl.so*",
	"/usr/local/lib64/libssl.so*", "/usr/local/ssl/lib*/libssl.so*", NULL,
};

static const char *const openssl_sonames[] = {
	"libssl.so.3", "libssl.so.1.1", "libssl.so.1.0.0", "libssl.so.10", NULL,
};

/* Node links OpenSSL into its executable. */
static const char *const openssl_exes[] = { "node", "nodejs", NULL };

static const char *const gnutls_globs[] = {
	"/lib/*-linux-gnu/libgnutls.so*", "/usr/lib/*-linux-gnu/libgnutls.so*",
	"/lib64/libgnutls.so*", "/usr/lib64/libgnutls.so*", "/usr/lib/libgnutls.so*",
	"/usr/local/lib/libgnutls.so*", NULL,
};

static const char *const gnutls_sonames[] = { "libgnutls.so.30", NULL };
static const char *const libc_sonames[] = { "libc.so.6", NULL };

static const char *const libc_globs[] = {
	"/lib/*-linux-gnu/libc.so.6", "/usr/lib/*-linux-gnu/libc.so.6",
	"/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6", "/usr/lib/libc.so.6", NULL,
};

static const struct kind kinds[] = {
	{
		.name = "openssl", .role = ROLE_TLS, .method = "symbols",
		.name_match = openssl_name, .detect = openssl_detect,
		.globs = openssl_globs, .sonames = openssl_sonames,
		.path_exes = openssl_exes, .exe = 1,
		.probes = openssl_probes, .nprobes = ARRAY_SIZE(openssl_probes),
		.pairs = openssl_pairs, .npairs = ARRAY_SIZE(openssl_pairs),
	},
	{
		.name = "gnutls", .role = ROLE_TLS, .method = "symbols",
		.name_match = gnutls_name, .detect = gnutls_detect,
		.globs = gnutls_globs, .sonames = gnutls_sonames,
		.probes = gnutls_probes, .nprobes = ARRAY_SIZE(gnutls_probes),
	},
	{
		.name = "libc", .role = ROLE_DNS, .method = "symbols",
		.name_match = libc_name, .detect = libc_detect,
		.globs = libc_globs, .sonames = libc_sonames,
		.probes = gai_probes, .nprobes = ARRAY_SIZE(gai_probes),
	},
};

#define NKINDS ARRAY_SIZE(kinds)

/* The kind a library's file name may be (the first that claims it), or -1. */
static int kind_by_name(const char *path)
{
	const char *base = base_name(path);
	size_t i;

	for (i = 0; i < NKINDS; i++)
		if (kinds[i].name_match(base))
			return i;
	return -1;
}

/* ---- state ----------------------------------------------------------------- */

/* A file looked at for a kind: attached, known not to be one, or one that
 * could not be hooked. Keyed ((dev << 8) | kind, ino). */
struct target {
	struct htab_node node;
	size_t kind;
	dev_t dev;
	ino_t ino;
	enum attach_state state;	/* 0: not one of the kind */
	int probes;
	char path[256];			/* where it was first found */
	char reason[160];		/* why not, or "" */
};

/* What a kind has at run time. */
struct kind_state {
	int on;					/* its programs are loaded */
	int files;				/* files attached */
	struct bpf_program *progs[PROBES_MAX];	/* by probe */
	struct bpf_program *pair_progs[PAIRS_MAX][PP_MAX];
};

/* Where a file's pairs were placed (-v, and for doctor). */
struct placed {
	char *path;
	char *desc;
};

#define ATTACH_RESCANS_MAX 1024

/* A process to look at again after it exec'd. */
struct rescan {
	pid_t pid;
	uint64_t due_ns;
};

struct attach {
	int dry;			/* doctor's scan: nothing is attached */
	ino_t mnt_ns;			/* our mount namespace */
	struct kind_state ks[NKINDS];
	struct rescan rescans[ATTACH_RESCANS_MAX];
	int nrescans;
	struct htab targets;		/* struct target */
	struct target **claimed;	/* files a kind claimed, in the order found */
	size_t nclaimed, cap_claimed;
	struct bpf_link **links;
	size_t nlinks, cap_links;
	struct placed *placed;
	size_t nplaced, cap_placed;
	enum place_mode mode;		/* LLMTAP_PLACEMENT */
	int floor;			/* LLMTAP_PROBE_FLOOR: empty programs (make bench) */
};

/* The mount namespace of /proc/WHO ("self", a pid), 0 when unknown. */
static ino_t mnt_ns_of(const char *who)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/mnt", who);
	return stat(path, &st) ? 0 : st.st_ino;
}

/* Program name in the first of objs[0..n) that has it, else NULL. */
static struct bpf_program *prog_find(struct bpf_object *const *objs, int n, const char *name)
{
	struct bpf_program *p;
	int i;

	for (i = 0; i < n; i++) {
		if (!objs[i])
			continue;
		p = bpf_object__find_program_by_name(objs[i], name);
		if (p)
			return p;
	}
	return NULL;
}

int attach_new(struct attach **out, struct bpf_object *const *objs, int n)
{
	struct attach *a = calloc(1, sizeof(*a));
	size_t k, i;

	const char *floor = getenv("LLMTAP_PROBE_FLOOR");
	size_t j;

	if (!a)
		return -ENOMEM;
	a->mode = place_mode_env();
	a->floor = floor && strcmp(floor, "1") == 0;
	htab_init(&a->targets);
	a->mnt_ns = mnt_ns_of("self");
	for (k = 0; k < NKINDS; k++) {
		a->ks[k].on = 1;
		for (i = 0; i < kinds[k].nprobes; i++) {
			a->ks[k].progs[i] = prog_find(objs, n, kinds[k].probes[i].prog);
			if (!a->ks[k].progs[i])
				a->ks[k].on = 0;
		}
		for (i = 0; i < kinds[k].npairs; i++) {
			for (j = 0; j < PP_MAX; j++) {
				const char *name = kinds[k].pairs[i].progs[j];

				if (a->floor)
					name = j % 2 ? "floor_exit" : "floor_enter";
				a->ks[k].pair_progs[i][j] = prog_find(objs, n, name);
				if (!a->ks[k].pair_progs[i][j])
					a->ks[k].on = 0;
			}
		}
		if (!a->ks[k].on)
			log_debug("%s: programs not loaded, not probed", kinds[k].name);
	}
	*out = a;
	return 0;
}

/* The htab key of file (dev, ino) for kind k. */
static uint64_t target_k1(dev_t dev, size_t k)
{
	return ((uint64_t)dev << 8) | k;
}

int attach_new_dry(struct attach **out)
{
	int err = attach_new(out, NULL, 0);

	if (!err)
		(*out)->dry = 1;
	return err;
}

/* Whether file st was looked at for kind k already; else it is recorded
 * now (in *out). Returns 1 when new, 0 when seen, -ENOMEM. */
static int target_add(struct attach *a, const struct stat *st, size_t k, struct target **out)
{
	struct target *t;

	if (htab_find(&a->targets, target_k1(st->st_dev, k), st->st_ino))
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->kind = k;
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	if (htab_add(&a->targets, &t->node, target_k1(st->st_dev, k), st->st_ino)) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 1;
}

/* Set t's outcome (kind k claimed the file, seen at path) and list it. */
static void target_claim(struct attach *a, struct target *t, const char *path,
			 enum attach_state state, const char *reason, int probes)
{
	int listed = t->state != 0;

	t->state = state;
	t->probes = probes;
	snprintf(t->path, sizeof(t->path), "%s", path);
	snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "");
	if (listed)
		return;
	if (a->nclaimed == a->cap_claimed) {
		size_t cap = a->cap_claimed ? 2 * a->cap_claimed : 32;
		struct target **p = realloc(a->claimed, cap * sizeof(*p));

		if (!p)
			return;		/* attached all the same; doctor will not list it */
		a->claimed = p;
		a->cap_claimed = cap;
	}
	a->claimed[a->nclaimed++] = t;
}

/* Keep link. Returns 0 or -ENOMEM (link not kept). */
static int link_add(struct attach *a, struct bpf_link *link)
{
	if (a->nlinks == a->cap_links) {
		size_t cap = a->cap_links ? 2 * a->cap_links : 64;
		struct bpf_link **p = realloc(a->links, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		a->links = p;
		a->cap_links = cap;
	}
	a->links[a->nlinks++] = link;
	return 0;
}

/* Attach program p at file offset off of path (return probe when ret).
 * Returns 0, or a negative errno (link not made). */
static int link_at(struct attach *a, struct bpf_program *p, const char *path, uint64_t off, int ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret);
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_uprobe_opts(p, -1, path, off, &uo);
	if (!link)
		return -errno;
	err = link_add(a, link);
	if (err)
		bpf_link__destroy(link);
	return err;
}

/* Remember where path's pairs went (desc: the placements, "; "-joined). */
static void placed_add(struct attach *a, const char *path, const char *desc)
{
	struct placed *p;

	if (a->nplaced == a->cap_placed) {
		size_t cap = a->cap_placed ? 2 * a->cap_placed : 8;

		p = realloc(a->placed, cap * sizeof(*p));
		if (!p)
			return;
		a->placed = p;
		a->cap_placed = cap;
	}
	p = &a->placed[a->nplaced];
	p->path = strdup(path);
	p->desc = strdup(desc);
	if (!p->path || !p->desc) {
		free(p->path);
		free(p->desc);
		return;
	}
	a->nplaced++;
}

/* Attach kind k's placed pairs to the file opened at path, shown (in
 * messages and placements) as shown. Returns 0, or a negative errno
 * (message printed; links made so far stay for the caller to undo). */
static int pairs_attach(struct attach *a, size_t k, const char *path, const char *shown)
{
	const struct kind *kd = &kinds[k];
	char all[512] = "";
	struct place_elf *pe;
	struct placement pl;
	uint64_t pa, ps, ea, es;
	size_t i, used = 0;
	int err;

	if (!kd->npairs)
		return 0;
	err = place_open(&pe, path);
	if (err) {
		log_warn("%s: cannot read %s: %s", kd->name, shown, strerror(-err));
		return err;
	}
	for (i = 0; i < kd->npairs; i++) {
		const struct pair_probe *pp = &kd->pairs[i];
		struct bpf_program *const *pg = a->ks[k].pair_progs[i];

		err = place_sym(pe, pp->plain, &pa, &ps);
		if (err) {
			log_warn("%s: %s not found in %s", kd->name, pp->plain, shown);
			goto out_close;
		}
		if (!pp->ex || place_sym(pe, pp->ex, &ea, &es))
			ea = es = 0;
		err = place_pair(pe, pp->plain, pa, ps, ea, es, a->mode, &pl);
		if (err)
			goto out_close;
		if (pl.shared) {
			err = link_at(a, pg[PP_SHARED_ENTER], path, pl.at.off, 0);
			if (!err)
				err = link_at(a, pg[PP_SHARED_EXIT], path, pl.at.off, 1);
		} else {
			err = link_at(a, pg[PP_PLAIN_ENTER], path, pl.plain.off, 0);
			if (!err)
				err = link_at(a, pg[PP_PLAIN_EXIT], path, pl.plain.off, 1);
			if (!err && ea)
				err = link_at(a, pg[PP_EX_ENTER], path, pl.ex.off, 0);
			if (!err && ea)
				err = link_at(a, pg[PP_EX_EXIT], path, pl.ex.off, 1);
		}
		if (err) {
			log_warn("uprobe: failed to attach %s in %s: %s", pp->plain, shown,
				 strerror(-err));
			goto out_close;
		}
		log_debug("%s: %s: %s%s", kd->name, shown, pl.desc, a->floor ? " [empty programs]" : "");
		used += (size_t)snprintf(all + used, sizeof(all) - used, "%s%s", used ? "; " : "",
					 pl.desc);
		if (used >= sizeof(all))
			used = sizeof(all) - 1;
	}
	placed_add(a, shown, all);
out_close:
	place_close(pe);
	return err;
}

/* The probes' functions by symbol: offs[i] for probes[i] (0 when absent). */
static int locate_by_symbol(const char *path, const struct probe *probes, size_t nprobes,
			    uint64_t *offs, char *why, size_t n)
{
	const char *names[PROBES_MAX];
	size_t i;

	(void)why;
	(void)n;
	for (i = 0; i < nprobes; i++)
		names[i] = probes[i].sym;
	/* A function probed at entry and return is looked up twice: cheap. */
	elf_func_offsets(path, names, nprobes, offs);
	return 0;
}

/* Attach kind k's probes to the file opened at path, shown (in records and
 * messages) as shown. See file_attach(). */
static int file_attach_as(struct attach *a, size_t k, const char *path, const char *shown)
{
	const struct kind *kd = &kinds[k];
	size_t i, first = a->nlinks;
	char why[160] = "", fdpath[64];
	uint64_t offs[PROBES_MAX], t0 = mono_ns();
	struct target *t = NULL;
	struct stat st;
	int fd, err;

	if (!a->ks[k].on && !a->dry)
		return 0;
	/* Held open while attaching: the file is reached through our own fd,
	 * so a process that exits meanwhile (its /proc/PID/root gone) or a
	 * library deleted from disk makes no difference. */
	privs_attach_begin();	/* /proc/PID/map_files wants CAP_SYS_ADMIN too */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	privs_attach_end();
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = 0;
		goto out_close;
	}
	err = target_add(a, &st, k, &t);
	if (err <= 0)
		goto out_close;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	err = kd->detect(fdpath, why, sizeof(why));
	if (!err)
		goto out_close;
	if (err > 0)
		err = (kd->locate ? kd->locate : locate_by_symbol)(fdpath, kd->probes, kd->nprobes,
								   offs, why, sizeof(why));
	if (err < 0) {
		target_claim(a, t, shown, ATTACH_UNCOVERED, why[0] ? why : "not hookable", 0);
		log_debug("%s: %s not hooked: %s", kd->name, shown, t->reason);
		err = 0;
		goto out_close;
	}
	if (a->dry) {
		/* `doctor` without a tracer: what `run` would do. */
		target_claim(a, t, shown, ATTACH_ATTACHED, "would be attached by llmtap run", 0);
		err = 1;
		goto out_close;
	}
	privs_attach_begin();	/* the kernel wants CAP_SYS_ADMIN to create a uprobe */
	for (i = 0; i < kd->nprobes; i++) {
		const struct probe *p = &kd->probes[i];
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = p->ret);
		struct bpf_link *link = NULL;

		errno = ENOENT;
		if (offs[i])
			link = bpf_program__attach_uprobe_opts(a->ks[k].progs[i], -1, fdpath,
								offs[i], &uo);
		if (!link) {
			err = -errno;
			if (p->optional)
				continue;
			log_warn("uprobe: failed to attach %s%s in %s: %s", p->sym,
				 p->ret ? " (return)" : "", shown, strerror(-err));
			events_notice(SEV_WARNING, "capture.hook_failed", PROC_NULL,
				      json_pack("{s:s, s:s, s:s, s:s}", "kind", kd->name, "file", shown,
						"symbol", p->sym, "error", strerror(-err)));
			snprintf(why, sizeof(why), "uprobe on %s failed: %s", p->sym, strerror(-err));
			target_claim(a, t, shown, ATTACH_FAILED, why, 0);
			goto out_detach;
		}
		err = link_add(a, link);
		if (err) {
			bpf_link__destroy(link);
			goto out_detach;
		}
	}
	err = pairs_attach(a, k, fdpath, shown);
	if (err) {
		snprintf(why, sizeof(why), "placing its probes failed: %s", strerror(-err));
		target_claim(a, t, shown, ATTACH_FAILED, why, 0);
		goto out_detach;
	}
	privs_attach_end();
	a->ks[k].files++;
	target_claim(a, t, shown, ATTACH_ATTACHED, NULL, (int)(a->nlinks - first));
	log_debug("%s: attached to %s (%zu probes in %.1f ms)", kd->name, shown, a->nlinks - first,
		  (mono_ns() - t0) / 1e6);
	err = 1;
	goto out_close;

out_detach:
	privs_attach_end();
	while (a->nlinks > first)
		bpf_link__destroy(a->links[--a->nlinks]);
out_close:
	close(fd);
	return err;
}

/* Attach kind k's probes to the file at path, unless it was looked at for
 * k already (same inode) or is not one. A file that fails is not tried
 * again. Returns 1 when attached now, 0 when not needed, or a negative
 * errno (message printed, none of its probes left attached). */
static int file_attach(struct attach *a, size_t k, const char *path)
{
	return file_attach_as(a, k, path, path);
}

/* ---- discovery ------------------------------------------------------------- */

/* Every library of a known kind that the loader's cache lists (`ldconfig
 * -p`: the ld.so.conf.d directories too). */
static void ldconfig_scan(struct attach *a)
{
	char line[4352], *p;
	FILE *f;
	int k;

	f = popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* "\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3" */
		p = strstr(line, "=> ");
		if (!p)
			continue;
		p += 3;
		p[strcspn(p, "\n")] = 0;
		k = kind_by_name(p);
		if (k >= 0)
			file_attach(a, k, p);
	}
	pclose(f);
}

/* Every runtime of a known kind on PATH (the default PATH when unset). */
static void path_scan(struct attach *a)
{
	char path[4096], real[4096], *dirs, *dir, *save = NULL;
	const char *env_path = getenv("PATH");
	size_t k, i;

	dirs = strdup(env_path && *env_path ? env_path : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return;
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		for (k = 0; k < NKINDS; k++) {
			for (i = 0; kinds[k].path_exes && kinds[k].path_exes[i]; i++) {
				snprintf(path, sizeof(path), "%s/%s", dir, kinds[k].path_exes[i]);
				if (realpath(path, real))
					file_attach(a, k, real);
			}
		}
	}
	free(dirs);
}

/* The TLS library files listed in LLMTAP_TLS_FILES (a file already
 * attached, or not one of a known kind, gets a warning). */
static void extra_scan(struct attach *a)
{
	const char *env = getenv("LLMTAP_TLS_FILES");
	char *list, *path, *save = NULL;

	if (!env || !*env)
		return;
	list = strdup(env);
	if (!list)
		return;
	for (path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
		size_t k;
		int done = 0;

		for (k = 0; k < NKINDS && done <= 0; k++)
			if (kinds[k].role == ROLE_TLS)
				done = file_attach(a, k, path);
		if (done <= 0)
			log_warn("LLMTAP_TLS_FILES: %s not attached (no TLS library in it, or not a file)", path);
	}
	free(list);
}

int attach_pid(struct attach *a, pid_t pid)
{
	char path[4400], exe[4096], line[4608], range[64];
	size_t k;
	FILE *f;
	int n = 0, i;

	/* The executable: /proc/PID/exe opens the very file it runs, in its
	 * own mount namespace (containers), even once deleted or replaced. */
	procfs_exe(pid, exe, sizeof(exe));
	if (exe[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		for (k = 0; k < NKINDS; k++)
			if (kinds[k].exe)
				n += file_attach_as(a, k, path, exe) > 0;
	}
	/* The libraries it maps: "addr perms offset dev inode /path", each
	 * opened through /proc/PID/map_files: the mapped file itself, also
	 * one replaced on disk since ("/path (deleted)") or bind-mounted in
	 * the process's mount namespace only. */
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p || sscanf(line, "%63s", range) != 1)
			continue;
		p[strcspn(p, "\n")] = 0;
		i = kind_by_name(p);
		if (i < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/map_files/%s", pid, range);
		n += file_attach_as(a, i, path, p) > 0;
	}
	fclose(f);
	return n;
}

int attach_host(struct attach *a)
{
	struct dirent *de;
	size_t k, i, j;
	glob_t g;
	DIR *d;

	/* Libraries on the loader paths: processes that start later use them. */
	for (k = 0; k < NKINDS; k++) {
		for (i = 0; kinds[k].globs && kinds[k].globs[i]; i++) {
			if (glob(kinds[k].globs[i], 0, NULL, &g))
				continue;
			for (j = 0; j < g.gl_pathc; j++)
				file_attach(a, k, g.gl_pathv[j]);
			globfree(&g);
		}
	}
	/* And wherever the loader's cache says one lives. */
	ldconfig_scan(a);
	/* Runtimes that carry a TLS library in their executable. */
	path_scan(a);
	/* Files named in LLMTAP_TLS_FILES (colon-separated), whatever their
	 * names: `make bench` probes its private copy of libssl this way. */
	extra_scan(a);
	/* Whatever running processes execute or have mapped. */
	d = opendir("/proc");
	if (d) {
		while ((de = readdir(d))) {
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			attach_pid(a, atoi(de->d_name));
		}
		closedir(d);
	}
	for (k = 0; k < NKINDS; k++)
		if (a->ks[k].on)
			log_debug("%s: probes on %d file(s)", kinds[k].name, a->ks[k].files);
	return attach_tls_files(a);
}

int attach_tls_files(const struct attach *a)
{
	size_t k;
	int n = 0;

	for (k = 0; k < NKINDS; k++)
		if (kinds[k].role == ROLE_TLS)
			n += a->ks[k].files;
	return n;
}

size_t attach_links(const struct attach *a)
{
	return a ? a->nlinks : 0;
}

void attach_placements(const struct attach *a, attach_placed_fn fn, void *ctx)
{
	size_t i;

	for (i = 0; a && i < a->nplaced; i++)
		fn(ctx, a->placed[i].path, a->placed[i].desc);
}

void attach_free(struct attach *a)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	if (!a)
		return;
	while (a->nlinks)
		bpf_link__destroy(a->links[--a->nlinks]);
	free(a->links);
	while (a->nplaced) {
		a->nplaced--;
		free(a->placed[a->nplaced].path);
		free(a->placed[a->nplaced].desc);
	}
	free(a->placed);
	while ((n = htab_next(&a->targets, &it))) {
		htab_del(&a->targets, n);
		free(htab_entry(n, struct target, node));
	}
	htab_fini(&a->targets);
	free(a->claimed);
	free(a);
}

/* ---- what was done, for doctor ------------------------------------------------ */

/* Hand target t to fn as a record. */
static void record_give(const struct target *t, attach_record_fn fn, void *ctx)
{
	struct attach_record r = {
		.path = t->path, .dev = t->dev, .ino = t->ino, .kind = kinds[t->kind].name,
		.method = kinds[t->kind].method, .version = "", .state = t->state,
		.reason = t->reason[0] ? t->reason : NULL, .probes = t->probes,
	};

	fn(ctx, &r);
}

void attach_records(const struct attach *a, attach_record_fn fn, void *ctx)
{
	size_t i;

	for (i = 0; i < a->nclaimed; i++)
		record_give(a->claimed[i], fn, ctx);
}

/* Hand fn the records of the file opened at path (a process's view of
 * it), each kind's. Returns how many. */
static int records_of(const struct attach *a, const char *path, attach_record_fn fn, void *ctx)
{
	struct htab_node *n;
	struct stat st;
	size_t k;
	int found = 0;

	privs_attach_begin();	/* /proc/PID/map_files wants CAP_SYS_ADMIN */
	found = stat(path, &st);
	privs_attach_end();
	if (found)
		return 0;
	for (k = 0; k < NKINDS; k++) {
		n = htab_find(&a->targets, target_k1(st.st_dev, k), st.st_ino);
		if (n && htab_entry(n, struct target, node)->state) {
			record_give(htab_entry(n, struct target, node), fn, ctx);
			found++;
		}
	}
	return found;
}

int attach_records_pid(const struct attach *a, pid_t pid, attach_record_fn fn, void *ctx)
{
	char path[4400], line[4608], range[64], last[4096] = "", exe[4096];
	FILE *f;
	int n;

	/* the files themselves, as attach_pid() reaches them */
	procfs_exe(pid, exe, sizeof(exe));
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = records_of(a, path, fn, ctx);
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p || sscanf(line, "%63s", range) != 1)
			continue;
		p[strcspn(p, "\n")] = 0;
		/* the segments of one file follow each other; the executable is done */
		if (!strcmp(p, last) || !strcmp(p, exe))
			continue;
		snprintf(last, sizeof(last), "%s", p);
		snprintf(path, sizeof(path), "/proc/%d/map_files/%s", pid, range);
		n += records_of(a, path, fn, ctx);
	}
	fclose(f);
	return n;
}

/* ---- new processes ------------------------------------------------------------ */

#if defined(__x86_64__)
#define LIB_TRIPLET "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define LIB_TRIPLET "aarch64-linux-gnu"
#else
#define LIB_TRIPLET "unknown-linux-gnu"
#endif

/* Where loaders look for libraries (Debian-like and others, musl's too). */
static const char *const lib_dirs[] = {
	"/lib/" LIB_TRIPLET, "/usr/lib/" LIB_TRIPLET, "/lib64", "/usr/lib64", "/lib",
	"/usr/lib", "/usr/local/lib", NULL,
};

/* A process in a mount namespace other than ours (a container, `unshare
 * -m`) just exec'd: its libraries may be files the host has not got (an
 * image's, a bind mount). Attach to the usual names in the usual places
 * under its root before its loader maps them, so that even a process that
 * makes its call at once is covered. About 40 stat()s, and only for these
 * processes. Returns files newly attached. */
static int ns_scan(struct attach *a, pid_t pid)
{
	char path[512], root[64];
	size_t k, d, i;
	int n = 0;

	snprintf(root, sizeof(root), "%d", pid);
	if (!a->mnt_ns || mnt_ns_of(root) == a->mnt_ns)
		return 0;
	for (k = 0; k < NKINDS; k++) {
		for (i = 0; kinds[k].sonames && kinds[k].sonames[i]; i++) {
			for (d = 0; lib_dirs[d]; d++) {
				snprintf(path, sizeof(path), "/proc/%d/root%s/%s", pid, lib_dirs[d],
					 kinds[k].sonames[i]);
				n += file_attach(a, k, path) > 0;
			}
		}
	}
	return n;
}

void attach_exec(struct attach *a, pid_t pid, const char *comm, const char *file)
{
	static const uint64_t again_ns[] = { 20000000ull, 200000000ull, 2000000000ull };
	uint64_t now = mono_ns();
	int n = ns_scan(a, pid) + attach_pid(a, pid);
	size_t i;

	if (n > 0)
		log_warn("attached to %d new file(s) for pid %d (%s, %s)", n, pid, comm, file);
	for (i = 0; i < ARRAY_SIZE(again_ns) && a->nrescans < ATTACH_RESCANS_MAX; i++) {
		a->rescans[a->nrescans].pid = pid;
		a->rescans[a->nrescans].due_ns = now + again_ns[i];
		a->nrescans++;
	}
}

void attach_rescans_run(struct attach *a)
{
	uint64_t now = mono_ns();
	int i, j;

	for (i = 0, j = 0; i < a->nrescans; i++) {
		if (a->rescans[i].due_ns > now) {
			a->rescans[j++] = a->rescans[i];
			continue;
		}
		if (attach_pid(a, a->rescans[i].pid) > 0)
			log_warn("attached to new file(s) mapped by pid %d", a->rescans[i].pid);
	}
	a->nrescans = j;
}
