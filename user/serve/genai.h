/* genai.h -- the OpenTelemetry GenAI client metrics of /metrics: operation duration, token usage and time to first chunk as Prometheus histograms. */
#ifndef LLMTAP_GENAI_H
#define LLMTAP_GENAI_H

#include <stddef.h>

struct buf;
struct call_row;
struct genai_metrics;

#define GENAI_SERIES_MAX 512	/* label sets kept; later ones count as model "_other" */

/* A new, empty set of metrics; NULL when out of memory. */
struct genai_metrics *genai_new(void);

/* Count one finished call (any thread; a mutex guards the counts): its
 * duration, its input and output tokens when reported, its time to first
 * chunk when streamed, and its cost, under the labels of its operation,
 * provider, model and error kind. */
void genai_observe(struct genai_metrics *m, const struct call_row *r);

/* Append the metrics in the Prometheus text format 0.0.4 (HELP, TYPE,
 * _bucket{le}, _sum, _count). NULL m appends the families with no series. */
void genai_write(struct genai_metrics *m, struct buf *b);

/* Free. NULL-safe. */
void genai_free(struct genai_metrics *m);

#endif
