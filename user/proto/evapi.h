/* evapi.h -- the body of POST /v1/events: one event object or an array of them, checked and turned into events rows, redacted. */
#ifndef LLMTAP_EVAPI_H
#define LLMTAP_EVAPI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/otlp.h"

#define EVAPI_NAME_MAX 256	/* bytes of an event's name */

/* Decode body: {"name": S, "timestamp": T, "severity": S, "pid": N,
 * "attributes": {...}} or an array of such objects (name required, the
 * rest optional). Rows (ROW_EVENT, source "agent", id left empty) are
 * appended to out: ts_ns from timestamp (else now_ns), severity
 * normalised (info by default), attributes redacted. Returns the number of
 * rows, or -1 with a reason in err naming the event and field (nothing
 * appended then). */
int evapi_decode(const void *body, size_t len, int64_t now_ns, struct otlp_rows *out, char *err,
		 size_t errlen);

/* A timestamp as Unix epoch ns: a number of seconds, ms, us or ns since
 * the epoch (told apart by size: below 1e11 seconds, 1e14 ms, 1e17 us),
 * or an RFC 3339 string ("2026-12-06T10:00:00.250Z", "...+02:00").
 * Returns 0, -1 when malformed or before 1970. */
int evapi_parse_time(const json_t *v, int64_t *ns);

/* The stored severity for s: debug, info, warning, error or fatal (aliases
 * trace, notice, warn, err, critical, crit, alert, emergency accepted,
 * any case); NULL when unknown. */
const char *evapi_severity(const char *s);

#endif
