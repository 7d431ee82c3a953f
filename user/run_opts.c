/* run_opts.c -- `llmtap run`'s options: the config file, the environment and the flags, checked into one struct. */
#include "run_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/cli.h"
#include "config.h"
#include "db/share.h"
#include "serve/listen.h"

/* The usage text of run. */
static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: llmtap run [--db PATH] [-p PID]... [-c COMM]... [--duration SEC]\n"
		"                  [--max-body BYTES] [--body-memory BYTES] [--ring-size BYTES]\n"
		"                  [--spool-size BYTES] [--sample-interval SEC] [-v]\n"
		"                  [--push URL]... [--push-batch N] [--push-interval SEC] [--push-ca FILE]\n"
		"                  [--push-bodies] [--host-id ID] [--retain-days D] [--max-db-mb MB]\n"
		"                  [--listen [ADDR:]PORT] [--prices FILE] [--db-group GROUP] [--config FILE]\n"
		"                  [--max-disk-pct P] [--watch-path PATH]... [--zombie-after SEC]\n"
		"                  [--stuck-after SEC] [--ingest-token TOKEN] [--ingest-max-body BYTES]\n"
		"                  [--ingest-rate N] [--dns-probes clients|all]\n"
		"Capture LLM API calls made over TLS by any process on this host.\n"
		"  --db PATH          database file (default $LLMTAP_DB, else ./llmtap.db)\n"
		"  -p, --pid PID      only this process (repeatable)\n"
		"  -c, --comm COMM    only processes with this name (repeatable)\n"
		"  --duration SEC     stop after this long (30, 5m, 1h)\n"
		"  --max-body BYTES   keep at most this much of each body (default 8M)\n"
		"  --body-memory BYTES  bodies of open calls held in memory, all together (default 64M;\n"
		"                     0: no cap); past it bodies are cut, error = 'truncated'\n"
		"  --ring-size BYTES  BPF ring buffer size, a power of two (default 4M)\n"
		"  --spool-size BYTES  a ring the reader is behind on spills into a file next to the\n"
		"                     database, up to this much (default 256M; 0: drop when full)\n"
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
		"  --prices FILE      price table (TSV, as data/prices.tsv; default: the built-in one)\n"
		"  --db-group GROUP   make the database readable by GROUP (files 0640, directory 0750)\n"
		"  --max-disk-pct P   keep the database's volume under P%% full: oldest pushed rows go first\n"
		"                     (default 90; 0 off)\n"
		"  --watch-path PATH  also sample this path's filesystem (repeatable; the database's and / always)\n"
		"  --zombie-after SEC report a process its parent has not reaped this long (default 30)\n"
		"  --stuck-after SEC  report an agent with open connections and no CPU or I/O this long\n"
		"                     (default 5m; 0 off)\n"
		"  --ingest-token TOKEN  require 'Authorization: Bearer TOKEN' on POST /v1/* (better:\n"
		"                     LLMTAP_INGEST_TOKEN or ingest-token in the config file)\n"
		"  --ingest-max-body BYTES  largest POST body, decoded (default 4M)\n"
		"  --ingest-rate N    POSTs per second accepted, the rest get 429 (default 100)\n"
		"  --dns-probes WHERE probe getaddrinfo in LLM client processes alone (clients: those that\n"
		"                     made a call, and later runs of their programs; the default) or in\n"
		"                     every process (all: each one that maps glibc pays a page copied)\n"
		"  --config FILE      options as 'key = value' lines (default /etc/llmtap.conf if present)\n"
		"  -v, --verbose      debug output (twice: libbpf's too)\n");
}

/* Long options of run without a short form (push, retention, config). */
enum {
	OPT_PUSH_BATCH = 0x500, OPT_PUSH_INTERVAL, OPT_PUSH_CA, OPT_PUSH_BODIES, OPT_HOST_ID,
	OPT_RETAIN_DAYS, OPT_MAX_DB_MB, OPT_CONFIG, OPT_PRICES, OPT_DB_GROUP,
	OPT_MAX_DISK_PCT, OPT_WATCH_PATH, OPT_ZOMBIE_AFTER, OPT_DNS_PROBES,
	OPT_STUCK_AFTER, OPT_INGEST_TOKEN, OPT_INGEST_MAX_BODY, OPT_INGEST_RATE, OPT_BODY_MEMORY,
	OPT_SPOOL_SIZE,
};

/* Parse a duration option into *out within [lo, hi] seconds. Returns 0, or 2
 * with the bad value named. */
static int opt_seconds(const char *name, const char *arg, double lo, double hi, double *out)
{
	if (parse_duration(arg, out) || *out < lo || *out > hi) {
		fprintf(stderr, "llmtap: bad --%s value '%s' (%g s to %g s)\n", name, arg, lo, hi);
		return 2;
	}
	return 0;
}

