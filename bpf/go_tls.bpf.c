// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* go_tls.bpf.c -- uprobes on Go's crypto/tls (*Conn).Write/Read/Close and its handshake: plaintext to ssl.bpf.c's ring, keyed by *Conn, calls tracked per goroutine. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "common.bpf.h"
#include "filter.bpf.h"
#include "tls.bpf.h"
#include "data_emit.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Go's register ABI (Go 1.17+, amd64): arguments and results in RAX, RBX,
 * RCX, RDI, ...; R14 holds the running goroutine (g). At the entry of
 * (*Conn).Write(b []byte) and Read: RAX = *Conn, RBX = b's data, RCX =
 * len(b); at their RETs RAX = n. A goroutine may move to another thread
 * while it waits, so a call in flight is keyed by its goroutine, not its
 * thread. Returns are probed at each RET instruction (capture/gopclntab.c
 * lists them): a uretprobe would rewrite a return address on a goroutine
 * stack that Go copies when it grows.
 *
 * The stream and join maps are ssl.bpf.c's own (declared once, in
 * tls.bpf.h; the loader hands this object their fds before load): a *Conn
 * is a TLS session like an SSL*, ssl.bpf.c's sock_send_length program
 * joins it to its socket through the thread's last session (threads), and
 * a session userspace muted is muted here too.
 */

/* A Read or Write in flight, per goroutine and direction. */
struct go_key {
	__u64 g;
	__u32 tgid;
	__u32 dir;
};

struct go_call {
	__u64 conn;
	__u64 buf;
	__u64 ts_ns;
	__u32 dir;
	__u32 pad;
};

/* LRU: a goroutine that never returns (its process killed) must age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

const volatile __u32 chunks_max = LT_CHUNKS_MAX;

/* State handed to go_chunk() by bpf_loop(). */
struct go_emit {
	struct go_call *call;
	__u64 pid_tgid;
	__u64 total;
	__u64 base;
	__u64 ts_end;
	__u64 nchunks;
};

static __always_inline void go_tls_event(__u32 type, __u64 id, __u64 conn)
{
	struct lt_tls_event *e = event_reserve(sizeof(*e));

	if (!e)
		return;
	hdr_fill(&e->hdr, type, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->ssl = conn;
	event_submit(e);
}

/* Every call: remember the session for the socket join (in the thread's
 * state, as ssl.bpf.c does), announce it once. Returns 1 when the session
 * is muted. */
static __always_inline int go_note(__u64 id, __u64 conn)
{
	struct conn_key key = { .ssl = conn, .tgid = id >> 32 };
	struct session zero = {}, *s;
	struct thread_state *t;

	t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (t)
		join_stamp(t, conn, bpf_ktime_get_ns());
	s = bpf_map_lookup_elem(&sessions, &key);
	if (s)
		return s->mute;
	bpf_map_update_elem(&sessions, &key, &zero, BPF_NOEXIST);
	go_tls_event(LT_EV_TLS_START, id, conn);
	return 0;
}

static __always_inline int go_enter(struct pt_regs *ctx, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key key = { .g = ctx->r14, .tgid = id >> 32, .dir = dir };
	struct go_call call = {};

	if (!wanted(id >> 32))
		return 0;
	call.conn = ctx->ax;
	call.buf = ctx->bx;
	call.ts_ns = bpf_ktime_get_ns();
	call.dir = dir;
	if (go_note(id, call.conn))
		return 0;
	/* A stack growth re-runs the entry with the same arguments: harmless. */
	bpf_map_update_elem(&go_calls, &key, &call, BPF_ANY);
	return 0;
}

/* bpf_loop() callback: send chunk i of the call's buffer. Returns 1 to stop. */
static long go_chunk(__u32 i, void *data)
{
	struct go_emit *ctx = data;
	struct data_src src = {
		.pid_tgid = ctx->pid_tgid,
		.conn = ctx->call->conn,
		.ts_start = ctx->call->ts_ns,
		.ts_end = ctx->ts_end,
		.call_len = ctx->total,
		.type = LT_EV_DATA,
		.dir = ctx->call->dir,
	};
	__u64 off = (__u64)i * LT_CHUNK_MAX, n;

	if (off >= ctx->total)
		return 1;
	n = ctx->total - off;
	if (n > LT_CHUNK_MAX)
		n = LT_CHUNK_MAX;
	data_emit(&src, ctx->call->buf + off, ctx->base + off, n,
		  (i + 1 == ctx->nchunks) ? ctx->total - off - n : 0);
	return 0;
}

/* At a RET of Read or Write: RAX is the byte count. */
static __always_inline int go_ret(struct pt_regs *ctx, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key key = { .g = ctx->r14, .tgid = id >> 32, .dir = dir };
	struct go_call *call = bpf_map_lookup_elem(&go_calls, &key);
	struct conn_key ck = {};
	struct go_emit em = {};
	__u64 total = ctx->ax, *base, zero = 0, nchunks;

	if (!call)
		return 0;
	if ((__s64)total <= 0)
		goto out_delete;
	ck.ssl = call->conn;
	ck.tgid = id >> 32;
	ck.dir = dir;
	base = bpf_map_lookup_elem(&offsets, &ck);
	if (!base) {
		bpf_map_update_elem(&offsets, &ck, &zero, BPF_NOEXIST);
		base = bpf_map_lookup_elem(&offsets, &ck);
		if (!base)
			goto out_delete;
	}
	em.call = call;
	em.pid_tgid = id;
	em.total = total;
	em.base = *base;
	em.ts_end = bpf_ktime_get_ns();
	if (dir == LT_DIR_WRITE)	/* the write's last TCP send, on the thread it returns on */
		em.ts_end = write_end(bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0),
				      call->ts_ns, em.ts_end);
	nchunks = (total + LT_CHUNK_MAX - 1) / LT_CHUNK_MAX;
	if (nchunks > chunks_max) {
		nchunks = chunks_max;
		counter_add(LT_CNT_TRUNC, 1);
	}
	em.nchunks = nchunks;
	bpf_loop(nchunks, go_chunk, &em, 0);
	__sync_fetch_and_add(base, total);
out_delete:
	bpf_map_delete_elem(&go_calls, &key);
	return 0;
}

SEC("uprobe")
int go_write_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, LT_DIR_WRITE);
}

SEC("uprobe")
int go_write_ret(struct pt_regs *ctx)
{
	return go_ret(ctx, LT_DIR_WRITE);
}

SEC("uprobe")
int go_read_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, LT_DIR_READ);
}

SEC("uprobe")
int go_read_ret(struct pt_regs *ctx)
{
	return go_ret(ctx, LT_DIR_READ);
}

/* (*Conn).Close(): the session is over, as SSL_free for OpenSSL. */
SEC("uprobe")
int go_close_enter(struct pt_regs *ctx)
{
	return session_end((void *)ctx->ax);
}

/* (*Conn).clientHandshake(ctx), called once per connection (the Handshake()
 * every Read and Write makes returns before it once done): the session
 * starts here; userspace takes the first Write as the handshake's end. */
SEC("uprobe")
int go_hs_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!wanted(id >> 32))
		return 0;
	go_note(id, ctx->ax);
	return 0;
}
