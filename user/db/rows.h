/* rows.h -- every row type the trackers hand to the store, one struct per table, and the sink they go through. */
#ifndef LLMTAP_ROWS_H
#define LLMTAP_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* ---- llm_calls ---- */

#define CALL_NULL_INT INT64_MIN	/* an INTEGER column that is NULL */
#define CALL_NULL_REAL (-1.0)	/* a REAL duration column that is NULL */

/* A column the secret rules (llm/redact.h) ran over and took nothing from:
 * the store binds it as it is, since a second pass over a clean text finds
 * nothing either (one that took something gets the second pass). */
#define CALL_CLEAN_TEXT		(1u << 0)	/* response_text */
#define CALL_CLEAN_REQ_BODY	(1u << 1)	/* request_body */
#define CALL_CLEAN_RESP_BODY	(1u << 2)	/* response_body */

/* One finished LLM call (table llm_calls). All strings are malloc'd and owned by the row (NULL = SQL NULL), except
 * provider and operation, which are static. */
struct call_row {
	char id[37];
	int64_t pid, tid;
	char comm[16];
	char *exe;
	const char *provider, *operation;
	char *model, *host, *method, *path;
	int64_t status;				/* CALL_NULL_INT when no response */
	int64_t stream;
	int64_t input_tokens, output_tokens;	/* CALL_NULL_INT when not reported */
	int64_t cache_read_tokens, cache_write_tokens, reasoning_tokens;
	double cost_usd;			/* < 0: NULL */
	char *finish_reason, *response_text;
	int64_t start_ns;
	double duration_ms, ttfb_ms, ttft_ms;	/* < 0: NULL */
	double dns_ms, connect_ms, tls_ms;	/* < 0: NULL */
	int64_t conn_reused;
	int64_t request_bytes, response_bytes;
	char *request_headers, *response_headers;
	char *request_body, *response_body;
	size_t request_body_len, response_body_len;	/* bytes of the two (NULs allowed);
							 * 0: up to the first NUL */
	char *error;
	unsigned clean;				/* CALL_CLEAN_* bits */
	/* beyond CONTRACT.md: the latency split (issue 3) */
	char conn_id[37];			/* connections.id; "" = NULL */
	double upload_ms;			/* first request byte written -> last one
						 * written, or acknowledged for large bodies */
	double wait_ms;				/* upload end -> first response byte */
	double client_ms;			/* connection ready -> first request byte */
	double tokens_per_s;			/* streams: output tokens / generation time */
	const char *verdict;			/* static: network/model/client/mixed, NULL */
	const char *error_type;			/* static: llm/errtype.h's kind, NULL when fine */
	char run_id[37];			/* agent_runs.id (llm/runs.c); "" = NULL */
	/* beyond CONTRACT.md: where the process runs (issue 8) */
	char *cgroup;				/* its cgroup path; NULL in the root cgroup */
	char *container_id;			/* the 64-hex container id the cgroup names, or NULL */
};

/* ---- connections ---- */

/* One row of the connections table; strings owned by the row. */
struct connection_row {
	char id[37];
	int64_t pid, tid;
	char comm[16];
	char saddr[48], daddr[48];
	int64_t sport, dport;
	int64_t start_ns;		/* epoch ns of the SYN; INT64_MIN when unknown */
	double connect_ms;		/* < 0: unknown */
	char *connect_error;		/* NULL when established */
	double dns_ms, tls_ms;		/* < 0: unknown */
	char *dns_name;
	int64_t retransmits, resets_rx, resets_tx;
	int64_t bytes_sent, bytes_received;
	int64_t close_ns;		/* INT64_MIN while open */
	double duration_ms;		/* SYN -> close; < 0 unknown */
	int64_t llm_calls;
};

/* ---- dns_lookups ---- */

/* One row of table dns_lookups; freed with row_free(). */
struct dns_row {
	char id[37];			/* UUIDv7 */
	int64_t pid, tid;
	char comm[16];
	char *name;
	char qtype[16];			/* "A", "AAAA", "A,AAAA" (getaddrinfo, any family), ... */
	char *addrs;			/* answers, comma-separated; "" when none */
	int64_t rcode;			/* DNS rcode (udp) or getaddrinfo's return (getaddrinfo); INT64_MIN: none */
	char result[24];		/* "NOERROR", "NXDOMAIN", "EAI_NONAME", "TIMEOUT", ... */
	const char *source;		/* "getaddrinfo" or "udp" (static) */
	int64_t start_ns;		/* Unix epoch ns: call entry / query sent */
	double latency_ms;		/* < 0: none (no response) */
	char server[64];		/* udp: "addr:port" of the name server; "" for getaddrinfo */
};

#define DNS_RCODE_NONE INT64_MIN

/* ---- processes, cpu_samples ---- */

#define PROC_NULL INT64_MIN
/* What /proc says a process holds and has done (track/procres.c): the
 * latest values on processes, the change over the interval (I/O) on
 * cpu_samples. PROC_NULL when unknown; state 0 when unknown. */
