/* loader.c -- BPF lifecycle: open, configure, load, attach uprobes to every OpenSSL on the host, poll. */
#include "capture/loader.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssl.skel.h"
#include "proc.skel.h"
#include "net.skel.h"
#include "dns.skel.h"
#include "base/util.h"

/* A file we looked at: attached, or known not to export OpenSSL. */
struct target {
	dev_t dev;
	ino_t ino;
	int attached;
};

struct loader {
	struct ssl_bpf *ssl;
	struct proc_bpf *proc;
	struct net_bpf *net;
	struct bpf_link *join_link, *ack_link;
	struct ring_buffer *rb;
	struct target *targets;
	size_t ntargets, cap_targets;
	struct bpf_link **links;
	size_t nlinks, cap_links;
	int files;
	struct dns_bpf *dns;		/* NULL when DNS tracing could not start */
	struct target *dns_targets;	/* libc files looked at for getaddrinfo */
	size_t ndns_targets, cap_dns_targets;
	int dns_files;
};

/* One probe: which program goes on which symbol, entry or return. */
struct probe {
	const char *sym;
	int ret;
	int optional;
};

static const struct probe probes[] = {
	{ "SSL_write", 0, 0 }, { "SSL_write", 1, 0 },
	{ "SSL_read", 0, 0 }, { "SSL_read", 1, 0 },
	{ "SSL_write_ex", 0, 1 }, { "SSL_write_ex", 1, 1 },
	{ "SSL_read_ex", 0, 1 }, { "SSL_read_ex", 1, 1 },
	{ "SSL_free", 0, 1 },
	{ "SSL_do_handshake", 0, 1 }, { "SSL_do_handshake", 1, 1 },
	{ "SSL_connect", 0, 1 }, { "SSL_connect", 1, 1 },
};

static struct bpf_program *probe_prog(struct loader *l, size_t i)
{
	struct bpf_program *progs[] = {
		l->ssl->progs.ssl_write_enter, l->ssl->progs.ssl_write_exit,
		l->ssl->progs.ssl_read_enter, l->ssl->progs.ssl_read_exit,
		l->ssl->progs.ssl_write_ex_enter, l->ssl->progs.ssl_write_ex_exit,
		l->ssl->progs.ssl_read_ex_enter, l->ssl->progs.ssl_read_ex_exit,
		l->ssl->progs.ssl_free_enter,
		l->ssl->progs.ssl_do_handshake_enter, l->ssl->progs.ssl_do_handshake_exit,
		l->ssl->progs.ssl_connect_enter, l->ssl->progs.ssl_connect_exit,
	};

	return progs[i];
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && verbose < 2)
		return 0;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* 1 when the ELF file at path defines symbol name (.dynsym or .symtab). */
static int elf_defines(const char *path, const char *name)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Data *data;
	Elf *e;
	size_t i, n;
	int fd, found = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e)
		goto out_close;
	while (!found && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			const char *s;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			s = elf_strptr(e, sh.sh_link, sym.st_name);
			if (s && strcmp(s, name) == 0) {
				found = 1;
				break;
			}
		}
	}
	elf_end(e);
out_close:
	close(fd);
	return found;
}

/* The target entry for a file, added when new. Returns NULL on OOM. */
static struct target *target_get(struct loader *l, const struct stat *st, int *is_new)
{
	size_t i;

	*is_new = 0;
	for (i = 0; i < l->ntargets; i++)
		if (l->targets[i].dev == st->st_dev && l->targets[i].ino == st->st_ino)
			return &l->targets[i];
	if (l->ntargets == l->cap_targets) {
		size_t cap = l->cap_targets ? 2 * l->cap_targets : 32;
		struct target *t = realloc(l->targets, cap * sizeof(*t));

		if (!t)
			return NULL;
		l->targets = t;
		l->cap_targets = cap;
	}
	*is_new = 1;
	l->targets[l->ntargets] = (struct target){ .dev = st->st_dev, .ino = st->st_ino };
	return &l->targets[l->ntargets++];
}

