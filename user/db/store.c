/* store.c -- SQLite storage: schema, migrations, how each table's rows bind, opening and closing (store_write.c writes the queued rows). */
#include "db/store.h"
#include "db/store_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "db/dbfile.h"
#include "db/rows.h"
#include "db/vfs_guard.h"
#include "llm/redact.h"

/* Version 1: the llm_calls table of CONTRACT.md. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS llm_calls ("
	" id TEXT PRIMARY KEY, pid INTEGER, tid INTEGER, comm TEXT, exe TEXT,"
	" provider TEXT, operation TEXT, model TEXT, host TEXT, method TEXT, path TEXT,"
	" status INTEGER, stream INTEGER, input_tokens INTEGER, output_tokens INTEGER,"
	" cache_read_tokens INTEGER, cache_write_tokens INTEGER, reasoning_tokens INTEGER,"
	" cost_usd REAL, finish_reason TEXT, response_text TEXT, start_ns INTEGER,"
	" duration_ms REAL, ttfb_ms REAL, ttft_ms REAL, dns_ms REAL, connect_ms REAL,"
	" tls_ms REAL, conn_reused INTEGER, request_bytes INTEGER, response_bytes INTEGER,"
	" request_headers TEXT, response_headers TEXT, request_body TEXT,"
	" response_body TEXT, error TEXT);"
	"CREATE INDEX IF NOT EXISTS llm_calls_start ON llm_calls(start_ns);"
	"CREATE INDEX IF NOT EXISTS llm_calls_pid ON llm_calls(pid);";

/* Version 2: the latency split per call, and the connections table. */
static const char schema_v2[] =
	"ALTER TABLE llm_calls ADD COLUMN conn_id TEXT;"
	"ALTER TABLE llm_calls ADD COLUMN upload_ms REAL;"
	"ALTER TABLE llm_calls ADD COLUMN wait_ms REAL;"
	"ALTER TABLE llm_calls ADD COLUMN client_ms REAL;"
	"ALTER TABLE llm_calls ADD COLUMN tokens_per_s REAL;"
	"ALTER TABLE llm_calls ADD COLUMN verdict TEXT;"
	"CREATE TABLE IF NOT EXISTS connections ("
	" id TEXT PRIMARY KEY, pid INTEGER, tid INTEGER, comm TEXT,"
	" saddr TEXT, sport INTEGER, daddr TEXT, dport INTEGER,"
	" start_ns INTEGER, connect_ms REAL, connect_error TEXT, dns_ms REAL, dns_name TEXT,"
	" tls_ms REAL, retransmits INTEGER, resets_rx INTEGER, resets_tx INTEGER,"
	" bytes_sent INTEGER, bytes_received INTEGER, close_ns INTEGER, duration_ms REAL,"
	" llm_calls INTEGER);"
	"CREATE INDEX IF NOT EXISTS connections_start ON connections(start_ns);";

/* DNS lookups: getaddrinfo() results and UDP query/response pairs (dns.c). */
static const char schema_dns[] =
	"CREATE TABLE IF NOT EXISTS dns_lookups ("
	" id TEXT PRIMARY KEY, pid INTEGER, tid INTEGER, comm TEXT, name TEXT, qtype TEXT,"
	" addrs TEXT, rcode INTEGER, result TEXT, source TEXT, start_ns INTEGER,"
	" latency_ms REAL, server TEXT);"
	"CREATE INDEX IF NOT EXISTS dns_lookups_start ON dns_lookups(start_ns);"
	"CREATE INDEX IF NOT EXISTS dns_lookups_pid ON dns_lookups(pid);";

