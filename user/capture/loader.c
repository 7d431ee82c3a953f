/* loader.c -- the BPF objects' lifecycle: open, configure, load, attach tracepoints, poll the rings, read counters and CPU maps, detach. */
#include "capture/loader.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <unistd.h>

#include "ssl.skel.h"
#include "proc.skel.h"
#include "net.skel.h"
#include "dns.skel.h"
#include "go_tls.skel.h"
#include "base/util.h"
#include "capture/attach.h"

/* Objects whose events ring and counters are in use: ssl, proc, net, dns. */
#define OBJS_MAX 4

struct loader {
	struct ssl_bpf *ssl;
	struct proc_bpf *proc;
	struct net_bpf *net;
	struct dns_bpf *dns;		/* NULL when DNS tracing could not start */
	struct go_tls_bpf *go;		/* NULL when Go's TLS cannot be traced */
	struct ring_buffer *rb;		/* every object's events ring */
	struct bpf_map *counters[OBJS_MAX];	/* every started object's */
	int nobjs;
	struct attach *attach;		/* the uprobes, on the files found */
	loader_sample_fn fn;		/* where records go, in time order */
	void *ctx;
	struct held *held;		/* this round's records of the other rings */
	size_t nheld, cap_held, next_held;
};

/* A record of a ring other than ssl.bpf.c's, held until the TLS records
 * before it are handed on (see loader_poll()). */
struct held {
	uint64_t ts;
	size_t seq;
	size_t size;
	void *data;
};

/* libbpf's messages: warnings with -v, its debug output with -vv. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && verbose < 2)
		return 0;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* When record data happened, for ordering: a plaintext chunk counts at its
 * call's return, anything else at its header's time. */
static uint64_t record_time(const void *data, size_t size)
{
	const struct lt_hdr *h = data;

	if (size < sizeof(*h))
		return 0;
	if (h->type == LT_EV_DATA && size >= offsetof(struct lt_data_event, data))
		return ((const struct lt_data_event *)data)->ts_end_ns;
	return h->ts_ns;
}

