/* cli.h -- the read-side commands (calls, show, stats, dns, runs) and what they share: options, cells and rows as text or JSON. */
#ifndef LLMTAP_CLI_H
#define LLMTAP_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct query;

/* Each returns the process exit code: 0 ok, 1 runtime error, 2 usage error. */
int cmd_calls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_dns(int argc, char **argv);
int cmd_prices(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_scan(int argc, char **argv);

/* What show prints and calls --json adds about a call from the host view
 * (cli/host.c): the host samples and the process's samples during it, the
 * agent's spans joined to it, the events within a minute of it. c is the
 * call's row; o its JSON object ("host_samples", "process_samples",
 * "agent_spans", "events" arrays). */
struct store;
void cli_call_host_print(struct store *s, struct query *c);
void cli_call_host_json(struct store *s, json_t *o);
int cmd_runs(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* ---- shared by the commands (common.c) ---- */

/* $LLMTAP_DB, else "db" of the default config file, else ./llmtap.db. */
const char *cli_default_db(void);

/* Parse --since: a duration ago ("10m") or a time ("2026-11-24T10:00:00[Z]",
 * "2026-11-24 10:00", "2026-11-24"). Returns 0 and epoch ns, -1 if malformed. */
int cli_parse_since(const char *s, int64_t *ns);

/* Parse a positive integer option value; on error say which option. Returns 0 or -1. */
int cli_parse_positive(const char *arg, const char *opt, long *out);

/* The current row of q as a JSON object, column names as keys. */
json_t *cli_row_to_json(struct query *q);

/* Print o as one line and drop it. */
void cli_json_print(json_t *o);

/* Print the current row of q as one JSON line. */
void cli_row_print_json(struct query *q);

/* Column i (or the column named name) of q's row as text; dflt when NULL or absent. */
const char *cli_col_text(struct query *q, int i, const char *dflt);
const char *cli_col_named(struct query *q, const char *name, const char *dflt);

/* Format a duration column in whole ms (an integer column) into out: "-" when NULL. */
const char *cli_fmt_ms(struct query *q, int i, char *out, size_t n);
const char *cli_fmt_int(struct query *q, int i, char *out, size_t n);

/* Format epoch ns as local "MM-DD HH:MM:SS" into out. */
void cli_fmt_time(int64_t ns, char *out, size_t n);

/* Format a cost in USD with what it means: 3 significant digits below a
 * dollar ("0.000006", "0.0123"), cents above ("12.34"), "0" for 0; "-"
 * when negative (unknown). Returns out. */
const char *cli_fmt_usd(double usd, char *out, size_t n);

/* Format a REAL cell the way cli_row_to_json() rounds it (ms to 0.001, USD
 * to 1e-9); "-" when NULL. Returns out. */
const char *cli_fmt_real(struct query *q, int i, char *out, size_t n);

/* Round a REAL column's value to what it means, by its name: *_ms and
 * rates to 0.001, *usd* to 1e-9, anything else to 1e-6. */
double cli_round(const char *name, double v);

/* The one line of an option-syntax error, naming the option, with a hint
 * to `llmtap CMD --help`: opt is getopt_long()'s return, ':' for a
 * missing value (the optstring starts with ':'), '?' for an unknown
 * option. Call with opterr = 0. Returns 2 (a usage error's exit code). */
int cli_opt_error(const char *cmd, char **argv, int opt);

#endif
