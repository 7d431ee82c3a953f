/* redact_int.h -- what redact.c lends redact_stream.c: the scanner that finds every secret of a text. */
#ifndef LLMTAP_REDACT_INT_H
#define LLMTAP_REDACT_INT_H

#include <stddef.h>

#include "base/buf.h"

/* One pass over [s, s + n): the output so far, or (find mode) the spans. */
struct scan {
	const char *s;
	size_t n;
	struct buf out;
	size_t done;		/* s[0, done) is in out */
	int oom;
	size_t (*spans)[2];	/* find mode: where secrets are */
	size_t nspans, cap;
	int find;
};

/* Run every rule over sc->s: the redacted text in sc->out, or (find mode)
 * where the secrets are in sc->spans. sc->oom is set when out of memory. */
void redact_scan(struct scan *sc);

/* Returns 1 when the word [w, w + n) is in list (ASCII case ignored). */
int redact_word_in(const char *w, size_t n, const char *const *list, size_t count);

#endif
