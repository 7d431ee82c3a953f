/* harness.h -- a tiny unit-test harness: CHECK macros and a closing "N passed, N failed" line. */
#ifndef LLMTAP_HARNESS_H
#define LLMTAP_HARNESS_H

#include <stdio.h>
#include <string.h>

static int h_passed, h_failed;

/* One assertion. Prints the failing expression with file:line, counts either way. */
#define CHECK(cond)                                                              \
	do {                                                                     \
		if (cond) {                                                      \
			h_passed++;                                              \
		} else {                                                         \
			h_failed++;                                              \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__,  \
				#cond);                                          \
		}                                                                \
	} while (0)

/* Like CHECK but names the case being run (e.g. a split position) on failure. */
#define CHECKF(cond, ...)                                                        \
	do {                                                                     \
		if (cond) {                                                      \
			h_passed++;                                              \
		} else {                                                         \
			h_failed++;                                              \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__,  \
				#cond);                                          \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
		}                                                                \
	} while (0)

#define CHECK_STR(a, b)                                                          \
	do {                                                                     \
		const char *h_a = (a), *h_b = (b); /* arrays too */              \
		CHECKF(h_a && h_b && strcmp(h_a, h_b) == 0,                      \
		       "got \"%s\" want \"%s\"", h_a ? h_a : "(null)",          \
		       h_b ? h_b : "(null)");                                    \
	} while (0)

/* Print the closing line; the process exit code says whether all passed. */
static inline int harness_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, h_passed, h_failed);
	return h_failed ? 1 : 0;
}

#endif
