/* tls_emit.bpf.h -- what every TLS data program that sends plaintext to the ring shares (ssl.bpf.c, rustls.bpf.c): a session's announcement and socket-join note, the chunked copy of a call's bytes, the early mute of a served connection. */
#ifndef LLMTAP_TLS_EMIT_BPF_H
#define LLMTAP_TLS_EMIT_BPF_H

/* Needs common.bpf.h, filter.bpf.h, tls.bpf.h and data_emit.bpf.h first. */

const volatile __u32 chunks_max = LT_CHUNKS_MAX;

/* State handed to emit_chunk() by bpf_loop(). */
struct emit_ctx {
	struct ssl_args *args;
	__u64 pid_tgid;
	__u64 total;
	__u64 base;	/* stream offset of the call's first byte */
	__u64 ts_end;
	__u64 nchunks;	/* chunks to send; fewer than the call needs when over the cap */
	__u32 dir;
};

/* A session event (TLS_START, TLS_DONE) of ssl, stamped ts. */
static __always_inline void tls_emit_at(__u32 type, __u64 id, __u64 ssl, __u64 ts)
{
	struct lt_tls_event *e = event_reserve(sizeof(*e));

	if (!e)
		return;
	hdr_fill(&e->hdr, type, id >> 32, (__u32)id, ts);
	e->ssl = ssl;
	event_submit(e);
}

/* A session event of ssl, stamped now. */
static __always_inline void tls_emit(__u32 type, __u64 id, __u64 ssl)
{
	tls_emit_at(type, id, ssl, bpf_ktime_get_ns());
}

/* The calling thread's state, created on its first SSL call. */
static __always_inline struct thread_state *thread_get(void)
{
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* Every SSL call: remember it for the socket join, announce a new session.
 * Returns 1 when the session is muted. */
static __always_inline int ssl_note(struct thread_state *t, __u64 id, __u64 ssl, __u64 now)
{
	struct conn_key key = { .ssl = ssl, .tgid = id >> 32 };
	struct session zero = {}, *s;

	join_stamp(t, ssl, now);
	s = bpf_map_lookup_elem(&sessions, &key);
	if (s)
		return s->mute;
	bpf_map_update_elem(&sessions, &key, &zero, BPF_NOEXIST);
	tls_emit(LT_EV_TLS_START, id, ssl);
	return 0;
}

/* bpf_loop() callback: send chunk i of the call's buffer. Returns 1 to stop. */
static long emit_chunk(__u32 i, void *data)
{
	struct emit_ctx *ctx = data;
	struct data_src src = {
		.pid_tgid = ctx->pid_tgid,
		.conn = ctx->args->ssl,
		.ts_start = ctx->args->ts_ns,
		.ts_end = ctx->ts_end,
		.call_len = ctx->total,
		.type = LT_EV_DATA,
		.dir = ctx->dir,
	};
	__u64 off = (__u64)i * LT_CHUNK_MAX, n;
	__u32 missing;

	if (off >= ctx->total)
		return 1;
	n = ctx->total - off;
	if (n > LT_CHUNK_MAX)
		n = LT_CHUNK_MAX;
	/* The last chunk sent owns the bytes beyond the cap, so userspace keeps framing. */
	missing = (i + 1 == ctx->nchunks) ? ctx->total - off - n : 0;
	data_emit(&src, ctx->args->buf + off, ctx->base + off, n, missing);
	return 0;
}

/* The first bytes a session reads, before it wrote any: when they start an
 * HTTP request (an HTTP/1 method, or the HTTP/2 preface) this process serves
 * the connection, which never gives a row: the session is muted here and
 * now, before a large request fills the ring (userspace mutes such
 * sessions too, a little later: track/stream.c). key is the read offset's;
 * returns 1 when muted. */
static __always_inline int serves(struct conn_key *key, __u64 buf, __u64 total)
{
	struct conn_key wkey = { .ssl = key->ssl, .tgid = key->tgid, .dir = LT_DIR_WRITE };
	struct conn_key skey = { .ssl = key->ssl, .tgid = key->tgid };
	struct session *s;
	char p[8] = {};

	if (total < 8 || bpf_map_lookup_elem(&offsets, &wkey))
		return 0;
	if (bpf_probe_read_user(p, sizeof(p), (void *)buf))
		return 0;
	if (!((p[0] == 'G' && p[1] == 'E' && p[2] == 'T' && p[3] == ' ') ||
	      (p[0] == 'P' && p[1] == 'O' && p[2] == 'S' && p[3] == 'T' && p[4] == ' ') ||
	      (p[0] == 'P' && p[1] == 'U' && p[2] == 'T' && p[3] == ' ') ||
	      (p[0] == 'P' && p[1] == 'A' && p[2] == 'T' && p[3] == 'C' && p[4] == 'H') ||
	      (p[0] == 'P' && p[1] == 'R' && p[2] == 'I' && p[3] == ' ' && p[4] == '*')))
		return 0;
	s = bpf_map_lookup_elem(&sessions, &skey);
	if (!s)
		return 0;
	s->mute = 1;
	counter_add(LT_CNT_MUTED, 1);
	return 1;
}

/* The call in args (session args->ssl, its bytes at args->buf) moved total
 * bytes in direction dir: send them at the session's stream offset, in
 * chunks, and advance it. A write's end is its last TCP send when the
 * calling thread's state sent says so (write_end(); NULL: its return). A
 * session's first read that starts an HTTP request mutes it instead
 * (serves()). Returns 0. */
static __always_inline int tls_data(struct ssl_args *args, __u64 id, __u64 total, __u32 dir,
				    const struct thread_state *sent)
{
	struct conn_key key = {};
	struct emit_ctx ctx = {};
	__u64 *base, zero = 0, nchunks;

	key.ssl = args->ssl;
	key.tgid = id >> 32;
	key.dir = dir;
	base = bpf_map_lookup_elem(&offsets, &key);
	if (!base) {
		if (dir == LT_DIR_READ && serves(&key, args->buf, total))
			return 0;
		bpf_map_update_elem(&offsets, &key, &zero, BPF_NOEXIST);
		base = bpf_map_lookup_elem(&offsets, &key);
		if (!base)
			return 0;
	}
	ctx.args = args;
	ctx.pid_tgid = id;
	ctx.total = total;
	ctx.base = *base;
	ctx.ts_end = write_end(sent, args->ts_ns, bpf_ktime_get_ns());
	ctx.dir = dir;
	nchunks = (total + LT_CHUNK_MAX - 1) / LT_CHUNK_MAX;
	if (nchunks > chunks_max) {
		/* Beyond the cap nothing is copied; the last chunk says how much is missing. */
		nchunks = chunks_max;
		counter_add(LT_CNT_TRUNC, 1);
	}
	ctx.nchunks = nchunks;
	if (nchunks == 1)
		emit_chunk(0, &ctx);
	else
		bpf_loop(nchunks, emit_chunk, &ctx, 0);
	__sync_fetch_and_add(base, total);
	return 0;
}

#endif
