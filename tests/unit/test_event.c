/* test_event.c -- unit tests of event.c: every event kind reaches its tracker with its fields; short, oversized and unknown records are counted, never delivered. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capture/event.h"
#include "events.h"
#include "harness.h"

/* ---- the trackers, stubbed: each call is recorded ---- */

enum call_kind {
	C_NONE, C_DATA, C_CLOSE, C_EXIT_STREAMS, C_TCP_CONNECT, C_TCP_CLOSE, C_TLS_START, C_TLS_DONE,
	C_SSL_SOCK, C_SSL_FREE, C_ACKED, C_GAI, C_PKT, C_EXEC, C_EXIT, C_OOM, C_ON_EXEC,
	C_SOCK_CLOSE, C_SOCK_CLASS, C_SOCK_CONNECTED, C_EXE_SEEN,
};

static struct {
	enum call_kind kind[8];
	int n;
	uint32_t tgid, tid;
	uint64_t ssl, cookie, ts, end_off[2], ino, syn_ns, est_ns;
	enum net_class cls;
	char comm[32], text[300];
	size_t len;
	uint8_t data[LT_CHUNK_MAX];
	struct stream_chunk chunk;
	struct net_tcp tcp;
	struct net_tuple tuple;
	struct dns_gai gai;
	struct dns_addr addrs[LT_DNS_ADDRS_MAX];
	struct dns_packet pkt;
	struct proc_exec_info exec;
	struct proc_exit_info exit;
	struct lt_exe_key exe;
	int seen;	/* loader_exec()'s seen */
} got;

/* What the stubbed loader_exec() answers: the executable was looked at. */
static int exec_known;

/* loader_client() and loader_exit() calls: how many, and the last pid. */
static struct {
	int clients, exits;
	pid_t client_pid, exit_pid;
} ld;

static void got_reset(void)
{
	memset(&got, 0, sizeof(got));
}

static void got_add(enum call_kind k)
{
	if (got.n < 8)
		got.kind[got.n] = k;
	got.n++;
}

void stream_data(struct stream_table *t, const struct stream_chunk *c)
{
	(void)t;
	got_add(C_DATA);
	got.chunk = *c;
	snprintf(got.comm, sizeof(got.comm), "%s", c->comm);
	memcpy(got.data, c->data, c->len);
	got.chunk.data = got.data;
	got.chunk.comm = got.comm;
}

void stream_close(struct stream_table *t, uint32_t tgid, uint64_t ssl, const uint64_t end_off[2],
		  uint64_t ts_ns)
{
	(void)t;
	got_add(C_CLOSE);
	got.tgid = tgid;
	got.ssl = ssl;
	got.end_off[0] = end_off[0];
	got.end_off[1] = end_off[1];
	got.ts = ts_ns;
}

void stream_close_sock(struct stream_table *t, uint32_t tgid, uint64_t cookie,
		       const uint64_t end_off[2], uint64_t ts_ns)
{
	(void)t;
	got_add(C_SOCK_CLOSE);
	got.tgid = tgid;
	got.cookie = cookie;
	got.end_off[0] = end_off[0];
	got.end_off[1] = end_off[1];
	got.ts = ts_ns;
}

void net_sock_class(struct net_table *t, uint32_t tgid, uint64_t cookie, uint64_t ino,
		    enum net_class cls, const struct net_tuple *tuple, uint64_t ts)
{
	(void)t;
	got_add(C_SOCK_CLASS);
	got.tgid = tgid;
	got.cookie = cookie;
	got.ino = ino;
	got.cls = cls;
	got.tuple = *tuple;
	got.ts = ts;
}

void net_sock_connected(struct net_table *t, uint64_t cookie, uint64_t syn_ns, uint64_t est_ns)
{
	(void)t;
	got_add(C_SOCK_CONNECTED);
	got.cookie = cookie;
	got.syn_ns = syn_ns;
	got.est_ns = est_ns;
}

void stream_process_exit(struct stream_table *t, uint32_t tgid, uint64_t ts_ns)
{
	(void)t;
	got_add(C_EXIT_STREAMS);
	got.tgid = tgid;
	got.ts = ts_ns;
}

void net_tcp_connect(struct net_table *t, const struct net_tcp *e)
{
	(void)t;
	got_add(C_TCP_CONNECT);
	got.tcp = *e;
}

