/* store_host.c -- the host view's tables for store.c: schema, inserts and binds of host/fs/disk/net samples, events, agent_spans, and the resource columns of processes and cpu_samples. */
#include "db/store_int.h"

#include <sqlite3.h>
#include <stdio.h>

#include "db/rows.h"

/* Host samples, process resources, events and agent spans (issue 12). New
 * databases get auto_vacuum=INCREMENTAL (store_open), so retention can give
 * freed pages back to the volume. */
const char store_schema_host[] =
	"ALTER TABLE processes ADD COLUMN rss_bytes INTEGER;"
	"ALTER TABLE processes ADD COLUMN rss_max_bytes INTEGER;"
	"ALTER TABLE processes ADD COLUMN vms_bytes INTEGER;"
	"ALTER TABLE processes ADD COLUMN num_threads INTEGER;"
	"ALTER TABLE processes ADD COLUMN fds INTEGER;"
	"ALTER TABLE processes ADD COLUMN state TEXT;"
	"ALTER TABLE processes ADD COLUMN read_bytes INTEGER;"
	"ALTER TABLE processes ADD COLUMN write_bytes INTEGER;"
	"ALTER TABLE processes ADD COLUMN disk_read_bytes INTEGER;"
	"ALTER TABLE processes ADD COLUMN disk_write_bytes INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN rss_bytes INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN vms_bytes INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN num_threads INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN fds INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN state TEXT;"
	"ALTER TABLE cpu_samples ADD COLUMN read_bytes INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN write_bytes INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN disk_read_bytes INTEGER;"
	"ALTER TABLE cpu_samples ADD COLUMN disk_write_bytes INTEGER;"
	"CREATE TABLE IF NOT EXISTS host_samples ("
	" ts_ns INTEGER, interval_ms REAL, cpu_user_pct REAL, cpu_system_pct REAL,"
	" cpu_iowait_pct REAL, cpu_steal_pct REAL, cpu_idle_pct REAL, cpus INTEGER,"
	" load1 REAL, load5 REAL, load15 REAL, procs_running INTEGER, procs_blocked INTEGER,"
	" mem_total_bytes INTEGER, mem_used_bytes INTEGER, mem_available_bytes INTEGER,"
	" swap_total_bytes INTEGER, swap_used_bytes INTEGER, psi_cpu_pct REAL, psi_mem_pct REAL,"
	" psi_io_pct REAL, disk_read_bps REAL, disk_write_bps REAL, disk_read_iops REAL,"
	" disk_write_iops REAL, net_rx_bps REAL, net_tx_bps REAL, net_rx_pps REAL,"
	" net_tx_pps REAL, net_errors_ps REAL, net_drops_ps REAL);"
	"CREATE INDEX IF NOT EXISTS host_samples_ts ON host_samples(ts_ns);"
	"CREATE TABLE IF NOT EXISTS fs_samples ("
	" ts_ns INTEGER, path TEXT, mount TEXT, fstype TEXT, device TEXT, total_bytes INTEGER,"
	" used_bytes INTEGER, avail_bytes INTEGER, used_pct REAL, inodes_total INTEGER,"
	" inodes_used INTEGER, inodes_avail INTEGER);"
	"CREATE INDEX IF NOT EXISTS fs_samples_ts ON fs_samples(ts_ns);"
	"CREATE TABLE IF NOT EXISTS disk_samples ("
	" ts_ns INTEGER, interval_ms REAL, device TEXT, read_bps REAL, write_bps REAL,"
	" read_iops REAL, write_iops REAL, util_pct REAL);"
	"CREATE INDEX IF NOT EXISTS disk_samples_ts ON disk_samples(ts_ns);"
	"CREATE TABLE IF NOT EXISTS net_samples ("
	" ts_ns INTEGER, interval_ms REAL, iface TEXT, rx_bps REAL, tx_bps REAL, rx_pps REAL,"
	" tx_pps REAL, rx_errors_ps REAL, tx_errors_ps REAL, rx_drops_ps REAL, tx_drops_ps REAL);"
	"CREATE INDEX IF NOT EXISTS net_samples_ts ON net_samples(ts_ns);"
	"CREATE TABLE IF NOT EXISTS events ("
	" id TEXT PRIMARY KEY, ts_ns INTEGER, source TEXT, severity TEXT, name TEXT,"
	" pid INTEGER, attributes TEXT);"
	"CREATE INDEX IF NOT EXISTS events_ts ON events(ts_ns);"
	"CREATE TABLE IF NOT EXISTS agent_spans ("
	" id TEXT PRIMARY KEY, trace_id TEXT, span_id TEXT, parent_span_id TEXT, name TEXT,"
	" kind TEXT, start_ns INTEGER, end_ns INTEGER, duration_ms REAL, status TEXT,"
	" status_message TEXT, service_name TEXT, scope_name TEXT, pid INTEGER, model TEXT,"
	" operation TEXT, input_tokens INTEGER, output_tokens INTEGER, call_id TEXT,"
	" attributes TEXT, resource TEXT, events TEXT, received_ns INTEGER);"
	"CREATE INDEX IF NOT EXISTS agent_spans_start ON agent_spans(start_ns);"
	"CREATE INDEX IF NOT EXISTS agent_spans_call ON agent_spans(call_id);";

