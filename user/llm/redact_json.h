/* redact_json.h -- redact.c's rules applied to a JSON value: what agents post and export is redacted like captured data. */
#ifndef LLMTAP_REDACT_JSON_H
#define LLMTAP_REDACT_JSON_H

#include <jansson.h>

/* Redact v in place, recursively: a string member whose name (or the last
 * dot-separated part of it, "http.request.header.authorization") names a
 * credential by redact_header_is_secret() or says password becomes
 * REDACTED unless it is a plain number; every other string goes through
 * redact_text() (Bearer tokens, key shapes), and one that carries a query
 * ("?") through redact_target() too. Numbers and booleans are kept.
 * Returns 0, -1 when out of memory (v may then be partly redacted: the
 * caller must not store it). */
int redact_json(json_t *v);

/* A malloc'd copy of a free-text string redacted as redact_json() does a
 * string value (NULL for NULL or on OOM). */
char *redact_json_text(const char *s);

#endif
