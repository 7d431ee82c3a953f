/* runs_int.h -- what the files of the run builder share: its agents, runs, conversations, steps and processes (runs.c decides, runs_conv.c matches requests and results, runs_exec.c attaches execs, runs_rows.c flags and rows). */
#ifndef LLMTAP_RUNS_INT_H
#define LLMTAP_RUNS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/htab.h"
#include "db/rows.h"
#include "llm/runs.h"

#define RN_NULL INT64_MIN		/* an integer that is unknown (as CALL_NULL_INT) */
#define RN_SEC 1000000000ll

#define RUN_IDLE_NS (600 * RN_SEC)	/* no activity this long: the run is idle */
#define RUN_STEPS_KEPT 512		/* a run's steps kept in memory, at least (runs.c) */
#define RUN_KEEP_NS (300 * RN_SEC)	/* an ended run stays in memory this long (late rows) */
#define RUN_FORGET_NS (3600 * RN_SEC)	/* an idle run of a live process: forgotten after this */
#define RUNS_PER_AGENT 64		/* runs of one process kept in memory */
#define PROC_KEEP_NS (120 * RN_SEC)	/* an exited process is forgotten after this */
#define ARGV_KEEP_NS (10 * RN_SEC)	/* argv of a process outside any tool: kept this long */
#define STEP_EXECS_MAX 500		/* execs listed per tool step; more are only counted */
#define ORPHAN_NS (60 * RN_SEC)		/* a process whose parent is unknown: retried this long */
#define PARENT_WAIT_NS (30 * RN_SEC)	/* a run whose process's parents are unknown: retried this long */
#define PROCS_MAX 65536			/* processes followed at once */
#define START_SLACK_NS (50 * 1000000ll)	/* process start times are known to a tick */

/* Flags (agent_runs.flags), as bits. */
enum {
	FL_CONTEXT_GROWTH = 1 << 0,
	FL_COMPACTION = 1 << 1,
	FL_TOOL_LOOP = 1 << 2,
	FL_RETRY = 1 << 3,
	FL_ERROR_BURST = 1 << 4,
	FL_COST_OUTLIER = 1 << 5,
};

/* The rules' thresholds (README "Agent runs" documents them). */
#define CG_CALLS 5		/* context_growth: calls in a row that never shrank */
#define CG_RATIO 4		/* ... the last at least this many times the first */
#define CG_TOKENS 50000		/* ... and at least this many input tokens */
#define CG_MSGS 200		/* ... or messages, when tokens are not reported */
#define COMPACT_RATIO 0.5	/* compaction: the history down to at most half */
#define COMPACT_TOKENS 10000	/* ... from at least this many tokens */
#define COMPACT_MSGS 20		/* ... or messages */
#define LOOP_TIMES 3		/* tool_loop: the same tool and arguments this many times */
#define BURST_ERRORS 3		/* error_burst: this many failed calls */
#define BURST_NS (60 * RN_SEC)	/* ... within this long */
#define OUTLIER_RUNS 5		/* cost_outlier: earlier runs of the agent needed */
#define OUTLIER_RATIO 3		/* ... the run costs this many times their median */
#define OUTLIER_MIN_USD 0.01	/* ... and at least this much more */
#define HIST_MAX 50		/* earlier runs' costs kept per agent */

enum run_state { RS_RUNNING, RS_IDLE, RS_ENDED, RS_INTERRUPTED };

struct rrun;

/* An exec of a tool step: a copy of its process's row. */
struct rexec {
	int64_t pid, ppid, start_ns, exec_ns, exit_ns, exit_code, exit_signal;
	double cpu_ms;
	char comm[16];
	char process_id[37];
	char *argv;			/* JSON array text: its first program in the step */
	char *last_argv;		/* the program it exec'd last, when it exec'd again */
	int carries;			/* an argv of it carries the step's command */
};

/* A step: an LLM call (tool 0) or a tool call (tool 1). */
struct rstep {
	int64_t seq;
	int tool, dirty;
	int64_t start_ns, end_ns;	/* end RN_NULL while a tool runs */
	const char *status;
	char call_id[37];		/* llm */
	char *model, *error;
	int64_t in, out, ctx;		/* tokens; ctx: the context size (input + cache) */
	double cost;			/* < 0 unknown */
	double llm_ms;
	char *name, *id, *args, *command;	/* tool */
	char norm[64];			/* the id reduced (tools_norm_id) */
	int64_t parent_seq, result_bytes;
	char result_call_id[37];
	struct rexec *execs;
	size_t nexecs;
	int64_t nexecs_all;		/* execs in its window, listed or not */
	int children;			/* runs started under it */
	int open;			/* pending: its result has not come */
};

