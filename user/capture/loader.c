/* loader.c -- the BPF objects' lifecycle: open, configure, load, attach tracepoints, poll the rings, read counters and CPU maps, detach. */
#include "capture/loader.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssl.skel.h"
#include "proc.skel.h"
#include "net.skel.h"
#include "dns.skel.h"
#include "sock.skel.h"
#include "go_tls.skel.h"
#include "rustls.skel.h"
#include "base/htab.h"
#include "base/procfs.h"
#include "base/util.h"
#include "capture/attach.h"
#include "capture/umulti.h"
#include "capture/merge.h"
#include "capture/ring.h"

/* Objects whose events ring and counters are in use: ssl, proc, net, dns, sock. */
#define OBJS_MAX 5
/* The events ring of proc, net and dns: their events are small and their
 * wakeups come at a quarter of it (a ring is resident twice: the reader
 * maps its data pages two times over). */
#define LOADER_SMALL_RING (512u << 10)

struct loader {
	struct ssl_bpf *ssl;
	struct proc_bpf *proc;
	struct net_bpf *net;
	struct dns_bpf *dns;		/* NULL when DNS tracing could not start */
	struct sock_bpf *sock;		/* NULL when plain HTTP capture could not start */
	struct go_tls_bpf *go;		/* NULL when Go's TLS cannot be traced */
	struct rustls_bpf *rustls;	/* NULL when rustls cannot be traced */
	struct rings *rb;		/* every object's events ring */
	struct merge *merge;		/* their records, handed on in time order */
	struct bpf_map *counters[OBJS_MAX];	/* every started object's */
	int nobjs;
	struct attach *attach;		/* the uprobes, on the files found */
	int multi;			/* uprobes as uprobe_multi links (umulti.c) */
	struct htab client_exes;	/* struct client_exe: programs of LLM clients */
};

/* A program a process that made LLM calls ran, as its exec events name it. */
#define CLIENT_EXES_MAX 4096
struct client_exe {
	struct htab_node node;
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

/* Start loaded object s (bpf/X.bpf.c, skeleton X_bpf): fill its process
 * filter when it has one (filter.bpf.h), attach its tracepoints (its bare
 * SEC("uprobe") programs are skipped: capture/attach.c puts them on files),
 * add its events ring to the poller (unless own_ring is 0: it writes to
 * another object's ring, read already) and keep its counters
 * (common.bpf.h). Returns 0, or a negative errno and the step that failed
 * in *what; links made stay with the skeleton until it is destroyed. */
static int obj_start(struct loader *l, struct bpf_object_skeleton *s,
		     const struct loader_opts *o, int own_ring, loader_sample_fn fn, void *ctx,
		     const char **what)
{
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
	err = l->rb ? 0 : rings_new(&l->rb);
	if (!err && own_ring)
		err = rings_add(l->rb, bpf_map__fd(events), bpf_map__max_entries(events), fn, ctx);
	if (err)
		return err;
	l->counters[l->nobjs++] = counters;
	return 0;
}

/* Once s is loaded its embedded ELF image (in the binary's read-only data)
 * is not read again: drop its pages from memory (they are the file's). */
static void obj_image_release(const struct bpf_object_skeleton *s)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)s->data, end = a + s->data_sz;

	a = (a + pg - 1) & ~(uintptr_t)(pg - 1);
	end &= ~(uintptr_t)(pg - 1);
	if (end > a)
		madvise((void *)a, end - a, MADV_DONTNEED);
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

/* The handlers that run in net.bpf.c's socket-tracepoint programs by tail
 * call (bpf/chain.bpf.h): program, chain map, slot. */
static const struct chain_link {
	const char *prog;
	const char *map;
	__u32 slot;
} chain_links[] = {
	{ "dns_sent", "chain_send", LT_CHAIN_DNS },
	{ "dns_received", "chain_recv", LT_CHAIN_DNS },
	{ "ssl_sock_join", "chain_send", LT_CHAIN_SSL },
	{ "sk_sent", "chain_send", LT_CHAIN_SOCK },
	{ "sk_received", "chain_recv", LT_CHAIN_SOCK },
	{ "sk_state_change", "chain_state", LT_CHAIN_SOCK },
	{ "rustls_send", "chain_send", LT_CHAIN_RUSTLS },
	{ "rustls_recv", "chain_recv", LT_CHAIN_RUSTLS },
};