static int link_add(struct loader *l, struct bpf_link *link)
{
	if (l->nlinks == l->cap_links) {
		size_t cap = l->cap_links ? 2 * l->cap_links : 64;
		struct bpf_link **p = realloc(l->links, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->links = p;
		l->cap_links = cap;
	}
	l->links[l->nlinks++] = link;
	return 0;
}

/* Attach every probe to the file at path if it defines SSL_write and is not
 * attached yet. Returns 1 when attached now, 0 when not needed, or a
 * negative errno. */
static int attach_file(struct loader *l, const char *path)
{
	struct stat st;
	struct target *t;
	size_t i, first = l->nlinks;
	int is_new, err;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	t = target_get(l, &st, &is_new);
	if (!t)
		return -ENOMEM;
	if (!is_new || !elf_defines(path, "SSL_write"))
		return 0;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = probes[i].sym,
			    .retprobe = probes[i].ret);
		struct bpf_link *link;

		link = bpf_program__attach_uprobe_opts(probe_prog(l, i), -1, path, 0, &uo);
		if (!link) {
			err = -errno;
			if (probes[i].optional)
				continue;
			log_warn("uprobe: failed to attach %s%s in %s: %s", probes[i].sym,
				 probes[i].ret ? " (return)" : "", path, strerror(-err));
			goto out_detach;
		}
		err = link_add(l, link);
		if (err) {
			bpf_link__destroy(link);
			goto out_detach;
		}
	}
	t->attached = 1;
	l->files++;
	log_debug("attached to %s", path);
	return 1;

out_detach:
	while (l->nlinks > first)
		bpf_link__destroy(l->links[--l->nlinks]);
	return err;
}

/* Is this mapped file's name one that may carry OpenSSL (libssl*, _ssl*)? */
static int maybe_openssl(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, "libssl", 6) == 0 || strncmp(base, "_ssl", 4) == 0;
}

/* ---- DNS: getaddrinfo uprobes on every libc, UDP port-53 tracepoints ---- */

/* Is this mapped file's name glibc's libc (libc.so.6, libc-2.31.so)? */
static int maybe_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, "libc.so", 7) == 0 ||
	       (strncmp(base, "libc-", 5) == 0 && isdigit((unsigned char)base[5]));
}

/* 1 when the ELF file at path has our own class and machine (the uprobe
 * programs read x86-64 argument registers and struct layouts). */
static int elf_native(const char *path)
{
	unsigned char a[20], b[20];
	int fd, ok = 0;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ok = read(fd, b, sizeof(b)) == (ssize_t)sizeof(b);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!ok || fd < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	ok = read(fd, a, sizeof(a)) == (ssize_t)sizeof(a) && !memcmp(a, ELFMAG, SELFMAG) &&
	     a[EI_CLASS] == b[EI_CLASS] && a[EI_DATA] == b[EI_DATA] && !memcmp(a + 18, b + 18, 2);
	close(fd);
	return ok;
}

/* Attach the getaddrinfo entry and return probes to the libc at path when
 * not done yet. Returns 1 when attached now, 0 when not needed, or a
 * negative errno. */
