/* fuzz_prices.c -- libFuzzer harness: the price table parser, lookups and error kinds on any bytes must not crash, and a parsed table prices within bounds. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "llm/cost.h"
#include "llm/errtype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct price_table *t;
	char err[256], text[512];
	struct errtype_in in = { 0 };
	size_t i, n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	if (!prices_parse(&t, (const char *)data, size, err, sizeof(err))) {
		for (i = 0; i < t->n; i++) {
			const struct price *p = prices_lookup(t, t->rows[i].provider, t->rows[i].model);

			assert(p && p->in >= 0 && p->out >= 0);
		}
		cost_use(t);
		memcpy(text, data, n);
		text[n] = 0;
		assert(cost_estimate(NULL, text, 1000, 1000, 10, 10) < 1e6);
		cost_use(NULL);
		prices_free(t);
	} else {
		assert(!strncmp(err, "line ", 5));
	}
	/* the same bytes as a provider's error text */
	memcpy(text, data, n);
	text[n] = 0;
	in.api_error = text;
	in.capture = text;
	in.status = size ? data[0] * 3 : 0;
	errtype_of(&in);
	return 0;
}