/* Processes and their CPU use (proc.c); README "Processes and CPU". */
static const char schema_proc[] =
	"CREATE TABLE IF NOT EXISTS processes ("
	" id TEXT PRIMARY KEY, pid INTEGER, ppid INTEGER, uid INTEGER, comm TEXT, exe TEXT,"
	" argv TEXT, start_ns INTEGER, exec_ns INTEGER, exit_ns INTEGER, exit_code INTEGER,"
	" exit_signal INTEGER, oom_killed INTEGER, cpu_ms REAL, runq_ms REAL, switches INTEGER,"
	" preempts INTEGER, cpu_since_ns INTEGER, updated_ns INTEGER);"
	"CREATE INDEX IF NOT EXISTS processes_pid ON processes(pid, start_ns);"
	"CREATE TABLE IF NOT EXISTS cpu_samples ("
	" ts_ns INTEGER, interval_ms REAL, pid INTEGER, comm TEXT, cpu_ms REAL, runq_ms REAL,"
	" switches INTEGER, preempts INTEGER, threads INTEGER, top_tid INTEGER,"
	" top_tid_cpu_ms REAL, process_id TEXT);"
	"CREATE INDEX IF NOT EXISTS cpu_samples_ts ON cpu_samples(ts_ns);"
	"CREATE INDEX IF NOT EXISTS cpu_samples_pid ON cpu_samples(pid, ts_ns);";

/* The push outbox (push/outbox.c): per target and table, the rowid delivered up to,
 * the batch in flight, and the target's last success and error. */
static const char schema_push[] =
	"CREATE TABLE IF NOT EXISTS push_state ("
	" target TEXT NOT NULL, tbl TEXT NOT NULL, last_rowid INTEGER NOT NULL DEFAULT 0,"
	" inflight_rowid INTEGER, inflight_id TEXT, pushed_rows INTEGER NOT NULL DEFAULT 0,"
	" dropped_rows INTEGER NOT NULL DEFAULT 0, backlog INTEGER, last_attempt_ns INTEGER,"
	" last_success_ns INTEGER, last_error TEXT, last_error_ns INTEGER,"
	" PRIMARY KEY (target, tbl));";

/* Agent runs and their steps (llm/runs.c); README "Agent runs". */
static const char schema_runs[] =
	"ALTER TABLE llm_calls ADD COLUMN run_id TEXT;"
	"CREATE INDEX IF NOT EXISTS llm_calls_run ON llm_calls(run_id);"
	"CREATE TABLE IF NOT EXISTS agent_runs ("
	" id TEXT PRIMARY KEY, pid INTEGER, comm TEXT, start_ns INTEGER, end_ns INTEGER,"
	" llm_calls INTEGER, tool_calls INTEGER, input_tokens INTEGER, output_tokens INTEGER,"
	" cost_usd REAL, parent_run_id TEXT, flags TEXT, agent TEXT, process_id TEXT,"
	" root_run_id TEXT, parent_seq INTEGER, state TEXT, model TEXT, provider TEXT,"
	" cache_read_tokens INTEGER, cache_write_tokens INTEGER, errors INTEGER, step_count INTEGER,"
	" llm_ms REAL, tool_ms REAL, max_input_tokens INTEGER, max_request_bytes INTEGER,"
	" flag_info TEXT);"
	"CREATE INDEX IF NOT EXISTS agent_runs_start ON agent_runs(start_ns);"
	"CREATE INDEX IF NOT EXISTS agent_runs_parent ON agent_runs(parent_run_id);"
	"CREATE TABLE IF NOT EXISTS agent_steps ("
	" id TEXT PRIMARY KEY, run_id TEXT, seq INTEGER, kind TEXT, call_id TEXT, tool_name TEXT,"
	" tool_call_id TEXT, arguments TEXT, start_ns INTEGER, end_ns INTEGER, status TEXT,"
	" execs TEXT, parent_seq INTEGER, model TEXT, input_tokens INTEGER, output_tokens INTEGER,"
	" cost_usd REAL, duration_ms REAL, result_bytes INTEGER, result_call_id TEXT, command TEXT,"
	" exit_code INTEGER, error TEXT, exec_count INTEGER);"
	"CREATE INDEX IF NOT EXISTS agent_steps_run ON agent_steps(run_id, seq);";

