/* run_tick.c -- `run`'s periodic work: CPU samples, the listener's snapshot, calls_in_flight, loss counters, push targets up or down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "capture/event.h"
#include "capture/loader.h"
#include "db/query.h"
#include "db/store.h"
#include "llm/runs.h"
#include "push/push.h"
#include "run_cover.h"
#include "run_int.h"
#include "run_opts.h"
#include "serve/ingest.h"
#include "serve/listen.h"
#include "serve/selfstat.h"
#include "track/dns.h"
#include "track/events.h"
#include "track/host.h"
#include "track/net.h"
#include "track/proc.h"
#include "track/procwatch.h"
#include "track/spans.h"
#include "track/stream.h"

#define PUSH_DOWN_NS 60000000000ull	/* a target failing this long is "down" (an events row) */

static void on_cpu_entry(void *ud, const struct loader_cpu *c, int thread)
{
	struct proc_cpu pc = {
		.id = c->id, .tgid = c->tgid, .oncpu_ns = c->oncpu_ns, .runq_ns = c->runq_ns,
		.switches = c->switches, .preempts = c->preempts,
	};
	struct run_state *st = ud;

	if (thread)
		proc_sample_thread(st->procs, &pc);
	else
		proc_sample_process(st->procs, &pc);
}

/* One pass over the CPU maps: a cpu_samples row per process that ran. */
void run_cpu_sample(struct run_state *st, int gc)
{
	int err;

	proc_sample_begin(st->procs, mono_ns());
	err = loader_cpu_sample(st->loader, gc, on_cpu_entry, st);
	if (err < 0)
		log_warn("cpu maps: read failed: %s", strerror(-err));
	proc_sample_end(st->procs);
	host_sample(st->host, mono_ns());
}

/* Copy the numbers /health and /metrics show into the listener's snapshot
 * (the HTTP thread reads only that copy). */
void run_listen_refresh(struct run_state *st)
{
	struct listen_stats ls = { 0 };
	uint64_t c[LT_CNT_MAX];

	loader_counters(st->loader, c);
	ls.calls = st->calls;
	ls.events = c[LT_CNT_EVENTS];
	ls.drops = c[LT_CNT_DROPS];
	ls.files = loader_files(st->loader);
	ls.open_conns = stream_count(st->streams);
	ls.uncovered = st->cover_sum.uncovered;
	ls.unseen = st->cover_sum.unseen;
	ls.npush = push_status(st->push, ls.push, PUSH_TARGETS_MAX);
	ls.genai = st->genai;
	selfstat_read(&ls.self);
	ls.self.rows_pending = store_pending(st->store);
	ls.self.inbox_queued = events_queued();
	ls.self.inbox_dropped = events_dropped();
	ls.self.spans_waiting = spans_waiting(st->spans);
	ls.self.procs_tracked = proc_count(st->procs);
	ls.self.open_conns = ls.open_conns;
	ls.self.db_fs_used_pct = host_fs_used_pct(st->db_dir);
	ls.self.max_disk_pct = st->o->push.max_disk_pct;
	ls.db_waiting = store_pending(st->store);
	ls.db_dropped = store_dropped(st->store);
	store_problem(st->store, ls.db_problem, sizeof(ls.db_problem));
	listen_update(st->lis, &ls);
}

/* Rewrite calls_in_flight (for `llmtap top`): while calls are in flight,
 * and once more when the last one ended. */
void run_inflight_refresh(struct run_state *st)
{
	static struct inflight_row rows[INFLIGHT_MAX];
	size_t i, n = stream_inflight(st->streams, rows, INFLIGHT_MAX);

	if (!n && !st->inflight)
		return;
	for (i = 0; i < n; i++)
		rows[i].start_ns = (int64_t)mono_to_epoch_ns((uint64_t)rows[i].start_ns);
	if (!inflight_write(st->store, rows, n, (int64_t)real_ns()))
		st->inflight = n;
}

/* A capture.spooled event when a ring spilled to disk since the last call:
 * the reader fell behind (a burst, or a host whose clients outrun it), and
 * the spool kept what the ring could not. */
static void run_spool_check(struct run_state *st)
{
	struct spool_stats sp;

	loader_spool_stats(st->loader, &sp);
	if (sp.records <= st->last_spooled)
		return;
	events_notice(SEV_INFO, "capture.spooled", PROC_NULL,
		      json_pack("{s:I, s:I, s:I, s:I}", "events", (json_int_t)(sp.records - st->last_spooled),
				"events_total", (json_int_t)sp.records, "bytes_total", (json_int_t)sp.bytes,
				"peak_bytes", (json_int_t)sp.peak));
	st->last_spooled = sp.records;
}

/* Report new ring-buffer drops and other BPF-side losses since the last
 * call (never silent). */
void run_drops_check(struct run_state *st)
{
	uint64_t c[LT_CNT_MAX];

	loader_counters(st->loader, c);
	if (c[LT_CNT_DROPS] > st->last_drops) {
		log_warn("ring buffer full: %llu events (%llu bytes) dropped so far; "
			 "affected calls are marked, consider --ring-size",
			 (unsigned long long)c[LT_CNT_DROPS],
			 (unsigned long long)c[LT_CNT_DROP_BYTES]);
		events_notice(SEV_WARNING, "capture.dropped", PROC_NULL,
			      json_pack("{s:I, s:I, s:I}", "events", (json_int_t)(c[LT_CNT_DROPS] - st->last_drops),
					"events_total", (json_int_t)c[LT_CNT_DROPS], "bytes_total",
					(json_int_t)c[LT_CNT_DROP_BYTES]));
		st->last_drops = c[LT_CNT_DROPS];
	}
	run_spool_check(st);
	if (c[LT_CNT_MAP_FULL] > st->last_map_full) {
		log_warn("CPU accounting maps full: %llu task(s) not counted so far",
			 (unsigned long long)c[LT_CNT_MAP_FULL]);
		st->last_map_full = c[LT_CNT_MAP_FULL];
	}
	if (c[LT_CNT_SOCKS_FULL] > st->last_socks_full) {
		log_warn("connection map full (%d sockets): %llu connection(s) not followed so far",
			 LT_SOCKS_MAX, (unsigned long long)c[LT_CNT_SOCKS_FULL]);
		st->last_socks_full = c[LT_CNT_SOCKS_FULL];
	}
	if (c[LT_CNT_READ_ERR] > st->last_read_err) {
		log_warn("%llu SSL buffer(s) could not be read from user memory so far",
			 (unsigned long long)c[LT_CNT_READ_ERR]);
		st->last_read_err = c[LT_CNT_READ_ERR];
	}
}

/* An events row when a push target has failed for PUSH_DOWN_NS, and one
 * when it delivers again. */
void run_push_watch(struct run_state *st)
{
	struct push_status ps[PUSH_TARGETS_MAX];
	uint64_t now = mono_ns();
	int i, n = push_status(st->push, ps, PUSH_TARGETS_MAX);

	for (i = 0; i < n; i++) {
		int down = ps[i].failing_since_ns && now > ps[i].failing_since_ns &&
			   now - ps[i].failing_since_ns > PUSH_DOWN_NS;

		if (down == st->push_down[i])
			continue;
		events_notice(down ? SEV_ERROR : SEV_INFO, down ? "push.target_down" : "push.target_up",
			      PROC_NULL, json_pack("{s:s, s:s}", "target", ps[i].target, "last_error",
						   ps[i].last_error));
		st->push_down[i] = down;
	}
}