static int held_cmp(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hand on the held records up to time upto, oldest first. */
static void held_flush(struct loader *l, uint64_t upto)
{
	if (l->next_held == 0 && l->nheld > 1)
		qsort(l->held, l->nheld, sizeof(*l->held), held_cmp);
	while (l->next_held < l->nheld && l->held[l->next_held].ts <= upto) {
		struct held *h = &l->held[l->next_held++];

		l->fn(l->ctx, h->data, h->size);
		free(h->data);
	}
	if (l->next_held == l->nheld)
		l->nheld = l->next_held = 0;
}

/* Callback of the rings other than ssl.bpf.c's: keep a copy for now (when
 * memory runs out, hand it on at once rather than lose it). */
static int hold_sample(void *ctx, void *data, size_t size)
{
	struct loader *l = ctx;
	struct held *h;
	void *copy;

	if (l->next_held) {
		/* TLS records were handed on already this round: keep order simple */
		return l->fn(l->ctx, data, size);
	}
	if (l->nheld == l->cap_held) {
		size_t cap = l->cap_held ? 2 * l->cap_held : 256;

		h = realloc(l->held, cap * sizeof(*h));
		if (!h)
			return l->fn(l->ctx, data, size);
		l->held = h;
		l->cap_held = cap;
	}
	copy = malloc(size);
	if (!copy)
		return l->fn(l->ctx, data, size);
	memcpy(copy, data, size);
	l->held[l->nheld++] = (struct held){ .ts = record_time(data, size), .seq = l->nheld, .size = size,
					      .data = copy };
	return 0;
}

/* Callback of ssl.bpf.c's ring: first the held records that happened before. */
static int tls_sample(void *ctx, void *data, size_t size)
{
	struct loader *l = ctx;

	held_flush(l, record_time(data, size));
	return l->fn(l->ctx, data, size);
}

/* Start loaded object s (bpf/X.bpf.c, skeleton X_bpf): fill its process
 * filter when it has one (filter.bpf.h), attach its tracepoints (its bare
 * SEC("uprobe") programs are skipped: capture/attach.c puts them on files),
 * add its events ring to the poller and keep its counters (common.bpf.h).
 * Returns 0, or a negative errno and the step that failed in *what; links
 * made stay with the skeleton until it is destroyed. */
static int obj_start(struct loader *l, struct bpf_object_skeleton *s,
		     const struct loader_opts *o, const char **what)
{
	ring_buffer_sample_fn fn = s == l->ssl->skeleton ? tls_sample : hold_sample;
	struct bpf_object *obj = *s->obj;
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "events");
	struct bpf_map *counters = bpf_object__find_map_by_name(obj, "counters");
	struct bpf_map *tgids = bpf_object__find_map_by_name(obj, "tgids");
	__u8 one = 1;
	int err, i;

	*what = "find the events and counters maps";
	if (!events || !counters)
		return -EINVAL;
	*what = "keep its counters (raise OBJS_MAX)";
	if (l->nobjs == OBJS_MAX)
		return -E2BIG;
	for (i = 0; tgids && i < o->npids; i++) {
		__u32 pid = o->pids[i];

		bpf_map__update_elem(tgids, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY);
	}
	*what = "attach the tracepoints";
	err = bpf_object__attach_skeleton(s);
	if (err)
		return err;
	*what = "add the ring buffer";
	if (!l->rb) {
		l->rb = ring_buffer__new(bpf_map__fd(events), fn, l, NULL);
		err = l->rb ? 0 : -errno;
	} else {
		err = ring_buffer__add(l->rb, bpf_map__fd(events), fn, l);
	}
	if (err)
		return err;
	l->counters[l->nobjs++] = counters;
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

/* Open, load and start dns.bpf.c. A failure leaves DNS untraced (l->dns
 * NULL, message printed) but the rest working. */
static void dns_open(struct loader *l, const struct loader_opts *o)
{
	const char *what = "open";
	int err;

	l->dns = dns_bpf__open();
	if (!l->dns) {
		err = -errno;
		goto out_warn;
	}
	l->dns->rodata->self_tgid = o->self;
	l->dns->rodata->filter_tgid = o->npids > 0;
	what = "load";
	err = dns_bpf__load(l->dns);
	if (err)
		goto out_destroy;
	tracefs_ensure();
	err = obj_start(l, l->dns->skeleton, o, &what);
	if (err)
		goto out_destroy;
	return;

out_destroy:
	dns_bpf__destroy(l->dns);
	l->dns = NULL;
out_warn:
	log_debug("dns: failed to %s: %s", what, strerror(-err));
	log_warn("dns: DNS lookups not traced: %s (run with -v for details)", strerror(-err));
}

/* Hand map name of object `to` the fd of the same map in `from` before
 * `to` is loaded, after checking both have one layout. Returns 0 or -errno. */
static int map_share(struct bpf_object *from, struct bpf_object *to, const char *name)
{
	struct bpf_map *f = bpf_object__find_map_by_name(from, name);
	struct bpf_map *t = bpf_object__find_map_by_name(to, name);

	if (!f || !t || bpf_map__type(f) != bpf_map__type(t) ||
	    bpf_map__key_size(f) != bpf_map__key_size(t) ||
	    bpf_map__value_size(f) != bpf_map__value_size(t))
		return -EINVAL;
	return bpf_map__reuse_fd(t, bpf_map__fd(f));
}

/* Open and load go_tls.bpf.c on ssl.bpf.c's maps: its events go to the same
 * ring, its sessions join sockets through ssl.bpf.c's programs. A failure
 * leaves Go's TLS untraced (l->go NULL, message printed). */
static void go_open(struct loader *l, const struct loader_opts *o)
{
	static const char *const shared[] = {
		"events", "counters", "tgids", "offsets", "thread_last", "sessions",
	};
	const char *what = "open";
	size_t i;
	int err;

	l->go = go_tls_bpf__open();
	if (!l->go) {
		err = -errno;
		goto out_warn;
	}
	l->go->rodata->self_tgid = o->self;
	l->go->rodata->filter_tgid = o->npids > 0;
	l->go->rodata->chunks_max = o->chunks_max;
	what = "share ssl.bpf.c's maps";
	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		err = map_share(l->ssl->obj, l->go->obj, shared[i]);
		if (err)
			goto out_destroy;
	}
	what = "load";
	err = go_tls_bpf__load(l->go);
	if (err)
		goto out_destroy;
	return;

out_destroy:
	go_tls_bpf__destroy(l->go);
	l->go = NULL;
out_warn:
	log_warn("go: Go's crypto/tls not traced: failed to %s: %s", what, strerror(-err));
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
	struct bpf_object_skeleton *started[3];
	struct bpf_object *probed[3];
	const char *what;
	struct loader *l;
	size_t i;
	int err;

	libbpf_set_print(libbpf_print);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fn = fn;
	l->ctx = ctx;
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
	/* TCP, process and TLS tracing are required; DNS is optional. Their
	 * rings are read in the order started: TLS last (see loader_poll()). */
	started[0] = l->net->skeleton;
	started[1] = l->proc->skeleton;
	started[2] = l->ssl->skeleton;
	for (i = 0; i < sizeof(started) / sizeof(started[0]); i++) {
		if (i == 2)
			dns_open(l, o);
		err = obj_start(l, started[i], o, &what);
		if (err) {
			log_warn("BPF object %s: failed to %s: %s", started[i]->name, what,
				 strerror(-err));
			goto out_close;
		}
	}
	go_open(l, o);
	/* The objects with uprobe programs, for capture/attach.c to put on files. */
	probed[0] = l->ssl->obj;
	probed[1] = l->dns ? l->dns->obj : NULL;
	probed[2] = l->go ? l->go->obj : NULL;
	err = attach_new(&l->attach, probed, 3);
	if (err) {
		log_warn("failed to set up uprobe attaching: %s", strerror(-err));
		goto out_close;
	}
	*out = l;
	return 0;

out_close:
	loader_close(l);
	return err ? err : -EINVAL;
}

