/* events.h -- the BPF <-> userspace ABI: ring-buffer event layouts and shared constants. */
#ifndef LLMTAP_EVENTS_H
#define LLMTAP_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>	/* userspace; BPF gets the types from vmlinux.h */
#endif

/* Plaintext is copied in chunks of at most this many bytes; a larger
 * SSL_write/SSL_read becomes several ordered events. */
#define LT_CHUNK_MAX	(16 * 1024)
/* Chunks per SSL call; with LT_CHUNK_MAX this bounds one call at 8 MiB. */
#define LT_CHUNKS_MAX	512
#define LT_COMM_LEN	16
#define LT_PATH_MAX	256
/* Bytes of a new program's argv (NUL-separated) sent with its exec event: enough
 * for the wrapper shells agents run their tools in (the command the model asked
 * for stays findable). The event is sent only as long as its arguments. */
#define LT_ARGV_MAX	4096
#define LT_EXES_SEEN_MAX	4096	/* executables proc.bpf.c knows were looked at */

enum lt_event_type {
	LT_EV_DATA = 1,		/* struct lt_data_event */
	LT_EV_SSL_FREE = 2,	/* struct lt_ssl_free_event: the SSL* was freed */
	LT_EV_EXEC = 3,		/* struct lt_exec_event: a process called execve */
	LT_EV_EXIT = 4,		/* struct lt_exit_event (begins as lt_ctl_event): a whole process exited */
	LT_EV_OOM = 5,		/* struct lt_oom_event: the OOM killer chose a victim */
	/* 20..29: TLS sessions and TCP connections (ssl.bpf.c, net.bpf.c) */
	LT_EV_TLS_START = 20,	/* struct lt_tls_event: first SSL call on an SSL* */
	LT_EV_TLS_DONE = 21,	/* struct lt_tls_event: explicit handshake returned 1 */
	LT_EV_SSL_SOCK = 22,	/* struct lt_ssl_sock_event: SSL* carried by a socket */
	LT_EV_TCP_CONNECT = 23,	/* struct lt_tcp_event: SYN_SENT -> ESTABLISHED (see net.bpf.c) */
	LT_EV_TCP_CLOSE = 24,	/* struct lt_tcp_event: a connect()ed socket closed */
	LT_EV_TCP_ACKED = 25,	/* struct lt_acked_event: a send backlog fully acknowledged */
	/* 30..39: DNS (dns.bpf.c) */
	LT_EV_DNS_GAI = 30,	/* struct lt_dns_gai_event: a getaddrinfo() call returned */
	LT_EV_DNS_PKT = 31,	/* struct lt_dns_pkt_event: a UDP datagram to/from port 53 */
	/* 40..49: plain TCP from socket syscalls (sock.bpf.c) */
	LT_EV_SOCK_DATA = 40,	/* struct lt_data_event, ssl = the socket cookie */
	LT_EV_SOCK_CLOSE = 41,	/* struct lt_ssl_free_event, ssl = the socket cookie */
	LT_EV_SOCK_CLASS = 42,	/* struct lt_sock_class_event: what a socket's first bytes are */
};

/* The socket tracepoints (sock_send_length, sock_recv_length,
 * inet_sock_set_state) run one program each, net.bpf.c's, which runs the
 * other objects' handlers by tail call in this order (bpf/chain.bpf.h):
 * the slot of each object's handler in the loader's chain maps. */
enum lt_chain_slot {
	LT_CHAIN_NET = 0,	/* the attached program itself (net.bpf.c) */
	LT_CHAIN_DNS = 1,	/* dns.bpf.c: UDP datagrams to/from port 53 */
	LT_CHAIN_SSL = 2,	/* ssl.bpf.c: an SSL* joined to its socket */
	LT_CHAIN_SOCK = 3,	/* sock.bpf.c: plain HTTP */
	LT_CHAIN_RUSTLS = 4,	/* rustls.bpf.c: a sealing key joined to its socket */
	LT_CHAIN_SLOTS = 5,
};

