// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* sock.bpf.c -- plain HTTP from socket syscalls: connect()ed TCP sockets classified by their first bytes, the LLM ones copied both ways. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "common.bpf.h"
#include "chain.bpf.h"
#include "filter.bpf.h"
#include "net.bpf.h"
#include "socks.bpf.h"
#include "sockio.bpf.h"
#include "sock.bpf.h"
#include "data_emit.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Cost. Nothing runs at a syscall's entry: only socket I/O is looked at,
 * from the TCP send loop (tcp_sendmsg_locked: a send starts) and the
 * socket layer's length reports (sock_send_length, sock_recv_length: a
 * send or receive is done). Pipes, files and every other syscall pay
 * nothing. Each of those first tests its process's bit in an array
 * (`gate_bits`: no hashing), and stops there unless the process has a TCP
 * socket that carries HTTP to other paths (HTTP) or to an LLM path
 * (PLAIN), or the send is the first on its socket (nothing sent yet, read
 * from the socket itself). A first send on a socket a process connect()ed
 * (net.bpf.c's socks) is classified by its bytes: a TLS ClientHello or
 * anything that is not an HTTP request leaves the socket alone for good,
 * and only an HTTP socket gets an entry here. The syscall and its buffer
 * (or iovecs) are read from the thread's user registers; only PLAIN
 * sockets are copied. A connection that is not HTTP (most of a host's)
 * costs no map write here at all.
 */

#define TCP_CLOSE_	7

/* iovecs followed per writev/readv/sendmsg/recvmsg. */
#define IOV_MAX_	64

enum cls {
	CLS_HTTP = 1,	/* HTTP requests, none to an LLM path yet: each write is looked at */
	CLS_PLAIN,	/* an HTTP request to an LLM path was written: copied from then on */
};

/* What a write's first bytes are. */
enum verdict {
	V_OTHER,	/* not HTTP, not TLS */
	V_TLS,		/* a TLS handshake record */
	V_HTTP,		/* an HTTP request to some other path */
	V_LLM,		/* an HTTP request to an LLM path */
};

struct sk_state {
	__u64 cookie;
	__u64 off[2];	/* bytes copied so far, by enum lt_dir: stream offsets */
	__u32 tgid;	/* who connected */
	__u32 cls;	/* enum cls */
};

/* The HTTP and PLAIN sockets: socket storage, so a socket that is not one
 * costs a pointer test, not a hash lookup (and an entry goes with its
 * socket). Deleted when closed. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_state);
} sk_states SEC(".maps");

/* Per process: its sockets in sk_states (watch) and of those the PLAIN
 * ones (plain). A process without an entry, or with zeros, is not looked
 * at any further. Entries are never deleted (a count that drifted up
 * only costs lookups); the LRU ages out those of dead processes. */
struct gate {
	__s32 watch;
	__s32 plain;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct gate);
} gates SEC(".maps");

/* The fast test: a process's gate may be open. Two bits per tgid (watch,
 * plain) in 64-bit words, for tgids below 4194304 (the largest pid_max).
 * A bit is set before its count grows and cleared only when the count is
 * back to zero (then checked again), so a set bit can be stale (a lookup
 * too many) but a needed one is never missing. */
#define GATE_WORDS	(4194304 / 32)
#define GATE_WATCH	1
#define GATE_PLAIN	2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GATE_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} gate_bits SEC(".maps");

/* 1 when bit (GATE_WATCH, GATE_PLAIN) of tgid is set. */
static __always_inline int gate_maybe(__u32 tgid, __u64 bit)
{
	__u32 w = tgid / 32;
	__u64 *v = bpf_map_lookup_elem(&gate_bits, &w);

	return v && (*v >> (tgid % 32 * 2)) & bit;
}

/* Set bit of tgid. */
static __always_inline void gate_set(__u32 tgid, __u64 bit)
{
	__u32 w = tgid / 32;
	__u64 *v = bpf_map_lookup_elem(&gate_bits, &w);

	if (v && !((*v >> (tgid % 32 * 2)) & bit))
		__sync_fetch_and_or(v, bit << (tgid % 32 * 2));
}

/* Clear the bits of tgid whose counts in g are zero, then set again any
 * whose count grew meanwhile (another CPU). */
static __always_inline void gate_clear_idle(__u32 tgid, struct gate *g)
{
	__u32 w = tgid / 32;
	__u64 *v = bpf_map_lookup_elem(&gate_bits, &w), clear = 0;

	if (!v)
		return;
	if (g->watch <= 0)
		clear |= GATE_WATCH;
	if (g->plain <= 0)
		clear |= GATE_PLAIN;
	if (!clear)
		return;
	__sync_fetch_and_and(v, ~(clear << (tgid % 32 * 2)));
	if (g->watch > 0)
		gate_set(tgid, GATE_WATCH);
	if (g->plain > 0)
		gate_set(tgid, GATE_PLAIN);
}

/* A send or receive on a PLAIN socket in flight: saved at the syscall's
 * entry, copied when the socket layer reports its length. */
struct sock_call {
	__u64 sk;
	__u64 cookie;	/* the socket's: a new socket at a freed one's address is another */
	__u64 buf;	/* the buffer, or the iovec array when nvec > 0 */
	__u64 nvec;
	__u64 ts_ns;
	__u32 dir;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* pid_tgid */
	__type(value, struct sock_call);
} calls SEC(".maps");

struct probe_buf {
	char b[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_buf);
} probe SEC(".maps");

const volatile __u32 chunks_max = LT_CHUNKS_MAX;

/* ---- classifying a write -------------------------------------------------------- */

/* 1 when the path that starts at b[m] (of the n bytes in the probe
 * buffer) ends with an LLM API suffix. Global: verified once, with m and
 * n unknown, so the path loop converges. */
__noinline int path_is_llm(__u32 m, __u32 n)
{
	struct probe_buf *pb;
	__u32 zero = 0, k, end;

	pb = bpf_map_lookup_elem(&probe, &zero);
	if (!pb)
		return 0;
	end = path_end(pb->b, m, n);
	if (end > PROBE_LEN)
		return 0;
	for (k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++) {
		__u32 sn = suffixes[k].n;

		if (end >= m + sn && bytes_eq(pb->b, end - sn, suffixes[k].s, sn))
			return 1;
	}
	return 0;
}

/* What the len bytes at user address p start with (enum verdict). Global:
 * verified once, whatever its callers know of p and len. */
__noinline int classify(__u64 p, __u64 len)
{
	struct probe_buf *pb;
	__u32 zero = 0, n, m;
	char *b;

	pb = bpf_map_lookup_elem(&probe, &zero);
	if (!pb || !p || !len)
		return V_OTHER;
	b = pb->b;
	n = len < PROBE_LEN ? len : PROBE_LEN;
	if (bpf_probe_read_user(b, n & 0xff, (void *)p))
		return V_OTHER;
	if (n >= 3 && b[0] == 0x16 && b[1] == 0x03 && (__u8)b[2] <= 0x04)
		return V_TLS;
	m = method_len(b, n);
	if (!m)
		return V_OTHER;
	return path_is_llm(m, n) ? V_LLM : V_HTTP;
}

/* ---- events ------------------------------------------------------------------ */

/* Report what socket sk carries (cls), with its connect when the process
 * connect()ed it: net.bpf.c leaves that to this event (it is told). */
static __always_inline void class_emit(__u64 id, struct sock *sk, __u64 cookie,
				       __u64 ino, __u32 cls)
{
	struct lt_sock_class_event *e = event_reserve(sizeof(*e));

	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	hdr_fill(&e->hdr, LT_EV_SOCK_CLASS, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->cookie = cookie;
	e->ino = ino;
	e->cls = cls;
	tuple_read(sk, &e->tuple);
	socks_tell(sk, &e->syn_ns, &e->est_ns);
	event_submit(e);
}

/* One copy: the call, where its bytes go, how many we may copy. */
struct emit_ctx {
	struct sock_call *c;
	__u64 pid_tgid;
	__u64 cookie;
	__u64 ts_end;
	__u64 base;	/* stream offset of the call's first byte */
	__u64 total;	/* bytes the call moved */
	__u64 limit;	/* bytes we may copy (the chunk cap) */
	__u64 done;	/* iovecs: bytes of the call before the current one */
};

/* One contiguous piece of the call (the buffer, or one iovec): len bytes
 * at addr, which are the call's bytes from pos on. */
struct piece_ctx {
	struct emit_ctx *x;
	__u64 addr;
	__u64 len;
	__u64 pos;
};

/* Send n bytes at user address addr as the call's bytes from pos on;
 * missing: bytes after them that will not be sent (the cap). */
static __always_inline void chunk_emit(struct emit_ctx *x, __u64 addr, __u64 pos, __u64 n,
				       __u64 missing)
{
	struct data_src src = {
		.pid_tgid = x->pid_tgid,
		.conn = x->cookie,
		.ts_start = x->c->ts_ns,
		.ts_end = x->ts_end,
		.call_len = x->total,
		.type = LT_EV_SOCK_DATA,
		.dir = x->c->dir,
	};

	data_emit(&src, addr, x->base + pos, n, missing);
}

/* bpf_loop() callback: chunk i of a piece. Returns 1 to stop. Everything
 * derives from i, so the verifier sees one iteration. */
static long piece_step(__u32 i, void *data)
{
	struct piece_ctx *p = data;
	struct emit_ctx *x = p->x;
	__u64 off = (__u64)i * LT_CHUNK_MAX, pos, n;

	if (off >= p->len)
		return 1;
	pos = p->pos + off;
	if (pos >= x->limit)
		return 1;
	n = p->len - off;
	if (n > LT_CHUNK_MAX)
		n = LT_CHUNK_MAX;
	if (n > x->limit - pos)
		n = x->limit - pos;
	/* The chunk that reaches the cap owns the bytes beyond it. */
	chunk_emit(x, p->addr + off, pos, n, pos + n >= x->limit ? x->total - pos - n : 0);
	return 0;
}

/* bpf_loop() callback: iovec j of the call, copied. Returns 1 to stop. */
static long vec_step(__u32 j, void *data)
{
	struct emit_ctx *x = data;
	struct piece_ctx p = { .x = x };
	struct iovec iov;

	if (j >= x->c->nvec || x->done >= x->total)
		return 1;
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(x->c->buf + (__u64)j * sizeof(iov))))
		return 1;
	p.addr = (__u64)iov.iov_base;
	p.len = iov.iov_len;
	if (p.len > x->total - x->done)
		p.len = x->total - x->done;
	p.pos = x->done;
	bpf_loop(LT_CHUNKS_MAX, piece_step, &p, 0);
	x->done += p.len;
	return 0;
}

