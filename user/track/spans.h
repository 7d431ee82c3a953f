/* spans.h -- agent spans joined to the captured calls they describe: same process, overlapping time, same model. */
#ifndef LLMTAP_SPANS_H
#define LLMTAP_SPANS_H

#include <stddef.h>
#include <stdint.h>

#include "db/rows.h"

#define SPANS_CALLS_MAX 4096			/* recent calls remembered for joins */
#define SPANS_CALLS_KEEP_NS (15 * 60 * 1000000000ll)	/* ... for this long */
#define SPANS_GRACE_NS 3000000000ll		/* a span waits this long past its end */
#define SPANS_SLACK_NS 50000000ll		/* clocks of SDKs and kernel may differ so much */
#define SPANS_WAITING_MAX 50000			/* past this, the oldest waiting span goes at once */

/* A call as the join sees it. */
struct span_call {
	char id[37];
	int64_t pid;
	int64_t start_ns, end_ns;	/* Unix epoch ns */
	char model[96];
};

/* How well call c fits span s: the overlap of their times over the longer
 * of the two (0..1], or 0 when they do not describe each other (another
 * process, no overlap even with SPANS_SLACK_NS, other model, or a span
 * without a model). Pure. */
double spans_score(const struct span_row *s, const struct span_call *c);

struct span_join;

/* A new join writing finished span rows to sink. NULL on OOM. */
struct span_join *spans_new(const struct row_sink *sink);
/* Write the spans still waiting (joined as well as they can be), then free. */
void spans_free(struct span_join *j);

/* Remember a call row that is being written (its fields are copied). */
void spans_call(struct span_join *j, const struct call_row *c);

/* Take a span: it is written once SPANS_GRACE_NS have passed since its end
 * (or its arrival, whichever is later), with call_id set to the best-fitting
 * remembered call; sooner when SPANS_WAITING_MAX spans wait (memory stays
 * bounded under a flood). A span without a model is written at once. */
void spans_add(struct span_join *j, struct span_row *s);

/* Write the spans whose time has come (every span with all set). now is
 * Unix epoch ns. */
void spans_tick(struct span_join *j, int64_t now_ns, int all);

/* Spans waiting. */
size_t spans_waiting(const struct span_join *j);

#endif
