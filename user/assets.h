/* assets.h -- files of the repository embedded in the binary by assets.S: the default price table and the HTML report's page. */
#ifndef LLMTAP_ASSETS_H
#define LLMTAP_ASSETS_H

#include <stddef.h>

/* data/prices.tsv, as it was at build time; NUL-terminated. */
extern const char asset_prices_tsv[];
extern const char asset_prices_tsv_end[];

/* data/report.html: the report's page (style and script), data spliced in. NUL-terminated. */
extern const char asset_report_html[];
extern const char asset_report_html_end[];

/* The length of an asset: its end symbol minus its start, less the NUL. */
#define ASSET_LEN(name) ((size_t)(asset_##name##_end - asset_##name) - 1)

#endif
