/* cli.h -- the read-side commands: calls, show, stats, dns. */
#ifndef LLMTAP_CLI_H
#define LLMTAP_CLI_H

/* $LLMTAP_DB, else ./llmtap.db */
const char *cli_default_db(void);

/* Each returns the process exit code: 0 ok, 1 runtime error, 2 usage error. */
int cmd_calls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_dns(int argc, char **argv);

#endif
