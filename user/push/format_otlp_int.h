/* format_otlp_int.h -- what format_otlp.c lends format_otlp_run.c: the OTLP attribute writers. */
#ifndef LLMTAP_FORMAT_OTLP_INT_H
#define LLMTAP_FORMAT_OTLP_INT_H

#include <stdint.h>

#include "base/buf.h"

/* Attribute writers: each appends ",{...}" except before the first of a list. */
struct attrs {
	struct buf *b;
	int n;		/* written so far in this list */
	int rc;
};

/* Open an attribute named key: {"key":..,"value":{ */
void attrs_key(struct attrs *a, const char *key);
/* A stringValue attribute; nothing when v is NULL. */
void attrs_str(struct attrs *a, const char *key, const char *v);
/* An intValue attribute; nothing when v is CALL_NULL_INT. */
void attrs_int(struct attrs *a, const char *key, int64_t v);
/* A doubleValue attribute; nothing when v < 0. */
void attrs_double(struct attrs *a, const char *key, double v);
/* A boolValue attribute; nothing when v is CALL_NULL_INT. */
void attrs_bool(struct attrs *a, const char *key, int64_t v);
/* An arrayValue attribute of the one string v; nothing when v is NULL. */
void attrs_str_array1(struct attrs *a, const char *key, const char *v);

#endif
