/* attach.c -- finding the files to probe (on the host and in a process) and attaching the TLS and DNS uprobes to them. */
#include "capture/attach.h"

#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/procfs.h"
#include "base/util.h"
#include "capture/attach_int.h"
#include "capture/elfimg.h"
#include "capture/scan.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- ELF checks ------------------------------------------------------------ */

/* 1 when the file at path is an x86-64 ELF file (what our programs read
 * registers and structs for) that defines function name. */
static int elf_defines(const char *path, const char *name)
{
	struct elfimg im;
	int found;

	if (elfimg_open(&im, path))
		return 0;
	found = elfimg_defines(&im, name);
	elfimg_close(&im);
	return found;
}

/* The file name part of path. */
static const char *base_name(const char *path)
{
	const char *base = strrchr(path, '/');

	return base ? base + 1 : path;
}

/* ---- the kinds of files we probe ------------------------------------------ */

/* Where a probe goes on its function. */
enum probe_at {
	PROBE_ENTRY = 0,
	PROBE_RETURN,	/* a uretprobe */
	PROBE_RETS,	/* a uprobe on each RET instruction (Go: no uretprobes) */
};

/* One uprobe: our program on a function's entry or return. */
struct probe {
	const char *sym;	/* its symbol, or its role in the scan (scanned kinds) */
	const char *prog;	/* program name in its BPF object */
	enum probe_at at;
	int optional;		/* absent from some versions: skipped when missing */
};

/* OpenSSL (and its forks that keep its API): ssl.bpf.c. */
static const struct probe openssl_probes[] = {
	{ "SSL_write", "ssl_write_enter", PROBE_ENTRY, 0 }, { "SSL_write", "ssl_write_exit", PROBE_RETURN, 0 },
	{ "SSL_read", "ssl_read_enter", PROBE_ENTRY, 0 }, { "SSL_read", "ssl_read_exit", PROBE_RETURN, 0 },
	{ "SSL_write_ex", "ssl_write_ex_enter", PROBE_ENTRY, 1 },
	{ "SSL_write_ex", "ssl_write_ex_exit", PROBE_RETURN, 1 },
	{ "SSL_read_ex", "ssl_read_ex_enter", PROBE_ENTRY, 1 },
	{ "SSL_read_ex", "ssl_read_ex_exit", PROBE_RETURN, 1 },
	{ "SSL_free", "ssl_free_enter", PROBE_ENTRY, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_enter", PROBE_ENTRY, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_exit", PROBE_RETURN, 1 },
	{ "SSL_connect", "ssl_connect_enter", PROBE_ENTRY, 1 },
	{ "SSL_connect", "ssl_connect_exit", PROBE_RETURN, 1 },
};

/* BoringSSL found by signatures (capture/sig_boringssl.c): its SSL_read and
 * SSL_write are OpenSSL's; "SSL_free" is SSL_free or the ssl_st destructor.
 * SSL_read and SSL_write call SSL_do_handshake every time: only its entry is
 * probed (the handshake's start; its end is the first SSL_write, as for
 * node), a return probe there would double the cost of every call. */
static const struct probe boringssl_probes[] = {
	{ "SSL_write", "ssl_write_enter", PROBE_ENTRY, 0 }, { "SSL_write", "ssl_write_exit", PROBE_RETURN, 0 },
	{ "SSL_read", "ssl_read_enter", PROBE_ENTRY, 0 }, { "SSL_read", "ssl_read_exit", PROBE_RETURN, 0 },
	{ "SSL_do_handshake", "ssl_do_handshake_enter", PROBE_ENTRY, 1 },
	{ "SSL_free", "ssl_free_enter", PROBE_ENTRY, 1 },
};

/* Static OpenSSL 3 (capture/sig_openssl.c): the internal functions every
 * read and write goes through have SSL_read_ex's shape; from 3.3 the write
 * takes its `written` pointer fifth. */