static const char *const chain_maps[] = { "chain_send", "chain_recv", "chain_state" };

/* Ready obj (opened, not loaded) for the chains: net.bpf.c's chain maps
 * (loaded already) become its own, and its handlers are not attached to
 * their tracepoints (chain_join() puts them in a slot instead). Returns 0
 * or -errno. */
static int chain_prepare(struct loader *l, struct bpf_object *obj)
{
	struct bpf_program *p;
	size_t i;
	int err;

	for (i = 0; i < sizeof(chain_maps) / sizeof(chain_maps[0]); i++) {
		if (!bpf_object__find_map_by_name(obj, chain_maps[i]))
			continue;
		err = map_share(l->net->obj, obj, chain_maps[i]);
		if (err)
			return err;
	}
	for (i = 0; i < sizeof(chain_links) / sizeof(chain_links[0]); i++) {
		p = bpf_object__find_program_by_name(obj, chain_links[i].prog);
		if (p)
			bpf_program__set_autoattach(p, false);
	}
	return 0;
}

/* Put obj's handlers in their slots (join), or take them out. Returns 0, or
 * the first error putting one in (the caller takes the rest out). */
static int chain_set(struct loader *l, struct bpf_object *obj, int join)
{
	struct bpf_program *p;
	struct bpf_map *m;
	size_t i;
	int fd, err;

	for (i = 0; i < sizeof(chain_links) / sizeof(chain_links[0]); i++) {
		const struct chain_link *c = &chain_links[i];

		p = bpf_object__find_program_by_name(obj, c->prog);
		m = bpf_object__find_map_by_name(l->net->obj, c->map);
		if (!p)
			continue;
		if (!m)
			return -EINVAL;
		fd = bpf_program__fd(p);
		if (join)
			err = bpf_map__update_elem(m, &c->slot, sizeof(c->slot), &fd, sizeof(fd),
						   BPF_ANY);
		else
			err = bpf_map__delete_elem(m, &c->slot, sizeof(c->slot), 0);
		if (err && join)
			return err;
	}
	return 0;
}

/* Start obj's handlers (loaded): from now on net.bpf.c's programs run them.
 * Returns 0 or -errno (then none of them runs). */
static int chain_join(struct loader *l, struct bpf_object *obj)
{
	int err = chain_set(l, obj, 1);

	if (err)
		chain_set(l, obj, 0);
	return err;
}

/* Open, load and start dns.bpf.c. A failure leaves DNS untraced (l->dns
 * NULL, message printed) but the rest working. */
static void dns_open(struct loader *l, const struct loader_opts *o, loader_sample_fn fn, void *ctx)
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
	l->dns->rodata->wake_bytes = LOADER_SMALL_RING / 4;
	bpf_map__set_max_entries(l->dns->maps.events, LOADER_SMALL_RING);
	what = "share the socket tracepoints' chains";
	err = chain_prepare(l, l->dns->obj);
	if (err)
		goto out_destroy;
	if (l->multi)
		umulti_prepare(l->dns->obj);
	what = "load";
	err = dns_bpf__load(l->dns);
	if (err)
		goto out_destroy;
	obj_image_release(l->dns->skeleton);
	what = "join the socket tracepoints' chains";
	err = chain_join(l, l->dns->obj);
	if (err)
		goto out_destroy;
	err = obj_start(l, l->dns->skeleton, o, 1, fn, ctx, &what);
	if (err)
		goto out_unchain;
	return;

out_unchain:
	chain_set(l, l->dns->obj, 0);
out_destroy:
	dns_bpf__destroy(l->dns);
	l->dns = NULL;
out_warn:
	log_debug("dns: failed to %s: %s", what, strerror(-err));
	log_warn("dns: DNS lookups not traced: %s (run with -v for details)", strerror(-err));
}

/* Open, load and start sock.bpf.c (plain HTTP from socket I/O), on the TLS
 * data ring (ssl.bpf.c's: its records are data too, read the same way,
 * and a second ring as large would be as much memory again). A failure
 * leaves plain HTTP uncaptured (l->sock NULL, message printed) but the
 * rest working. */
