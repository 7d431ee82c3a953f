/* config.h -- `llmtap run` options from a config file and the environment, under the command line's. */
#ifndef LLMTAP_CONFIG_H
#define LLMTAP_CONFIG_H

#include <getopt.h>

#define CONFIG_DEFAULT_PATH "/etc/llmtap.conf"

/* The effective argv of a command: argv[0], then the options of the config
 * file (--config FILE, else $LLMTAP_CONFIG, else /etc/llmtap.conf when it
 * exists; "key = value" lines, keys the long option names), then those of
 * the environment (LLMTAP_<NAME>, e.g. LLMTAP_PUSH, LLMTAP_PUSH_BATCH; a
 * list for a repeatable option is separated by spaces or commas), then
 * argv's own. An option set at a later level replaces every value of it
 * from the earlier ones, so flags win. opts is the command's getopt table.
 * Returns 0 and *out_argc, *out_argv (free with config_free), or 2 after
 * printing why (unknown key, unreadable file). */
int config_argv(int argc, char **argv, const struct option *opts, int *out_argc, char ***out_argv);
void config_free(char **argv);

/* The bearer token for JSON push targets: $LLMTAP_PUSH_TOKEN, else
 * "push-token" of the config file read by the last config_argv(). NULL when
 * none. Never printed. */
const char *config_push_token(void);

/* A key of the default config file (/etc/llmtap.conf, or $LLMTAP_CONFIG),
 * for commands that take no --config (e.g. "db" for calls/stats). NULL when unset. */
const char *config_file_value(const char *key);

#endif