static int attach_dns_file(struct loader *l, const char *path)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = "getaddrinfo");
	struct bpf_link *enter, *ret;
	struct stat st;
	size_t i;
	int err;

	if (!l->dns || stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	for (i = 0; i < l->ndns_targets; i++)
		if (l->dns_targets[i].dev == st.st_dev && l->dns_targets[i].ino == st.st_ino)
			return 0;
	if (l->ndns_targets == l->cap_dns_targets) {
		size_t cap = l->cap_dns_targets ? 2 * l->cap_dns_targets : 8;
		struct target *t = realloc(l->dns_targets, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		l->dns_targets = t;
		l->cap_dns_targets = cap;
	}
	l->dns_targets[l->ndns_targets++] = (struct target){ .dev = st.st_dev, .ino = st.st_ino };
	if (!elf_native(path) || !elf_defines(path, "getaddrinfo"))
		return 0;
	enter = bpf_program__attach_uprobe_opts(l->dns->progs.gai_enter, -1, path, 0, &uo);
	if (!enter) {
		err = -errno;
		log_warn("uprobe: failed to attach getaddrinfo in %s: %s", path, strerror(-err));
		return err;
	}
	uo.retprobe = true;
	ret = bpf_program__attach_uprobe_opts(l->dns->progs.gai_exit, -1, path, 0, &uo);
	if (!ret) {
		err = -errno;
		log_warn("uprobe: failed to attach getaddrinfo (return) in %s: %s", path, strerror(-err));
		bpf_link__destroy(enter);
		return err;
	}
	err = link_add(l, enter);
	if (!err && (err = link_add(l, ret)))
		l->nlinks--;	/* enter was added: take it back */
	if (err) {
		bpf_link__destroy(enter);
		bpf_link__destroy(ret);
		return err;
	}
	l->dns_targets[l->ndns_targets - 1].attached = 1;
	l->dns_files++;
	log_debug("dns: attached getaddrinfo probes to %s", path);
	return 1;
}

/* Every libc on the loader paths and in the loader's cache. */
static void attach_dns_host(struct loader *l)
{
	static const char *const libc_globs[] = {
		"/lib/*-linux-gnu/libc.so.6", "/usr/lib/*-linux-gnu/libc.so.6",
		"/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6", "/usr/lib/libc.so.6",
	};
	char line[4352], *p;
	size_t i, j;
	glob_t g;
	FILE *f;

	if (!l->dns)
		return;
	for (i = 0; i < sizeof(libc_globs) / sizeof(libc_globs[0]); i++) {
		if (glob(libc_globs[i], 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++)
			attach_dns_file(l, g.gl_pathv[j]);
		globfree(&g);
	}
	f = popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "=> ");
		if (!strstr(line, "libc.so.6 ") || !p)
			continue;
		p += 3;
		p[strcspn(p, "\n")] = 0;
		attach_dns_file(l, p);
	}
	pclose(f);
}

/* Syscall tracepoints need tracefs: mount it where libbpf looks when missing. */
static void tracefs_ensure(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) && errno != EBUSY)
		log_warn("dns: cannot mount tracefs on /sys/kernel/tracing: %s", strerror(errno));
}

/* Open, load and attach dns.bpf.c's tracepoints and add its ring buffer.
 * A failure leaves DNS untraced (l->dns NULL) but the rest working. */
static void dns_open(struct loader *l, const struct loader_opts *o, loader_sample_fn fn, void *ctx)
{
	struct bpf_program *progs[7];
	struct bpf_link *link;
	size_t i, first = l->nlinks;
	__u8 one = 1;
	int err, k;

	l->dns = dns_bpf__open();
	if (!l->dns) {
		err = -errno;
		goto out_warn;
	}
	l->dns->rodata->self_tgid = o->self;
	l->dns->rodata->filter_tgid = o->npids > 0;
	err = dns_bpf__load(l->dns);
	if (err)
		goto out_warn;
	for (k = 0; k < o->npids; k++) {
		__u32 pid = o->pids[k];

		bpf_map__update_elem(l->dns->maps.tgids, &pid, sizeof(pid), &one, sizeof(one),
				     BPF_ANY);
	}
	tracefs_ensure();
	progs[0] = l->dns->progs.dns_sendto;
	progs[1] = l->dns->progs.dns_sendmsg;
	progs[2] = l->dns->progs.dns_sendmmsg;
	progs[3] = l->dns->progs.dns_recvfrom_enter;
	progs[4] = l->dns->progs.dns_recvfrom_exit;
	progs[5] = l->dns->progs.dns_recvmsg_enter;
	progs[6] = l->dns->progs.dns_recvmsg_exit;
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		link = bpf_program__attach(progs[i]);
		if (!link) {
			err = -errno;
			goto out_detach;
		}
		err = link_add(l, link);
		if (err) {
			bpf_link__destroy(link);
			goto out_detach;
		}
	}
	err = ring_buffer__add(l->rb, bpf_map__fd(l->dns->maps.events), fn, ctx);
	if (err)
		goto out_detach;
	return;