/* Copy the total bytes call c moved on socket st (as ordered chunks). */
static __always_inline void call_emit(__u64 id, struct sock_call *c, struct sk_state *st,
				      __u64 total)
{
	struct emit_ctx x = {};
	struct piece_ctx p = { .x = &x };
	__u64 *off = &st->off[c->dir & 1];

	x.c = c;
	x.pid_tgid = id;
	x.cookie = st->cookie;
	x.ts_end = bpf_ktime_get_ns();
	x.base = *off;
	x.total = total;
	x.limit = (__u64)chunks_max * LT_CHUNK_MAX;
	if (c->nvec) {
		bpf_loop(IOV_MAX_, vec_step, &x, 0);
		/* iovecs past IOV_MAX_ (or unreadable): say how much is missing */
		if (x.done < x.total && x.done < x.limit)
			chunk_emit(&x, 0, x.done, 0, x.total - x.done);
	} else {
		p.addr = c->buf;
		p.len = total;
		bpf_loop(LT_CHUNKS_MAX, piece_step, &p, 0);
	}
	if (x.total > x.limit)
		counter_add(LT_CNT_TRUNC, 1);
	__sync_fetch_and_add(off, total);
}

/* ---- the syscalls ------------------------------------------------------------ */

/* Socket sk is settled (TLS after all): forget it. */
static __always_inline void settle(struct sock *sk, __u32 tgid, struct gate *g)
{
	if (bpf_sk_storage_delete(&sk_states, sk) == 0) {
		__sync_fetch_and_add(&g->watch, -1);
		gate_clear_idle(tgid, g);
	}
}