static const char *const migrations[] = { schema_v1, schema_v2, schema_dns, schema_proc, schema_push,
					    store_schema_host, schema_runs };

/* Columns added to existing tables after the versioned migrations, each
 * added when missing whatever the version: branches that add tables in
 * parallel cannot disagree on a version number for them. */
static const struct {
	const char *table, *column, *decl;
} added_columns[] = {
	{ "llm_calls", "error_type", "TEXT" },	/* llm/errtype.h's kind */
	{ "llm_calls", "cgroup", "TEXT" },	/* where the calling process runs */
	{ "llm_calls", "container_id", "TEXT" },	/* the container its cgroup names */
};

static const char insert_sql[] =
	"INSERT OR REPLACE INTO llm_calls (id, pid, tid, comm, exe, provider, operation, model,"
	" host, method, path, status, stream, input_tokens, output_tokens, cache_read_tokens,"
	" cache_write_tokens, reasoning_tokens, cost_usd, finish_reason, response_text,"
	" start_ns, duration_ms, ttfb_ms, ttft_ms, dns_ms, connect_ms, tls_ms, conn_reused,"
	" request_bytes, response_bytes, request_headers, response_headers, request_body,"
	" response_body, error, conn_id, upload_ms, client_ms, tokens_per_s, verdict, wait_ms,"
	" error_type, run_id, cgroup, container_id)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
	"?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char conn_insert_sql[] =
	"INSERT OR REPLACE INTO connections (id, pid, tid, comm, saddr, sport, daddr, dport,"
	" start_ns, connect_ms, connect_error, dns_ms, dns_name, tls_ms, retransmits, resets_rx,"
	" resets_tx, bytes_sent, bytes_received, close_ns, duration_ms, llm_calls)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char dns_insert_sql[] =
	"INSERT OR REPLACE INTO dns_lookups (id, pid, tid, comm, name, qtype, addrs, rcode,"
	" result, source, start_ns, latency_ms, server) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char proc_insert_sql[] =
	"INSERT OR REPLACE INTO processes (id, pid, ppid, uid, comm, exe, argv, start_ns, exec_ns,"
	" exit_ns, exit_code, exit_signal, oom_killed, cpu_ms, runq_ms, switches, preempts,"
	" cpu_since_ns, updated_ns, rss_max_bytes, rss_bytes, vms_bytes, num_threads, fds, state,"
	" read_bytes, write_bytes, disk_read_bytes, disk_write_bytes)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char run_insert_sql[] =
	"INSERT OR REPLACE INTO agent_runs (id, pid, comm, start_ns, end_ns, llm_calls, tool_calls,"
	" input_tokens, output_tokens, cost_usd, parent_run_id, flags, agent, process_id, root_run_id,"
	" parent_seq, state, model, provider, cache_read_tokens, cache_write_tokens, errors, step_count,"
	" llm_ms, tool_ms, max_input_tokens, max_request_bytes, flag_info)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char step_insert_sql[] =
	"INSERT OR REPLACE INTO agent_steps (id, run_id, seq, kind, call_id, tool_name, tool_call_id,"
	" arguments, start_ns, end_ns, status, execs, parent_seq, model, input_tokens, output_tokens,"
	" cost_usd, duration_ms, result_bytes, result_call_id, command, exit_code, error, exec_count)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char cpu_insert_sql[] =
	"INSERT INTO cpu_samples (ts_ns, interval_ms, pid, comm, cpu_ms, runq_ms, switches,"
	" preempts, threads, top_tid, top_tid_cpu_ms, process_id, rss_bytes, vms_bytes, num_threads,"
	" fds, state, read_bytes, write_bytes, disk_read_bytes, disk_write_bytes)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static int exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	log_warn("database: %s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return -1;
}