out_detach:
	while (l->nlinks > first)
		bpf_link__destroy(l->links[--l->nlinks]);
out_warn:
	log_warn("dns: DNS lookups not traced: %s (run with -v for details)", strerror(-err));
	dns_bpf__destroy(l->dns);
	l->dns = NULL;
}

int loader_attach_pid(struct loader *l, pid_t pid)
{
	char path[4400], exe[4096], line[4608];
	FILE *f;
	int n = 0, rc;

	/* The executable, through the process's own root (containers). */
	proc_exe(pid, exe, sizeof(exe));
	if (exe[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, exe);
		rc = attach_file(l, path);
		n += rc > 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		if (maybe_libc(p) && !strstr(p, " (deleted)")) {
			snprintf(path, sizeof(path), "/proc/%d/root%s", pid, p);
			n += attach_dns_file(l, path) > 0;
			continue;
		}
		if (!maybe_openssl(p) || strstr(p, " (deleted)"))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, p);
		rc = attach_file(l, path);
		n += rc > 0;
	}
	fclose(f);
	return n;
}

/* Attach to every libssl listed by `ldconfig -p` (the loader's cache). */
static void attach_ldconfig(struct loader *l)
{
	char line[4352], *p;
	FILE *f;

	f = popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "=> ");
		if (!strstr(line, "libssl.so") || !p)
			continue;
		p += 3;
		p[strcspn(p, "\n")] = 0;
		attach_file(l, p);
	}
	pclose(f);
}

