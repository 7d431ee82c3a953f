/* main.c -- llmtap's command line: the subcommand table and `llmtap run`, which wires loader, events, connections and store. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "track/conn.h"
#include "track/dns.h"
#include "capture/event.h"
#include "events.h"
#include "serve/listen.h"
#include "capture/loader.h"
#include "track/net.h"
#include "track/proc.h"
#include "push/push.h"
#include "db/store.h"
#include "base/util.h"

#define MAX_FILTERS 64
#define RESCAN_MAX 1024
#define FLUSH_EVERY_NS 200000000ull	/* rows reach the database within 0.2 s */
#define REAP_EVERY_NS 5000000000ull
#define CPU_GC_EVERY_NS 30000000000ull	/* CPU map entries of vanished tasks */
#define LISTEN_EVERY_NS 250000000ull	/* /health and /metrics lag at most this */

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

/* A process to look at again: libssl may be mapped after exec (dlopen). */
struct rescan {
	pid_t pid;
	uint64_t due_ns;
};

struct run_state {
	struct store *store;
	struct conn_table *conns;
	struct net_table *net;
	struct dns_table *dns;
	struct loader *loader;
	struct proc_table *procs;
	pid_t pids[MAX_FILTERS];
	int npids;
	const char *comms[MAX_FILTERS];
	int ncomms;
	uint32_t exits[4096];		/* processes that exited during this poll */
	int nexits;
	struct rescan rescans[RESCAN_MAX];
	int nrescans;
	unsigned long long calls;
	uint64_t last_map_full, last_read_err;	/* counters already reported */
};

static int run_wants(const struct run_state *st, pid_t pid, const char *comm)
{
	int i, ok;

	for (i = 0, ok = !st->npids; i < st->npids && !ok; i++)
		ok = st->pids[i] == pid;
	if (!ok)
		return 0;
	for (i = 0, ok = !st->ncomms; i < st->ncomms && !ok; i++)
		ok = strcmp(st->comms[i], comm) == 0;
	return ok;
}

static void on_row(void *ud, struct call_row *r)
{
	struct run_state *st = ud;

	if (!run_wants(st, r->pid, r->comm)) {
		call_row_free(r);
		return;
	}
	log_debug("call %s: %s %s %s status %lld", r->id, r->comm,
		  r->provider, r->model ? r->model : "?", (long long)r->status);
	st->calls++;
	proc_on_call(st->procs, r->pid);
	store_add(st->store, r);
}

static void on_data(void *ud, const struct tls_chunk *c)
{
	struct run_state *st = ud;

	conn_data(st->conns, c);
}

static void on_ssl_free(void *ud, uint32_t tgid, uint64_t ssl, const uint64_t end_off[2],
			uint64_t ts)
{
	struct run_state *st = ud;

	conn_close(st->conns, tgid, ssl, end_off, ts);
	net_ssl_free(st->net, tgid, ssl);
}

static void on_tls_start(void *ud, uint32_t tgid, uint64_t ssl, uint64_t ts)
{
	net_tls_start(((struct run_state *)ud)->net, tgid, ssl, ts);
}

static void on_tls_done(void *ud, uint32_t tgid, uint64_t ssl, uint64_t ts)
{
	net_tls_done(((struct run_state *)ud)->net, tgid, ssl, ts);
}

static void on_ssl_sock(void *ud, uint32_t tgid, uint64_t ssl, uint64_t cookie,
			const struct net_tuple *tuple)
{
	net_ssl_sock(((struct run_state *)ud)->net, tgid, ssl, cookie, tuple);
}

static void on_tcp_connect(void *ud, const struct net_tcp *e)
{
	net_tcp_connect(((struct run_state *)ud)->net, e);
}

static void on_tcp_close(void *ud, const struct net_tcp *e)
{
	net_tcp_close(((struct run_state *)ud)->net, e);
}

static void on_conn_row(void *ud, struct conn_row *r)
{
	struct run_state *st = ud;

	if (!run_wants(st, r->pid, r->comm)) {
		conn_row_free(r);
		return;
	}
	store_add_connection(st->store, r);
}

static int on_netinfo(void *ud, uint32_t tgid, uint64_t ssl, uint64_t first_write_ns,
		      uint64_t last_write_ns, int first_on_conn, struct call_netinfo *out)
{
	return net_call_info(((struct run_state *)ud)->net, tgid, ssl, first_write_ns,
			     last_write_ns, first_on_conn, out);
}