/* Bring the schema to the newest version, one transaction per step. */
static int store_migrate(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = 0;
	size_t v;
	char sql[64];

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	for (v = version; v < sizeof(migrations) / sizeof(migrations[0]); v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%zu;", v + 1);
		if (exec_sql(db, "BEGIN IMMEDIATE") || exec_sql(db, migrations[v]) ||
		    exec_sql(db, sql) || exec_sql(db, "COMMIT")) {
			exec_sql(db, "ROLLBACK");
			return -1;
		}
	}
	return 0;
}

/* Add the columns of added_columns a table lacks. Returns 0, -1. */
static int store_add_columns(sqlite3 *db)
{
	sqlite3_stmt *st;
	char sql[256];
	size_t i;
	int have;

	for (i = 0; i < sizeof(added_columns) / sizeof(added_columns[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'",
			 added_columns[i].table, added_columns[i].column);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
			return -1;
		have = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (have)
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", added_columns[i].table,
			 added_columns[i].column, added_columns[i].decl);
		if (exec_sql(db, sql))
			return -1;
	}
	return 0;
}

/* The store of the statement being bound (bind_text() reports OOM to it). */
static struct store *binding;

/* Bind text v (n bytes; 0: up to its NUL) through the redaction rules:
 * whatever a tracker put in a column, no credential reaches the file or a
 * push (README "Secrets"). A clean v is bound as it is (SQLITE_STATIC: the
 * row outlives the statement's step and its cleared bindings); only a
 * redacted one is a copy. On OOM the insert is made to fail, never to store
 * v as is. */
static void bind_textn(sqlite3_stmt *st, int i, const char *v, size_t n)
{
	size_t rn = 0;
	int clean;
	char *r;

	if (!v) {
		sqlite3_bind_null(st, i);
		return;
	}
	r = redact_textn_changed(v, n ? n : strlen(v), &rn, &clean);
	if (clean) {
		sqlite3_bind_text64(st, i, v, rn, SQLITE_STATIC, SQLITE_UTF8);
		return;
	}
	if (!r) {
		binding->bind_oom = 1;
		sqlite3_bind_null(st, i);
		return;
	}
	sqlite3_bind_text64(st, i, r, rn, free, SQLITE_UTF8);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	bind_textn(st, i, v, 0);
}

/* Bind text v (n bytes; 0: up to its NUL) of a call row: when the row says
 * the rules already ran over it and took nothing (clean), as it is; else
 * through them (bind_textn()). A body scanned once, not twice. */
static void bind_call_text(sqlite3_stmt *st, int i, const char *v, size_t n, int clean)
{
	if (!v || !clean) {
		bind_textn(st, i, v, n);
		return;
	}
	sqlite3_bind_text64(st, i, v, n ? n : strlen(v), SQLITE_STATIC, SQLITE_UTF8);
}