/* A conversation: a chain of requests each extending the last. */
struct rconv {
	struct rrun *run;
	struct rconv *next;
	uint64_t *msgs;			/* fingerprints of the last request's messages */
	size_t nmsgs;
	uint64_t head;
	int has_tools;
	char *response_id;		/* the last response's (Responses API) */
	char *text_key;			/* a JSON-safe prefix of the last response text */
	int64_t last_metric;		/* the last call's context tokens, or messages: -1 none */
	int metric_tokens;		/* last_metric counts tokens (else messages) */
	int streak;			/* calls in a row that did not shrink */
	int64_t streak_first;
	struct rstep **pending;		/* tool steps waiting for their result */
	size_t npending;
	uint64_t *used;			/* normalised ids of results already matched */
	size_t nused;
};

/* A run. */
struct rrun {
	char id[37], parent_id[37], root_id[37];
	int64_t parent_seq;
	struct ragent *agent;
	struct rrun *next;		/* the agent's runs, newest first */
	struct rstep **steps;		/* the steps kept: seq base .. base + nkept - 1 */
	size_t nsteps;			/* steps made (the next one's seq) */
	size_t nkept, base;		/* older ones went (runs.c steps_trim) */
	size_t cap;			/* room in steps */
	struct rconv *convs;
	int has_tools, dirty;
	size_t dfrom;			/* kept steps before it are clean (runs_step_mark) */
	int parent_wait;		/* the process's parents were unknown */
	int counted;			/* its cost went into the agent's history */
	enum run_state state;
	int64_t start_ns, end_ns, last_ns;
	int64_t llm_calls, tool_calls, in, out, cache_r, cache_w, errors;
	double cost, llm_ms, tool_ms;	/* cost < 0: none known */
	int64_t max_ctx, max_req_bytes;
	size_t max_msgs;
	char *model, *provider;
	/* flags and their numbers */
	unsigned flags;
	uint64_t last_hash;
	int last_failed, retries;
	int64_t err_ns[BURST_ERRORS];
	int nerr;
	int64_t cg_calls, cg_first, cg_max;
	int64_t cp_from, cp_to, cp_seq;
	struct { uint64_t h; int n; } *sigs;
	size_t nsigs;
	int loop_times;
	char *loop_tool, *loop_args;
	double outlier_median;
};

/* A process that made LLM calls. */
struct ragent {
	struct htab_node node;		/* key (pid, 0) */
	int64_t pid, start_ns;		/* start_ns RN_NULL when unknown */
	char comm[16];
	char name[64];
	char process_id[37];
	int exited;
	int64_t exit_ns;
	struct rrun *runs;
	size_t nruns;
	int touched;			/* on the builder's list of agents with changes */
	struct ragent *next_touched;
};

/* A process seen in a processes row. */
struct rproc {
	struct htab_node node;		/* key (pid, 0) */
	int64_t pid, ppid, start_ns, exec_ns, exit_ns, exit_code, exit_signal;
	double cpu_ms;
	char comm[16];
	char process_id[37];
	char *argv;
	int64_t seen_ns;		/* the builder's time when its row came */
	struct rrun *run;		/* the run and step it is an exec of, or NULL */
	int64_t seq;
	int orphan;			/* its parent chain was unknown */
};

/* Earlier runs' costs of an agent name. */
struct rhist {
	char name[64];
	double cost[HIST_MAX];
	int n, next;
};

#define RUNS_ORPHANS_MAX 64	/* orphans waiting for their parent's row, by pid */

struct runs {
	struct row_sink sink;
	struct htab agents;		/* struct ragent by pid */
	struct htab procs;		/* struct rproc by pid */
	int64_t orphans[RUNS_ORPHANS_MAX];	/* the newest orphans (the tick retries all) */
	size_t norphans;
	int64_t now_ns;			/* the newest time seen */
	struct ragent *touched;		/* agents whose runs may have changed rows to send */
	struct rhist *hist;
	size_t nhist;
};

/* ---- runs.c ---- */