int loader_attach_host(struct loader *l)
{
	static const char *const lib_globs[] = {
		"/lib/*-linux-gnu/libssl.so*", "/usr/lib/*-linux-gnu/libssl.so*",
		"/lib64/libssl.so*", "/usr/lib64/libssl.so*", "/lib/libssl.so*",
		"/usr/lib/libssl.so*", "/usr/local/lib/libssl.so*",
		"/usr/local/lib64/libssl.so*", "/usr/local/ssl/lib*/libssl.so*",
	};
	static const char *const exe_names[] = { "node", "nodejs" };
	char path[4096], *dirs, *dir, *save = NULL;
	const char *env_path;
	struct dirent *de;
	glob_t g;
	size_t i, j;
	DIR *d;

	/* Libraries on the loader paths: processes that start later use them. */
	for (i = 0; i < sizeof(lib_globs) / sizeof(lib_globs[0]); i++) {
		if (glob(lib_globs[i], 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++)
			attach_file(l, g.gl_pathv[j]);
		globfree(&g);
	}
	/* And wherever the loader's cache says a libssl lives (ld.so.conf.d). */
	attach_ldconfig(l);
	/* Runtimes that link OpenSSL statically, found on PATH. */
	env_path = getenv("PATH");
	dirs = strdup(env_path && *env_path ? env_path : "/usr/local/bin:/usr/bin:/bin");
	for (dir = dirs ? strtok_r(dirs, ":", &save) : NULL; dir; dir = strtok_r(NULL, ":", &save)) {
		for (i = 0; i < sizeof(exe_names) / sizeof(exe_names[0]); i++) {
			char real[4096];

			snprintf(path, sizeof(path), "%s/%s", dir, exe_names[i]);
			if (realpath(path, real))
				attach_file(l, real);
		}
	}
	free(dirs);
	/* Every libc for getaddrinfo (running processes' ones come below). */
	attach_dns_host(l);
	/* Whatever running processes execute or have mapped. */
	d = opendir("/proc");
	if (d) {
		while ((de = readdir(d))) {
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			loader_attach_pid(l, atoi(de->d_name));
		}
		closedir(d);
	}
	if (l->dns)
		log_debug("dns: getaddrinfo probes on %d libc file(s)", l->dns_files);
	return l->files;
}

/* 1 when the kernel's oom:mark_victim tracepoint passes a task_struct *
 * (the form handle_oom reads), by its BTF prototype; else 0. */
static int mark_victim_has_task(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t = NULL;
	int id, ok = 0;

	if (!btf)
		return 0;
	id = btf__find_by_name_kind(btf, "btf_trace_mark_victim", BTF_KIND_TYPEDEF);
	if (id > 0)
		t = btf__type_by_id(btf, id);
	if (t)
		t = btf__type_by_id(btf, t->type);		/* pointer to the prototype */
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(btf, t->type);
	/* (void *ctx, struct task_struct *task, uid_t uid) */
	if (t && btf_is_func_proto(t) && btf_vlen(t) >= 2) {
		t = btf__type_by_id(btf, btf_params(t)[1].type);
		ok = t && btf_is_ptr(t);
	}
	btf__free(btf);
	return ok;
}

int loader_open(struct loader **out, const struct loader_opts *o,
		loader_sample_fn fn, void *ctx)
{
	struct loader *l;
	int err, i;
	__u8 one = 1;

	libbpf_set_print(libbpf_print);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ssl = ssl_bpf__open();
	l->proc = proc_bpf__open();
	l->net = net_bpf__open();
	if (!l->ssl || !l->proc || !l->net) {
		err = -errno;
		log_warn("failed to open BPF objects: %s", strerror(-err));
		goto out_close;
	}
	l->ssl->rodata->self_tgid = o->self;
	l->ssl->rodata->filter_tgid = o->npids > 0;
	l->ssl->rodata->chunks_max = o->chunks_max;
	l->proc->rodata->self_tgid = o->self;
	/* oom:mark_victim passes a task since Linux 6.8 (before: a pid): with
	 * an older kernel, OOM victims are just not marked. */
	if (!mark_victim_has_task()) {
		log_debug("no BTF for oom:mark_victim; OOM kills are not marked");
		bpf_program__set_autoload(l->proc->progs.handle_oom, false);
	}
	l->net->rodata->self_tgid = o->self;
	err = bpf_map__set_max_entries(l->ssl->maps.events, o->ring_bytes);
	if (err) {
		log_warn("failed to size ring buffer to %llu bytes: %s",
			 (unsigned long long)o->ring_bytes, strerror(-err));
		goto out_close;
	}
	err = ssl_bpf__load(l->ssl);
	if (!err)
		err = proc_bpf__load(l->proc);
	if (!err)
		err = net_bpf__load(l->net);
	if (err) {
		log_warn("failed to load BPF programs: %s (run with -v for the verifier log)",
			 strerror(-err));
		goto out_close;
	}
	for (i = 0; i < o->npids; i++) {
		__u32 pid = o->pids[i];

		bpf_map__update_elem(l->ssl->maps.tgids, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY);
	}
	err = proc_bpf__attach(l->proc);
	if (err) {
		log_warn("failed to attach sched tracepoints: %s", strerror(-err));
		goto out_close;
	}
	err = net_bpf__attach(l->net);
	if (err) {
		log_warn("failed to attach TCP tracepoints: %s", strerror(-err));
		goto out_close;
	}
	l->join_link = bpf_program__attach(l->ssl->progs.ssl_sock_join);
	l->ack_link = l->join_link ? bpf_program__attach(l->ssl->progs.ssl_upload_ack) : NULL;
	if (!l->join_link || !l->ack_link) {
		err = -errno;
		log_warn("failed to attach sock_send_length/tcp_probe tracepoints: %s", strerror(-err));
		goto out_close;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->ssl->maps.events), fn, ctx, NULL);
	if (!l->rb) {
		err = -errno;
		log_warn("failed to create ring buffer: %s", strerror(-err));
		goto out_close;
	}
	err = ring_buffer__add(l->rb, bpf_map__fd(l->proc->maps.events), fn, ctx);
	if (!err)
		err = ring_buffer__add(l->rb, bpf_map__fd(l->net->maps.events), fn, ctx);
	if (err) {
		log_warn("failed to add ring buffer: %s", strerror(-err));
		goto out_close;
	}
	dns_open(l, o, fn, ctx);
	*out = l;
	return 0;

out_close:
	loader_close(l);
	return err ? err : -EINVAL;
}

int loader_poll(struct loader *l, int timeout_ms)
{
	return ring_buffer__poll(l->rb, timeout_ms);
}