int loader_poll(struct loader *l, int timeout_ms)
{
	struct epoll_event ev[OBJS_MAX];
	int n;

	/*
	 * Wait, then read every ring. The records of one call come through
	 * several rings (its connection, its lookup, its plaintext, its
	 * process's exit) and must reach the trackers in the order they
	 * happened, whatever order the rings are read in: the other rings are
	 * read first and held, and each TLS record first lets through the held
	 * ones older than it.
	 */
	n = epoll_wait(ring_buffer__epoll_fd(l->rb), ev, OBJS_MAX, timeout_ms);
	if (n < 0) {
		n = -errno;
	} else {
		n = ring_buffer__consume(l->rb);
		held_flush(l, UINT64_MAX);
	}
	attach_rescans_run(l->attach);
	return n;
}

int loader_attach_host(struct loader *l)
{
	return attach_host(l->attach);
}

void loader_exec(struct loader *l, pid_t pid, const char *comm, const char *file)
{
	attach_exec(l->attach, pid, comm, file);
}

int loader_files(const struct loader *l)
{
	return attach_tls_files(l->attach);
}

int loader_records_pid(const struct loader *l, pid_t pid,
		       void (*fn)(void *ctx, const struct attach_record *r), void *ctx)
{
	return attach_records_pid(l->attach, pid, fn, ctx);
}

/* Add the per-CPU values of counters map m (enum lt_counter) into out. */
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
	int i;

	memset(out, 0, LT_CNT_MAX * sizeof(out[0]));
	for (i = 0; i < l->nobjs; i++)
		counters_sum(l->counters[i], out);
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

	/* Uprobes and dns.bpf.c's syscall tracepoints are the slow ones. */
	if (!l || (!attach_links(l->attach) && !l->dns))
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
	ring_buffer__free(l->rb);
	while (l->next_held < l->nheld)
		free(l->held[l->next_held++].data);
	free(l->held);
	net_bpf__destroy(l->net);
	dns_bpf__destroy(l->dns);
	go_tls_bpf__destroy(l->go);
	ssl_bpf__destroy(l->ssl);
	proc_bpf__destroy(l->proc);
	free(l);
}