/* Note that runs of a may have changed (their rows go at the next runs_emit_dirty()). */
void runs_touch(struct runs *r, struct ragent *a);
/* The agent of pid, NULL when none (or when it ended before at_ns). */
struct ragent *runs_agent_find(struct runs *r, int64_t pid, int64_t at_ns);
/* Free a run (its steps, conversations) after unlinking it from its agent. */
void runs_run_free(struct runs *r, struct rrun *run);

/* ---- runs_conv.c ---- */

struct tool_request;
struct tool_response;

/* A new conversation of run (NULL on OOM); free one. */
struct rconv *runs_conv_new(struct rrun *run);
void runs_conv_free(struct rconv *c);

/* The conversation of agent a that request q (body: its text) continues, or
 * NULL; *from is the index of its first new message (SIZE_MAX when unknown),
 * *compacted 1 when it was found by the summary of a compaction. */
struct rconv *runs_conv_match(struct ragent *a, const struct tool_request *q, const char *body,
			      size_t *from, int *compacted);

/* The tool results of request q (call c; from message index from on) answer
 * the pending tool steps of cv: by exact id, by normalised id, then in order
 * by name. The steps left are unanswered. */
void runs_conv_answer(struct runs *r, struct rconv *cv, const struct tool_request *q, size_t from,
		      const struct call_row *c);

/* Every pending tool step of run closes at end_ns, unanswered. */
void runs_close_pending(struct runs *r, struct rrun *run, int64_t end_ns);

/* Record request q (its fingerprints are taken) and response resp of call c
 * as cv's latest; continued_by_id: a Responses request that names the last
 * response (its items extend the history). */
void runs_conv_update(struct rconv *cv, struct tool_request *q, const struct tool_response *resp,
		      const struct call_row *c, int continued_by_id);

/* ---- runs_exec.c ---- */

/* The agent whose process tree p is in (the nearest ancestor with runs);
 * NULL with *unknown = 1 when the chain reaches a process not seen yet. */
struct ragent *runs_exec_agent(struct runs *r, const struct rproc *p, int *unknown);
/* Place (or update) the exec p among its agent's tool steps. */
void runs_exec_place(struct runs *r, struct rproc *p);
/* A tool step opened: attach the execs already seen in its window. */
void runs_exec_scan(struct runs *r, struct rrun *run, struct rstep *s);
/* A tool step closed: execs after its end leave it (and are placed again). */
void runs_exec_trim(struct runs *r, struct rrun *run, struct rstep *s);
/* The run is freed: processes pointing into it forget it. */
void runs_exec_forget_run(struct runs *r, struct rrun *run);
/* The row of parent p came: its children that were orphans (their row came
 * first: a child that exits first is written first) are placed now, not at
 * the next tick. */
void runs_exec_adopt(struct runs *r, const struct rproc *p);
/* Forget old processes, retry orphans. */
void runs_exec_tick(struct runs *r);
void runs_exec_free_all(struct runs *r);
void rexec_free(struct rexec *e);

/* ---- runs_rows.c ---- */

/* Flag rules fed as steps are added (runs.c): call c, its llm step ls (may
 * be NULL), of conversation conv (continued: an earlier request of it was
 * seen; compacted: found by the summary of its last response), nmsgs
 * messages. */
void runs_flags_call(struct runs *r, struct rrun *run, struct rconv *conv, const struct call_row *c,
		     size_t nmsgs, const struct rstep *ls, int continued, int compacted);
void runs_flags_tool(struct rrun *run, const struct rstep *s);
void runs_flags_cost(struct runs *r, struct rrun *run);
/* The run ended or went idle: its cost joins the agent's history. */
void runs_hist_add(struct runs *r, struct rrun *run);
/* Send the dirty runs and steps of the agents touched since the last call;
 * of every agent; of one run. */
void runs_emit_dirty(struct runs *r);
void runs_emit_all(struct runs *r);
void runs_emit_run(struct runs *r, struct rrun *run);
/* Send run's changed step rows only (its own row waits for the next flush). */
void runs_emit_steps(struct runs *r, struct rrun *run);

/* Mark step s of run as changed: its row goes out with the run's next
 * emission. Emitting looks only from the first changed step on, so a run
 * of many thousand steps costs what its changed steps cost. */
static inline void runs_step_mark(struct rrun *run, struct rstep *s)
{
	s->dirty = 1;
	if ((size_t)s->seq - run->base < run->dfrom)
		run->dfrom = (size_t)s->seq - run->base;
}

#endif