int loader_files(const struct loader *l)
{
	return l->files;
}

/* Add the per-CPU values of counters map m into out. */
static void counters_sum(const struct bpf_map *m, uint64_t out[LT_CNT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 k;
	int c;

	if (ncpu <= 0)
		return;
	{
		__u64 vals[ncpu];

		for (k = 0; k < LT_CNT_MAX; k++) {
			if (bpf_map__lookup_elem(m, &k, sizeof(k), vals, sizeof(vals), 0))
				continue;
			for (c = 0; c < ncpu; c++)
				out[k] += vals[c];
		}
	}
}

void loader_counters(const struct loader *l, uint64_t out[LT_CNT_MAX])
{
	memset(out, 0, LT_CNT_MAX * sizeof(out[0]));
	counters_sum(l->ssl->maps.counters, out);
	counters_sum(l->proc->maps.counters, out);
	counters_sum(l->net->maps.counters, out);
	if (l->dns)
		counters_sum(l->dns->maps.counters, out);
}

/* Read every entry of CPU map m into fn. With gc, entries of tasks gone
 * from /proc and off CPU are deleted instead (their exit was missed).
 * Returns entries read or a negative errno. */
static int cpu_map_read(const struct bpf_map *m, int thread, int gc,
			loader_cpu_fn fn, void *ctx)
{
	enum { BATCH = 256 };
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct lt_cpu_stat vals[BATCH];
	__u32 keys[BATCH], in = 0, out = 0, count, i;
	int fd = bpf_map__fd(m), err = 0, n = 0, first = 1;
	char path[64];

	while (err != -ENOENT) {
		count = BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, &bo);
		if (err && err != -ENOENT)
			return err;
		first = 0;
		in = out;
		for (i = 0; i < count; i++) {
			struct loader_cpu c = {
				.id = keys[i], .tgid = vals[i].tgid, .oncpu_ns = vals[i].oncpu_ns,
				.runq_ns = vals[i].runq_ns, .switches = vals[i].switches,
				.preempts = vals[i].preempts,
				.running_since_ns = thread ? vals[i].last_in_ns : 0,
			};

			if (gc && !c.running_since_ns) {
				if (thread)
					snprintf(path, sizeof(path), "/proc/%u/task/%u", c.tgid, c.id);
				else
					snprintf(path, sizeof(path), "/proc/%u", c.id);
				if (access(path, F_OK)) {
					bpf_map_delete_elem(fd, &keys[i]);
					continue;
				}
			}
			fn(ctx, &c, thread);
			n++;
		}
	}
	return n;
}

int loader_cpu_sample(struct loader *l, int gc, loader_cpu_fn fn, void *ctx)
{
	int n, m;

	n = cpu_map_read(l->proc->maps.cpu_threads, 1, gc, fn, ctx);
	if (n < 0)
		return n;
	m = cpu_map_read(l->proc->maps.cpu_procs, 0, gc, fn, ctx);
	return m < 0 ? m : n + m;
}

void loader_detach_later(struct loader *l)
{
	pid_t parent = getpid(), child;
	int i;

	if (!l || !l->nlinks)
		return;
	child = fork();
	if (child != 0)
		return;		/* parent (or fork failed): close as usual */
	/* Child: hold the link fds until the parent has exited, then let the
	 * kernel release them as this process ends. */
	for (i = 0; i < 500 && getppid() == parent; i++)
		usleep(10000);
	_exit(0);
}

void loader_close(struct loader *l)
{
	if (!l)
		return;
	/* Quick after loader_detach_later(): the child holds the last references. */
	while (l->nlinks)
		bpf_link__destroy(l->links[--l->nlinks]);
	bpf_link__destroy(l->ack_link);
	bpf_link__destroy(l->join_link);
	ring_buffer__free(l->rb);
	net_bpf__destroy(l->net);
	dns_bpf__destroy(l->dns);
	free(l->dns_targets);
	ssl_bpf__destroy(l->ssl);
	proc_bpf__destroy(l->proc);
	free(l->links);
	free(l->targets);
	free(l);
}