const char store_host_sql[] =
	"INSERT INTO host_samples (ts_ns, interval_ms, cpu_user_pct, cpu_system_pct, cpu_iowait_pct,"
	" cpu_steal_pct, cpu_idle_pct, cpus, load1, load5, load15, procs_running, procs_blocked,"
	" mem_total_bytes, mem_used_bytes, mem_available_bytes, swap_total_bytes, swap_used_bytes,"
	" psi_cpu_pct, psi_mem_pct, psi_io_pct, disk_read_bps, disk_write_bps, disk_read_iops,"
	" disk_write_iops, net_rx_bps, net_tx_bps, net_rx_pps, net_tx_pps, net_errors_ps,"
	" net_drops_ps) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

const char store_fs_sql[] =
	"INSERT INTO fs_samples (ts_ns, path, mount, fstype, device, total_bytes, used_bytes,"
	" avail_bytes, used_pct, inodes_total, inodes_used, inodes_avail)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?)";

const char store_disk_sql[] =
	"INSERT INTO disk_samples (ts_ns, interval_ms, device, read_bps, write_bps, read_iops,"
	" write_iops, util_pct) VALUES (?,?,?,?,?,?,?,?)";

const char store_net_sql[] =
	"INSERT INTO net_samples (ts_ns, interval_ms, iface, rx_bps, tx_bps, rx_pps, tx_pps,"
	" rx_errors_ps, tx_errors_ps, rx_drops_ps, tx_drops_ps) VALUES (?,?,?,?,?,?,?,?,?,?,?)";

const char store_event_sql[] =
	"INSERT OR REPLACE INTO events (id, ts_ns, source, severity, name, pid, attributes)"
	" VALUES (?,?,?,?,?,?,?)";

const char store_span_sql[] =
	"INSERT OR REPLACE INTO agent_spans (id, trace_id, span_id, parent_span_id, name, kind,"
	" start_ns, end_ns, duration_ms, status, status_message, service_name, scope_name, pid,"
	" model, operation, input_tokens, output_tokens, call_id, attributes, resource, events,"
	" received_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

