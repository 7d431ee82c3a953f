/* pctl.c -- pure percentiles of a set of values (p50/p95/p99 of `stats`, the report and `top`). */
#include "base/pctl.h"

#include <stdlib.h>

int pctl_add(struct pctl *p, double v)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		double *nv = realloc(p->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = v;
	p->sorted = 0;
	return 0;
}

/* qsort order of doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double pctl_get(struct pctl *p, double pct)
{
	double rank, frac;
	size_t lo;

	if (!p->n)
		return -1;
	if (!p->sorted) {
		qsort(p->v, p->n, sizeof(*p->v), cmp_double);
		p->sorted = 1;
	}
	if (pct <= 0)
		return p->v[0];
	if (pct >= 100)
		return p->v[p->n - 1];
	rank = pct / 100 * (double)(p->n - 1);
	lo = (size_t)rank;
	frac = rank - (double)lo;
	if (lo + 1 >= p->n)
		return p->v[p->n - 1];
	return p->v[lo] + frac * (p->v[lo + 1] - p->v[lo]);
}

void pctl_free(struct pctl *p)
{
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}