enum lt_dir {
	LT_DIR_WRITE = 0,	/* the process sent (SSL_write*) */
	LT_DIR_READ = 1,	/* the process received (SSL_read*) */
};

/* Common header of every event. */
struct lt_hdr {
	__u32 type;		/* enum lt_event_type */
	__u32 tgid;
	__u32 tid;
	__u32 pad;
	__u64 ts_ns;		/* CLOCK_MONOTONIC: SSL call entry (write) or return (read) */
};

/* One chunk of plaintext. Only hdr..data[len] is sent. */
struct lt_data_event {
	struct lt_hdr hdr;
	__u64 ssl;		/* SSL* : with tgid, the connection key */
	__u64 ts_end_ns;	/* CLOCK_MONOTONIC at the SSL call's return; a write's
				 * last TCP send when it made one (tls.bpf.h write_end()) */
	__u64 offset;		/* stream offset of data[0] in this direction */
	__u32 len;		/* bytes in data */
	__u32 call_len;		/* bytes the whole SSL call moved */
	__u32 missing;		/* last chunk of a call over the cap: bytes after it not sent */
	__u8 dir;		/* enum lt_dir */
	__u8 pad[3];
	char comm[LT_COMM_LEN];
	char data[LT_CHUNK_MAX];
};

/* SSL_free or process exit. */
struct lt_ctl_event {
	struct lt_hdr hdr;
	__u64 ssl;		/* unused */
	__s32 exit_code;	/* LT_EV_EXIT: task->exit_code */
	__u32 pad;
};

/* SSL_free: the connection is over; how many bytes it moved each way, so
 * userspace sees bytes lost at the very end of a stream too. */
struct lt_ssl_free_event {
	struct lt_hdr hdr;
	__u64 ssl;
	__u64 end_off[2];	/* stream offsets reached, by enum lt_dir */
};

/* An executable file by the kernel's names for it (the key of proc.bpf.c's
 * exes_seen map): the superblock's s_dev (kernel dev_t encoding, not
 * st_dev's) and the inode number. */
struct lt_exe_key {
	__u32 dev;
	__u32 pad;
	__u64 ino;
};

/* lt_exec_event.flags */
#define LT_EXEC_OUR_NS	1	/* in the tracer's mount namespace */
#define LT_EXEC_SEEN	2	/* its file is in exes_seen: the reader was not woken */

/* exes_seen values */
#define LT_EXE_LOOKED	1	/* looked at: its execs need not wake the reader */
#define LT_EXE_CLIENT	2	/* a program that made LLM calls: its execs wake the
				 * reader at once (getaddrinfo is probed in them) */

struct lt_exec_event {
	struct lt_hdr hdr;
	char comm[LT_COMM_LEN];
	char filename[LT_PATH_MAX];
	__u32 ppid;		/* real_parent->tgid */
	__u32 uid;
	__u64 start_ns;		/* CLOCK_MONOTONIC: task->start_time (the fork) */
	__u32 argv_len;		/* bytes in argv (<= LT_ARGV_MAX) */
	__u32 argv_full;	/* mm->arg_end - arg_start: > argv_len when cut */
	struct lt_exe_key exe;	/* the file executed, as the kernel names it */
	__u32 flags;		/* LT_EXEC_* */
	__u32 pad;
	char argv[LT_ARGV_MAX];	/* NUL-separated arguments, as in /proc/PID/cmdline;
				 * only hdr..argv[argv_len] is sent */
};

/* A whole process exited (its last thread): the lt_ctl_event fields first,
 * then the process's CPU totals since the tracer first saw it run. */
struct lt_exit_event {
	struct lt_hdr hdr;
	__u64 ssl;		/* unused, 0 */
	__s32 exit_code;	/* task->exit_code: code << 8 | core 0x80 | signal */
	__u32 ppid;
	__u64 start_ns;		/* CLOCK_MONOTONIC: task->start_time */
	__u64 oncpu_ns;
	__u64 runq_ns;
	__u64 switches;
	__u64 preempts;
	char comm[LT_COMM_LEN];
};