static const struct probe openssl_static_probes[] = {
	{ "ssl_read_internal", "ssl_read_ex_enter", PROBE_ENTRY, 0 },
	{ "ssl_read_internal", "ssl_read_ex_exit", PROBE_RETURN, 0 },
	{ "ssl_write_internal", "ssl_write_ex_enter", PROBE_ENTRY, 1 },
	{ "ssl_write_internal", "ssl_write_ex_exit", PROBE_RETURN, 1 },
	{ "ssl_write_internal_flags", "ssl_write_internal_flags_enter", PROBE_ENTRY, 1 },
	{ "ssl_write_internal_flags", "ssl_write_ex_exit", PROBE_RETURN, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_enter", PROBE_ENTRY, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_exit", PROBE_RETURN, 1 },
	{ "SSL_new", "ssl_new_exit", PROBE_RETURN, 1 },
};

/* Go crypto/tls from .gopclntab (capture/gopclntab.c): go_tls.bpf.c. The
 * handshake's start only: its end is the first Write (as for node), which
 * spares a uprobe on each of its RETs (a dozen) in every Go executable. */
static const struct probe go_probes[] = {
	{ "Conn.Write", "go_write_enter", PROBE_ENTRY, 0 }, { "Conn.Write", "go_write_ret", PROBE_RETS, 0 },
	{ "Conn.Read", "go_read_enter", PROBE_ENTRY, 0 }, { "Conn.Read", "go_read_ret", PROBE_RETS, 0 },
	{ "Conn.Close", "go_close_enter", PROBE_ENTRY, 1 },
	{ "Conn.clientHandshake", "go_hs_enter", PROBE_ENTRY, 1 },
};

/* glibc's resolver entry point: dns.bpf.c. */
static const struct probe gai_probes[] = {
	{ "getaddrinfo", "gai_enter", PROBE_ENTRY, 0 }, { "getaddrinfo", "gai_exit", PROBE_RETURN, 0 },
};

#define PROBES_MAX 16
_Static_assert(ARRAY_SIZE(openssl_probes) <= PROBES_MAX, "raise PROBES_MAX");
_Static_assert(ARRAY_SIZE(gai_probes) <= PROBES_MAX, "raise PROBES_MAX");

/* What a kind's probes report. */
enum role {
	ROLE_TLS,	/* plaintext of TLS connections: counted in attach_tls_files() */
	ROLE_DNS,	/* name lookups */
};

/* A kind of file we probe: where it is found, how it is recognised, which
 * probes it gets. A new TLS stack is a new row here (and its programs). */
struct kind {
	const char *name;			/* in messages and records */
	enum role role;
	int (*name_match)(const char *base);	/* could a library of this name be one? */
	int (*detect)(const char *path);	/* 1 when the file is one (symbol kinds) */
	int scan;				/* else: its stack in capture/scan.c, + 1 */
	const char *const *globs;		/* where the loader finds it (NULL-ended) */
	const char *const *path_exes;		/* runtimes looked up on PATH (NULL-ended) */
	int exe;				/* a process's executable may be one */
	const struct probe *probes;
	size_t nprobes;
};

/* libssl*, or _ssl* (Python's module, linked with OpenSSL statically at times). */
static int openssl_name(const char *base)
{
	return strncmp(base, "libssl", 6) == 0 || strncmp(base, "_ssl", 4) == 0;
}

/* OpenSSL's API is there when SSL_write is. */
static int openssl_detect(const char *path)
{
	return elf_defines(path, "SSL_write");
}

/* glibc's libc: libc.so.6, or libc-2.31.so before glibc 2.34. */
static int libc_name(const char *base)
{
	return strncmp(base, "libc.so", 7) == 0 ||
	       (strncmp(base, "libc-", 5) == 0 && isdigit((unsigned char)base[5]));
}

/* A native libc with getaddrinfo: dns.bpf.c reads x86-64 struct addrinfo. */
static int libc_detect(const char *path)
{
	return elf_defines(path, "getaddrinfo");
}

static const char *const openssl_globs[] = {
	"/lib/*-linux-gnu/libssl.so*", "/usr/lib/*-linux-gnu/libssl.so*",
	"/lib64/libssl.so*", "/usr/lib64/libssl.so*", "/lib/libssl.so*",
	"/usr/lib/libssl.so*", "/usr/local/lib/libssl.so*",
	"/usr/local/lib64/libssl.so*", "/usr/local/ssl/lib*/libssl.so*", NULL,
};

