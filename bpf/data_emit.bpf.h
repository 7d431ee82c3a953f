/* data_emit.bpf.h -- one data event of plaintext (TLS, Go TLS, plain sockets): the bytes copied straight from the process into the ring, with no wakeup unless the ring fills. */
#ifndef LLMTAP_DATA_EMIT_BPF_H
#define LLMTAP_DATA_EMIT_BPF_H

/* Needs common.bpf.h first. */

/* What a data event says besides its bytes. */
struct data_src {
	__u64 pid_tgid;
	__u64 conn;	/* SSL*, Go conn or socket cookie: with tgid, the connection */
	__u64 ts_start;	/* the call's start */
	__u64 ts_end;	/* the call's return */
	__u64 call_len;	/* bytes the whole call moved */
	__u32 type;	/* LT_EV_DATA or LT_EV_SOCK_DATA */
	__u32 dir;	/* enum lt_dir */
};

#define DATA_HDR offsetof(struct lt_data_event, data)

/* One size class: reserve a record of SZ payload bytes (the verifier needs
 * a constant size), fill it and read the n bytes into it. A record of the
 * smallest class that fits costs the ring (and the reader) no more than the
 * bytes; one copy, no scratch buffer; a submit that wakes nobody until the
 * ring fills (wake_flags()), so a process pays no reader wakeup per call. */
#define DATA_CLASS(SZ)								\
	if (n <= SZ) {								\
		e = bpf_ringbuf_reserve(&events, DATA_HDR + SZ, 0);		\
		if (!e)								\
			goto out_drop;						\
		data_fill(e, s, offset, n, missing);				\
		if (n && bpf_probe_read_user(e->data, n, (void *)addr)) {	\
			bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);		\
			counter_add(LT_CNT_READ_ERR, 1);			\
			return;							\
		}								\
		bpf_ringbuf_submit(e, wake_flags());				\
		counter_add(LT_CNT_EVENTS, 1);					\
		return;								\
	}

/* Everything of record e but its bytes (n of them, at stream offset offset;
 * missing: bytes after them that will not be sent, the cap's). */
static __always_inline void data_fill(struct lt_data_event *e, const struct data_src *s,
				      __u64 offset, __u64 n, __u32 missing)
{
	hdr_fill(&e->hdr, s->type, s->pid_tgid >> 32, (__u32)s->pid_tgid, s->ts_start);
	e->ssl = s->conn;
	e->ts_end_ns = s->ts_end;
	e->offset = offset;
	e->len = n;
	e->call_len = s->call_len;
	e->missing = missing;
	e->dir = s->dir;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* Send the n bytes (at most LT_CHUNK_MAX; 0 for a record that only says
 * what is missing) at user address addr as the connection's bytes from
 * stream offset offset on. A full ring is counted as a drop (userspace
 * marks the call), an unreadable buffer as a read error. */
static __always_inline void data_emit(const struct data_src *s, __u64 addr, __u64 offset, __u64 n,
				      __u32 missing)
{
	struct lt_data_event *e;

	if (n > LT_CHUNK_MAX)
		n = LT_CHUNK_MAX;
	DATA_CLASS(64)
	DATA_CLASS(256)
	DATA_CLASS(1024)
	DATA_CLASS(4096)
	DATA_CLASS(LT_CHUNK_MAX)
	return;
out_drop:
	counter_add(LT_CNT_DROPS, 1);
	counter_add(LT_CNT_DROP_BYTES, n);
}

#endif