/* 1 when a process connect()ed TCP socket sk (net.bpf.c keeps it) and
 * nothing was sent on it yet: its first send starts. */
static __always_inline int sk_unsent(struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return tp && !tp->bytes_sent && socks_find(sk);
}

/* Process tgid's gate, made when missing; its watch bit set and count
 * raised. NULL when the map refuses. */
static __always_inline struct gate *gate_open(__u32 tgid)
{
	struct gate *g = bpf_map_lookup_elem(&gates, &tgid), zero = {};

	if (!g) {
		bpf_map_update_elem(&gates, &tgid, &zero, BPF_NOEXIST);
		g = bpf_map_lookup_elem(&gates, &tgid);
		if (!g)
			return NULL;
	}
	gate_set(tgid, GATE_WATCH);
	__sync_fetch_and_add(&g->watch, 1);
	return g;
}

/* HTTP socket st on tsk (its process's gate g) wrote a request to an LLM
 * path: it is copied from now on, and reported (ino: its file's inode). */
static __always_inline void plain_begin(__u64 id, struct sock *tsk, struct sk_state *st,
					struct gate *g, __u64 ino)
{
	st->cls = CLS_PLAIN;
	gate_set(id >> 32, GATE_PLAIN);
	__sync_fetch_and_add(&g->plain, 1);
	class_emit(id, tsk, st->cookie, ino, LT_SOCK_PLAIN);
}

