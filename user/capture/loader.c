/* loader.c -- the BPF objects' lifecycle: open, configure, load, attach tracepoints, poll the rings, read counters and CPU maps, detach. */
#include "capture/loader.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
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
#include "capture/attach.h"

struct loader {
	struct ssl_bpf *ssl;
	struct proc_bpf *proc;
	struct net_bpf *net;
	struct bpf_link *join_link, *ack_link;
	struct ring_buffer *rb;
	struct bpf_link **links;	/* dns.bpf.c's tracepoints */
	size_t nlinks, cap_links;
	struct dns_bpf *dns;		/* NULL when DNS tracing could not start */
	struct attach *attach;		/* the uprobes, on the files found */
};


static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && verbose < 2)
		return 0;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
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
	{
		struct bpf_object *objs[] = { l->ssl->obj, l->dns ? l->dns->obj : NULL };

		err = attach_new(&l->attach, objs, 2);
	}
	if (err)
		goto out_close;
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

int loader_attach_host(struct loader *l)
{
	return attach_host(l->attach);
}

int loader_attach_pid(struct loader *l, pid_t pid)
{
	return attach_pid(l->attach, pid);
}

int loader_files(const struct loader *l)
{
	return attach_tls_files(l->attach);
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

	if (!l || (!l->nlinks && !attach_links(l->attach)))
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
	attach_free(l->attach);
	while (l->nlinks)
		bpf_link__destroy(l->links[--l->nlinks]);
	bpf_link__destroy(l->ack_link);
	bpf_link__destroy(l->join_link);
	ring_buffer__free(l->rb);
	net_bpf__destroy(l->net);
	dns_bpf__destroy(l->dns);
	ssl_bpf__destroy(l->ssl);
	proc_bpf__destroy(l->proc);
	free(l->links);
	free(l);
}