void net_tcp_close(struct net_table *t, const struct net_tcp *e)
{
	(void)t;
	got_add(C_TCP_CLOSE);
	got.tcp = *e;
}

void net_tls_start(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t ts)
{
	(void)t;
	got_add(C_TLS_START);
	got.tgid = tgid;
	got.ssl = ssl;
	got.ts = ts;
}

void net_tls_done(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t ts)
{
	(void)t;
	got_add(C_TLS_DONE);
	got.tgid = tgid;
	got.ssl = ssl;
	got.ts = ts;
}

void net_ssl_sock(struct net_table *t, uint32_t tgid, uint64_t ssl, uint64_t cookie,
		  const struct net_tuple *tuple)
{
	(void)t;
	got_add(C_SSL_SOCK);
	got.tgid = tgid;
	got.ssl = ssl;
	got.cookie = cookie;
	got.tuple = *tuple;
}

void net_ssl_free(struct net_table *t, uint32_t tgid, uint64_t ssl)
{
	(void)t;
	got_add(C_SSL_FREE);
	got.tgid = tgid;
	got.ssl = ssl;
}

void net_tcp_acked(struct net_table *t, uint64_t cookie, uint64_t ts)
{
	(void)t;
	got_add(C_ACKED);
	got.cookie = cookie;
	got.ts = ts;
}

void dns_on_gai(struct dns_table *t, const struct dns_gai *g)
{
	(void)t;
	got_add(C_GAI);
	got.gai = *g;
	memcpy(got.addrs, g->addrs, g->naddrs * sizeof(*g->addrs));
	snprintf(got.text, sizeof(got.text), "%s", g->name);
	snprintf(got.comm, sizeof(got.comm), "%s", g->comm);
}

void dns_on_packet(struct dns_table *t, const struct dns_packet *p)
{
	(void)t;
	got_add(C_PKT);
	got.pkt = *p;
	got.len = p->len;
	memcpy(got.data, p->data, p->len);
}

void proc_on_exec(struct proc_table *t, const struct proc_exec_info *e)
{
	(void)t;
	got_add(C_EXEC);
	got.exec = *e;
	memcpy(got.data, e->argv, e->argv_len);
	snprintf(got.text, sizeof(got.text), "%s", e->exe);
}

void proc_on_exit(struct proc_table *t, const struct proc_exit_info *e)
{
	(void)t;
	got_add(C_EXIT);
	got.exit = *e;
	snprintf(got.comm, sizeof(got.comm), "%s", e->comm);
}

void proc_on_oom(struct proc_table *t, uint32_t pid, uint32_t tid, const char *comm,
		 uint64_t ts_ns)
{
	(void)t;
	got_add(C_OOM);
	got.tgid = pid;
	got.tid = tid;
	got.ts = ts_ns;
	snprintf(got.comm, sizeof(got.comm), "%s", comm);
}

int loader_exec(struct loader *l, pid_t tgid, const char *comm, const char *file,
		const struct lt_exe_key *key, int seen)
{
	(void)l;
	(void)key;
	got.seen = seen;
	got_add(C_ON_EXEC);
	got.tgid = tgid;
	snprintf(got.comm, sizeof(got.comm), "%s", comm);
	snprintf(got.text, sizeof(got.text), "%s", file);
	return exec_known;
}

void loader_exe_seen(struct loader *l, const struct lt_exe_key *key)
{
	(void)l;
	got_add(C_EXE_SEEN);
	got.exe = *key;
}

void loader_client(struct loader *l, pid_t pid)
{
	(void)l;
	ld.clients++;
	ld.client_pid = pid;
}

void loader_exit(struct loader *l, pid_t pid)
{
	(void)l;
	ld.exits++;
	ld.exit_pid = pid;
}

/* ---- helpers ---- */

/* Non-NULL stand-ins: the stubs never dereference them. */
static struct event_ctx ctx_new(void)
{
	struct event_ctx c;

	memset(&c, 0, sizeof(c));
	c.streams = (struct stream_table *)&c;
	c.net = (struct net_table *)&c;
	c.dns = (struct dns_table *)&c;
	c.procs = (struct proc_table *)&c;
	c.loader = (struct loader *)&c;
	return c;
}

static void hdr_fill(struct lt_hdr *h, uint32_t type)
{
	h->type = type;
	h->tgid = 4242;
	h->tid = 4243;
	h->ts_ns = 123456789;
}