/* The first bytes a send on tsk writes: its buffer of count bytes, or with
 * nvec its first iovec. The read stays within them: a short request at the
 * end of a mapping is still read. Returns 0, or -1 when they cannot be. */
static __always_inline int send_first(__u64 buf, __u64 nvec, __u64 count, __u64 *p,
				      __u64 *len)
{
	struct iovec iov;

	*p = buf;
	*len = count;
	if (!nvec)
		return 0;
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)buf))
		return -1;
	*p = (__u64)iov.iov_base;
	*len = iov.iov_len;
	return 0;
}

/* The first send on tsk, a socket a process connect()ed (net.bpf.c's
 * socks: the caller checked): classified by its bytes. A TLS one is
 * reported; an HTTP one gets its sk_states entry (and the process's gate
 * opens); a PLAIN one is also returned, to copy this send. NULL otherwise. */
static __always_inline struct sk_state *first_send(struct sock *tsk, __u64 id, __u64 buf,
						   __u64 nvec, __u64 count)
{
	struct sk_state init = {}, *st;
	struct gate *g;
	__u32 tgid = id >> 32;
	__u64 ino, p, len;
	int v;

	if (!wanted(tgid) || send_first(buf, nvec, count, &p, &len))
		return NULL;
	v = classify(p, len);
	if (v == V_OTHER)
		return NULL;
	/* a process's own socket (not a kernel one sending on its behalf) */
	ino = sk_file_ino(tsk);
	if (!ino)
		return NULL;
	if (v == V_TLS) {
		class_emit(id, tsk, bpf_get_socket_cookie(tsk), ino, LT_SOCK_TLS);
		return NULL;
	}
	init.cookie = bpf_get_socket_cookie(tsk);
	init.tgid = tgid;
	init.cls = CLS_HTTP;
	st = bpf_sk_storage_get(&sk_states, tsk, &init, BPF_SK_STORAGE_GET_F_CREATE);
	g = st ? gate_open(tgid) : NULL;
	if (!g) {
		bpf_sk_storage_delete(&sk_states, tsk);
		return NULL;
	}
	if (v != V_LLM)
		return NULL;
	plain_begin(id, tsk, st, g, ino);
	return st;
}

/* Save the send that starts on socket tsk (its entry st) for send_done(). */
static __always_inline void call_save(__u64 id, struct sock *tsk, struct sk_state *st,
				      __u64 buf, __u64 nvec)
{
	struct sock_call c = {};

	c.sk = (__u64)tsk;
	c.cookie = st->cookie;
	c.buf = buf;
	c.nvec = nvec;
	c.ts_ns = bpf_ktime_get_ns();
	c.dir = LT_DIR_WRITE;
	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
}

/* A send of the current process starts on tsk, in a write or send syscall
 * whose buffer is buf (count bytes), or with nvec its iovecs (msg: buf is a
 * user msghdr); unsent: sk_unsent(tsk) was found true. Classifies the
 * socket, and saves the call when the socket is copied. */