struct proc_res {
	int64_t rss_bytes, rss_max_bytes, vms_bytes;
	int64_t num_threads, fds;
	char state;			/* R, S, D, Z, T, t, X, I; 0 = unknown */
	int64_t read_bytes, write_bytes;		/* all I/O (rchar, wchar) */
	int64_t disk_read_bytes, disk_write_bytes;	/* storage (read_bytes, write_bytes) */
};

/* A row of table processes. Strings are owned by the row. Integers
 * are PROC_NULL when unknown; ns times are Unix epoch. */
struct proc_row {
	char id[37];
	int64_t pid, ppid, uid;
	char comm[16];
	char *exe, *argv;		/* argv: a JSON array of strings; NULL when unknown */
	int64_t start_ns, exec_ns, exit_ns;
	int64_t exit_code, exit_signal, oom_killed;
	double cpu_ms, runq_ms;
	int64_t switches, preempts;
	int64_t cpu_since_ns;		/* CPU columns count from here */
	int64_t updated_ns;
	struct proc_res res;		/* the latest resources (track/procres.c) */
};

/* A row of table cpu_samples: one process over one interval. */
struct cpu_sample_row {
	int64_t ts_ns;			/* end of the interval, Unix epoch ns */
	double interval_ms;
	int64_t pid;
	char comm[16];
	double cpu_ms, runq_ms;
	int64_t switches, preempts;
	int64_t threads;		/* threads that ran; PROC_NULL at exit */
	int64_t top_tid;		/* the thread that ran most; PROC_NULL at exit */
	double top_tid_cpu_ms;		/* < 0: NULL */
	char process_id[37];		/* processes.id */
	struct proc_res res;		/* sizes at the sample, I/O during the interval */
};

/* ---- host_samples, fs_samples, disk_samples, net_samples (track/host.c) ---- */

#define HOST_NULL (-1.0)		/* a REAL column that is NULL */

/* One row of host_samples: the whole host over one interval. Rates are per
 * second over the interval; percentages 0..100. */
struct host_row {
	int64_t ts_ns;			/* end of the interval, Unix epoch ns */
	double interval_ms;
	double cpu_user_pct, cpu_system_pct, cpu_iowait_pct, cpu_steal_pct, cpu_idle_pct;
	int64_t cpus;
	double load1, load5, load15;
	int64_t procs_running, procs_blocked;
	int64_t mem_total_bytes, mem_used_bytes, mem_available_bytes;
	int64_t swap_total_bytes, swap_used_bytes;
	double psi_cpu_pct, psi_mem_pct, psi_io_pct;	/* "some" stall share; HOST_NULL: no PSI */
	double disk_read_bps, disk_write_bps, disk_read_iops, disk_write_iops;
	double net_rx_bps, net_tx_bps, net_rx_pps, net_tx_pps;
	double net_errors_ps, net_drops_ps;
};

/* One row of fs_samples: a watched filesystem at one sample. */
struct fs_row {
	int64_t ts_ns;
	char *path;			/* the path watched (the database's directory, /, --watch-path) */
	char *mount;			/* its mount point */
	char *fstype, *device;
	int64_t total_bytes, used_bytes, avail_bytes;
	double used_pct;		/* used / (used + available), as df */
	int64_t inodes_total, inodes_used, inodes_avail;	/* PROC_NULL when the fs has none */
};

/* One row of disk_samples: a block device that did I/O during the interval. */
struct disk_row {
	int64_t ts_ns;
	double interval_ms;
	char device[32];
	double read_bps, write_bps, read_iops, write_iops;
	double util_pct;		/* share of the interval with I/O in flight */
};

/* One row of net_samples: an interface that moved packets during the interval. */
struct net_row {
	int64_t ts_ns;
	double interval_ms;
	char iface[32];
	double rx_bps, tx_bps, rx_pps, tx_pps;
	double rx_errors_ps, tx_errors_ps, rx_drops_ps, tx_drops_ps;
};

/* ---- events ---- */

/* One row of events: something llmtap noticed (source "llmtap") or an agent
 * posted (source "agent"). */
struct event_row {
	char id[37];
	int64_t ts_ns;			/* when it happened, Unix epoch ns */
	const char *source;		/* "llmtap" or "agent" (static) */
	char severity[8];		/* debug, info, warning, error, fatal */
	char *name;
	int64_t pid;			/* PROC_NULL when none */
	char *attributes;		/* a JSON object; NULL when none */
	/* not stored: the TCP ports an agent posted from and to (its pid is
	 * found from them); 0 when not posted */
	uint16_t peer_port, local_port;
	uint64_t posted_mono;		/* not stored: when the POST came (CLOCK_MONOTONIC ns) */
};

/* ---- agent_spans ---- */