static void bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == CALL_NULL_INT)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static void bind_call(sqlite3_stmt *st, const void *row)
{
	const struct call_row *r = row;
	int i = 1;

	bind_text(st, i++, r->id);
	bind_int(st, i++, r->pid);
	bind_int(st, i++, r->tid);
	bind_text(st, i++, r->comm);
	bind_text(st, i++, r->exe);
	bind_text(st, i++, r->provider);
	bind_text(st, i++, r->operation);
	bind_text(st, i++, r->model);
	bind_text(st, i++, r->host);
	bind_text(st, i++, r->method);
	bind_text(st, i++, r->path);
	bind_int(st, i++, r->status);
	bind_int(st, i++, r->stream);
	bind_int(st, i++, r->input_tokens);
	bind_int(st, i++, r->output_tokens);
	bind_int(st, i++, r->cache_read_tokens);
	bind_int(st, i++, r->cache_write_tokens);
	bind_int(st, i++, r->reasoning_tokens);
	bind_real(st, i++, r->cost_usd);
	bind_text(st, i++, r->finish_reason);
	bind_call_text(st, i++, r->response_text, 0, r->clean & CALL_CLEAN_TEXT);
	bind_int(st, i++, r->start_ns);
	bind_real(st, i++, r->duration_ms);
	bind_real(st, i++, r->ttfb_ms);
	bind_real(st, i++, r->ttft_ms);
	bind_real(st, i++, r->dns_ms);
	bind_real(st, i++, r->connect_ms);
	bind_real(st, i++, r->tls_ms);
	bind_int(st, i++, r->conn_reused);
	bind_int(st, i++, r->request_bytes);
	bind_int(st, i++, r->response_bytes);
	bind_text(st, i++, r->request_headers);
	bind_text(st, i++, r->response_headers);
	bind_call_text(st, i++, r->request_body, r->request_body_len, r->clean & CALL_CLEAN_REQ_BODY);
	bind_call_text(st, i++, r->response_body, r->response_body_len,
		       r->clean & CALL_CLEAN_RESP_BODY);
	bind_text(st, i++, r->error);
	bind_text(st, i++, r->conn_id[0] ? r->conn_id : NULL);
	bind_real(st, i++, r->upload_ms);
	bind_real(st, i++, r->client_ms);
	bind_real(st, i++, r->tokens_per_s);
	bind_text(st, i++, r->verdict);
	bind_real(st, i++, r->wait_ms);
	bind_text(st, i++, r->error_type);
	bind_text(st, i++, r->run_id[0] ? r->run_id : NULL);
	bind_text(st, i++, r->cgroup);
	bind_text(st, i++, r->container_id);
}

static void bind_connection(sqlite3_stmt *st, const void *row)
{
	const struct connection_row *r = row;
	int i = 1;

	bind_text(st, i++, r->id);
	bind_int(st, i++, r->pid);
	bind_int(st, i++, r->tid);
	bind_text(st, i++, r->comm);
	bind_text(st, i++, r->saddr);
	bind_int(st, i++, r->sport);
	bind_text(st, i++, r->daddr);
	bind_int(st, i++, r->dport);
	bind_int(st, i++, r->start_ns);
	bind_real(st, i++, r->connect_ms);
	bind_text(st, i++, r->connect_error);
	bind_real(st, i++, r->dns_ms);
	bind_text(st, i++, r->dns_name);
	bind_real(st, i++, r->tls_ms);
	bind_int(st, i++, r->retransmits);
	bind_int(st, i++, r->resets_rx);
	bind_int(st, i++, r->resets_tx);
	bind_int(st, i++, r->bytes_sent);
	bind_int(st, i++, r->bytes_received);
	bind_int(st, i++, r->close_ns);
	bind_real(st, i++, r->duration_ms);
	bind_int(st, i++, r->llm_calls);
}

static void bind_dns(sqlite3_stmt *st, const void *row)
{
	const struct dns_row *r = row;
	int i = 1;

	bind_text(st, i++, r->id);
	bind_int(st, i++, r->pid);
	bind_int(st, i++, r->tid);
	bind_text(st, i++, r->comm);
	bind_text(st, i++, r->name);
	bind_text(st, i++, r->qtype);
	bind_text(st, i++, r->addrs);
	bind_int(st, i++, r->rcode);
	bind_text(st, i++, r->result);
	bind_text(st, i++, r->source);
	bind_int(st, i++, r->start_ns);
	bind_real(st, i++, r->latency_ms);
	bind_text(st, i++, r->server[0] ? r->server : NULL);
}

static void bind_process(sqlite3_stmt *st, const void *row)
{
	const struct proc_row *r = row;
	int i = 1;

	bind_text(st, i++, r->id);
	bind_int(st, i++, r->pid);
	bind_int(st, i++, r->ppid);
	bind_int(st, i++, r->uid);
	bind_text(st, i++, r->comm[0] ? r->comm : NULL);
	bind_text(st, i++, r->exe);
	bind_text(st, i++, r->argv);
	bind_int(st, i++, r->start_ns);
	bind_int(st, i++, r->exec_ns);
	bind_int(st, i++, r->exit_ns);
	bind_int(st, i++, r->exit_code);
	bind_int(st, i++, r->exit_signal);
	bind_int(st, i++, r->oom_killed);
	bind_real(st, i++, r->cpu_ms);
	bind_real(st, i++, r->runq_ms);
	bind_int(st, i++, r->switches);
	bind_int(st, i++, r->preempts);
	bind_int(st, i++, r->cpu_since_ns);
	bind_int(st, i++, r->updated_ns);
	bind_int(st, i++, r->res.rss_max_bytes);
	store_bind_res(st, i, &r->res);
}

