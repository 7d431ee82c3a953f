/* test_pctl.c -- unit tests for percentiles: known sets, interpolation, order of insertion, empty set. */
#include <math.h>
#include <stdlib.h>

#include "base/pctl.h"
#include "harness.h"

static int near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

int main(void)
{
	struct pctl p = { 0 };
	int i;

	CHECK(pctl_get(&p, 50) < 0);
	pctl_add(&p, 7);
	CHECK(near(pctl_get(&p, 50), 7) && near(pctl_get(&p, 99), 7) && near(pctl_get(&p, 0), 7));
	pctl_free(&p);

	for (i = 4; i >= 1; i--)
		pctl_add(&p, i);
	CHECK(near(pctl_get(&p, 50), 2.5));
	CHECK(near(pctl_get(&p, 0), 1) && near(pctl_get(&p, 100), 4));
	CHECK(near(pctl_get(&p, 25), 1.75));
	pctl_add(&p, 0);	/* unsorted again */
	CHECK(near(pctl_get(&p, 50), 2));
	pctl_free(&p);

	/* 1..1000 shuffled: p95 = 950.05, p99 = 990.01 */
	srand(7);
	{
		double v[1000];

		for (i = 0; i < 1000; i++)
			v[i] = i + 1;
		for (i = 999; i > 0; i--) {
			int j = rand() % (i + 1);
			double t = v[i];

			v[i] = v[j];
			v[j] = t;
		}
		for (i = 0; i < 1000; i++)
			CHECK(pctl_add(&p, v[i]) == 0);
	}
	CHECK(near(pctl_get(&p, 50), 500.5));
	CHECK(near(pctl_get(&p, 95), 950.05));
	CHECK(near(pctl_get(&p, 99), 990.01));
	pctl_free(&p);
	return harness_done("test_pctl");
}