/* One row of agent_spans: a span an agent exported over OTLP/HTTP. */
struct span_row {
	char id[50];			/* trace_id "-" span_id: the same span sent twice is one row */
	char trace_id[33], span_id[17], parent_span_id[17];	/* hex; "" = NULL */
	char *name;
	const char *kind;		/* internal, server, client, producer, consumer (static); NULL */
	int64_t start_ns, end_ns;
	double duration_ms;
	const char *status;		/* unset, ok, error (static) */
	char *status_message;
	char *service_name, *scope_name;
	int64_t pid;			/* resource process.pid, else the posting process; PROC_NULL */
	char *model, *operation;	/* gen_ai.* (or llm.*) attributes; NULL when none */
	int64_t input_tokens, output_tokens;	/* PROC_NULL when none */
	char *attributes, *resource, *events;	/* JSON object, object, array */
	char call_id[37];		/* llm_calls.id of the call it describes; "" = NULL */
	int64_t received_ns;
	uint16_t peer_port, local_port;	/* not stored, as event_row's */
	uint64_t posted_mono;		/* not stored, as event_row's */
};

/* ---- agent_runs, agent_steps (llm/runs.c) ---- */

/* One agent run (table agent_runs). Strings owned by the row; "" in the
 * fixed-size ids is NULL; integers CALL_NULL_INT and reals < 0 are NULL;
 * state is static. */
struct run_row {
	char id[37];
	int64_t pid;
	char comm[16];
	int64_t start_ns, end_ns;
	int64_t llm_calls, tool_calls, input_tokens, output_tokens;
	double cost_usd;
	char parent_run_id[37];
	char *flags;			/* JSON array of strings */
	/* beyond the contract */
	char *agent;			/* the agent's name: package or script, else comm */
	char process_id[37];		/* processes.id of pid, when known */
	char root_run_id[37];		/* the top of its tree (itself for a top-level run) */
	int64_t parent_seq;		/* the parent's tool step it ran under */
	const char *state;		/* "running", "idle", "ended" */
	char *model, *provider;		/* of its last call */
	int64_t cache_read_tokens, cache_write_tokens, errors, step_count;
	double llm_ms, tool_ms;
	int64_t max_input_tokens, max_request_bytes;
	char *flag_info;		/* JSON object: each flag's numbers */
};

/* One step of a run (table agent_steps): an LLM call or a tool call. */
struct step_row {
	char id[48];			/* run_id ":" seq */
	char run_id[37];
	int64_t seq;
	const char *kind;		/* "llm" or "tool" (static) */
	char call_id[37];		/* llm: llm_calls.id; "" = NULL */
	char *tool_name, *tool_call_id, *arguments;
	int64_t start_ns, end_ns;
	const char *status;		/* "ok", "error", "unanswered", "running" (static) */
	char *execs;			/* JSON array of {pid, argv, exit_code, ...}; NULL for llm */
	/* beyond the contract */
	int64_t parent_seq;		/* tool: the llm step that asked for it */
	char *model;
	int64_t input_tokens, output_tokens;
	double cost_usd, duration_ms;
	int64_t result_bytes;
	char result_call_id[37];	/* tool: the call whose request carried the result */
	char *command;			/* tool: the shell command its arguments name */
	int64_t exit_code;		/* tool: of the exec that carries the command */
	int64_t exec_count;		/* tool: execs in its window (execs lists STEP_EXECS_MAX at most) */
	char *error;			/* llm: the call's error */
	int64_t pid;			/* the run's process (the -p/-c filters) */
	char comm[16];
};

/* ---- the sink ---- */

enum row_kind {
	ROW_CALL,		/* struct call_row */
	ROW_CONNECTION,		/* struct connection_row */
	ROW_DNS,		/* struct dns_row */
	ROW_PROCESS,		/* struct proc_row: insert or replace by id */
	ROW_CPU_SAMPLE,		/* struct cpu_sample_row */
	ROW_HOST,		/* struct host_row */
	ROW_FS,			/* struct fs_row */
	ROW_DISK,		/* struct disk_row */
	ROW_NET,		/* struct net_row */
	ROW_EVENT,		/* struct event_row */
	ROW_SPAN,		/* struct span_row: insert or replace by id */
	ROW_RUN,		/* struct run_row: insert or replace by id */
	ROW_STEP,		/* struct step_row: insert or replace by id */
	ROW_KINDS,
};

/* Where the trackers send finished rows. The sink owns each row it is given
 * (it frees it with row_free() when it does not keep it). */
struct row_sink {
	void (*emit)(void *ud, enum row_kind kind, void *row);
	void *ud;
};

/* Hand row to sink; without a sink (NULL emit) the row is freed. */
void row_emit(const struct row_sink *sink, enum row_kind kind, void *row);

/* Free a row of any kind and its strings. NULL-safe. */
void row_free(enum row_kind kind, void *row);

/* The process a row belongs to: its pid (ROW_NO_PID for host rows and
 * PROC_NULL for events and spans without one), and its comm ("" when it
 * has none). */
#define ROW_NO_PID INT64_MIN
int64_t row_pid(enum row_kind kind, const void *row);
const char *row_comm(enum row_kind kind, const void *row);

/* The table a kind of row goes to ("llm_calls", ...). */
const char *row_table(enum row_kind kind);

/* Every field of r unknown (PROC_NULL, state 0). */
void proc_res_init(struct proc_res *r);

/* Free a call row (row_free(ROW_CALL, r)). */
void call_row_free(struct call_row *r);

#endif