static void bind_cpu_sample(sqlite3_stmt *st, const void *row)
{
	const struct cpu_sample_row *r = row;
	int i = 1;

	bind_int(st, i++, r->ts_ns);
	bind_real(st, i++, r->interval_ms);
	bind_int(st, i++, r->pid);
	bind_text(st, i++, r->comm[0] ? r->comm : NULL);
	bind_real(st, i++, r->cpu_ms);
	bind_real(st, i++, r->runq_ms);
	bind_int(st, i++, r->switches);
	bind_int(st, i++, r->preempts);
	bind_int(st, i++, r->threads);
	bind_int(st, i++, r->top_tid);
	bind_real(st, i++, r->top_tid_cpu_ms);
	bind_text(st, i++, r->process_id[0] ? r->process_id : NULL);
	store_bind_res(st, i, &r->res);
}

/* A fixed-size id: "" is NULL. */
static void bind_id(sqlite3_stmt *st, int i, const char *v)
{
	bind_text(st, i, v[0] ? v : NULL);
}

static void bind_run(sqlite3_stmt *st, const void *row)
{
	const struct run_row *r = row;
	int i = 1;

	bind_text(st, i++, r->id);
	bind_int(st, i++, r->pid);
	bind_text(st, i++, r->comm);
	bind_int(st, i++, r->start_ns);
	bind_int(st, i++, r->end_ns);
	bind_int(st, i++, r->llm_calls);
	bind_int(st, i++, r->tool_calls);
	bind_int(st, i++, r->input_tokens);
	bind_int(st, i++, r->output_tokens);
	bind_real(st, i++, r->cost_usd);
	bind_id(st, i++, r->parent_run_id);
	bind_text(st, i++, r->flags);
	bind_text(st, i++, r->agent);
	bind_id(st, i++, r->process_id);
	bind_id(st, i++, r->root_run_id);
	bind_int(st, i++, r->parent_seq);
	bind_text(st, i++, r->state);
	bind_text(st, i++, r->model);
	bind_text(st, i++, r->provider);
	bind_int(st, i++, r->cache_read_tokens);
	bind_int(st, i++, r->cache_write_tokens);
	bind_int(st, i++, r->errors);
	bind_int(st, i++, r->step_count);
	bind_real(st, i++, r->llm_ms);
	bind_real(st, i++, r->tool_ms);
	bind_int(st, i++, r->max_input_tokens);
	bind_int(st, i++, r->max_request_bytes);
	bind_text(st, i++, r->flag_info);
}

static void bind_step(sqlite3_stmt *st, const void *row)
{
	const struct step_row *r = row;
	int i = 1;

	bind_text(st, i++, r->id);
	bind_text(st, i++, r->run_id);
	bind_int(st, i++, r->seq);
	bind_text(st, i++, r->kind);
	bind_id(st, i++, r->call_id);
	bind_text(st, i++, r->tool_name);
	bind_text(st, i++, r->tool_call_id);
	bind_text(st, i++, r->arguments);
	bind_int(st, i++, r->start_ns);
	bind_int(st, i++, r->end_ns);
	bind_text(st, i++, r->status);
	bind_text(st, i++, r->execs);
	bind_int(st, i++, r->parent_seq);
	bind_text(st, i++, r->model);
	bind_int(st, i++, r->input_tokens);
	bind_int(st, i++, r->output_tokens);
	bind_real(st, i++, r->cost_usd);
	bind_real(st, i++, r->duration_ms);
	bind_int(st, i++, r->result_bytes);
	bind_id(st, i++, r->result_call_id);
	bind_text(st, i++, r->command);
	bind_int(st, i++, r->exit_code);
	bind_text(st, i++, r->error);
	bind_int(st, i++, r->exec_count);
}