/* net.c asks which lookup gave a connection its address. */
static int on_dns_lookup(void *ud, uint32_t tgid, int family, const uint8_t *addr,
			 uint64_t before_mono_ns, double *ms, const char **name)
{
	struct run_state *st = ud;
	struct dns_answer a;

	if (!st->dns || !dns_find(st->dns, tgid, family, addr, before_mono_ns, &a))
		return 0;
	*ms = a.latency_ms;
	*name = a.name;
	return 1;
}

static void on_tcp_acked(void *ud, uint64_t cookie, uint64_t ts)
{
	net_tcp_acked(((struct run_state *)ud)->net, cookie, ts);
}

static void on_dns_gai(void *ud, const struct dns_gai *g)
{
	dns_on_gai(((struct run_state *)ud)->dns, g);
}

static void on_dns_packet(void *ud, const struct dns_packet *p)
{
	dns_on_packet(((struct run_state *)ud)->dns, p);
}

static void on_dns_row(void *ud, struct dns_row *r)
{
	struct run_state *st = ud;

	if (!run_wants(st, r->pid, r->comm)) {
		dns_row_free(r);
		return;
	}
	log_debug("dns %s: %s %s %s -> %s (%s, %.1f ms)", r->source, r->comm, r->qtype,
		  r->name, r->addrs, r->result, r->latency_ms);
	store_add_dns(st->store, r);
}

static void on_proc_exec(void *ud, const struct proc_exec_info *e)
{
	proc_on_exec(((struct run_state *)ud)->procs, e);
}

static void on_proc_exit(void *ud, const struct proc_exit_info *e)
{
	proc_on_exit(((struct run_state *)ud)->procs, e);
}

static void on_oom(void *ud, uint32_t tgid, uint32_t tid, const char *comm, uint64_t ts)
{
	struct run_state *st = ud;

	log_warn("OOM killer chose pid %u (%s, thread %u)", tgid, comm, tid);
	proc_on_oom(st->procs, tgid, comm, ts);
}

static void on_proc_row(void *ud, const struct proc_row *r)
{
	struct run_state *st = ud;

	if (run_wants(st, r->pid, r->comm))
		store_add_process(st->store, r);
}

static void on_cpu_sample(void *ud, const struct cpu_sample_row *r)
{
	struct run_state *st = ud;

	if (run_wants(st, r->pid, r->comm))
		store_add_cpu_sample(st->store, r);
}

static void on_cpu_entry(void *ud, const struct loader_cpu *c, int thread)
{
	struct proc_cpu pc = {
		.id = c->id, .tgid = c->tgid, .oncpu_ns = c->oncpu_ns, .runq_ns = c->runq_ns,
		.switches = c->switches, .preempts = c->preempts,
		.running_since_ns = c->running_since_ns,
	};
	struct run_state *st = ud;

	if (thread)
		proc_sample_thread(st->procs, &pc);
	else
		proc_sample_process(st->procs, &pc);
}

/* One pass over the CPU maps: a cpu_samples row per process that ran. */
static void cpu_sample(struct run_state *st, int gc)
{
	int err;

	proc_sample_begin(st->procs, mono_ns());
	err = loader_cpu_sample(st->loader, gc, on_cpu_entry, st);
	if (err < 0)
		log_warn("cpu maps: read failed: %s", strerror(-err));
	proc_sample_end(st->procs);
}

static void rescan_add(struct run_state *st, pid_t pid, uint64_t delay_ns)
{
	if (st->nrescans == RESCAN_MAX)
		return;
	st->rescans[st->nrescans].pid = pid;
	st->rescans[st->nrescans].due_ns = mono_ns() + delay_ns;
	st->nrescans++;
}

static void on_exec(void *ud, uint32_t tgid, const char *comm, const char *file)
{
	struct run_state *st = ud;
	int n = loader_attach_pid(st->loader, tgid);

	if (n > 0)
		log_warn("attached to %d new file(s) for pid %u (%s, %s)", n, tgid, comm, file);
	/* Libraries mapped by the dynamic loader or dlopen come a little later. */
	rescan_add(st, tgid, 20000000ull);
	rescan_add(st, tgid, 200000000ull);
	rescan_add(st, tgid, 2000000000ull);
}

static void on_exit_ev(void *ud, uint32_t tgid, int code, uint64_t ts)
{
	struct run_state *st = ud;

	(void)code;
	(void)ts;
	/* Handled after the poll: data of this process may sit in the other ring. */
	if (st->nexits < (int)(sizeof(st->exits) / sizeof(st->exits[0])))
		st->exits[st->nexits++] = tgid;
}

