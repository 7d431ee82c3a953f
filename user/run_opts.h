/* run_opts.h -- `llmtap run`'s options: the config file, the environment and the flags, checked into one struct. */
#ifndef LLMTAP_RUN_OPTS_H
#define LLMTAP_RUN_OPTS_H

#include <stdint.h>
#include <sys/types.h>

#include "push/push.h"
#include "serve/ingest.h"
#include "track/host.h"

#define RUN_FILTERS_MAX 64
#define RUN_GO (-1)		/* run_opts_parse(): the options are good, run */

struct run_opts {
	const char *db;
	pid_t pids[RUN_FILTERS_MAX];	/* -p: only these processes (none: all) */
	int npids;
	const char *comms[RUN_FILTERS_MAX];	/* -c: only these process names */
	int ncomms;
	double duration_s;		/* stop after this long; 0: until a signal */
	uint64_t max_body;		/* bytes kept of each body */
	uint64_t body_memory;		/* bytes all open bodies may hold together; 0: no cap */
	uint64_t ring_bytes;		/* BPF ring buffer size */
	uint64_t spool_bytes;		/* a ring's spill file at most (0: none) */
	double sample_s;		/* CPU sampling interval */
	const char *listen;		/* --listen spec, NULL when not serving */
	const char *prices;		/* --prices FILE, NULL: the default table */
	const char *db_group;		/* --db-group GROUP: the database readable by it */
	const char *watch[HOST_PATHS_MAX];	/* --watch-path: filesystems sampled besides the db's and / */
	int nwatch;
	double zombie_after_s;		/* a zombie this old is reported */
	int dns_all;			/* --dns-probes all: getaddrinfo probed in every process */
	double stuck_after_s;		/* an agent idle this long is checked for being stuck; 0 off */
	struct ingest_opts ingest;	/* the POST endpoints on --listen */
	struct push_opts push;		/* targets, batching, retention */
	char **cargv;			/* the effective argv the strings point into */
};

/* Parse run's options (config file and LLMTAP_* first, flags win) into o.
 * Returns RUN_GO to run, or the exit code to stop with: 0 after --help,
 * 2 on a usage error (one line naming the bad option printed). Free o
 * with run_opts_free() either way. */
int run_opts_parse(int argc, char **argv, struct run_opts *o);

void run_opts_free(struct run_opts *o);

#endif