static void sock_open(struct loader *l, const struct loader_opts *o, loader_sample_fn fn,
		      void *ctx)
{
	const char *what = "open";
	int err;

	l->sock = sock_bpf__open();
	if (!l->sock) {
		err = -errno;
		goto out_warn;
	}
	l->sock->rodata->self_tgid = o->self;
	l->sock->rodata->filter_tgid = o->npids > 0;
	l->sock->rodata->chunks_max = o->chunks_max;
	l->sock->rodata->wake_bytes = o->ring_bytes / 4;
	what = "share the TLS ring";
	err = map_share(l->ssl->obj, l->sock->obj, "events");
	if (err)
		goto out_destroy;
	/* the sockets processes connect()ed, which net.bpf.c keeps */
	what = "share the connected sockets";
	err = map_share(l->net->obj, l->sock->obj, "socks");
	if (err)
		goto out_destroy;
	what = "share the socket tracepoints' chains";
	err = chain_prepare(l, l->sock->obj);
	if (err)
		goto out_destroy;
	what = "load";
	err = sock_bpf__load(l->sock);
	if (err)
		goto out_destroy;
	obj_image_release(l->sock->skeleton);
	what = "join the socket tracepoints' chains";
	err = chain_join(l, l->sock->obj);
	if (err)
		goto out_destroy;
	err = obj_start(l, l->sock->skeleton, o, 0, fn, ctx, &what);
	if (err)
		goto out_unchain;
	return;

out_unchain:
	chain_set(l, l->sock->obj, 0);
out_destroy:
	sock_bpf__destroy(l->sock);
	l->sock = NULL;
out_warn:
	log_debug("sock: failed to %s: %s", what, strerror(-err));
	log_warn("plain HTTP (no TLS) not captured: %s (run with -v for details)", strerror(-err));
}

/* The rodata every object that writes to ssl.bpf.c's ring takes from the
 * options (skel: a skeleton with common.bpf.h's and tls_emit's constants). */
#define TLS_RODATA(skel, o)							\
	do {									\
		(skel)->rodata->self_tgid = (o)->self;				\
		(skel)->rodata->filter_tgid = (o)->npids > 0;			\
		(skel)->rodata->chunks_max = (o)->chunks_max;			\
		(skel)->rodata->wake_bytes = (o)->ring_bytes / 4;		\
	} while (0)

/* Hand obj (opened, not loaded) ssl.bpf.c's ring, counters, filter and
 * TLS stream maps: its events go to the same ring, its sessions join
 * sockets through ssl.bpf.c's programs (the thread state, the sessions
 * and their mutes are shared). Returns 0 or -errno. */