/* oom:mark_victim. hdr.tgid/tid name the victim, not the current task. */
struct lt_oom_event {
	struct lt_hdr hdr;
	char comm[LT_COMM_LEN];
};

/* Value of the CPU maps "cpu_procs" (key: tgid: the totals of a process's
 * threads that have exited) and "cpu_base" (key: tid: a thread older than
 * the tracer: its own totals when the tracer first saw it, not counted),
 * read by userspace, never sent as events. Times in ns. */
struct lt_cpu_stat {
	__u32 tgid;
	__u32 pad;
	__u64 oncpu_ns;		/* on CPU (the kernel's se.sum_exec_runtime) */
	__u64 runq_ns;		/* runnable but waiting for a CPU (the kernel's run_delay) */
	__u64 switches;		/* times switched out (nvcsw + nivcsw) */
	__u64 preempts;		/* of which while still runnable (nivcsw) */
};

/* One record of proc.bpf.c's task iterator "cpu_iter": a live thread's
 * totals since the tracer started (or since the thread did, if later);
 * threads that have not run since are left out. */
struct lt_cpu_thread {
	struct lt_cpu_stat s;	/* s.tgid: its process */
	__u32 tid;
	__u32 on_cpu;		/* on a CPU now: its runtime is as of its last tick */
	__u64 runtime_ns;	/* the kernel's se.sum_exec_runtime, base not taken off */
};

/* Entries of the CPU maps (fixed; an insert into a full map is counted in
 * LT_CNT_MAP_FULL and that task is not accounted). */
#define LT_CPU_THREADS_MAX	32768

/* Connect()ed TCP sockets followed at once (net.bpf.c's socks; an insert
 * into a full map is counted in LT_CNT_SOCKS_FULL and that connection has
 * no row). */
#define LT_SOCKS_MAX		65536
#define LT_CPU_PROCS_MAX	16384

/* TLS session milestones, keyed by (tgid, ssl). */
struct lt_tls_event {
	struct lt_hdr hdr;	/* ts_ns: first call entry (START) or handshake return (DONE) */
	__u64 ssl;
};

/* A TCP endpoint pair; addresses in network byte order, v4 in the first 4 bytes. */
struct lt_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;		/* host byte order */
	__u16 dport;		/* host byte order */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 pad;
};

/* The TLS stream (tgid, ssl) is carried by the socket with this cookie. */
struct lt_ssl_sock_event {
	struct lt_hdr hdr;
	__u64 ssl;
	__u64 cookie;
	struct lt_tuple tuple;
	__u64 syn_ns, est_ns;	/* as in lt_sock_class_event */
};

/* Everything a TLS socket had written (a backlog over LT_UPLOAD_BACKLOG)
 * was acknowledged by the peer: the end of an upload. */
#define LT_UPLOAD_BACKLOG (32 * 1024)
struct lt_acked_event {
	struct lt_hdr hdr;	/* ts_ns: the ACK's arrival */
	__u64 cookie;
};

/* One connect()ed TCP socket: sent at ESTABLISHED and again at CLOSE. */
struct lt_tcp_event {
	struct lt_hdr hdr;	/* tgid/tid: the process that called connect() */
	__u64 cookie;		/* socket cookie: unique for the socket's lifetime */
	__u64 syn_ns;		/* monotonic: SYN_SENT */
	__u64 est_ns;		/* monotonic: ESTABLISHED; 0 when it never was */
	__u64 close_ns;		/* monotonic: CLOSE (LT_EV_TCP_CLOSE only) */
	__u64 bytes_acked;	/* bytes sent and acknowledged */
	__u64 bytes_received;
	__u32 retransmits;
	__u32 resets_rx;
	__u32 resets_tx;
	__s32 sk_err;		/* errno the socket ended with (ECONNREFUSED, ETIMEDOUT), else 0 */
	struct lt_tuple tuple;
	char comm[LT_COMM_LEN];
};