int run_opts_parse(int argc, char **argv, struct run_opts *o)
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
		{ "prices", required_argument, NULL, OPT_PRICES },
		{ "db-group", required_argument, NULL, OPT_DB_GROUP },
		{ "max-disk-pct", required_argument, NULL, OPT_MAX_DISK_PCT },
		{ "watch-path", required_argument, NULL, OPT_WATCH_PATH },
		{ "zombie-after", required_argument, NULL, OPT_ZOMBIE_AFTER },
		{ "dns-probes", required_argument, NULL, OPT_DNS_PROBES },
		{ "stuck-after", required_argument, NULL, OPT_STUCK_AFTER },
		{ "ingest-token", required_argument, NULL, OPT_INGEST_TOKEN },
		{ "ingest-max-body", required_argument, NULL, OPT_INGEST_MAX_BODY },
		{ "ingest-rate", required_argument, NULL, OPT_INGEST_RATE },
		{ "listen", required_argument, NULL, 'L' },
		{ "max-body", required_argument, NULL, 'm' },
		{ "body-memory", required_argument, NULL, OPT_BODY_MEMORY },
		{ "spool-size", required_argument, NULL, OPT_SPOOL_SIZE },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "sample-interval", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	double dv;
	char *end;
	uint64_t sz;
	long v;
	int opt, rc, i;

	memset(o, 0, sizeof(*o));
	o->db = cli_default_db();
	o->max_body = 8u << 20;
	o->body_memory = 64u << 20;
	o->ring_bytes = 4u << 20;
	o->spool_bytes = 256u << 20;
	o->sample_s = 2;
	o->push.batch_rows = 500;
	o->push.interval_s = 5;
	o->push.retain_days = 7;
	o->push.max_disk_pct = 90;
	o->zombie_after_s = 30;
	o->stuck_after_s = 300;
	o->ingest.max_body = INGEST_MAX_BODY_DEFAULT;
	o->ingest.rate = INGEST_RATE_DEFAULT;
	/* on the command line, every user can read it (ps, /proc/PID/cmdline) */
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strncmp(argv[i], "--ingest-token", 14))
			log_warn("--ingest-token on the command line is readable by every user of this host; "
				 "prefer LLMTAP_INGEST_TOKEN or ingest-token in a 0600 config file");
	/* Options from the config file and LLMTAP_* come first; flags win. */
	if ((rc = config_argv(argc, argv, opts, &argc, &o->cargv)))
		return rc;
	argv = o->cargv;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			o->db = optarg;
			break;
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || o->npids == RUN_FILTERS_MAX) {
				fprintf(stderr, "llmtap: bad -p/--pid value '%s'\n", optarg);
				return 2;
			}
			o->pids[o->npids++] = v;
			break;
		case 'c':
			if (o->ncomms == RUN_FILTERS_MAX) {
				fprintf(stderr, "llmtap: too many -c/--comm filters\n");
				return 2;
			}
			o->comms[o->ncomms++] = optarg;
			break;
		case 'D':
			if (parse_duration(optarg, &o->duration_s)) {
				fprintf(stderr, "llmtap: bad --duration value '%s'\n", optarg);
				return 2;
			}
			break;
		case 'P':
			if (o->push.nurls == PUSH_TARGETS_MAX || push_check_url(optarg)) {
				if (o->push.nurls == PUSH_TARGETS_MAX)
					fprintf(stderr, "llmtap: at most %d --push targets\n", PUSH_TARGETS_MAX);
				return 2;
			}
			o->push.urls[o->push.nurls++] = optarg;
			break;
		case OPT_PUSH_BATCH:
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "llmtap: bad --push-batch value '%s' (1 to 100000 rows)\n", optarg);
				return 2;
			}
			o->push.batch_rows = (int)v;
			break;
		case OPT_PUSH_INTERVAL:
			if (parse_duration(optarg, &o->push.interval_s) || o->push.interval_s < 0.05 || o->push.interval_s > 86400) {
				fprintf(stderr, "llmtap: bad --push-interval value '%s' (0.05 s to 1 d)\n", optarg);
				return 2;
			}
			break;
		case OPT_PUSH_CA:
			if (access(optarg, R_OK)) {
				fprintf(stderr, "llmtap: bad --push-ca value '%s': %s\n", optarg, strerror(errno));
				return 2;
			}
			o->push.ca_file = optarg;
			break;
		case OPT_PUSH_BODIES:
			o->push.bodies = 1;
			break;
		case OPT_HOST_ID:
			if (!*optarg || strlen(optarg) > 100) {
				fprintf(stderr, "llmtap: bad --host-id value '%s' (1 to 100 characters)\n", optarg);
				return 2;
			}
			o->push.host_id = optarg;
			break;
		case OPT_RETAIN_DAYS:
			dv = strtod(optarg, &end);
			if (*end || end == optarg || dv < 0 || dv > 36500) {
				fprintf(stderr, "llmtap: bad --retain-days value '%s' (0 keeps rows)\n", optarg);
				return 2;
			}
			o->push.retain_days = dv;
			break;
		case OPT_MAX_DB_MB:
			dv = strtod(optarg, &end);
			if (*end || end == optarg || dv <= 0 || dv > 1e7) {
				fprintf(stderr, "llmtap: bad --max-db-mb value '%s'\n", optarg);
				return 2;
			}
			o->push.max_db_bytes = (uint64_t)(dv * 1048576);
			break;
		case OPT_CONFIG:
			break;	/* read by config_argv() */
		case OPT_PRICES:
			o->prices = optarg;	/* read and checked by prices_setup() */
			break;
		case OPT_DB_GROUP:
			if (share_check(optarg))
				return 2;
			o->db_group = optarg;
			break;
		case OPT_MAX_DISK_PCT:
			dv = strtod(optarg, &end);
			if (*end || end == optarg || dv < 0 || dv >= 100) {
				fprintf(stderr, "llmtap: bad --max-disk-pct value '%s' (0 to 99.9; 0 off)\n", optarg);
				return 2;
			}
			o->push.max_disk_pct = dv;
			break;
		case OPT_WATCH_PATH:
			if (o->nwatch == HOST_PATHS_MAX - 2 || access(optarg, F_OK)) {
				fprintf(stderr, "llmtap: bad --watch-path value '%s': %s\n", optarg,
					o->nwatch == HOST_PATHS_MAX - 2 ? "too many" : strerror(errno));
				return 2;
			}
			o->watch[o->nwatch++] = optarg;
			break;
		case OPT_DNS_PROBES:
			if (strcmp(optarg, "clients") && strcmp(optarg, "all")) {
				fprintf(stderr, "llmtap: bad --dns-probes value '%s' (clients or all)\n", optarg);
				return 2;
			}
			o->dns_all = strcmp(optarg, "all") == 0;
			break;
		case OPT_ZOMBIE_AFTER:
			if ((rc = opt_seconds("zombie-after", optarg, 0.1, 86400, &o->zombie_after_s)))
				return rc;
			break;
		case OPT_STUCK_AFTER:
			if ((rc = opt_seconds("stuck-after", optarg, 0, 86400, &o->stuck_after_s)))
				return rc;
			break;
		case OPT_INGEST_TOKEN:
			if (strlen(optarg) < 8 || strpbrk(optarg, " \t\r\n")) {
				fprintf(stderr, "llmtap: bad --ingest-token: at least 8 characters, no spaces\n");
				return 2;
			}
			o->ingest.token = optarg;
			break;
		case OPT_INGEST_MAX_BODY:
			if (parse_size(optarg, &sz) || sz < 1024 || sz > (256u << 20)) {
				fprintf(stderr, "llmtap: bad --ingest-max-body value '%s' (1k to 256M)\n", optarg);
				return 2;
			}
			o->ingest.max_body = sz;
			break;
		case OPT_INGEST_RATE:
			dv = strtod(optarg, &end);
			if (*end || end == optarg || dv < 1 || dv > 1e6) {
				fprintf(stderr, "llmtap: bad --ingest-rate value '%s' (1 to 1000000 per second)\n",
					optarg);
				return 2;
			}
			o->ingest.rate = dv;
			break;
		case 'L':
			if (listen_check(optarg))
				return 2;
			o->listen = optarg;
			break;
		case 'm':
			if (parse_size(optarg, &o->max_body) || o->max_body < 1024) {
				fprintf(stderr, "llmtap: bad --max-body value '%s' (at least 1k)\n", optarg);
				return 2;
			}
			break;
		case OPT_BODY_MEMORY:
			if (parse_size(optarg, &o->body_memory) || (o->body_memory && o->body_memory < (1u << 20))) {
				fprintf(stderr, "llmtap: bad --body-memory value '%s' (0, or at least 1M)\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (parse_size(optarg, &o->ring_bytes) || o->ring_bytes < 65536 ||
			    (o->ring_bytes & (o->ring_bytes - 1))) {
				fprintf(stderr, "llmtap: bad --ring-size value '%s' (a power of two, at least 64k)\n", optarg);
				return 2;
			}
			break;
		case OPT_SPOOL_SIZE:
			if (parse_size(optarg, &o->spool_bytes) || (o->spool_bytes && o->spool_bytes < (1u << 20))) {
				fprintf(stderr, "llmtap: bad --spool-size value '%s' (0, or at least 1M)\n", optarg);
				return 2;
			}
			break;
		case 'S':
			if (parse_duration(optarg, &o->sample_s) || o->sample_s < 0.1 ||
			    o->sample_s > 3600) {
				fprintf(stderr, "llmtap: bad --sample-interval value '%s' (0.1 to 3600 s)\n", optarg);
				return 2;
			}
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage_run(stdout);
			return 0;
		default:
			return cli_opt_error("run", argv, opt);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return RUN_GO;
}

void run_opts_free(struct run_opts *o)
{
	config_free(o->cargv);
	o->cargv = NULL;
}