/* Feed a copy of rec[0..size) from the heap (so ASan sees any read past it);
 * returns how many malformed records that added. */
static uint64_t feed(struct event_ctx *c, const void *rec, size_t size)
{
	uint64_t before = c->malformed;
	void *p = malloc(size ? size : 1);

	memcpy(p, rec, size);
	got_reset();
	event_handle(c, p, size);
	free(p);
	return c->malformed - before;
}

/* Every prefix shorter than min is malformed and reaches no tracker. */
static void check_short(struct event_ctx *c, const void *rec, size_t min, const char *what)
{
	size_t n;
	int bad = 0;

	for (n = 0; n < min; n++)
		if (feed(c, rec, n) != 1 || got.n != 0)
			bad++;
	CHECKF(bad == 0, "%s: %d short record(s) accepted", what, bad);
}

/* ---- tests ---- */

static void test_data(void)
{
	struct event_ctx c = ctx_new();
	static struct lt_data_event e;
	size_t hdr = offsetof(struct lt_data_event, data);

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_DATA);
	e.ssl = 0xabcdef;
	e.ts_end_ns = 123456999;
	e.offset = 77;
	e.len = 5;
	e.missing = 9;
	e.dir = LT_DIR_READ;
	memcpy(e.comm, "0123456789abcdefXX", LT_COMM_LEN);	/* not NUL-terminated */
	memcpy(e.data, "hello", 5);
	CHECK(feed(&c, &e, hdr + 5) == 0);
	CHECK(got.n == 1 && got.kind[0] == C_DATA);
	CHECK(got.chunk.tgid == 4242 && got.chunk.tid == 4243 && got.chunk.ssl == 0xabcdef);
	CHECK(got.chunk.dir == 1 && got.chunk.offset == 77 && got.chunk.missing == 9);
	CHECK(got.chunk.ts_start_ns == 123456789 && got.chunk.ts_end_ns == 123456999);
	CHECK(got.chunk.len == 5 && memcmp(got.data, "hello", 5) == 0);
	CHECK_STR(got.comm, "0123456789abcde");
	/* the record may carry slack after the data */
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1);
	/* len says more than the record holds */
	CHECK(feed(&c, &e, hdr + 4) == 1 && got.n == 0);
	e.len = LT_CHUNK_MAX + 1;
	CHECK(feed(&c, &e, sizeof(e)) == 1 && got.n == 0);
	e.len = LT_CHUNK_MAX;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1 && got.chunk.len == LT_CHUNK_MAX);
	e.len = 0;
	CHECK(feed(&c, &e, hdr) == 0 && got.n == 1 && got.chunk.len == 0);
	CHECK(got.chunk.sock == 0);
	check_short(&c, &e, hdr, "data");
	/* the same record from a plain socket: the key is the cookie */
	e.hdr.type = LT_EV_SOCK_DATA;
	e.len = 5;
	CHECK(feed(&c, &e, hdr + 5) == 0 && got.n == 1 && got.kind[0] == C_DATA);
	CHECK(got.chunk.sock == 1 && got.chunk.ssl == 0xabcdef && got.chunk.len == 5);
	CHECK(feed(&c, &e, hdr + 4) == 1 && got.n == 0);
	check_short(&c, &e, hdr, "sock data");
	/* every valid data record names its process a client (getaddrinfo's
	 * probes: the loader binds them once); a malformed one does not */
	memset(&ld, 0, sizeof(ld));
	CHECK(feed(&c, &e, hdr + 5) == 0 && ld.clients == 1 && ld.client_pid == 4242);
	CHECK(feed(&c, &e, hdr + 4) == 1 && ld.clients == 1);
	c.loader = NULL;
	CHECK(feed(&c, &e, hdr + 5) == 0 && got.n == 1 && ld.clients == 1);
}

