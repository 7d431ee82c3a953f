/* attach_dns.c -- getaddrinfo's probes in LLM client processes alone: the glibc files found, one uprobe_multi link pair per client process, released off the reader's thread. */
#include "capture/attach.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/htab.h"
#include "base/procfs.h"
#include "base/util.h"
#include "capture/attach_int.h"
#include "capture/umulti.h"
#include "privs.h"

#define kinds attach_kinds

/* Client processes bound at once, at most (each holds two links per glibc). */
#define DNS_CLIENTS_MAX 4096
#define CLIENT_FDS_MAX 4

/* How often the clients are checked for having exited unseen (an exit
 * event lost to a full ring). */
#define SWEEP_NS 5000000000ull

/* A client process: its links (none when it maps no glibc we can probe:
 * it is not looked at again). */
struct dns_client {
	struct htab_node node;
	unsigned long long start;	/* its start time (procfs_start_ticks()) */
	int nfds;
	int fds[CLIENT_FDS_MAX];
};

/* Closing a uprobe link waits for the kernel's grace periods (milliseconds):
 * the link fds of exited clients are closed by a thread of their own. */
struct dns_closer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int *fds;
	size_t n, cap;
	int stop;
};

/* The kind that probes glibc (ROLE_DNS), or -1. */
static int dns_kind(void)
{
	size_t k;

	for (k = 0; k < attach_nkinds; k++)
		if (kinds[k].role == ROLE_DNS)
			return (int)k;
	return -1;
}

void attach_dns_clients(struct attach *a, int on)
{
	a->dns_clients = on;
}

int attach_dns_lean(const struct attach *a, size_t k)
{
	return a->dns_clients && !a->dry && a->multi && !a->nupids && kinds[k].role == ROLE_DNS;
}

int attach_dns_libc(struct attach *a, const struct stat *st, const char *path, const char *shown,
		    uint64_t off)
{
	struct dns_libc *c;

	if (a->nlibcs == DNS_LIBCS_MAX)
		return -ENOSPC;
	c = &a->libcs[a->nlibcs++];
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->off = off;
	/* Found by its own path (the loader's places), not through a process. */
	snprintf(c->path, sizeof(c->path), "%s",
		 strcmp(path, shown) == 0 && strncmp(path, "/proc/", 6) != 0 ? path : "");
	return 0;
}

/* The closer's thread: close what is handed to it until told to stop. */
static void *closer_main(void *arg)
{
	struct dns_closer *c = arg;
	int *fds;
	size_t i, n;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->n && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->n)
			break;
		fds = c->fds;
		n = c->n;
		c->fds = NULL;
		c->n = c->cap = 0;
		pthread_mutex_unlock(&c->lock);
		for (i = 0; i < n; i++)
			close(fds[i]);
		free(fds);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Start the closer (once). Returns it, or NULL when it cannot run. */
static struct dns_closer *closer_get(struct attach *a)
{
	struct dns_closer *c = a->closer;

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (pthread_create(&c->thread, NULL, closer_main, c)) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	a->closer = c;
	return c;
}