/* What each queue writes: its statement and how a row binds (by row kind). */
static const struct rowq_kind {
	const char *sql;
	void (*bind)(sqlite3_stmt *st, const void *row);
} kinds[ROW_KINDS] = {
	[ROW_CALL] = { insert_sql, bind_call },
	[ROW_CONNECTION] = { conn_insert_sql, bind_connection },
	[ROW_DNS] = { dns_insert_sql, bind_dns },
	[ROW_PROCESS] = { proc_insert_sql, bind_process },
	[ROW_CPU_SAMPLE] = { cpu_insert_sql, bind_cpu_sample },
	[ROW_HOST] = { store_host_sql, store_bind_host },
	[ROW_FS] = { store_fs_sql, store_bind_fs },
	[ROW_DISK] = { store_disk_sql, store_bind_disk },
	[ROW_NET] = { store_net_sql, store_bind_net },
	[ROW_EVENT] = { store_event_sql, store_bind_event },
	[ROW_SPAN] = { store_span_sql, store_bind_span },
	[ROW_RUN] = { run_insert_sql, bind_run },
	[ROW_STEP] = { step_insert_sql, bind_step },
};

/* See store_int.h. */
int store_insert(struct store *s, int k, const void *row)
{
	sqlite3_stmt *st = s->q[k].insert;
	int rc;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	binding = s;
	s->bind_oom = 0;
	kinds[k].bind(st, row);
	rc = s->bind_oom ? SQLITE_NOMEM : sqlite3_step(st);
	if (rc != SQLITE_DONE && !s->bind_oom)
		rc = sqlite3_extended_errcode(s->db);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);	/* the redacted copies go now */
	return rc;
}


const char *store_errmsg(struct store *s)
{
	return sqlite3_errmsg(s->db);
}

sqlite3 *store_sqlite(struct store *s)
{
	return s->db;
}

/* After each commit: the WAL holds pages. Copying them back into the
 * database (a checkpoint: a read and a write of each page, and an fsync)
 * was a third of the capture thread's time at 16 KB bodies; the retention
 * thread does it on its own connection when kicked. But the WAL file only
 * starts over when a write begins with every page copied back, which a
 * writer that never pauses never sees: at full rate it grew to 430 MB.
 * So past STORE_WAL_INLINE bytes this thread checkpoints too: its own
 * checkpoint, between its writes, copies every page, and its next write
 * starts the file over (the WAL peaked at 35 MB). It is PASSIVE: it never
 * waits (for readers, or the retention thread's checkpoint: then the next
 * commit tries again). Without a kick it checkpoints every STORE_WAL_KICK
 * bytes, as SQLite's own autocheckpoint. */
static int store_wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
	struct store *s = ud;
	int64_t bytes = (int64_t)pages * s->page_size;
	int rc, i;

	if (bytes >= (s->wal_kick ? STORE_WAL_INLINE : STORE_WAL_KICK)) {
		rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		/* Busy: the retention thread's checkpoint holds the lock, and
		 * on a slow disk the file grows by all that is written until
		 * it ends (to 126 MB once, on a loaded guest). Past
		 * STORE_WAL_HARD this thread waits for it (the lock cannot be
		 * waited for through SQLite's busy handler), a while at most. */
		for (i = 0; rc == SQLITE_BUSY && bytes >= STORE_WAL_HARD && i < STORE_WAL_WAITS; i++) {
			usleep(STORE_WAL_WAIT_US);
			rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		}
	} else if (s->wal_kick && bytes >= STORE_WAL_KICK) {
		s->wal_kick(s->wal_kick_ud);
	}
	return SQLITE_OK;
}