static void test_sock(void)
{
	struct event_ctx c = ctx_new();
	struct lt_ssl_free_event f;
	struct lt_sock_class_event k;

	memset(&f, 0, sizeof(f));
	hdr_fill(&f.hdr, LT_EV_SOCK_CLOSE);
	f.ssl = 31;
	f.end_off[LT_DIR_WRITE] = 100;
	f.end_off[LT_DIR_READ] = 200;
	CHECK(feed(&c, &f, sizeof(f)) == 0 && got.n == 1 && got.kind[0] == C_SOCK_CLOSE);
	CHECK(got.tgid == 4242 && got.cookie == 31 && got.end_off[0] == 100 && got.end_off[1] == 200);
	check_short(&c, &f, sizeof(f), "sock_close");

	memset(&k, 0, sizeof(k));
	hdr_fill(&k.hdr, LT_EV_SOCK_CLASS);
	k.cookie = 32;
	k.ino = 777;
	k.cls = LT_SOCK_TLS;
	k.tuple.family = AF_INET6;
	k.tuple.dport = 443;
	CHECK(feed(&c, &k, sizeof(k)) == 0 && got.n == 1 && got.kind[0] == C_SOCK_CLASS);
	CHECK(got.cookie == 32 && got.ino == 777 && got.cls == NET_CLASS_TLS);
	CHECK(got.tuple.family == AF_INET6 && got.tuple.dport == 443 && got.ts == 123456789);
	k.cls = LT_SOCK_PLAIN;
	CHECK(feed(&c, &k, sizeof(k)) == 0 && got.n == 1 && got.cls == NET_CLASS_PLAIN);
	/* a socket the process connect()ed: its connect comes with the class */
	k.syn_ns = 1000;
	k.est_ns = 2500;
	CHECK(feed(&c, &k, sizeof(k)) == 0 && got.n == 2 && got.kind[0] == C_SOCK_CLASS &&
	      got.kind[1] == C_SOCK_CONNECTED);
	CHECK(got.cookie == 32 && got.syn_ns == 1000 && got.est_ns == 2500);
	k.syn_ns = k.est_ns = 0;
	check_short(&c, &k, sizeof(k), "sock_class");
}

static void test_ssl_free(void)
{
	struct event_ctx c = ctx_new();
	struct lt_ssl_free_event e;

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_SSL_FREE);
	e.ssl = 0x1000;
	e.end_off[LT_DIR_WRITE] = 10;
	e.end_off[LT_DIR_READ] = 20;
	CHECK(feed(&c, &e, sizeof(e)) == 0);
	CHECK(got.n == 2 && got.kind[0] == C_CLOSE && got.kind[1] == C_SSL_FREE);
	CHECK(got.tgid == 4242 && got.ssl == 0x1000 && got.end_off[0] == 10 && got.end_off[1] == 20);
	check_short(&c, &e, sizeof(e), "ssl_free");
}

static void test_exec(void)
{
	struct event_ctx c = ctx_new();
	struct lt_exec_event e;

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_EXEC);
	memcpy(e.comm, "curl", 5);
	memset(e.filename, 'f', sizeof(e.filename));	/* not NUL-terminated */
	e.ppid = 1;
	e.uid = 1000;
	e.start_ns = 5;
	e.argv_len = 8;
	e.argv_full = 20;
	memcpy(e.argv, "curl\0-v\0", 8);
	CHECK(feed(&c, &e, sizeof(e)) == 0);
	CHECK(got.n == 2 && got.kind[0] == C_ON_EXEC && got.kind[1] == C_EXEC);
	CHECK(got.exec.pid == 4242 && got.exec.ppid == 1 && got.exec.uid == 1000);
	CHECK(got.exec.argv_len == 8 && got.exec.argv_cut == 1 && memcmp(got.data, "curl\0-v\0", 8) == 0);
	CHECK(got.exec.ts_ns == 123456789 && got.exec.start_ns == 5);
	CHECK(strlen(got.text) == LT_PATH_MAX - 1);
	/* the ring carries only the arguments' bytes: a record that long is whole */
	CHECK(feed(&c, &e, offsetof(struct lt_exec_event, argv) + 8) == 0 && got.exec.argv_len == 8);
	CHECK(feed(&c, &e, offsetof(struct lt_exec_event, argv) + 7) == 1 && got.n == 0);
	e.argv_len = LT_ARGV_MAX + 1;
	CHECK(feed(&c, &e, sizeof(e)) == 1 && got.n == 0);
	e.argv_len = LT_ARGV_MAX;
	e.argv_full = LT_ARGV_MAX;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.exec.argv_cut == 0);
	/* without a process table the new process is still attached to */
	c.procs = NULL;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1 && got.kind[0] == C_ON_EXEC);
	check_short(&c, &e, sizeof(e), "exec");
}

