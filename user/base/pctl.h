/* pctl.h -- pure percentiles of a set of values (p50/p95/p99 of `stats`, the report and `top`). */
#ifndef LLMTAP_PCTL_H
#define LLMTAP_PCTL_H

#include <stddef.h>

/* A growing set of values. Zero-initialise; free with pctl_free(). */
struct pctl {
	double *v;
	size_t n, cap;
	int sorted;
};

/* Add one value. Returns 0, -1 when out of memory (the value is lost). */
int pctl_add(struct pctl *p, double v);

/* The p-th percentile (0..100) by linear interpolation between the two
 * nearest ranks (p50 of {1, 2, 3, 4} is 2.5; p0 is the minimum, p100 the
 * maximum). Sorts the set on first use. Returns -1 when the set is empty. */
double pctl_get(struct pctl *p, double pct);

void pctl_free(struct pctl *p);

#endif