static void rescans_run(struct run_state *st)
{
	uint64_t now = mono_ns();
	int i, j;

	for (i = 0, j = 0; i < st->nrescans; i++) {
		if (st->rescans[i].due_ns <= now) {
			if (loader_attach_pid(st->loader, st->rescans[i].pid) > 0)
				log_warn("attached to new file(s) mapped by pid %d",
					 st->rescans[i].pid);
		}
		else
			st->rescans[j++] = st->rescans[i];
	}
	st->nrescans = j;
}

static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: llmtap run [--db PATH] [-p PID]... [-c COMM]... [--duration SEC]\n"
		"                  [--max-body BYTES] [--ring-size BYTES] [--sample-interval SEC] [-v]\n"
		"                  [--push URL]... [--push-batch N] [--push-interval SEC] [--push-ca FILE]\n"
		"                  [--push-bodies] [--host-id ID] [--retain-days D] [--max-db-mb MB]\n"
		"                  [--listen [ADDR:]PORT] [--config FILE]\n"
		"Capture LLM API calls made over TLS by any process on this host.\n"
		"  --db PATH          database file (default $LLMTAP_DB, else ./llmtap.db)\n"
		"  -p, --pid PID      only this process (repeatable)\n"
		"  -c, --comm COMM    only processes with this name (repeatable)\n"
		"  --duration SEC     stop after this long (30, 5m, 1h)\n"
		"  --max-body BYTES   keep at most this much of each body (default 8M)\n"
		"  --ring-size BYTES  BPF ring buffer size, a power of two (default 16M)\n"
		"  --sample-interval SEC  CPU samples per process this often (default 2)\n"
		"  --push URL         also deliver rows to URL (repeatable): clickhouse://[user:pass@]host:8123/DB,\n"
		"                     otlp+http(s)://host:4318, http(s)://host/path (JSON batches)\n"
		"  --push-batch N     rows per push batch (default 500)\n"
		"  --push-interval SEC  push waiting rows at least this often (default 5)\n"
		"  --push-ca FILE     CA certificates to verify https targets with (default: the system's)\n"
		"  --push-bodies      push request/response bodies and response text too\n"
		"  --host-id ID       host id of pushed rows (default /etc/machine-id)\n"
		"  --retain-days D    delete pushed rows older than D days; 0 keeps them (default 7)\n"
		"  --max-db-mb MB     cap the database: oldest pushed rows go first (default: no cap)\n"
		"  --listen [ADDR:]PORT  serve /health and /metrics over HTTP (ADDR default 127.0.0.1;\n"
		"                     [::1]:PORT for IPv6, 0.0.0.0:PORT opens it to the network)\n"
		"  --config FILE      options as 'key = value' lines (default /etc/llmtap.conf if present)\n"
		"  -v, --verbose      debug output (twice: libbpf's too)\n");
}

/* Copy the numbers /health and /metrics show into the listener's snapshot
 * (the HTTP thread reads only that copy). */
static void listen_refresh(struct run_state *st, struct listener *lis, struct pusher *push)
{
	struct listen_stats ls = { 0 };
	uint64_t c[LT_CNT_MAX];

	loader_counters(st->loader, c);
	ls.calls = st->calls;
	ls.events = c[LT_CNT_EVENTS];
	ls.drops = c[LT_CNT_DROPS];
	ls.files = loader_files(st->loader);
	ls.open_conns = conn_count(st->conns);
	ls.npush = push_status(push, ls.push, PUSH_TARGETS_MAX);
	listen_update(lis, &ls);
}

/* Report new ring-buffer drops since the last call (never silent). */
static void drops_check(struct run_state *st, uint64_t *last_drops)
{
	uint64_t c[LT_CNT_MAX];

	loader_counters(st->loader, c);
	if (c[LT_CNT_DROPS] > *last_drops) {
		log_warn("ring buffer full: %llu events (%llu bytes) dropped so far; "
			 "affected calls are marked, consider --ring-size",
			 (unsigned long long)c[LT_CNT_DROPS],
			 (unsigned long long)c[LT_CNT_DROP_BYTES]);
		*last_drops = c[LT_CNT_DROPS];
	}
	if (c[LT_CNT_MAP_FULL] > st->last_map_full) {
		log_warn("CPU accounting maps full: %llu task(s) not counted so far",
			 (unsigned long long)c[LT_CNT_MAP_FULL]);
		st->last_map_full = c[LT_CNT_MAP_FULL];
	}
	if (c[LT_CNT_READ_ERR] > st->last_read_err) {
		log_warn("%llu SSL buffer(s) could not be read from user memory so far",
			 (unsigned long long)c[LT_CNT_READ_ERR]);
		st->last_read_err = c[LT_CNT_READ_ERR];
	}
}

