/* tls.bpf.h -- what ssl.bpf.c and go_tls.bpf.c share: per-thread call state, the offsets and sessions maps (go_tls.bpf.c reuses ssl.bpf.c's maps, so one declaration keeps their layouts equal), and a session's end. */
#ifndef LLMTAP_TLS_BPF_H
#define LLMTAP_TLS_BPF_H

/* Needs common.bpf.h (the ring) and filter.bpf.h (wanted()) first. */

/* Arguments of an SSL call in flight, saved at entry for the return probe. */
struct ssl_args {
	__u64 ssl;
	__u64 buf;
	__u64 lenp;	/* size_t * of the _ex variants and the shared function, else 0 */
	__u64 ts_ns;
	__u32 nest;	/* calls of ours made inside this one (ignored) */
	__u32 active;	/* a call is in flight */
};

/* Per thread (task storage: no hashing, freed with the thread): the call in
 * flight per direction, and the SSL* the thread touched last and when (the
 * next TCP send of that thread soon after carries this SSL's records, which
 * joins the TLS stream to its socket without OpenSSL struct offsets). In
 * flight per direction: node calls SSL_write from inside SSL_read (both
 * recorded), while a library's SSL_write_ex wrapping SSL_write is the same
 * direction (recorded once, by the outer call). */
struct thread_state {
	struct ssl_args call[2];	/* by enum lt_dir */
	__u64 last_ssl;
	__u64 last_ts;
	__u64 last_nvcsw;	/* the thread's voluntary switches at its last SSL call */
	__u64 recv_cookie;	/* rustls.bpf.c: the TCP socket this thread read last */
	__u64 hs_ts;		/* rustls.bpf.c: when the thread sealed a handshake message */
	__u64 send_ts;		/* the thread's last TCP send that moved bytes (ssl_sock_join) */
	__u32 aead;		/* rustls.bpf.c: the thread seals or opens TLS records */
	__u32 pad;
};

/* A joined socket within this long of the thread's last SSL call, */
#define JOIN_WINDOW_NS 5000000ull
/* or within this long when the thread has not slept since: it was only
 * preempted (a loaded host can stall a thread for tens of ms between
 * rustls sealing a record and writing it to the socket). */
#define JOIN_PREEMPT_NS 1000000000ull

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* Note the thread's SSL call on ssl at now, for the socket join. */
static __always_inline void join_stamp(struct thread_state *t, __u64 ssl, __u64 now)
{
	t->last_ssl = ssl;
	t->last_ts = now;
	t->last_nvcsw = bpf_get_current_task_btf()->nvcsw;
}

/* When a write call that began at start and returns at now handed its last
 * bytes to the kernel: the thread's last TCP send when it came inside the
 * call, else now (a memory BIO, or rustls: the bytes leave later). A thread
 * preempted between its send and the return probe would otherwise end the
 * request late, and the wait for the first byte would read short by that. */
static __always_inline __u64 write_end(const struct thread_state *t, __u64 start, __u64 now)
{
	if (t && t->send_ts >= start && t->send_ts <= now)
		return t->send_ts;
	return now;
}

/* 1 when a TCP send at now may be the thread's last SSL call's: within
 * JOIN_WINDOW_NS, or JOIN_PREEMPT_NS if the thread has not blocked since. */
static __always_inline int join_fresh(const struct thread_state *t, __u64 now)
{
	__u64 gap = now - t->last_ts;

	if (gap <= JOIN_WINDOW_NS)
		return 1;
	return gap <= JOIN_PREEMPT_NS && bpf_get_current_task_btf()->nvcsw == t->last_nvcsw;
}

struct conn_key {
	__u64 ssl;
	__u32 tgid;
	__u32 dir;
};

/* Bytes seen so far per connection and direction: lets userspace see gaps. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, __u64);
} offsets SEC(".maps");

/* SSL sessions already announced (TLS_START): the socket they were joined
 * to (cookie, 0 until joined), and whether userspace muted them (a server's
 * side, or not HTTP: never a row, so their bytes are not copied). */
struct session {
	__u64 cookie;
	__u32 mute;	/* set from userspace (loader_mute()) */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);	/* dir unused (0) */
	__type(value, struct session);
} sessions SEC(".maps");

/* A session is over (SSL_free, Go's (*Conn).Close): forget its join and its
 * offsets, and tell userspace where each direction ended (an SSL_FREE
 * event), if it carried data. Returns 0. */
static __always_inline int session_end(void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct conn_key key = { .ssl = (__u64)ssl, .tgid = id >> 32 };
	struct lt_ssl_free_event *e;
	__u64 *w, *r, end_w, end_r;

	if (!wanted(id >> 32))
		return 0;
	/* The address may serve a new SSL next: forget this session's join. */
	bpf_map_delete_elem(&sessions, &key);
	/* Only connections that carried data are of interest. */
	w = bpf_map_lookup_elem(&offsets, &key);
	end_w = w ? *w : 0;
	key.dir = LT_DIR_READ;
	r = bpf_map_lookup_elem(&offsets, &key);
	end_r = r ? *r : 0;
	if (!w && !r)
		return 0;
	bpf_map_delete_elem(&offsets, &key);
	key.dir = LT_DIR_WRITE;
	bpf_map_delete_elem(&offsets, &key);

	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	hdr_fill(&e->hdr, LT_EV_SSL_FREE, id >> 32, (__u32)id, bpf_ktime_get_ns());
	e->ssl = (__u64)ssl;
	e->end_off[LT_DIR_WRITE] = end_w;
	e->end_off[LT_DIR_READ] = end_r;
	event_submit(e);
	return 0;
}

#endif