/* An executable looked at, exec'd in our mount namespace, is marked seen
 * (its next execs do not wake the reader); not otherwise. */
static void test_exec_seen(void)
{
	struct event_ctx c = ctx_new();
	struct lt_exec_event e;

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_EXEC);
	memcpy(e.filename, "/usr/bin/true", 14);
	e.exe.dev = 0x800001;
	e.exe.ino = 77;
	c.procs = NULL;
	exec_known = 1;
	e.flags = LT_EXEC_OUR_NS;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 2 && got.kind[1] == C_EXE_SEEN);
	CHECK(got.exe.dev == 0x800001 && got.exe.ino == 77 && got.seen == 0);
	e.flags = LT_EXEC_OUR_NS | LT_EXEC_SEEN;	/* marked already: the loader is told */
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1 && got.kind[0] == C_ON_EXEC && got.seen == 1);
	e.flags = 0;	/* another mount namespace: its path names another file here */
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1);
	exec_known = 0;	/* not looked at (`-p` names another process) */
	e.flags = LT_EXEC_OUR_NS;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1);
}

static void test_exit(void)
{
	struct event_ctx c = ctx_new();
	struct lt_exit_event e;

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_EXIT);
	e.exit_code = 7 << 8;
	e.ppid = 3;
	e.oncpu_ns = 1000;
	e.runq_ns = 2000;
	e.switches = 3;
	e.preempts = 1;
	memcpy(e.comm, "agent", 6);
	CHECK(feed(&c, &e, sizeof(e)) == 0);
	/* nothing yet: the exit is handled after the poll's last drain */
	CHECK(got.n == 0 && c.nexits == 1);
	got_reset();
	memset(&ld, 0, sizeof(ld));
	event_finish_exits(&c);
	/* its streams first (their calls' rows), then its processes row; what
	 * the loader bound to it goes then too, not before its last data */
	CHECK(got.n == 2 && got.kind[0] == C_EXIT_STREAMS && got.kind[1] == C_EXIT);
	CHECK(ld.exits == 1 && ld.exit_pid == 4242);
	CHECK(got.tgid == 4242 && c.nexits == 0);
	CHECK(got.ts == 123456789);	/* the exit's time: older streams only */
	CHECK(got.exit.pid == 4242 && got.exit.ppid == 3 && got.exit.exit_code == 7 << 8);
	CHECK(got.exit.oncpu_ns == 1000 && got.exit.runq_ns == 2000 && got.exit.switches == 3);
	CHECK(got.exit.ts_ns == 123456789);
	CHECK_STR(got.comm, "agent");
	check_short(&c, &e, sizeof(e), "exit");
	CHECK(c.nexits == 0);

	/* Exits read during a drain wait for the next pass: the first two
	 * finish, oldest first, the third stays. */
	e.hdr.tgid = 1;
	feed(&c, &e, sizeof(e));
	e.hdr.tgid = 2;
	feed(&c, &e, sizeof(e));
	e.hdr.tgid = 3;
	feed(&c, &e, sizeof(e));
	CHECK(c.nexits == 3);
	got_reset();
	event_finish_first_exits(&c, 2);
	CHECK(c.nexits == 1 && c.exits[0].info.pid == 3);
	CHECK(got.n == 4 && got.kind[2] == C_EXIT_STREAMS && got.kind[3] == C_EXIT);
	CHECK(got.tgid == 2 && got.exit.pid == 2);
	got_reset();
	event_finish_first_exits(&c, 5);
	CHECK(c.nexits == 0 && got.n == 2 && got.tgid == 3 && got.exit.pid == 3);
	/* without a process table only the streams are finished */
	c.procs = NULL;
	feed(&c, &e, sizeof(e));
	got_reset();
	event_finish_exits(&c);
	CHECK(got.n == 1 && got.kind[0] == C_EXIT_STREAMS);
}

static void test_oom(void)
{
	struct event_ctx c = ctx_new();
	struct lt_oom_event e;

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_OOM);
	memset(e.comm, 'x', sizeof(e.comm));
	CHECK(feed(&c, &e, sizeof(e)) == 0);
	CHECK(got.n == 1 && got.kind[0] == C_OOM && got.tgid == 4242 && got.tid == 4243);
	CHECK(strlen(got.comm) == LT_COMM_LEN - 1);
	c.procs = NULL;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 0);
	check_short(&c, &e, sizeof(e), "oom");
}

