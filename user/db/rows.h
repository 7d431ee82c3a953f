/* rows.h -- every row type the trackers hand to the store, one struct per table, and the sink they go through. */
#ifndef LLMTAP_ROWS_H
#define LLMTAP_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* ---- llm_calls ---- */

#define CALL_NULL_INT INT64_MIN	/* an INTEGER column that is NULL */
#define CALL_NULL_REAL (-1.0)	/* a REAL duration column that is NULL */

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
	/* beyond CONTRACT.md: the latency split (issue 3) */
	char conn_id[37];			/* connections.id; "" = NULL */
	double upload_ms;			/* first request byte written -> last one
						 * written, or acknowledged for large bodies */
	double wait_ms;				/* upload end -> first response byte */
	double client_ms;			/* connection ready -> first request byte */
	double tokens_per_s;			/* streams: output tokens / generation time */
	const char *verdict;			/* static: network/model/client/mixed, NULL */
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

/* A row of table processes. Strings are owned by the row. Integers
 * are PROC_NULL when unknown; ns times are Unix epoch. */
#define PROC_NULL INT64_MIN
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
};

/* ---- the sink ---- */

enum row_kind {
	ROW_CALL,		/* struct call_row */
	ROW_CONNECTION,		/* struct connection_row */
	ROW_DNS,		/* struct dns_row */
	ROW_PROCESS,		/* struct proc_row: insert or replace by id */
	ROW_CPU_SAMPLE,		/* struct cpu_sample_row */
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

/* The process a row belongs to: its pid, and its comm ("" when it has none). */
int64_t row_pid(enum row_kind kind, const void *row);
const char *row_comm(enum row_kind kind, const void *row);

/* The table a kind of row goes to ("llm_calls", ...). */
const char *row_table(enum row_kind kind);

/* Free a call row (row_free(ROW_CALL, r)). */
void call_row_free(struct call_row *r);

#endif