/* Node links OpenSSL into its executable. */
static const char *const openssl_exes[] = { "node", "nodejs", NULL };
/* Agents that carry their TLS stack inside: looked at before they run. */
static const char *const bun_exes[] = { "bun", "claude", NULL };
static const char *const codex_exes[] = { "codex", NULL };

static const char *const libc_globs[] = {
	"/lib/*-linux-gnu/libc.so.6", "/usr/lib/*-linux-gnu/libc.so.6",
	"/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6", "/usr/lib/libc.so.6", NULL,
};

static const struct kind kinds[] = {
	{
		.name = "openssl", .role = ROLE_TLS,
		.name_match = openssl_name, .detect = openssl_detect,
		.globs = openssl_globs, .path_exes = openssl_exes, .exe = 1,
		.probes = openssl_probes, .nprobes = ARRAY_SIZE(openssl_probes),
	},
	{
		.name = "boringssl", .role = ROLE_TLS, .scan = SCAN_BORINGSSL + 1,
		.path_exes = bun_exes, .exe = 1,
		.probes = boringssl_probes, .nprobes = ARRAY_SIZE(boringssl_probes),
	},
	{
		.name = "openssl-static", .role = ROLE_TLS, .scan = SCAN_OPENSSL + 1,
		.path_exes = codex_exes, .exe = 1,
		.probes = openssl_static_probes, .nprobes = ARRAY_SIZE(openssl_static_probes),
	},
	{
		.name = "go", .role = ROLE_TLS, .scan = SCAN_GO + 1, .exe = 1,
		.probes = go_probes, .nprobes = ARRAY_SIZE(go_probes),
	},
	{
		/* reported, never probed: see capture/scan.c */
		.name = "rustls", .role = ROLE_TLS, .scan = SCAN_RUSTLS + 1,
		.path_exes = codex_exes, .exe = 1,
	},
	{
		.name = "libc", .role = ROLE_DNS,
		.name_match = libc_name, .detect = libc_detect,
		.globs = libc_globs,
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
		if (kinds[i].name_match && kinds[i].name_match(base))
			return i;
	return -1;
}

_Static_assert(NKINDS == ATTACH_KINDS, "set ATTACH_KINDS in capture/attach_int.h");

const char *attach_kind_name(size_t k)
{
	return kinds[k].name;
}

const char *attach_kind_method(size_t k)
{
	return !kinds[k].scan ? "symbols" : kinds[k].scan - 1 == SCAN_GO ? "symbols (.gopclntab)" : "signatures";
}

int attach_kind_exe(size_t k)
{
	return kinds[k].exe;
}

int attach_kind_scanned(size_t k)
{
	return kinds[k].scan && kinds[k].exe;
}

/* ---- state: capture/attach_int.h ------------------------------------------------ */

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
	int err;

	if (!a)
		return -ENOMEM;
	err = scan_queue_new(&a->scans);
	if (err) {
		free(a);
		return err;
	}
	for (k = 0; k < NKINDS; k++) {
		a->ks[k].on = 1;
		for (i = 0; i < kinds[k].nprobes; i++) {
			a->ks[k].progs[i] = prog_find(objs, n, kinds[k].probes[i].prog);
			if (!a->ks[k].progs[i])
				a->ks[k].on = 0;
		}
		if (!a->ks[k].on)
			log_debug("%s: programs not loaded, not probed", kinds[k].name);
	}
	*out = a;
	return 0;
}

/* The record of file st for kind k, or NULL. */
static struct target *target_find(struct attach *a, const struct stat *st, size_t k)
{
	size_t i;

	for (i = 0; i < a->ntargets; i++)
		if (a->targets[i].dev == st->st_dev && a->targets[i].ino == st->st_ino &&
		    a->targets[i].kind == k)
			return &a->targets[i];
	return NULL;
}

/* Record file st (at path) as looked at for kind k, state 0 for now.
 * Returns the record, or NULL when out of memory. */
static struct target *target_add(struct attach *a, const struct stat *st, size_t k, const char *path)
{
	struct target *t;

	if (a->ntargets == a->cap_targets) {
		size_t cap = a->cap_targets ? 2 * a->cap_targets : 32;

		t = realloc(a->targets, cap * sizeof(*t));
		if (!t)
			return NULL;
		a->targets = t;
		a->cap_targets = cap;
	}
	t = &a->targets[a->ntargets++];
	memset(t, 0, sizeof(*t));
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->kind = k;
	t->path = strdup(path);
	return t;
}