/* Close fds[0..n): by the closer, or here when it cannot take them. */
static void fds_release(struct attach *a, const int *fds, int n)
{
	struct dns_closer *c = n ? closer_get(a) : NULL;
	size_t need;
	int i;

	if (c) {
		pthread_mutex_lock(&c->lock);
		need = c->n + (size_t)n;
		if (need > c->cap) {
			size_t cap = need < 64 ? 64 : 2 * need;
			int *p = realloc(c->fds, cap * sizeof(*p));

			if (p) {
				c->fds = p;
				c->cap = cap;
			}
		}
		if (need <= c->cap) {
			memcpy(c->fds + c->n, fds, (size_t)n * sizeof(*fds));
			c->n = need;
			n = 0;
			pthread_cond_signal(&c->cond);
		}
		pthread_mutex_unlock(&c->lock);
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* The glibc at file offset off, opened at path (as our fd's /proc/self/fd
 * path, or a path), bound to process pid with kind k's programs: its entry
 * and return links added to cl. Returns 0 or a negative errno. */
static int client_bind(struct attach *a, int k, struct dns_client *cl, pid_t pid, const char *path,
		       uint64_t off)
{
	int fd_in, fd_out;

	if (cl->nfds + 2 > CLIENT_FDS_MAX)
		return -ENOSPC;
	privs_attach_begin();	/* the kernel wants CAP_SYS_ADMIN to create a uprobe */
	fd_in = umulti_link(bpf_program__fd(a->ks[k].progs[0]), path, &off, 1, 0, pid);
	fd_out = fd_in < 0 ? fd_in : umulti_link(bpf_program__fd(a->ks[k].progs[1]), path, &off, 1, 1, pid);
	privs_attach_end();
	if (fd_out < 0) {
		if (fd_in >= 0)
			fds_release(a, &fd_in, 1);
		return fd_out;
	}
	cl->fds[cl->nfds++] = fd_in;
	cl->fds[cl->nfds++] = fd_out;
	return 0;
}

/* The known glibc that file st is, or NULL. */
static const struct dns_libc *libc_find(const struct attach *a, const struct stat *st)
{
	int i;

	for (i = 0; i < a->nlibcs; i++)
		if (a->libcs[i].dev == st->st_dev && a->libcs[i].ino == st->st_ino)
			return &a->libcs[i];
	return NULL;
}

/* A file process pid maps (client_maps()): bound when it is a glibc. */
struct maps_ctx {
	struct attach *a;
	struct dns_client *cl;
	pid_t pid;
	int k;
};

static int client_lib(void *ctx, const char *mf, const char *shown)
{
	struct maps_ctx *m = ctx;
	const struct dns_libc *c;
	char fdpath[64];
	struct stat st;
	int fd, map_files = strstr(mf, "/map_files/") != NULL;

	if (attach_kind_by_name(shown) != m->k)
		return 0;
	if (map_files)
		privs_attach_begin();	/* /proc/PID/map_files wants CAP_SYS_ADMIN */
	fd = open(mf, O_RDONLY | O_CLOEXEC);
	if (map_files)
		privs_attach_end();
	if (fd < 0)
		return 0;
	if (fstat(fd, &st))
		goto out_close;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	c = libc_find(m->a, &st);
	if (!c) {
		/* A glibc only this process's view has (a container's image). */
		attach_file(m->a, (size_t)m->k, mf, shown, m->pid);
		c = libc_find(m->a, &st);
	}
	if (c && !client_bind(m->a, m->k, m->cl, m->pid, fdpath, c->off)) {
		close(fd);
		return 1;
	}
out_close:
	close(fd);
	return 0;
}

int attach_dns_client(struct attach *a, pid_t pid)
{
	struct maps_ctx m = { a, NULL, pid, -1 };
	char dir[64], path[512];
	int where, i, n, err, ours;

	/* every data event asks: the cheap answers first */
	if (!a->dns_clients || pid <= 0 || pid == a->dns_gone || htab_find(&a->clients, (uint64_t)pid, 0))
		return 0;
	m.k = dns_kind();
	if (m.k < 0 || !attach_dns_lean(a, (size_t)m.k) || !a->ks[m.k].on)
		return 0;
	if (a->clients.count >= DNS_CLIENTS_MAX) {
		if (!a->clients_full)
			log_warn("dns: %d client processes have getaddrinfo probes: others get none "
				 "(their lookups are seen by their UDP packets)", DNS_CLIENTS_MAX);
		a->clients_full = 1;
		return 0;
	}
	where = procfs_task_dir(pid, dir, sizeof(dir));
	if (where < 0) {
		/* gone: not remembered (its exit may have been read), but the
		 * rest of its data, still in the rings, asks no more */
		a->dns_gone = pid;
		return 0;
	}
	m.cl = calloc(1, sizeof(*m.cl));
	if (!m.cl)
		return -ENOMEM;
	m.cl->start = procfs_start_ticks(pid);
	if (htab_add(&a->clients, &m.cl->node, (uint64_t)pid, 0)) {
		free(m.cl);
		return -ENOMEM;
	}
	/* The glibc it maps; none yet (its exec was just read, its loader has
	 * not mapped it): the glibc files its mount namespace names. */
	n = attach_maps_each(pid, dir, where == 1, client_lib, &m);
	if (!n) {
		snprintf(path, sizeof(path), "%d", pid);
		ours = procfs_mnt_ns(path) == a->mnt_ns;
		for (i = 0; i < a->nlibcs; i++) {
			const struct dns_libc *c = &a->libcs[i];

			if (!c->path[0])
				continue;
			/* Another mount namespace: the same path under its root. */
			snprintf(path, sizeof(path), "/proc/%d/root%s", pid, c->path);
			err = client_bind(a, m.k, m.cl, pid, ours ? c->path : path, c->off);
			n += !err;
		}
	}
	log_debug("dns: getaddrinfo probed in pid %d (%d glibc file(s))", pid, n);
	return n > 0;
}

/* Forget client cl (in a->clients) and release its links. */
static void client_drop(struct attach *a, struct dns_client *cl)
{
	htab_del(&a->clients, &cl->node);
	fds_release(a, cl->fds, cl->nfds);
	free(cl);
}

void attach_dns_exit(struct attach *a, pid_t pid)
{
	struct htab_node *n = htab_find(&a->clients, (uint64_t)pid, 0);

	if (pid == a->dns_gone)
		a->dns_gone = 0;	/* its last data is read: the pid may come back */
	if (n)
		client_drop(a, htab_entry(n, struct dns_client, node));
}

void attach_dns_sweep(struct attach *a, uint64_t now_ns)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	if (!a->clients.count || now_ns < a->swept_ns + SWEEP_NS)
		return;
	a->swept_ns = now_ns;
	/* Gone, or its pid another process's now: its exit was not read. */
	while ((n = htab_next(&a->clients, &it))) {
		struct dns_client *cl = htab_entry(n, struct dns_client, node);

		if (procfs_start_ticks((pid_t)n->k1) != cl->start)
			client_drop(a, cl);
	}
}

void attach_dns_free(struct attach *a)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct dns_closer *c = a->closer;
	struct htab_node *n;

	while ((n = htab_next(&a->clients, &it))) {
		struct dns_client *cl = htab_entry(n, struct dns_client, node);
		int i;

		htab_del(&a->clients, n);
		for (i = 0; i < cl->nfds; i++)
			close(cl->fds[i]);
		free(cl);
	}
	htab_fini(&a->clients);
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->fds);
	free(c);
	a->closer = NULL;
}