static int tls_share(struct loader *l, struct bpf_object *obj)
{
	static const char *const shared[] = {
		"events", "counters", "tgids", "offsets", "threads", "sessions",
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		err = map_share(l->ssl->obj, obj, shared[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Open and load go_tls.bpf.c on ssl.bpf.c's maps. A failure leaves Go's
 * TLS untraced (l->go NULL, message printed). */
static void go_open(struct loader *l, const struct loader_opts *o)
{
	const char *what = "open";
	int err;

	l->go = go_tls_bpf__open();
	if (!l->go) {
		err = -errno;
		goto out_warn;
	}
	TLS_RODATA(l->go, o);
	what = "share ssl.bpf.c's maps";
	err = tls_share(l, l->go->obj);
	if (err)
		goto out_destroy;
	if (l->multi)
		umulti_prepare(l->go->obj);
	what = "load";
	err = go_tls_bpf__load(l->go);
	if (err)
		goto out_destroy;
	obj_image_release(l->go->skeleton);
	return;

out_destroy:
	go_tls_bpf__destroy(l->go);
	l->go = NULL;
out_warn:
	log_warn("go: Go's crypto/tls not traced: failed to %s: %s", what, strerror(-err));
}

/* Open, load and start rustls.bpf.c on ssl.bpf.c's maps (its socket
 * handlers join net.bpf.c's chains here, its uprobes are attached by
 * capture/attach.c). A
 * failure leaves rustls untraced (l->rustls NULL, message printed). */
static void rustls_open(struct loader *l, const struct loader_opts *o)
{
	const char *what = "open";
	int err;

	l->rustls = rustls_bpf__open();
	if (!l->rustls) {
		err = -errno;
		goto out_warn;
	}
	TLS_RODATA(l->rustls, o);
	what = "share ssl.bpf.c's maps";
	err = tls_share(l, l->rustls->obj);
	if (!err)
		err = chain_prepare(l, l->rustls->obj);
	if (err)
		goto out_destroy;
	if (l->multi)
		umulti_prepare(l->rustls->obj);
	what = "load";
	err = rustls_bpf__load(l->rustls);
	if (err)
		goto out_destroy;
	what = "join the socket tracepoints' chains";
	err = chain_join(l, l->rustls->obj);
	if (err)
		goto out_destroy;
	obj_image_release(l->rustls->skeleton);
	return;

out_destroy:
	rustls_bpf__destroy(l->rustls);
	l->rustls = NULL;
out_warn:
	log_warn("rustls: rustls (AWS-LC) not traced: failed to %s: %s", what, strerror(-err));
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

/* A loader_cpu_fn that keeps nothing. */
static void cpu_discard(void *ctx, const struct loader_cpu *c, int thread)
{
	(void)ctx;
	(void)c;
	(void)thread;
}

int loader_open(struct loader **out, const struct loader_opts *o,
		loader_sample_fn fn, void *ctx)
{
	struct bpf_object_skeleton *started[3];
	struct bpf_object *probed[4];
	const char *what, *links;
	struct loader *l;
	size_t i;
	int err, perf;

	libbpf_set_print(libbpf_print);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	htab_init(&l->client_exes);
	err = merge_new(&l->merge, fn, ctx);
	if (err) {
		free(l);
		return err;
	}
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
	/* Events wake the reader only when a quarter of the ring waits; else
	 * loader_poll()'s timed drain picks them up. */
	l->ssl->rodata->wake_bytes = o->ring_bytes / 4;
	l->proc->rodata->wake_bytes = LOADER_SMALL_RING / 4;
	l->net->rodata->wake_bytes = LOADER_SMALL_RING / 4;
	l->proc->rodata->self_tgid = o->self;
	l->proc->rodata->tracer_start_ns = mono_ns();
	l->proc->rodata->tracer_mnt_ns = (__u32)procfs_mnt_ns("self");
	/* oom:mark_victim passes a task since Linux 6.8 (before: a pid): with
	 * an older kernel, OOM victims are just not marked. */
	if (!mark_victim_has_task()) {
		log_debug("no BTF for oom:mark_victim; OOM kills are not marked");
		bpf_program__set_autoload(l->proc->progs.handle_oom, false);
	}
	l->net->rodata->self_tgid = o->self;
	bpf_map__set_max_entries(l->proc->maps.events, LOADER_SMALL_RING);
	bpf_map__set_max_entries(l->net->maps.events, LOADER_SMALL_RING);
	err = bpf_map__set_max_entries(l->ssl->maps.events, o->ring_bytes);
	if (err) {
		log_warn("failed to size ring buffer to %llu bytes: %s",
			 (unsigned long long)o->ring_bytes, strerror(-err));
		goto out_close;
	}
	/* The uprobes are uprobe_multi links where the kernel has them: with
	 * -p each is made for the processes named alone, so that no other
	 * process on the host traps in its SSL calls; host-wide, they cost a
	 * little less per hit than perf-event uprobes and leave the processes
	 * sooner after we exit. The programs are loaded for the way they will
	 * be attached. */
	links = getenv("LLMTAP_UPROBE_LINKS");
	perf = links && !strcmp(links, "perf");
	l->multi = !perf && umulti_supported();
	if (!l->multi && o->npids > 0)
		log_warn("-p: %s: the uprobes stay host-wide, and other processes' SSL calls still trap",
			 perf ? "LLMTAP_UPROBE_LINKS=perf" : "this kernel has no uprobe_multi links (Linux 6.6)");
	if (l->multi)
		umulti_prepare(l->ssl->obj);
	/* net.bpf.c first: the others share its chain maps (and ssl.bpf.c the
	 * connected sockets, whose connects its joins report) */
	err = net_bpf__load(l->net);
	if (!err)
		err = chain_prepare(l, l->ssl->obj);
	if (!err)
		err = map_share(l->net->obj, l->ssl->obj, "socks");
	if (!err)
		err = ssl_bpf__load(l->ssl);
	if (!err)
		err = proc_bpf__load(l->proc);
	if (err) {
		log_warn("failed to load BPF programs: %s (run with -v for the verifier log)",
			 strerror(-err));
		goto out_close;
	}
	/* TCP, process and TLS tracing are required; DNS is optional. Their
	 * rings are read in the order started (loader_poll()), TLS last: the
	 * records of the small rings are held (capture/merge.c) and handed on
	 * in time order with the data records, so the connection (and lookup)
	 * of a call comes before its data, the connection's close after. */
	started[0] = l->net->skeleton;
	started[1] = l->proc->skeleton;
	started[2] = l->ssl->skeleton;
	for (i = 0; i < sizeof(started) / sizeof(started[0]); i++)
		obj_image_release(started[i]);
	for (i = 0; i < sizeof(started) / sizeof(started[0]); i++) {
		if (i == 2)
			dns_open(l, o, merge_hold, l->merge);
		what = "join the socket tracepoints' chains";
		err = i == 2 ? chain_join(l, l->ssl->obj) : 0;
		if (!err)
			err = obj_start(l, started[i], o, 1, i == 2 ? merge_pass : merge_hold,
					l->merge, &what);
		if (err) {
			log_warn("BPF object %s: failed to %s: %s", started[i]->name, what,
				 strerror(-err));
			goto out_close;
		}
	}
	/* Take the base of every thread older than the tracer now: what they
	 * ran before it is not counted (proc.bpf.c's cpu_base). */
	err = loader_cpu_sample(l, 0, cpu_discard, NULL);
	if (err < 0)
		log_warn("CPU accounting: task iterator failed: %s", strerror(-err));
	/* plain HTTP's data, read after the TCP connections too */
	sock_open(l, o, merge_pass, l->merge);
	/* its class events report the connects of the sockets that need them */
	if (l->sock)
		l->net->bss->connect_lazy = 1;
	go_open(l, o);
	rustls_open(l, o);
	/* The objects with uprobe programs, for capture/attach.c to put on files. */
	probed[0] = l->ssl->obj;
	probed[1] = l->dns ? l->dns->obj : NULL;
	probed[2] = l->go ? l->go->obj : NULL;
	probed[3] = l->rustls ? l->rustls->obj : NULL;
	err = attach_new(&l->attach, probed, 4);
	if (err) {
		log_warn("failed to set up uprobe attaching: %s", strerror(-err));
		goto out_close;
	}
	if (l->multi)
		attach_multi(l->attach, o->pids, o->npids);
	attach_dns_clients(l->attach, !o->dns_all);
	if (o->npids > 0 && l->multi)
		log_debug("uprobes: uprobe_multi links, for the %d process(es) of -p alone", o->npids);
	else
		log_debug("uprobes: %s links, host-wide", l->multi ? "uprobe_multi" : "perf-event");
	*out = l;
	return 0;

out_close:
	loader_close(l);
	return err ? err : -EINVAL;
}

int loader_poll(struct loader *l, int timeout_ms)
{
	/* every ring, not only those that woke the poll: most events come
	 * without a wakeup */
	int n = rings_poll(l->rb, attach_rescan_wait_ms(l->attach, timeout_ms));

	merge_flush(l->merge, rings_behind(l->rb));
	attach_rescans_run(l->attach);
	attach_dns_sweep(l->attach, mono_ns());
	return n;
}

int loader_spool_start(struct loader *l, const char *dir, uint64_t bytes)
{
	int err = rings_spool(l->rb, dir, bytes);

	if (err) {
		log_warn("ring spool: %s: a ring the reader is behind on drops events when full",
			 strerror(-err));
		return 0;
	}
	if (!bytes)
		return 0;
	log_debug("ring spool: up to %llu MB per ring in %s when the reader is behind",
		  (unsigned long long)(bytes >> 20), dir ? dir : "/var/tmp");
	return 1;
}

void loader_spool_stats(const struct loader *l, struct spool_stats *st)
{
	rings_spool_stats(l->rb, st);
}

void loader_mute(struct loader *l, uint32_t tgid, uint64_t ssl)
{
	/* ssl.bpf.c's struct conn_key and struct session */
	struct { __u64 ssl; __u32 tgid, dir; } key = { ssl, tgid, 0 };
	struct { __u64 cookie; __u32 mute, pad; } v;
	int fd = bpf_map__fd(l->ssl->maps.sessions);

	if (bpf_map_lookup_elem(fd, &key, &v))
		return;
	v.mute = 1;
	bpf_map_update_elem(fd, &key, &v, BPF_EXIST);
}

void loader_drain_mark(struct loader *l)
{
	rings_mark(l->rb);
}

int loader_drain(struct loader *l)
{
	int n = rings_consume(l->rb);

	merge_flush(l->merge, rings_behind(l->rb));
	return n;
}

int loader_attach_host(struct loader *l)
{
	return attach_host(l->attach);
}

int loader_exec(struct loader *l, pid_t pid, const char *comm, const char *file,
		const struct lt_exe_key *key, int seen)
{
	/* A client's program again: probed before its loader maps glibc. */
	if (htab_find(&l->client_exes, key->dev, key->ino))
		attach_dns_client(l->attach, pid);
	return attach_exec(l->attach, pid, comm, file, key->dev, key->ino, seen);
}

void loader_exe_seen(struct loader *l, const struct lt_exe_key *key)
{
	__u8 v = htab_find(&l->client_exes, key->dev, key->ino) ? LT_EXE_CLIENT : LT_EXE_LOOKED;

	/* Best effort: a failure leaves that program's execs waking the reader. */
	bpf_map_update_elem(bpf_map__fd(l->proc->maps.exes_seen), key, &v, BPF_ANY);
}

void loader_client(struct loader *l, pid_t pid)
{
	struct lt_exe_key key = { 0 };
	struct client_exe *c;
	char path[64];
	struct stat st;

	if (attach_dns_client(l->attach, pid) != 1)
		return;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st) || l->client_exes.count >= CLIENT_EXES_MAX)
		return;
	key.dev = dev_kernel(st.st_dev);
	key.ino = st.st_ino;
	if (htab_find(&l->client_exes, key.dev, key.ino))
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	if (htab_add(&l->client_exes, &c->node, key.dev, key.ino)) {
		free(c);
		return;
	}
	/* Its execs wake the reader, even in our mount namespace. */
	loader_exe_seen(l, &key);
}

void loader_exit(struct loader *l, pid_t pid)
{
	attach_dns_exit(l->attach, pid);
}

const struct attach *loader_attach(const struct loader *l)
{
	return l->attach;
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

/* A process's totals while a sample is put together. */
struct cpu_sum {
	struct htab_node node;		/* key (tgid, 0) */
	struct loader_cpu c;
};

/* Add entry c (a live thread, or the exited threads of a process) to the
 * totals of its process in sums. Returns 0, or -ENOMEM. */
static int cpu_sum_add(struct htab *sums, uint32_t tgid, const struct loader_cpu *c)
{
	struct htab_node *n = htab_find(sums, tgid, 0);
	struct cpu_sum *s = n ? htab_entry(n, struct cpu_sum, node) : NULL;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->c.id = s->c.tgid = tgid;
		if (htab_add(sums, &s->node, tgid, 0)) {
			free(s);
			return -ENOMEM;
		}
	}
	s->c.oncpu_ns += c->oncpu_ns;
	s->c.runq_ns += c->runq_ns;
	s->c.switches += c->switches;
	s->c.preempts += c->preempts;
	return 0;
}

/* The CPU time of thread tid of tgid so far (ns: the first field of its
 * schedstat, which the kernel brings up to date for a running thread), or 0. */
static uint64_t thread_runtime_ns(uint32_t tgid, uint32_t tid)
{
	unsigned long long ns = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/schedstat", tgid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

/* One thread record of the task iterator: to fn, and into its process's
 * totals. A thread on a CPU now has its running slice added (the kernel's
 * counter is as of its last tick). */
static int cpu_thread_add(const struct lt_cpu_thread *r, struct htab *sums, loader_cpu_fn fn,
			  void *ctx)
{
	struct loader_cpu c = {
		.id = r->tid, .tgid = r->s.tgid, .oncpu_ns = r->s.oncpu_ns,
		.runq_ns = r->s.runq_ns, .switches = r->s.switches, .preempts = r->s.preempts,
	};
	uint64_t ran;

	if (r->on_cpu) {
		ran = thread_runtime_ns(r->s.tgid, r->tid);
		if (ran > r->runtime_ns && ran - r->runtime_ns < 1000000000ull)
			c.oncpu_ns += ran - r->runtime_ns;
	}
	fn(ctx, &c, 1);
	return cpu_sum_add(sums, c.tgid, &c);
}

/* Run proc.bpf.c's task iterator once: every live thread that ran since
 * the tracer started goes through cpu_thread_add(). Returns the threads
 * read or a negative errno. */
static int cpu_iter_read(struct loader *l, struct htab *sums, loader_cpu_fn fn, void *ctx)
{
	enum { BATCH = 128 };
	struct lt_cpu_thread recs[BATCH];
	size_t have = 0, i, whole;
	int fd, n = 0, err = 0;
	ssize_t got;

	if (!l->proc->links.cpu_iter)
		return -ENOENT;
	fd = bpf_iter_create(bpf_link__fd(l->proc->links.cpu_iter));
	if (fd < 0)
		return -errno;
	for (;;) {
		got = read(fd, (char *)recs + have, sizeof(recs) - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		if (got == 0)
			break;
		/* a read may end inside a record: keep its start for the next */
		have += got;
		whole = have / sizeof(recs[0]);
		for (i = 0; i < whole && !err; i++, n++)
			err = cpu_thread_add(&recs[i], sums, fn, ctx);
		if (err)
			break;
		have -= whole * sizeof(recs[0]);
		memmove(recs, (char *)recs + whole * sizeof(recs[0]), have);
	}
	close(fd);
	return err ? err : n;
}

/* Read every entry of a CPU map keyed by task id: with sums, each one (the
 * exited threads of a process, in cpu_procs) goes into its process's
 * totals in sums; with gc, entries of tasks gone from /proc are
 * deleted instead (their exit was missed). Without sums (cpu_base), only
 * the gc is done. Returns entries read or a negative errno. */
static int cpu_map_read(const struct bpf_map *m, int thread, int gc, struct htab *sums)
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
			};

			if (gc) {
				if (thread)
					snprintf(path, sizeof(path), "/proc/%u/task/%u", c.tgid, c.id);
				else
					snprintf(path, sizeof(path), "/proc/%u", c.id);
				if (access(path, F_OK)) {
					bpf_map_delete_elem(fd, &keys[i]);
					continue;
				}
			}
			if (!sums)
				continue;
			err = cpu_sum_add(sums, c.tgid, &c);
			if (err)
				return err;
			n++;
		}
	}
	return n;
}

int loader_cpu_sample(struct loader *l, int gc, loader_cpu_fn fn, void *ctx)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *hn;
	struct htab sums;
	int n, m;

	/* A process is its live threads plus the ones that exited. */
	htab_init(&sums);
	n = cpu_iter_read(l, &sums, fn, ctx);
	m = n < 0 ? 0 : cpu_map_read(l->proc->maps.cpu_procs, 0, gc, &sums);
	if (gc && n >= 0)
		cpu_map_read(l->proc->maps.cpu_base, 1, gc, NULL);
	while ((hn = htab_next(&sums, &it))) {
		struct cpu_sum *s = htab_entry(hn, struct cpu_sum, node);

		if (n >= 0 && m >= 0)
			fn(ctx, &s->c, 0);
		free(s);
	}
	htab_fini(&sums);
	if (n < 0)
		return n;
	return m < 0 ? m : n + m;
}

void loader_detach_later(struct loader *l)
{
	pid_t parent = getpid(), child;
	int i;

	/* Uprobes and the tp_btf links of dns.bpf.c and sock.bpf.c are the slow ones. */
	if (!l || (!attach_links(l->attach) && !l->dns && !l->sock))
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
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	if (!l)
		return;
	/* Quick after loader_detach_later(): the child holds the last references. */
	attach_free(l->attach);
	while ((n = htab_next(&l->client_exes, &it))) {
		htab_del(&l->client_exes, n);
		free(htab_entry(n, struct client_exe, node));
	}
	htab_fini(&l->client_exes);
	rings_free(l->rb);
	merge_free(l->merge);
	net_bpf__destroy(l->net);
	dns_bpf__destroy(l->dns);
	sock_bpf__destroy(l->sock);
	go_tls_bpf__destroy(l->go);
	rustls_bpf__destroy(l->rustls);
	ssl_bpf__destroy(l->ssl);
	proc_bpf__destroy(l->proc);
	free(l);
}