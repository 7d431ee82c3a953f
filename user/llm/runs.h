/* runs.h -- pure run builder: llm_calls and processes rows in, agent runs and their steps out (tables agent_runs, agent_steps, llm_calls.run_id). */
#ifndef LLMTAP_RUNS_H
#define LLMTAP_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "db/rows.h"

/* The builder keeps the runs that may still change in memory and sends a
 * ROW_RUN / ROW_STEP row (a copy the sink owns) each time one changes; the
 * rows replace each other by id. It reads no clock: times come from the rows
 * and from runs_tick(). See README "Agent runs" for the rules. */
struct runs;

/* A new builder sending its rows to sink. NULL on OOM. */
struct runs *runs_new(const struct row_sink *sink);

/* Send every changed row, then free. NULL-safe. */
void runs_free(struct runs *r);

/* An LLM call row, before it is stored: decides its run (sets row->run_id),
 * adds its llm step and the tool steps its response asks for, closes the
 * tool steps whose results its request carries, updates the run's sums and
 * flags, and sends the run's changed steps. The run's own row is sent by
 * the next runs_flush() or runs_tick(): once per flush, however many calls
 * it made meanwhile. */
void runs_on_call(struct runs *r, struct call_row *row);

/* Send every changed row now (the tracer calls it before each write to the
 * database). NULL-safe. */
void runs_flush(struct runs *r);

/* A processes row (exec, CPU update, exit): an exec inside an agent's tree
 * during a tool step becomes one of its execs; an agent's exit ends its runs. */
void runs_on_process(struct runs *r, const struct proc_row *row);

/* Every second or so, now the Unix epoch ns: runs without activity for 10
 * minutes become idle, what cannot change any more is forgotten, late
 * process rows are tried again, and changed rows are sent. */
void runs_tick(struct runs *r, int64_t now_ns);

/* The tracer stops at now_ns: runs still going become "interrupted", their
 * pending tool calls unanswered; every changed row is sent. */
void runs_stop(struct runs *r, int64_t now_ns);

/* An earlier run's cost for agent (the history cost_outlier compares with,
 * e.g. read from the database at start). */
void runs_seed_cost(struct runs *r, const char *agent, double cost_usd);

/* The agent's name from its process: for an interpreter (node, python3, bun,
 * deno, ruby, perl, sh, bash...) the npm package its script is in
 * (".../node_modules/@scope/pkg/..." -> "pkg") or the script's file name, or
 * the module of "python -m"; else comm. argv is the JSON array of
 * processes.argv (NULL when unknown). Into out (size n); returns out. */
char *runs_agent_name(const char *comm, const char *argv_json, char *out, size_t n);

/* 1 when the argv (a JSON array) carries command: its arguments joined by
 * spaces contain it, as is or once quotes, backslashes and repeated spaces
 * are dropped from both (a shell wrapper quotes it). */
int runs_argv_carries(const char *argv_json, const char *command);

#endif