/* Read the database's page size into s->page_size. Returns 0, -1 on error. */
static int store_page_size(struct store *s)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->page_size = sqlite3_column_int64(st, 0);
		rc = s->page_size > 0 ? 0 : -1;
	}
	sqlite3_finalize(st);
	return rc;
}

/* See store_int.h. */
int store_connect(struct store *s, const char *path, int readonly)
{
	int k, flags = SQLITE_OPEN_READWRITE | (readonly ? 0 : SQLITE_OPEN_NOFOLLOW);

	/* Readers open read-write too when they may: a WAL reader needs the -shm. */
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK && readonly) {
		sqlite3_close(s->db);
		s->db = NULL;
		sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL);
	}
	if (!s->db || sqlite3_errcode(s->db) != SQLITE_OK) {
		log_warn("cannot open database %s: %s", s->path, sqlite3_errmsg(s->db));
		goto out_close;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (readonly)
		return 0;
	/* page_size and auto_vacuum take only on a database without tables (a
	 * new one); with auto_vacuum retention can hand freed pages back to the
	 * volume (--max-disk-pct) */
	if (exec_sql(s->db, "PRAGMA page_size=" STORE_STR(STORE_PAGE_SIZE) "; PRAGMA auto_vacuum=INCREMENTAL;"
			    " PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			    " PRAGMA journal_size_limit=" STORE_STR(STORE_WAL_JOURNAL_LIMIT) ";") ||
	    store_migrate(s->db) || store_add_columns(s->db) || store_page_size(s))
		goto out_close;
	/* in place of SQLite's autocheckpoint (after wal_autocheckpoint's
	 * default hook: this one replaces it) */
	sqlite3_wal_hook(s->db, store_wal_hook, s);
	for (k = 0; k < ROW_KINDS; k++) {
		if (sqlite3_prepare_v2(s->db, kinds[k].sql, -1, &s->q[k].insert, NULL) != SQLITE_OK) {
			log_warn("database: %s", sqlite3_errmsg(s->db));
			goto out_close;
		}
	}
	return 0;

out_close:
	for (k = 0; k < ROW_KINDS; k++) {
		sqlite3_finalize(s->q[k].insert);
		s->q[k].insert = NULL;
	}
	sqlite3_close(s->db);
	s->db = NULL;
	return -1;
}

void store_on_wal(struct store *s, void (*kick)(void *ud), void *ud)
{
	if (!s)
		return;
	s->wal_kick = kick;
	s->wal_kick_ud = ud;
}

/* See store_int.h. */
void store_disconnect(struct store *s)
{
	int k;

	for (k = 0; k < ROW_KINDS; k++) {
		sqlite3_finalize(s->q[k].insert);
		s->q[k].insert = NULL;
	}
	sqlite3_close(s->db);
	s->db = NULL;
	dbfile_close(&s->file);	/* after SQLite: closing an fd of the file drops its locks */
}

int store_open(struct store **out, const char *path, int readonly)
{
	struct store *s;

	vfs_guard_install();
	if (readonly && access(path, R_OK)) {
		log_warn("cannot open database %s: %s", path, strerror(errno));
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->file.fd = -1;
	s->path = strdup(path);
	if (!s->path)
		goto out_free;
	if (!readonly && dbfile_open(&s->file, path, 0))
		goto out_free;
	if (store_connect(s, readonly ? path : s->file.path, readonly))
		goto out_file;
	*out = s;
	return 0;

out_file:
	dbfile_close(&s->file);
out_free:
	free(s->path);
	free(s);
	return -1;
}

void store_close(struct store *s)
{
	int k;

	if (!s)
		return;
	if (s->q[ROW_CALL].insert)
		store_drain(s);
	store_queue_free(s);
	for (k = 0; k < ROW_KINDS; k++) {
		sqlite3_finalize(s->q[k].insert);
		free(s->q[k].rows);
	}
	sqlite3_close(s->db);
	dbfile_close(&s->file);
	free(s->path);
	free(s);
}