static void test_tls_and_sock(void)
{
	struct event_ctx c = ctx_new();
	struct lt_tls_event t;
	struct lt_ssl_sock_event s;
	struct lt_acked_event a;

	memset(&t, 0, sizeof(t));
	hdr_fill(&t.hdr, LT_EV_TLS_START);
	t.ssl = 0x55;
	CHECK(feed(&c, &t, sizeof(t)) == 0 && got.n == 1 && got.kind[0] == C_TLS_START);
	CHECK(got.ssl == 0x55 && got.tgid == 4242 && got.ts == 123456789);
	check_short(&c, &t, sizeof(t), "tls_start");
	t.hdr.type = LT_EV_TLS_DONE;
	CHECK(feed(&c, &t, sizeof(t)) == 0 && got.n == 1 && got.kind[0] == C_TLS_DONE);
	check_short(&c, &t, sizeof(t), "tls_done");

	memset(&s, 0, sizeof(s));
	hdr_fill(&s.hdr, LT_EV_SSL_SOCK);
	s.ssl = 0x66;
	s.cookie = 99;
	s.tuple.family = AF_INET;
	s.tuple.sport = 40000;
	s.tuple.dport = 443;
	s.tuple.daddr[0] = 127;
	s.tuple.daddr[3] = 1;
	CHECK(feed(&c, &s, sizeof(s)) == 0 && got.n == 1 && got.kind[0] == C_SSL_SOCK);
	CHECK(got.ssl == 0x66 && got.cookie == 99 && got.tuple.family == AF_INET);
	CHECK(got.tuple.sport == 40000 && got.tuple.dport == 443 && got.tuple.daddr[3] == 1);
	/* a socket the process connect()ed: its connect comes with the join */
	s.syn_ns = 7000;
	s.est_ns = 7400;
	CHECK(feed(&c, &s, sizeof(s)) == 0 && got.n == 2 && got.kind[0] == C_SSL_SOCK &&
	      got.kind[1] == C_SOCK_CONNECTED);
	CHECK(got.cookie == 99 && got.syn_ns == 7000 && got.est_ns == 7400);
	check_short(&c, &s, sizeof(s), "ssl_sock");

	memset(&a, 0, sizeof(a));
	hdr_fill(&a.hdr, LT_EV_TCP_ACKED);
	a.cookie = 7;
	CHECK(feed(&c, &a, sizeof(a)) == 0 && got.n == 1 && got.kind[0] == C_ACKED);
	CHECK(got.cookie == 7 && got.ts == 123456789);
	check_short(&c, &a, sizeof(a), "acked");
}

static void test_tcp(void)
{
	struct event_ctx c = ctx_new();
	struct lt_tcp_event e;

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_TCP_CONNECT);
	e.cookie = 11;
	e.syn_ns = 1;
	e.est_ns = 2;
	e.close_ns = 3;
	e.bytes_acked = 4;
	e.bytes_received = 5;
	e.retransmits = 6;
	e.resets_rx = 7;
	e.resets_tx = 8;
	e.sk_err = 111;
	e.tuple.family = AF_INET6;
	e.tuple.dport = 8443;
	memset(e.comm, 'c', sizeof(e.comm));
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1 && got.kind[0] == C_TCP_CONNECT);
	CHECK(got.tcp.tgid == 4242 && got.tcp.tid == 4243 && got.tcp.cookie == 11);
	CHECK(got.tcp.syn_ns == 1 && got.tcp.est_ns == 2 && got.tcp.close_ns == 3);
	CHECK(got.tcp.bytes_acked == 4 && got.tcp.bytes_received == 5 && got.tcp.retransmits == 6);
	CHECK(got.tcp.resets_rx == 7 && got.tcp.resets_tx == 8 && got.tcp.sk_err == 111);
	CHECK(got.tcp.tuple.family == AF_INET6 && got.tcp.tuple.dport == 8443);
	CHECK(strlen(got.tcp.comm) == LT_COMM_LEN - 1);
	check_short(&c, &e, sizeof(e), "tcp_connect");
	e.hdr.type = LT_EV_TCP_CLOSE;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1 && got.kind[0] == C_TCP_CLOSE);
	check_short(&c, &e, sizeof(e), "tcp_close");
}