/* Set t's outcome. */
static void target_set(struct target *t, enum attach_state state, const char *reason,
		       const char *version)
{
	t->state = state;
	free(t->reason);
	t->reason = reason && *reason ? strdup(reason) : NULL;
	if (version)
		snprintf(t->version, sizeof(t->version), "%s", version);
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

/* Attach prog at file offset off of path (a return probe with ret), by
 * symbol sym when off is 0. Returns 0 or a negative errno. */
static int probe_one(struct attach *a, struct bpf_program *prog, const char *path, const char *sym,
		     uint64_t off, int ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = off ? NULL : sym, .retprobe = ret);
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_uprobe_opts(prog, -1, path, off, &uo);
	if (!link)
		return -errno;
	err = link_add(a, link);
	if (err)
		bpf_link__destroy(link);
	return err;
}

/* Attach the probes of kind k to path: at the symbols, or with lib (a
 * scanned kind) at the offsets the scan found. Returns the probes attached
 * (> 0) or a negative errno (message in why, none left attached). */
static int probes_attach(struct attach *a, size_t k, const char *path, const struct scan_lib *lib,
			 char *why, size_t whylen)
{
	const struct kind *kd = &kinds[k];
	size_t i, first = a->nlinks;
	uint32_t r;
	int err = 0;

	for (i = 0; i < kd->nprobes; i++) {
		const struct probe *p = &kd->probes[i];
		const struct scan_func *f = lib ? scan_func(lib, p->sym) : NULL;

		if (lib && !f) {
			if (p->optional)
				continue;
			err = -ENOENT;
		} else if (p->at == PROBE_RETS) {
			for (r = 0; f && r < f->nrets && !err; r++)
				err = probe_one(a, a->ks[k].progs[i], path, NULL, f->rets[r], 0);
		} else {
			err = probe_one(a, a->ks[k].progs[i], path, p->sym,
					!f ? 0 : p->at == PROBE_ENTRY ? f->entry_probe : f->off,
					p->at == PROBE_RETURN);
		}
		if (err && p->optional && !lib) {
			err = 0;
			continue;
		}
		if (err) {
			snprintf(why, whylen, "uprobe on %s%s failed: %s", p->sym,
				 p->at == PROBE_RETURN ? " (return)" : p->at == PROBE_RETS ? " (its RETs)" : "",
				 strerror(-err));
			goto out_detach;
		}
	}
	return (int)(a->nlinks - first);

out_detach:
	while (a->nlinks > first)
		bpf_link__destroy(a->links[--a->nlinks]);
	return err;
}

/* A scanned kind: look at what the scan of path found for k. Returns 1
 * when attached, 0 when not (not of this kind, or queued: pid's file is
 * looked at again when its scan is done), or a negative errno. */
static int scanned_attach(struct attach *a, size_t k, const char *path, const char *shown,
			  const struct stat *st, pid_t pid)
{
	const struct kind *kd = &kinds[k];
	struct scan_result *r = malloc(sizeof(*r));
	const struct scan_lib *lib;
	enum scan_get got;
	struct target *t;
	char why[256];
	int n = 0;

	if (!r)
		return -ENOMEM;
	got = scan_queue_get(a->scans, path, shown, pid, a->scan_wait, r);
	if (got != SCAN_GET_DONE)
		goto out_free;
	t = target_add(a, st, k, shown);
	if (!t) {
		n = -ENOMEM;
		goto out_free;
	}
	lib = &r->libs[kd->scan - 1];
	/* A file with OpenSSL's symbols is probed by them (the "openssl" kind). */
	if (lib->status == SCAN_ABSENT || (r->ssl_symbols && (kd->scan - 1 == SCAN_BORINGSSL ||
							       kd->scan - 1 == SCAN_OPENSSL)))
		goto out_free;
	if (lib->status != SCAN_FOUND) {
		target_set(t, ATTACH_UNCOVERED, lib->reason, lib->version);
		log_warn("%s: %s, its TLS traffic is not captured: %s", shown, lib->version, lib->reason);
		goto out_free;
	}
	n = probes_attach(a, k, path, lib, why, sizeof(why));
	if (n < 0) {
		target_set(t, ATTACH_FAILED, why, lib->version);
		log_warn("%s: %s: %s", shown, kd->name, why);
		goto out_free;
	}
	t->probes = n;
	target_set(t, ATTACH_ATTACHED, lib->reason, lib->version);
	a->ks[k].files++;
	log_warn("%s: %s (%s) found by %s, %d uprobes", shown, lib->version, kd->name,
		 kd->scan - 1 == SCAN_GO ? "its .gopclntab" : "signatures", n);
	n = 1;
out_free:
	free(r);
	return n;
}

