/* attach.c -- attaching the TLS and DNS uprobes to a file of a known kind: by its symbols (with capture/placement.c's placement of the data functions) or at what a scan of the executable found, and the record of what was done with each file. */
#include "capture/attach.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
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
#include "capture/attach_int.h"
#include "capture/placement.h"
#include "capture/scan.h"
#include "capture/umulti.h"
#include "privs.h"

#define kinds attach_kinds
#define NKINDS ATTACH_KINDS

/* ---- state ----------------------------------------------------------------- */

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
	const char *floor = getenv("LLMTAP_PROBE_FLOOR");
	size_t k, i, j;
	int err;

	if (!a)
		return -ENOMEM;
	err = scan_queue_new(&a->scans);
	if (err) {
		free(a);
		return err;
	}
	a->mode = place_mode_env();
	a->floor = floor && strcmp(floor, "1") == 0;
	htab_init(&a->targets);
	htab_init(&a->clients);
	a->mnt_ns = procfs_mnt_ns("self");
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

uint64_t attach_target_k1(dev_t dev, size_t k)
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

	if (htab_find(&a->targets, attach_target_k1(st->st_dev, k), st->st_ino))
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->kind = k;
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	if (htab_add(&a->targets, &t->node, attach_target_k1(st->st_dev, k), st->st_ino)) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 1;
}

/* Set t's outcome (kind k claimed the file, seen at path) and list it
 * (its version, when known, is set before). */
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

/* Keep a link made: libbpf's bl, or the uprobe_multi link fd. Returns 0,
 * or -ENOMEM (link not kept: the caller undoes it). */
static int link_add(struct attach *a, struct bpf_link *bl, int fd)
{
	if (a->nlinks == a->cap_links) {
		size_t cap = a->cap_links ? 2 * a->cap_links : 64;
		struct ulink *p = realloc(a->links, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		a->links = p;
		a->cap_links = cap;
	}
	a->links[a->nlinks].bl = bl;
	a->links[a->nlinks].fd = fd;
	a->nlinks++;
	return 0;
}

/* Detach the links made after the first `first`. */
static void links_undo(struct attach *a, size_t first)
{
	while (a->nlinks > first) {
		struct ulink *u = &a->links[--a->nlinks];

		if (u->bl)
			bpf_link__destroy(u->bl);
		else
			close(u->fd);
	}
}

/* The processes links_at() binds each uprobe_multi link to: the named
 * ones (a->upids), or none (0: one link for the whole host). A named
 * process whose main thread exited first, its other threads running on,
 * cannot have links of its own: the kernel binds a link to the memory of
 * that process's main thread, which has none left, and would set no
 * breakpoint in it. Then the links are host-wide, as without -p, and the
 * BPF filter still passes the named processes' events alone. */
static int links_pids(struct attach *a)
{
	char dir[64];
	int i;

	for (i = 0; i < a->nupids; i++) {
		if (procfs_task_dir(a->upids[i], dir, sizeof(dir)) != 1)
			continue;
		if (!a->upids_wide)
			log_warn("pid %d: its main thread has exited: its uprobes are host-wide, as without -p "
				 "(only its own calls are recorded)", a->upids[i]);
		a->upids_wide = 1;
		return 0;
	}
	return a->nupids;
}

/* Attach program p at the file offsets offs[0..n) of path (return probes
 * when ret): for the whole host, or for each process of attach_multi().
 * uprobe_multi links take all the offsets in one (one link per process);
 * perf-event links are one per offset. A named process that is gone is
 * skipped; no offset is nothing to do. Returns 0, or a negative errno
 * (none of its links made). */
static int links_at(struct attach *a, struct bpf_program *p, const char *path, const uint64_t *offs,
		    size_t n, int ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret);
	size_t first = a->nlinks, i = 0;
	struct bpf_link *bl = NULL;
	int fd = -1, err, npids = links_pids(a);

	if (!n)
		return 0;
	do {
		privs_attach_begin();	/* the kernel wants CAP_SYS_ADMIN to create a uprobe */
		if (a->multi) {
			/* pid 0: every process */
			fd = umulti_link(bpf_program__fd(p), path, offs, (uint32_t)n, ret,
					 npids ? a->upids[i] : 0);
			err = fd < 0 ? fd : 0;
		} else {
			bl = bpf_program__attach_uprobe_opts(p, -1, path, offs[i], &uo);
			err = bl ? 0 : -errno;
		}
		privs_attach_end();
		if (err == -ESRCH && npids)
			continue;	/* exited: nothing of it left to probe */
		if (!err)
			err = link_add(a, bl, fd);
		if (err) {
			if (bl)
				bpf_link__destroy(bl);
			else if (fd >= 0)
				close(fd);
			links_undo(a, first);
			return err;
		}
	} while (++i < (a->multi ? (size_t)npids : n));
	a->points += n;
	return 0;
}