/* Long options of run without a short form (push, retention, config). */
enum {
	OPT_PUSH_BATCH = 0x500, OPT_PUSH_INTERVAL, OPT_PUSH_CA, OPT_PUSH_BODIES, OPT_HOST_ID,
	OPT_RETAIN_DAYS, OPT_MAX_DB_MB, OPT_CONFIG,
};

#define PUSH_EXIT_BUDGET_NS 3500000000ull	/* of the 5 s exit budget, for the last push */

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'D' },
		{ "push", required_argument, NULL, 'P' },
		{ "push-batch", required_argument, NULL, OPT_PUSH_BATCH },
		{ "push-interval", required_argument, NULL, OPT_PUSH_INTERVAL },
		{ "push-ca", required_argument, NULL, OPT_PUSH_CA },
		{ "push-bodies", no_argument, NULL, OPT_PUSH_BODIES },
		{ "host-id", required_argument, NULL, OPT_HOST_ID },
		{ "retain-days", required_argument, NULL, OPT_RETAIN_DAYS },
		{ "max-db-mb", required_argument, NULL, OPT_MAX_DB_MB },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "listen", required_argument, NULL, 'L' },
		{ "max-body", required_argument, NULL, 'm' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "sample-interval", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct run_state *st;
	struct event_sink sink = { 0 };
	struct loader_opts lo = { 0 };
	struct sigaction sa = { 0 };
	const char *db = cli_default_db();
	uint64_t max_body = 8u << 20, ring = 16u << 20, deadline = 0, now;
	uint64_t last_flush = 0, last_reap = 0, last_drops = 0, c[LT_CNT_MAX];
	double duration = 0, sample_s = 2;
	uint64_t last_sample = 0, last_gc = 0;
	struct proc_sink ps = { 0 };
	struct push_opts po = { .batch_rows = 500, .interval_s = 5, .retain_days = 7 };
	struct pusher *push = NULL;
	struct listener *lis = NULL;
	const char *listen_spec = NULL;
	uint64_t last_listen = 0;
	uint64_t stop_ns = 0;
	char **cargv = NULL;
	int opt, err, rc = 1, files;
	double dv;
	char *end;
	long v;

	/* Options from the config file and LLMTAP_* come first; flags win. */
	if ((rc = config_argv(argc, argv, opts, &argc, &cargv)))
		return rc;
	argv = cargv;
	rc = 1;
	st = calloc(1, sizeof(*st));
	if (!st) {
		config_free(cargv);
		return 1;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			db = optarg;
			break;
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || st->npids == MAX_FILTERS) {
				fprintf(stderr, "llmtap: bad -p/--pid value '%s'\n", optarg);
				rc = 2;
				goto out_free;
			}
			st->pids[st->npids++] = v;
			break;
		case 'c':
			if (st->ncomms == MAX_FILTERS) {
				fprintf(stderr, "llmtap: too many -c/--comm filters\n");
				rc = 2;
				goto out_free;
			}
			st->comms[st->ncomms++] = optarg;
			break;
		case 'D':
			if (parse_duration(optarg, &duration)) {
				fprintf(stderr, "llmtap: bad --duration value '%s'\n", optarg);
				rc = 2;
				goto out_free;
			}
			break;
		case 'P':
			if (po.nurls == PUSH_TARGETS_MAX || push_check_url(optarg)) {
				if (po.nurls == PUSH_TARGETS_MAX)
					fprintf(stderr, "llmtap: at most %d --push targets\n", PUSH_TARGETS_MAX);
				rc = 2;
				goto out_free;
			}
			po.urls[po.nurls++] = optarg;
			break;
		case OPT_PUSH_BATCH:
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "llmtap: bad --push-batch value '%s' (1 to 100000 rows)\n", optarg);
				rc = 2;
				goto out_free;
			}
			po.batch_rows = (int)v;
			break;
		case OPT_PUSH_INTERVAL:
			if (parse_duration(optarg, &po.interval_s) || po.interval_s < 0.05 || po.interval_s > 86400) {
				fprintf(stderr, "llmtap: bad --push-interval value '%s' (0.05 s to 1 d)\n", optarg);
				rc = 2;
				goto out_free;
			}
			break;
		case OPT_PUSH_CA:
			if (access(optarg, R_OK)) {
				fprintf(stderr, "llmtap: bad --push-ca value '%s': %s\n", optarg, strerror(errno));
				rc = 2;
				goto out_free;
			}
			po.ca_file = optarg;
			break;
		case OPT_PUSH_BODIES:
			po.bodies = 1;
			break;
		case OPT_HOST_ID:
			if (!*optarg || strlen(optarg) > 100) {
				fprintf(stderr, "llmtap: bad --host-id value '%s' (1 to 100 characters)\n", optarg);
				rc = 2;
				goto out_free;
			}
			po.host_id = optarg;
			break;
		case OPT_RETAIN_DAYS:
			dv = strtod(optarg, &end);
			if (*end || end == optarg || dv < 0 || dv > 36500) {
				fprintf(stderr, "llmtap: bad --retain-days value '%s' (0 keeps rows)\n", optarg);
				rc = 2;
				goto out_free;
			}
			po.retain_days = dv;
			break;
		case OPT_MAX_DB_MB:
			dv = strtod(optarg, &end);
			if (*end || end == optarg || dv <= 0 || dv > 1e7) {
				fprintf(stderr, "llmtap: bad --max-db-mb value '%s'\n", optarg);
				rc = 2;
				goto out_free;
			}
			po.max_db_bytes = (uint64_t)(dv * 1048576);
			break;
		case OPT_CONFIG:
			break;	/* read by config_argv() */
		case 'L':
			if (listen_check(optarg)) {
				rc = 2;
				goto out_free;
			}
			listen_spec = optarg;
			break;
		case 'm':
			if (parse_size(optarg, &max_body) || max_body < 1024) {
				fprintf(stderr, "llmtap: bad --max-body value '%s' (at least 1k)\n", optarg);
				rc = 2;
				goto out_free;
			}
			break;
		case 'r':
			if (parse_size(optarg, &ring) || ring < 65536 || (ring & (ring - 1))) {
				fprintf(stderr, "llmtap: bad --ring-size value '%s' (a power of two, at least 64k)\n", optarg);
				rc = 2;
				goto out_free;
			}
			break;
		case 'S':
			if (parse_duration(optarg, &sample_s) || sample_s < 0.1 || sample_s > 3600) {
				fprintf(stderr, "llmtap: bad --sample-interval value '%s' (0.1 to 3600 s)\n", optarg);
				rc = 2;
				goto out_free;
			}
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage_run(stdout);
			rc = 0;
			goto out_free;
		default:
			usage_run(stderr);
			rc = 2;
			goto out_free;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		rc = 2;
		goto out_free;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "llmtap: run needs root (CAP_BPF and CAP_PERFMON); try sudo\n");
		goto out_free;
	}

	umask(077);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Bound before anything slow: a port in use fails at once. */
	if (listen_spec && listen_open(&lis, listen_spec, db))
		goto out_free;

	if (store_open(&st->store, db, 0))
		goto out_free;
	st->conns = conn_table_new(max_body, on_row, st);
	if (!st->conns)
		goto out_store;
	st->net = net_table_new(on_conn_row, on_dns_lookup, st);
	if (!st->net)
		goto out_conns;
	conn_table_set_netinfo(st->conns, on_netinfo, st);
	st->dns = dns_table_new(on_dns_row, st);
	if (!st->dns)
		goto out_conns;
	ps.ud = st;
	ps.row = on_proc_row;
	ps.sample = on_cpu_sample;
	st->procs = proc_table_new(&ps);
	if (!st->procs)
		goto out_conns;
	sink.ud = st;
	sink.proc_exec = on_proc_exec;
	sink.proc_exit = on_proc_exit;
	sink.oom = on_oom;
	sink.data = on_data;
	sink.ssl_free = on_ssl_free;
	sink.exec = on_exec;
	sink.exit = on_exit_ev;
	sink.tls_start = on_tls_start;
	sink.tls_done = on_tls_done;
	sink.ssl_sock = on_ssl_sock;
	sink.tcp_connect = on_tcp_connect;
	sink.tcp_close = on_tcp_close;
	sink.tcp_acked = on_tcp_acked;
	sink.dns_gai = on_dns_gai;
	sink.dns_packet = on_dns_packet;
	lo.self = getpid();
	lo.pids = st->pids;
	lo.npids = st->npids;
	lo.ring_bytes = ring;
	lo.chunks_max = (max_body + LT_CHUNK_MAX - 1) / LT_CHUNK_MAX + 1;
	err = loader_open(&st->loader, &lo, event_handle, &sink);
	if (err)
		goto out_conns;
	files = loader_attach_host(st->loader);
	if (files == 0)
		log_warn("no OpenSSL found yet (libssl or node); processes started later are still watched");
	po.db_path = db;
	po.token = config_push_token();
	if (push_start(&push, &po))
		goto out_conns;
	if (lis) {
		listen_refresh(st, lis, push);
		if (listen_start(lis))
			goto out_conns;
	}
	fprintf(stderr, "ready: tracing TLS in %d file(s), writing %s\n", files, db);
	fflush(stderr);

	if (duration > 0)
		deadline = mono_ns() + (uint64_t)(duration * 1e9);
	while (!exiting) {
		err = loader_poll(st->loader, 100);
		if (err < 0 && err != -EINTR) {
			log_warn("ring buffer poll failed: %s", strerror(-err));
			break;
		}
		while (st->nexits)
			conn_process_exit(st->conns, st->exits[--st->nexits], 0);
		now = mono_ns();
		rescans_run(st);
		if (now - last_sample >= (uint64_t)(sample_s * 1e9)) {
			cpu_sample(st, now - last_gc >= CPU_GC_EVERY_NS);
			if (now - last_gc >= CPU_GC_EVERY_NS)
				last_gc = now;
			last_sample = now;
		}
		if (store_pending(st->store) &&
		    (store_pending(st->store) >= 256 || now - last_flush >= FLUSH_EVERY_NS)) {
			size_t queued = store_pending(st->store);

			if (store_flush(st->store) >= 0)
				push_notify(push, (unsigned)queued);
			last_flush = now;
		}
		if (now - last_reap >= REAP_EVERY_NS) {
			conn_reap(st->conns);
			net_reap(st->net);
			dns_reap(st->dns, now);
			drops_check(st, &last_drops);
			last_reap = now;
		}
		if (lis && now - last_listen >= LISTEN_EVERY_NS) {
			listen_refresh(st, lis, push);
			last_listen = now;
		}
		if (deadline && now >= deadline)
			break;
	}
	stop_ns = mono_ns();
	listen_close(lis);
	lis = NULL;
	/* Drain what the kernel already queued, then finish open calls. */
	while (loader_poll(st->loader, 0) > 0)
		;
	while (st->nexits)
		conn_process_exit(st->conns, st->exits[--st->nexits], 0);
	cpu_sample(st, 0);	/* CPU up to the stop */
	drops_check(st, &last_drops);
	loader_counters(st->loader, c);
	rc = 0;
