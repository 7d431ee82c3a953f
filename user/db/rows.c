/* rows.c -- the row types of db/rows.h: freeing rows, who they belong to, and the sink the trackers emit through. */
#include "db/rows.h"

#include <stdlib.h>

void proc_res_init(struct proc_res *r)
{
	r->rss_bytes = r->rss_max_bytes = r->vms_bytes = PROC_NULL;
	r->num_threads = r->fds = PROC_NULL;
	r->state = 0;
	r->read_bytes = r->write_bytes = PROC_NULL;
	r->disk_read_bytes = r->disk_write_bytes = PROC_NULL;
}

void call_row_free(struct call_row *r)
{
	if (!r)
		return;
	free(r->exe);
	free(r->model);
	free(r->host);
	free(r->method);
	free(r->path);
	free(r->finish_reason);
	free(r->response_text);
	free(r->request_headers);
	free(r->response_headers);
	free(r->request_body);
	free(r->response_body);
	free(r->error);
	free(r->cgroup);
	free(r->container_id);
	free(r);
}

void row_free(enum row_kind kind, void *row)
{
	if (!row)
		return;
	switch (kind) {
	case ROW_CALL:
		call_row_free(row);
		return;
	case ROW_CONNECTION: {
		struct connection_row *r = row;

		free(r->connect_error);
		free(r->dns_name);
		break;
	}
	case ROW_DNS: {
		struct dns_row *r = row;

		free(r->name);
		free(r->addrs);
		break;
	}
	case ROW_PROCESS: {
		struct proc_row *r = row;

		free(r->exe);
		free(r->argv);
		break;
	}
	case ROW_FS: {
		struct fs_row *r = row;

		free(r->path);
		free(r->mount);
		free(r->fstype);
		free(r->device);
		break;
	}
	case ROW_EVENT: {
		struct event_row *r = row;

		free(r->name);
		free(r->attributes);
		break;
	}
	case ROW_SPAN: {
		struct span_row *r = row;

		free(r->name);
		free(r->status_message);
		free(r->service_name);
		free(r->scope_name);
		free(r->model);
		free(r->operation);
		free(r->attributes);
		free(r->resource);
		free(r->events);
		break;
	}
	case ROW_RUN: {
		struct run_row *r = row;

		free(r->flags);
		free(r->agent);
		free(r->model);
		free(r->provider);
		free(r->flag_info);
		break;
	}
	case ROW_STEP: {
		struct step_row *r = row;

		free(r->tool_name);
		free(r->tool_call_id);
		free(r->arguments);
		free(r->execs);
		free(r->model);
		free(r->command);
		free(r->error);
		break;
	}
	case ROW_CPU_SAMPLE:
	case ROW_HOST:
	case ROW_DISK:
	case ROW_NET:
	case ROW_KINDS:
		break;
	}
	free(row);
}

void row_emit(const struct row_sink *sink, enum row_kind kind, void *row)
{
	if (sink && sink->emit)
		sink->emit(sink->ud, kind, row);
	else
		row_free(kind, row);
}

int64_t row_pid(enum row_kind kind, const void *row)
{
	switch (kind) {
	case ROW_CALL: return ((const struct call_row *)row)->pid;
	case ROW_CONNECTION: return ((const struct connection_row *)row)->pid;
	case ROW_DNS: return ((const struct dns_row *)row)->pid;
	case ROW_PROCESS: return ((const struct proc_row *)row)->pid;
	case ROW_CPU_SAMPLE: return ((const struct cpu_sample_row *)row)->pid;
	case ROW_RUN: return ((const struct run_row *)row)->pid;
	case ROW_STEP: return ((const struct step_row *)row)->pid;
	case ROW_EVENT: return ((const struct event_row *)row)->pid;
	case ROW_SPAN: return ((const struct span_row *)row)->pid;
	case ROW_HOST:
	case ROW_FS:
	case ROW_DISK:
	case ROW_NET:
	case ROW_KINDS: break;
	}
	return ROW_NO_PID;
}

const char *row_comm(enum row_kind kind, const void *row)
{
	switch (kind) {
	case ROW_CALL: return ((const struct call_row *)row)->comm;
	case ROW_CONNECTION: return ((const struct connection_row *)row)->comm;
	case ROW_DNS: return ((const struct dns_row *)row)->comm;
	case ROW_PROCESS: return ((const struct proc_row *)row)->comm;
	case ROW_CPU_SAMPLE: return ((const struct cpu_sample_row *)row)->comm;
	case ROW_RUN: return ((const struct run_row *)row)->comm;
	case ROW_STEP: return ((const struct step_row *)row)->comm;
	case ROW_HOST:
	case ROW_FS:
	case ROW_DISK:
	case ROW_NET:
	case ROW_EVENT:
	case ROW_SPAN:
	case ROW_KINDS: break;
	}
	return "";
}

const char *row_table(enum row_kind kind)
{
	static const char *const names[ROW_KINDS] = {
		[ROW_CALL] = "llm_calls", [ROW_CONNECTION] = "connections", [ROW_DNS] = "dns_lookups",
		[ROW_PROCESS] = "processes", [ROW_CPU_SAMPLE] = "cpu_samples",
		[ROW_HOST] = "host_samples", [ROW_FS] = "fs_samples", [ROW_DISK] = "disk_samples",
		[ROW_NET] = "net_samples", [ROW_EVENT] = "events", [ROW_SPAN] = "agent_spans",
		[ROW_RUN] = "agent_runs", [ROW_STEP] = "agent_steps",
	};

	return kind < ROW_KINDS ? names[kind] : "?";
}
