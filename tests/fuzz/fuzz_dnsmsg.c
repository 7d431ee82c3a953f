/* fuzz_dnsmsg.c -- libFuzzer harness: the DNS message parser on any bytes; a valid message's prefixes must all say "more input". */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dnsmsg m;
	size_t cut;
	int rc, prc;

	rc = dnsmsg_parse(data, size, &m);
	assert(rc == -1 || rc == -2 || (rc >= 12 && (size_t)rc <= size));
	assert(strlen(m.qname) < DNSMSG_NAME_MAX);
	assert(m.naddrs <= DNSMSG_ADDRS_MAX && m.naddrs <= m.naddrs_total);
	if (rc > 0) {
		/* Copy the prefix so a read past its end is caught by ASan. */
		cut = size ? data[size - 1] % (size_t)rc : 0;
		uint8_t *p = malloc(cut ? cut : 1);

		if (!p)
			return 0;
		memcpy(p, data, cut);
		prc = dnsmsg_parse(p, cut, &m);
		assert(prc == -2);
		free(p);
	}
	return 0;
}