static void test_dns_gai(void)
{
	struct event_ctx c = ctx_new();
	struct lt_dns_gai_event e;

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_DNS_GAI);
	e.ts_end_ns = 123457000;
	e.rc = -2;
	e.naddrs = 2;
	e.hint_family = AF_INET;
	memcpy(e.comm, "python3", 8);
	memset(e.name, 'n', sizeof(e.name));	/* not NUL-terminated */
	e.addrs[0].family = AF_INET;
	e.addrs[0].addr[0] = 10;
	e.addrs[1].family = AF_INET6;
	e.addrs[1].addr[15] = 1;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 1 && got.kind[0] == C_GAI);
	CHECK(got.gai.tgid == 4242 && got.gai.tid == 4243 && got.gai.rc == -2);
	CHECK(got.gai.start_ns == 123456789 && got.gai.end_ns == 123457000);
	CHECK(got.gai.hint_family == AF_INET && got.gai.naddrs == 2);
	CHECK(got.addrs[0].family == AF_INET && got.addrs[0].addr[0] == 10);
	CHECK(got.addrs[1].family == AF_INET6 && got.addrs[1].addr[15] == 1);
	CHECK(strlen(got.text) == LT_DNS_NAME_MAX - 1);
	CHECK_STR(got.comm, "python3");
	e.naddrs = LT_DNS_ADDRS_MAX + 1;
	CHECK(feed(&c, &e, sizeof(e)) == 1 && got.n == 0);
	e.naddrs = 0;
	c.dns = NULL;
	CHECK(feed(&c, &e, sizeof(e)) == 0 && got.n == 0);
	check_short(&c, &e, sizeof(e), "dns_gai");
}

static void test_dns_pkt(void)
{
	struct event_ctx c = ctx_new();
	struct lt_dns_pkt_event e;
	size_t hdr = offsetof(struct lt_dns_pkt_event, data);

	memset(&e, 0, sizeof(e));
	hdr_fill(&e.hdr, LT_EV_DNS_PKT);
	e.len = 3;
	e.msg_len = 40;
	e.dir = LT_DIR_WRITE;
	e.family = AF_INET;
	e.port = 53;
	e.server[0] = 8;
	memcpy(e.data, "abc", 3);
	CHECK(feed(&c, &e, hdr + 3) == 0 && got.n == 1 && got.kind[0] == C_PKT);
	CHECK(got.pkt.sent == 1 && got.pkt.port == 53 && got.pkt.server.family == AF_INET);
	CHECK(got.pkt.server.addr[0] == 8 && got.pkt.msg_len == 40 && got.len == 3);
	CHECK(memcmp(got.data, "abc", 3) == 0 && got.pkt.ts_ns == 123456789);
	e.dir = LT_DIR_READ;
	CHECK(feed(&c, &e, hdr + 3) == 0 && got.pkt.sent == 0);
	CHECK(feed(&c, &e, hdr + 2) == 1 && got.n == 0);	/* len past the record */
	e.msg_len = 2;						/* datagram smaller than the copy */
	CHECK(feed(&c, &e, hdr + 3) == 1 && got.n == 0);
	e.msg_len = 40;
	e.len = LT_DNS_PKT_MAX + 1;
	CHECK(feed(&c, &e, sizeof(e)) == 1 && got.n == 0);
	e.len = 3;
	c.dns = NULL;
	CHECK(feed(&c, &e, hdr + 3) == 0 && got.n == 0);
	check_short(&c, &e, hdr, "dns_pkt");
}

static void test_unknown(void)
{
	struct event_ctx c = ctx_new();
	struct lt_tls_event e;
	uint32_t types[] = { 0, 6, 19, 26, 29, 32, 39, 43, 1000, 0xffffffffu };
	size_t i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		hdr_fill(&e.hdr, types[i]);
		CHECKF(feed(&c, &e, sizeof(e)) == 1 && got.n == 0, "type %u", types[i]);
	}
	CHECK(feed(&c, &e, 0) == 1 && got.n == 0);
	CHECK(feed(&c, &e, sizeof(struct lt_hdr) - 1) == 1 && got.n == 0);
}

int main(void)
{
	test_data();
	test_ssl_free();
	test_sock();
	test_exec();
	test_exec_seen();
	test_exit();
	test_oom();
	test_tls_and_sock();
	test_tcp();
	test_dns_gai();
	test_dns_pkt();
	test_unknown();
	return harness_done("test_event");
}