/* What the first bytes a process wrote on a connect()ed TCP socket were
 * (sock.bpf.c): a TLS ClientHello, or an HTTP request to an LLM path (the
 * socket's plaintext is then copied, LT_EV_SOCK_DATA). */
enum lt_sock_class {
	LT_SOCK_TLS = 1,
	LT_SOCK_PLAIN = 2,
};

struct lt_sock_class_event {
	struct lt_hdr hdr;	/* tgid/tid: the writer; ts_ns: the write */
	__u64 cookie;
	__u64 ino;		/* the socket's inode: /proc/PID/fd shows socket:[ino] */
	__u32 cls;		/* enum lt_sock_class */
	__u32 pad;
	struct lt_tuple tuple;
	/* monotonic, of a socket the process connect()ed (else 0): its
	 * connect, which no event of its own reports (net.bpf.c) */
	__u64 syn_ns, est_ns;
};

/* DNS: getaddrinfo() results and UDP port-53 payloads. */
#define LT_DNS_NAME_MAX		256	/* getaddrinfo node, NUL included */
#define LT_DNS_ADDRS_MAX	8	/* distinct addresses per getaddrinfo result */
#define LT_DNS_PKT_MAX		512	/* payload bytes copied per datagram */

/* One answer address; family AF_INET (2) or AF_INET6 (10), network order,
 * an IPv4 address in the first 4 bytes. */
struct lt_dns_addr {
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct lt_dns_gai_event {
	struct lt_hdr hdr;	/* ts_ns: getaddrinfo entry */
	__u64 ts_end_ns;	/* its return */
	__s32 rc;		/* return value: 0 or an EAI_* code (negative) */
	__u32 naddrs;		/* entries used in addrs (duplicates removed) */
	__u32 hint_family;	/* hints->ai_family; 0 (AF_UNSPEC) without hints */
	__u32 pad;
	char comm[LT_COMM_LEN];
	char name[LT_DNS_NAME_MAX];
	struct lt_dns_addr addrs[LT_DNS_ADDRS_MAX];
};

/* A datagram a process sent to or received from UDP port 53 (the client
 * side of DNS). Only hdr..data[len] is sent. */
struct lt_dns_pkt_event {
	struct lt_hdr hdr;	/* ts_ns: send syscall entry, or receive syscall return */
	__u32 len;		/* bytes in data */
	__u32 msg_len;		/* datagram size; more than len when cut at LT_DNS_PKT_MAX */
	__u8 dir;		/* enum lt_dir: LT_DIR_WRITE sent (query), LT_DIR_READ received */
	__u8 family;		/* of the server address: AF_INET or AF_INET6 */
	__u16 port;		/* server port, host order */
	__u8 server[16];	/* server address, network order */
	char comm[LT_COMM_LEN];
	__u8 data[LT_DNS_PKT_MAX];
};

/* Indexes of the per-CPU counters map "counters". */
enum lt_counter {
	LT_CNT_EVENTS = 0,	/* events submitted */
	LT_CNT_DROPS,		/* events lost: ring buffer full */
	LT_CNT_DROP_BYTES,	/* plaintext bytes in lost events */
	LT_CNT_READ_ERR,	/* bpf_probe_read_user failures */
	LT_CNT_TRUNC,		/* SSL calls larger than LT_CHUNKS_MAX chunks */
	LT_CNT_MAP_FULL,	/* CPU accounting: a map insert failed (map full) */
	LT_CNT_MUTED,		/* TLS sessions muted in BPF: they serve requests */
	LT_CNT_UNJOINED,	/* rustls records read before their connection's first write */
	LT_CNT_SOCKS_FULL,	/* connections not followed: net.bpf.c's socks map full */
	LT_CNT_MAX,
};

#endif
