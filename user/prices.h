/* prices.h -- which price table a command uses: --prices FILE, $LLMTAP_PRICES, `prices =` of the config file, else the one built in. */
#ifndef LLMTAP_PRICES_H
#define LLMTAP_PRICES_H

struct price_table;

/* Load the price table (file: --prices FILE, may be NULL; then
 * $LLMTAP_PRICES, then "prices" of the default config file, then the
 * table built into the binary) and make it the one cost_estimate() uses.
 * Returns 0, or -1 after one line on stderr naming the file and the line
 * that is wrong (nothing is half-loaded). */
int prices_setup(const char *file);

/* The table loaded, and where it came from: the file's path, or
 * "built-in" (NULL before prices_setup()). */
const struct price_table *prices_loaded(void);
const char *prices_origin(void);

#endif