/* See capture/attach_int.h. */
int attach_file(struct attach *a, size_t k, const char *path, const char *shown, pid_t pid)
{
	const struct kind *kd = &kinds[k];
	char why[256], io[32];
	struct target *t;
	struct stat st;
	int n, fd;

	if (!a->ks[k].on)
		return 0;
	/* Held open while it is looked at and probed: a process that exits
	 * meanwhile takes its /proc/PID/root path along, not the file. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || target_find(a, &st, k))
		goto out_close;
	snprintf(io, sizeof(io), "/proc/self/fd/%d", fd);
	if (kd->scan) {
		n = scanned_attach(a, k, io, shown, &st, pid);
		goto out_close;
	}
	t = target_add(a, &st, k, shown);
	if (!t) {
		n = -ENOMEM;
		goto out_close;
	}
	if (!kd->detect(io))
		goto out_close;
	n = probes_attach(a, k, io, NULL, why, sizeof(why));
	if (n < 0) {
		target_set(t, ATTACH_FAILED, why, NULL);
		log_warn("%s: %s", shown, why);
		goto out_close;
	}
	t->probes = n;
	target_set(t, ATTACH_ATTACHED, NULL, NULL);
	a->ks[k].files++;
	log_debug("%s: attached to %s (%d probes)", kd->name, shown, n);
	n = 1;
out_close:
	close(fd);
	return n;
}

/* attach_file() for a file known by one path. */
static int file_attach(struct attach *a, size_t k, const char *path, pid_t pid)
{
	return attach_file(a, k, path, path, pid);
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
			file_attach(a, k, p, 0);
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
					file_attach(a, k, real, 0);
			}
		}
	}
	free(dirs);
}

int attach_pid(struct attach *a, pid_t pid)
{
	char path[4400], exe[4096], line[4608];
	size_t k;
	FILE *f;
	int n = 0, i;

	if (pid == getpid())
		return 0;
	/* The executable, through the process's own root (containers). */
	procfs_exe(pid, exe, sizeof(exe));
	if (exe[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, exe);
		for (k = 0; k < NKINDS; k++)
			if (kinds[k].exe)
				n += file_attach(a, k, path, pid) > 0;
	}
	/* The libraries it maps: "addr perms offset dev inode /path". */
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		if (strstr(p, " (deleted)"))
			continue;
		i = kind_by_name(p);
		if (i < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, p);
		n += file_attach(a, i, path, pid) > 0;
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

	/* At start-up every scan is done here: "ready" means attached. */
	a->scan_wait = 1;
	/* Libraries on the loader paths: processes that start later use them. */
	for (k = 0; k < NKINDS; k++) {
		for (i = 0; kinds[k].globs && kinds[k].globs[i]; i++) {
			if (glob(kinds[k].globs[i], 0, NULL, &g))
				continue;
			for (j = 0; j < g.gl_pathc; j++)
				file_attach(a, k, g.gl_pathv[j], 0);
			globfree(&g);
		}
	}
	/* And wherever the loader's cache says one lives. */
	ldconfig_scan(a);
	/* Runtimes that carry a TLS library in their executable. */
	path_scan(a);
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
	a->scan_wait = 0;
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

void attach_free(struct attach *a)
{
	size_t i;

	if (!a)
		return;
	scan_queue_free(a->scans);
	while (a->nlinks)
		bpf_link__destroy(a->links[--a->nlinks]);
	for (i = 0; i < a->ntargets; i++) {
		free(a->targets[i].path);
		free(a->targets[i].reason);
	}
	free(a->links);
	free(a->targets);
	free(a);
}

