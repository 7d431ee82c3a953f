/* cli.h -- the read-side commands (calls, show, stats, dns) and what they share: options, cells and rows as text or JSON. */
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
int cmd_scan(int argc, char **argv);

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

#endif