static __always_inline int send_enter(struct sock *tsk, __u64 buf, __u64 nvec, __u64 count,
				      int msg, int unsent)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)tsk, p, len;
	__u32 tgid = id >> 32;
	struct sock_call *prev;
	struct sk_state *st;
	struct gate *g;

	st = bpf_sk_storage_get(&sk_states, tsk, 0, 0);
	if (!st) {
		if ((!unsent && !sk_unsent(tsk)) || (msg && msg_vec(buf, &buf, &nvec)))
			return 0;
		st = first_send(tsk, id, buf, nvec, count);
		if (st)
			call_save(id, tsk, st, buf, nvec);
		return 0;
	}
	/* the send loop's later rounds: the call is saved already */
	prev = bpf_map_lookup_elem(&calls, &id);
	if (prev && prev->sk == key && prev->cookie == st->cookie && prev->dir == LT_DIR_WRITE)
		return 0;
	if (!wanted(tgid))
		return 0;
	g = bpf_map_lookup_elem(&gates, &tgid);
	if (!g || g->watch <= 0)
		return 0;
	if (msg && msg_vec(buf, &buf, &nvec))
		return 0;
	if (st->cls != CLS_PLAIN) {
		if (send_first(buf, nvec, count, &p, &len))
			return 0;
		switch (classify(p, len)) {
		case V_TLS:
			class_emit(id, tsk, st->cookie, sk_file_ino(tsk), LT_SOCK_TLS);
			settle(tsk, tgid, g);
			return 0;
		case V_OTHER:	/* a request body: the socket stays HTTP */
		case V_HTTP:
			return 0;
		case V_LLM:
			plain_begin(id, tsk, st, g, sk_file_ino(tsk));
			break;
		}
	}
	call_save(id, tsk, st, buf, nvec);
	return 0;
}

/* A receive of the current process moved ret bytes on tsk, in a read or
 * receive syscall into buf, or with nvec its iovecs (msg: buf is a user
 * msghdr): copied when tsk is a PLAIN socket. The bytes are in place (the
 * syscall has not returned); the call's start is when they arrived. */
static __always_inline int recv_done(struct sock *tsk, int ret, __u64 buf, __u64 nvec, int msg)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)tsk;
	__u32 tgid = id >> 32;
	struct sock_call c = {};
	struct sk_state *st;

	st = bpf_sk_storage_get(&sk_states, tsk, 0, 0);
	if (!st || st->cls != CLS_PLAIN)
		return 0;
	if (!wanted(tgid))
		return 0;
	if (!sk_file_ino(tsk))
		return 0;
	if (msg && msg_vec(buf, &buf, &nvec))
		return 0;
	c.sk = key;
	c.cookie = st->cookie;
	c.buf = buf;
	c.nvec = nvec;
	c.ts_ns = bpf_ktime_get_ns();
	c.dir = LT_DIR_READ;
	call_emit(id, &c, st, ret);
	return 0;
}

/* The socket layer sent ret bytes on sk for the current thread: copy them
 * when that is the call saved when the send started. */
static __always_inline int send_done(struct sock *sk, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk;
	struct sock_call *c = bpf_map_lookup_elem(&calls, &id);
	struct sk_state *st;

	if (!c)
		return 0;
	if (c->sk != key || c->dir != LT_DIR_WRITE || ret <= 0)
		goto out_delete;	/* another socket's, or nothing sent */
	st = bpf_sk_storage_get(&sk_states, sk, 0, 0);
	if (st && st->cls == CLS_PLAIN && st->cookie == c->cookie)
		call_emit(id, c, st, ret);
out_delete:
	bpf_map_delete_elem(&calls, &id);
	return 0;
}