/* Bind v, or NULL for the INTEGER null marker. */
static void bind_i(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == PROC_NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

/* Bind v, or NULL for a negative value (HOST_NULL). */
static void bind_r(sqlite3_stmt *st, int i, double v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

/* Bind v, or NULL for NULL and "". */
static void bind_t(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int store_bind_res(sqlite3_stmt *st, int i, const struct proc_res *r)
{
	char state[2] = { r->state, 0 };

	bind_i(st, i++, r->rss_bytes);
	bind_i(st, i++, r->vms_bytes);
	bind_i(st, i++, r->num_threads);
	bind_i(st, i++, r->fds);
	if (r->state)
		sqlite3_bind_text(st, i++, state, 1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i++);
	bind_i(st, i++, r->read_bytes);
	bind_i(st, i++, r->write_bytes);
	bind_i(st, i++, r->disk_read_bytes);
	bind_i(st, i++, r->disk_write_bytes);
	return i;
}

void store_bind_host(sqlite3_stmt *st, const void *row)
{
	const struct host_row *r = row;
	int i = 1;

	bind_i(st, i++, r->ts_ns);
	bind_r(st, i++, r->interval_ms);
	bind_r(st, i++, r->cpu_user_pct);
	bind_r(st, i++, r->cpu_system_pct);
	bind_r(st, i++, r->cpu_iowait_pct);
	bind_r(st, i++, r->cpu_steal_pct);
	bind_r(st, i++, r->cpu_idle_pct);
	bind_i(st, i++, r->cpus);
	bind_r(st, i++, r->load1);
	bind_r(st, i++, r->load5);
	bind_r(st, i++, r->load15);
	bind_i(st, i++, r->procs_running);
	bind_i(st, i++, r->procs_blocked);
	bind_i(st, i++, r->mem_total_bytes);
	bind_i(st, i++, r->mem_used_bytes);
	bind_i(st, i++, r->mem_available_bytes);
	bind_i(st, i++, r->swap_total_bytes);
	bind_i(st, i++, r->swap_used_bytes);
	bind_r(st, i++, r->psi_cpu_pct);
	bind_r(st, i++, r->psi_mem_pct);
	bind_r(st, i++, r->psi_io_pct);
	bind_r(st, i++, r->disk_read_bps);
	bind_r(st, i++, r->disk_write_bps);
	bind_r(st, i++, r->disk_read_iops);
	bind_r(st, i++, r->disk_write_iops);
	bind_r(st, i++, r->net_rx_bps);
	bind_r(st, i++, r->net_tx_bps);
	bind_r(st, i++, r->net_rx_pps);
	bind_r(st, i++, r->net_tx_pps);
	bind_r(st, i++, r->net_errors_ps);
	bind_r(st, i++, r->net_drops_ps);
}

void store_bind_fs(sqlite3_stmt *st, const void *row)
{
	const struct fs_row *r = row;
	int i = 1;

	bind_i(st, i++, r->ts_ns);
	bind_t(st, i++, r->path);
	bind_t(st, i++, r->mount);
	bind_t(st, i++, r->fstype);
	bind_t(st, i++, r->device);
	bind_i(st, i++, r->total_bytes);
	bind_i(st, i++, r->used_bytes);
	bind_i(st, i++, r->avail_bytes);
	bind_r(st, i++, r->used_pct);
	bind_i(st, i++, r->inodes_total);
	bind_i(st, i++, r->inodes_used);
	bind_i(st, i++, r->inodes_avail);
}

void store_bind_disk(sqlite3_stmt *st, const void *row)
{
	const struct disk_row *r = row;
	int i = 1;

	bind_i(st, i++, r->ts_ns);
	bind_r(st, i++, r->interval_ms);
	bind_t(st, i++, r->device);
	bind_r(st, i++, r->read_bps);
	bind_r(st, i++, r->write_bps);
	bind_r(st, i++, r->read_iops);
	bind_r(st, i++, r->write_iops);
	bind_r(st, i++, r->util_pct);
}

void store_bind_net(sqlite3_stmt *st, const void *row)
{
	const struct net_row *r = row;
	int i = 1;

	bind_i(st, i++, r->ts_ns);
	bind_r(st, i++, r->interval_ms);
	bind_t(st, i++, r->iface);
	bind_r(st, i++, r->rx_bps);
	bind_r(st, i++, r->tx_bps);
	bind_r(st, i++, r->rx_pps);
	bind_r(st, i++, r->tx_pps);
	bind_r(st, i++, r->rx_errors_ps);
	bind_r(st, i++, r->tx_errors_ps);
	bind_r(st, i++, r->rx_drops_ps);
	bind_r(st, i++, r->tx_drops_ps);
}

void store_bind_event(sqlite3_stmt *st, const void *row)
{
	const struct event_row *r = row;
	int i = 1;

	bind_t(st, i++, r->id);
	bind_i(st, i++, r->ts_ns);
	bind_t(st, i++, r->source);
	bind_t(st, i++, r->severity);
	bind_t(st, i++, r->name);
	bind_i(st, i++, r->pid);
	bind_t(st, i++, r->attributes);
}

void store_bind_span(sqlite3_stmt *st, const void *row)
{
	const struct span_row *r = row;
	int i = 1;

	bind_t(st, i++, r->id);
	bind_t(st, i++, r->trace_id);
	bind_t(st, i++, r->span_id);
	bind_t(st, i++, r->parent_span_id);
	bind_t(st, i++, r->name);
	bind_t(st, i++, r->kind);
	bind_i(st, i++, r->start_ns);
	bind_i(st, i++, r->end_ns);
	bind_r(st, i++, r->duration_ms);
	bind_t(st, i++, r->status);
	bind_t(st, i++, r->status_message);
	bind_t(st, i++, r->service_name);
	bind_t(st, i++, r->scope_name);
	bind_i(st, i++, r->pid);
	bind_t(st, i++, r->model);
	bind_t(st, i++, r->operation);
	bind_i(st, i++, r->input_tokens);
	bind_i(st, i++, r->output_tokens);
	bind_t(st, i++, r->call_id);
	bind_t(st, i++, r->attributes);
	bind_t(st, i++, r->resource);
	bind_t(st, i++, r->events);
	bind_i(st, i++, r->received_ns);
}