out_conns:
	conn_table_free(st->conns, "tracer stopped before the response completed");
	net_table_free(st->net);
	dns_table_free(st->dns);
	proc_table_free(st->procs);
	if (push) {
		/* the last push attempt, with every row written */
		store_flush(st->store);
		push_stop(push, (stop_ns ? stop_ns : mono_ns()) + PUSH_EXIT_BUDGET_NS);
	}
	if (!rc)
		fprintf(stderr, "llmtap: stopped: %llu call(s) recorded, %llu event(s) dropped\n",
			st->calls, (unsigned long long)c[LT_CNT_DROPS]);
out_store:
	store_close(st->store);
	/* Last, with the rows safe: detaching is slow, a child pays for it. */
	loader_detach_later(st->loader);
	loader_close(st->loader);
out_free:
	listen_close(lis);
	free(st);
	config_free(cargv);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: llmtap COMMAND [OPTIONS]\n"
		"  run     capture LLM API calls (needs root)\n"
		"  calls   list recorded calls\n"
		"  show    one call: headers, bodies, latency\n"
		"  stats   totals by model, provider, process or host\n"
		"  dns     recent DNS lookups: name, answers, result, latency\n"
		"Run 'llmtap COMMAND --help' for a command's options.\n");
}

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct cmd cmds[] = {
	{ "run", cmd_run },
	{ "calls", cmd_calls },
	{ "show", cmd_show },
	{ "stats", cmd_stats },
	{ "dns", cmd_dns },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "llmtap: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