/* links_at() of one offset. */
static int link_at(struct attach *a, struct bpf_program *p, const char *path, uint64_t off, int ret)
{
	return links_at(a, p, path, &off, 1, ret);
}

void attach_multi(struct attach *a, const pid_t *pids, int n)
{
	int i;

	a->multi = 1;
	a->nupids = 0;
	for (i = 0; i < n && i < ATTACH_PIDS_MAX; i++)
		a->upids[a->nupids++] = pids[i];
}

int attach_scoped(const struct attach *a, pid_t pid)
{
	int i;

	for (i = 0; i < a->nupids; i++)
		if (a->upids[i] == pid)
			return 1;
	return !a->nupids;
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

/* Attach the probes of scanned kind k to path at the offsets the scan
 * found (lib). Returns the probes attached (> 0) or a negative errno
 * (message in why, none left attached). */
static int probes_scanned(struct attach *a, size_t k, const char *path, const struct scan_lib *lib,
			  char *why, size_t whylen)
{
	const struct kind *kd = &kinds[k];
	size_t i, first = a->nlinks, points = a->points;
	int err = 0;

	for (i = 0; i < kd->nprobes; i++) {
		const struct probe *p = &kd->probes[i];
		const struct scan_func *f = scan_func(lib, p->sym);
		struct bpf_program *prog = a->ks[k].progs[i];

		if (!f) {
			if (p->optional)
				continue;
			err = -ENOENT;
		} else if (p->at == PROBE_RETS) {
			err = links_at(a, prog, path, f->rets, f->nrets, 0);
		} else {
			err = link_at(a, prog, path, p->at == PROBE_ENTRY ? f->entry_probe : f->off,
				      p->at == PROBE_RETURN);
		}
		if (err) {
			snprintf(why, whylen, "uprobe on %s%s failed: %s", p->sym,
				 p->at == PROBE_RETURN ? " (return)" : p->at == PROBE_RETS ? " (its RETs)" : "",
				 strerror(-err));
			goto out_detach;
		}
	}
	return (int)(a->points - points);

out_detach:
	links_undo(a, first);
	return err;
}

/* Scanned kind k and file st (opened at path, shown as shown, for pid):
 * what the scan found for k, attached. Returns 1 when attached, 0 when not
 * (not of this kind, seen already, or its scan queued: it is looked at
 * again when the scan is done), or a negative errno. */
static int scanned_attach(struct attach *a, size_t k, const char *path, const char *shown,
			  const struct stat *st, pid_t pid)
{
	const struct kind *kd = &kinds[k];
	const struct scan_lib *lib;
	struct scan_result *res;
	struct target *t = NULL;
	char why[256];
	int n;

	if (htab_find(&a->targets, attach_target_k1(st->st_dev, k), st->st_ino))
		return 0;
	res = malloc(sizeof(*res));
	if (!res)
		return -ENOMEM;
	n = 0;
	if (scan_queue_get(a->scans, path, shown, pid, a->scan_wait, res) != SCAN_GET_DONE)
		goto out_free;
	n = target_add(a, st, k, &t);
	if (n <= 0)
		goto out_free;
	n = 0;
	lib = &res->libs[kd->scan - 1];
	/* A file with OpenSSL's symbols is probed by them (the "openssl" kind). */
	if (lib->status == SCAN_ABSENT ||
	    (res->ssl_symbols && (kd->scan - 1 == SCAN_BORINGSSL || kd->scan - 1 == SCAN_OPENSSL)))
		goto out_free;
	snprintf(t->version, sizeof(t->version), "%s", lib->version);
	if (lib->status != SCAN_FOUND) {
		target_claim(a, t, shown, ATTACH_UNCOVERED, lib->reason, 0);
		log_warn("%s: %s, its TLS traffic is not captured: %s", shown, lib->version, lib->reason);
		goto out_free;
	}
	if (a->dry) {
		target_claim(a, t, shown, ATTACH_ATTACHED, "would be attached by llmtap run", 0);
		n = 1;
		goto out_free;
	}
	n = probes_scanned(a, k, path, lib, why, sizeof(why));
	if (n < 0) {
		target_claim(a, t, shown, ATTACH_FAILED, why, 0);
		log_warn("%s: %s: %s", shown, kd->name, why);
		events_notice(SEV_WARNING, "capture.hook_failed", PROC_NULL,
			      json_pack("{s:s, s:s, s:s}", "kind", kd->name, "file", shown, "error", why));
		goto out_free;
	}
	target_claim(a, t, shown, ATTACH_ATTACHED, lib->reason, n);
	a->ks[k].files++;
	log_warn("%s: %s (%s) found by %s, %d uprobes", shown, lib->version, kd->name,
		 kd->scan - 1 == SCAN_GO ? "its .gopclntab" : "signatures", n);
	n = 1;
out_free:
	free(res);
	return n;
}

/* See capture/attach_int.h. */
int attach_file(struct attach *a, size_t k, const char *path, const char *shown, pid_t pid)
{
	const struct kind *kd = &kinds[k];
	size_t i, first = a->nlinks, points = a->points;
	char why[200] = "", fdpath[64];
	uint64_t offs[PROBES_MAX], t0 = mono_ns();
	struct target *t = NULL;
	struct stat st;
	int fd, err, map_files;

	if (!a->ks[k].on && !a->dry)
		return 0;
	/* Every exec on the host asks again for the files its process maps:
	 * one seen already (by this kind) costs a stat, no open. */
	map_files = strstr(path, "/map_files/") != NULL;
	if (map_files)
		privs_attach_begin();	/* /proc/PID/map_files wants CAP_SYS_ADMIN */
	err = stat(path, &st);
	if (!err && htab_find(&a->targets, attach_target_k1(st.st_dev, k), st.st_ino))
		err = -1;
	/* Held open while attaching: the file is reached through our own fd,
	 * so a process that exits meanwhile (its /proc/PID/root gone) or a
	 * library deleted from disk makes no difference. */
	fd = err ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (map_files)
		privs_attach_end();
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = 0;
		goto out_close;
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	if (kd->scan) {
		err = scanned_attach(a, k, fdpath, shown, &st, pid);
		goto out_close;
	}
	err = target_add(a, &st, k, &t);
	if (err <= 0)
		goto out_close;
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
	if (attach_dns_lean(a, k)) {
		/* Probed in each client process as it is found (attach_dns.c). */
		err = attach_dns_libc(a, &st, path, shown, offs[0]);
		target_claim(a, t, shown, err ? ATTACH_FAILED : ATTACH_ATTACHED,
			     err ? "too many glibc files" :
				   "getaddrinfo probed in LLM client processes alone (--dns-probes clients)", 0);
		if (!err)
			a->ks[k].files++;
		err = !err;
		goto out_close;
	}
	if (a->dry) {
		/* `doctor` without a tracer: what `run` would do. */
		target_claim(a, t, shown, ATTACH_ATTACHED, "would be attached by llmtap run", 0);
		err = 1;
		goto out_close;
	}
	for (i = 0; i < kd->nprobes; i++) {
		const struct probe *p = &kd->probes[i];

		err = offs[i] ? link_at(a, a->ks[k].progs[i], fdpath, offs[i], p->at == PROBE_RETURN)
			      : -ENOENT;
		if (!err || p->optional)
			continue;
		log_warn("uprobe: failed to attach %s%s in %s: %s", p->sym,
			 p->at == PROBE_RETURN ? " (return)" : "", shown, strerror(-err));
		events_notice(SEV_WARNING, "capture.hook_failed", PROC_NULL,
			      json_pack("{s:s, s:s, s:s, s:s}", "kind", kd->name, "file", shown,
					"symbol", p->sym, "error", strerror(-err)));
		snprintf(why, sizeof(why), "uprobe on %s failed: %s", p->sym, strerror(-err));
		target_claim(a, t, shown, ATTACH_FAILED, why, 0);
		goto out_detach;
	}
	err = pairs_attach(a, k, fdpath, shown);
	if (err) {
		snprintf(why, sizeof(why), "placing its probes failed: %s", strerror(-err));
		target_claim(a, t, shown, ATTACH_FAILED, why, 0);
		goto out_detach;
	}
	a->ks[k].files++;
	target_claim(a, t, shown, ATTACH_ATTACHED, NULL, (int)(a->points - points));
	log_debug("%s: attached to %s (%zu probes in %.1f ms)", kd->name, shown, a->points - points,
		  (mono_ns() - t0) / 1e6);
	err = 1;
	goto out_close;

out_detach:
	links_undo(a, first);
out_close:
	close(fd);
	return err;
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
	scan_queue_free(a->scans);
	attach_dns_free(a);
	links_undo(a, 0);
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