/* A TCP send's loop (once per segment it fills; the first round is the
 * send's start). Only a process whose gate is open goes further. */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(sk_send_start, struct sock *sk, struct msghdr *msg, struct sk_buff *skb, int size_goal)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pt_regs *regs;
	int unsent = 0;
	long nr;

	/* a process with no HTTP socket: only a socket's first send is looked at */
	if (!gate_maybe(tgid, GATE_WATCH)) {
		if (!sk_unsent(sk))
			return 0;
		unsent = 1;
	}
	regs = user_regs();
	nr = regs->orig_ax;
	switch (nr) {
	case NR_WRITE:
	case NR_SENDTO:
		return send_enter(sk, PT_REGS_PARM2_SYSCALL(regs), 0, PT_REGS_PARM3_SYSCALL(regs),
				  0, unsent);
	case NR_WRITEV:
		return send_enter(sk, PT_REGS_PARM2_SYSCALL(regs),
				  PT_REGS_PARM3_SYSCALL(regs), 0, 0, unsent);
	case NR_SENDMSG:
		return send_enter(sk, PT_REGS_PARM2_SYSCALL(regs), 0, 0, 1, unsent);
	}
	return 0;
}

/* Sends and receives end in the socket layer, which reports the bytes
 * moved: fired for sockets only. */
static __always_inline int sk_sent_run(struct sock *sk, int ret, int flags)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!gate_maybe(tgid, GATE_WATCH))
		return 0;
	return send_done(sk, ret);
}

/* Slot LT_CHAIN_SOCK of chain_send (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(sk_sent, struct sock *sk, int ret, int flags)
{
	sk_sent_run(sk, ret, flags);
	chain_next(ctx, &chain_send, LT_CHAIN_SOCK);
	return 0;
}

static __always_inline int sk_received_run(struct sock *sk, int ret, int flags)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pt_regs *regs;
	long nr;

	if (!gate_maybe(tgid, GATE_PLAIN))
		return 0;
	/* peeked bytes are read again later */
	if (ret <= 0 || (flags & MSG_PEEK_))
		return 0;
	regs = user_regs();
	nr = regs->orig_ax;
	switch (nr) {
	case NR_READ:
	case NR_RECVFROM:
		return recv_done(sk, ret, PT_REGS_PARM2_SYSCALL(regs), 0, 0);
	case NR_READV:
		return recv_done(sk, ret, PT_REGS_PARM2_SYSCALL(regs),
				 PT_REGS_PARM3_SYSCALL(regs), 0);
	case NR_RECVMSG:
		return recv_done(sk, ret, PT_REGS_PARM2_SYSCALL(regs), 0, 1);
	}
	return 0;
}

/* Slot LT_CHAIN_SOCK of chain_recv (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(sk_received, struct sock *sk, int ret, int flags)
{
	sk_received_run(sk, ret, flags);
	chain_next(ctx, &chain_recv, LT_CHAIN_SOCK);
	return 0;
}

/* A close ends an HTTP socket's copy. Every other change costs a test. */
static __always_inline int sk_state_change_run(const struct sock *csk, const int oldstate,
					       const int newstate)
{
	struct sock *sk = (struct sock *)csk;
	struct lt_ssl_free_event *e;
	struct sk_state *st;
	struct gate *g;

	if (newstate != TCP_CLOSE_)
		return 0;
	st = bpf_sk_storage_get(&sk_states, sk, 0, 0);
	if (!st)
		return 0;
	g = bpf_map_lookup_elem(&gates, &st->tgid);
	if (g) {
		__sync_fetch_and_add(&g->watch, -1);
		if (st->cls == CLS_PLAIN)
			__sync_fetch_and_add(&g->plain, -1);
		gate_clear_idle(st->tgid, g);
	}
	if (st->cls == CLS_PLAIN && (e = event_reserve(sizeof(*e)))) {
		/* Softirq context at times: the state names the process. */
		hdr_fill(&e->hdr, LT_EV_SOCK_CLOSE, st->tgid, 0, bpf_ktime_get_ns());
		e->ssl = st->cookie;
		e->end_off[LT_DIR_WRITE] = st->off[LT_DIR_WRITE];
		e->end_off[LT_DIR_READ] = st->off[LT_DIR_READ];
		event_submit(e);
	}
	bpf_sk_storage_delete(&sk_states, sk);
	return 0;
}

/* Slot LT_CHAIN_SOCK of chain_state (chain.bpf.h): the handler, then the next slot. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sk_state_change, const struct sock *csk, const int oldstate, const int newstate)
{
	sk_state_change_run(csk, oldstate, newstate);
	chain_next(ctx, &chain_state, LT_CHAIN_SOCK);
	return 0;
}
