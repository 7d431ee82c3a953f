/* evapi.c -- the body of POST /v1/events: one event object or an array of them, checked and turned into events rows, redacted. */
#include "proto/evapi.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "llm/redact_json.h"

/* Write the reason a body is refused into err (n bytes). */
static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

const char *evapi_severity(const char *s)
{
	static const struct { const char *in, *out; } map[] = {
		{ "debug", "debug" }, { "trace", "debug" }, { "info", "info" }, { "notice", "info" },
		{ "warning", "warning" }, { "warn", "warning" }, { "error", "error" }, { "err", "error" },
		{ "fatal", "fatal" }, { "critical", "fatal" }, { "crit", "fatal" }, { "alert", "fatal" },
		{ "emergency", "fatal" },
	};
	size_t i;

	for (i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcasecmp(s, map[i].in))
			return map[i].out;
	return NULL;
}

/* Parse n digits at s into *v. Returns 0, -1 when they are not digits. */
static int digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* RFC 3339 date-time into epoch ns. Returns 0, -1 when malformed. */
static int parse_rfc3339(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, oh, om;
	int64_t frac = 0, scale = 1000000000;
	struct tm tm = { 0 };
	time_t t;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return -1;
	s += 19;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*s - '0') * scale;
			}
		}
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && !digits(s + 1, 2, &oh) && s[3] == ':' &&
		   !digits(s + 4, 2, &om) && oh < 24 && om < 60) {
		t -= (*s == '+' ? 1 : -1) * (oh * 3600 + om * 60);
		s += 6;
	} else {
		return -1;
	}
	if (*s || t < 0)
		return -1;
	*ns = (int64_t)t * 1000000000 + frac;
	return 0;
}

int evapi_parse_time(const json_t *v, int64_t *ns)
{
	double x, whole, scale;

	if (json_is_string(v))
		return parse_rfc3339(json_string_value(v), ns);
	if (!json_is_number(v))
		return -1;
	x = json_number_value(v);
	if (x < 0)
		return -1;
	scale = x < 1e11 ? 1e9 : x < 1e14 ? 1e6 : x < 1e17 ? 1e3 : 1;
	if (x * scale > 9.2e18)
		return -1;
	if (json_is_integer(v)) {
		*ns = json_integer_value(v) * (int64_t)scale;
		return 0;
	}
	/* whole and fraction apart: 1765000000.25 s is exactly ...250000000 ns */
	whole = (double)(int64_t)x;
	*ns = (int64_t)whole * (int64_t)scale + (int64_t)((x - whole) * scale + 0.5);
	return 0;
}

/* One event object into a row appended to out. Returns 0, -1 (err set). */
static int event_add(const json_t *o, size_t idx, int many, int64_t now_ns, struct otlp_rows *out,
		     char *err, size_t errlen)
{
	static const char *const known[] = { "name", "timestamp", "severity", "pid", "attributes" };
	char where[32] = "";
	const char *key, *name, *sev = "info";
	struct event_row *r;
	json_t *v, *attrs = NULL;
	int64_t ts = now_ns, pid = PROC_NULL;
	size_t i;

	if (many)
		snprintf(where, sizeof(where), "event %zu: ", idx);
	if (!json_is_object(o)) {
		set_err(err, errlen, "%san event must be a JSON object", where);
		return -1;
	}
	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]); i++)
			;
		if (i == sizeof(known) / sizeof(known[0])) {
			set_err(err, errlen, "%sunknown field '%.40s' (fields: name, timestamp, severity, pid, "
				"attributes)", where, key);
			return -1;
		}
	}
	name = json_string_value(json_object_get(o, "name"));
	if (!name || !*name || strlen(name) > EVAPI_NAME_MAX) {
		set_err(err, errlen, "%s\"name\" must be a non-empty string of at most %d bytes", where,
			EVAPI_NAME_MAX);
		return -1;
	}
	v = json_object_get(o, "timestamp");
	if (v && !json_is_null(v) && evapi_parse_time(v, &ts)) {
		set_err(err, errlen, "%s\"timestamp\" must be Unix time (s, ms, us or ns) or an RFC 3339 "
			"string", where);
		return -1;
	}
	v = json_object_get(o, "severity");
	if (v && !json_is_null(v) && !(sev = evapi_severity(json_string_value(v)))) {
		set_err(err, errlen, "%s\"severity\" must be debug, info, warning, error or fatal", where);
		return -1;
	}
	v = json_object_get(o, "pid");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 0x7fffffff) {
			set_err(err, errlen, "%s\"pid\" must be a positive integer", where);
			return -1;
		}
		pid = json_integer_value(v);
	}
	v = json_object_get(o, "attributes");
	if (v && !json_is_null(v) && !json_is_object(v)) {
		set_err(err, errlen, "%s\"attributes\" must be a JSON object", where);
		return -1;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out_oom;
	r->source = "agent";
	r->ts_ns = ts;
	snprintf(r->severity, sizeof(r->severity), "%s", sev);
	r->pid = pid;
	r->name = redact_json_text(name);
	if (v && json_is_object(v) && json_object_size(v)) {
		attrs = json_deep_copy(v);
		if (!attrs || redact_json(attrs) || !(r->attributes = json_dumps(attrs, JSON_COMPACT))) {
			json_decref(attrs);
			row_free(ROW_EVENT, r);
			goto out_oom;
		}
		json_decref(attrs);
	}
	if (!r->name) {
		row_free(ROW_EVENT, r);
		goto out_oom;
	}
	if (otlp_rows_add(out, ROW_EVENT, r))
		goto out_oom;
	return 0;

out_oom:
	set_err(err, errlen, "out of memory");
	return -1;
}

int evapi_decode(const void *body, size_t len, int64_t now_ns, struct otlp_rows *out, char *err,
		 size_t errlen)
{
	size_t first = out->n, i;
	json_error_t je;
	json_t *root, *o;
	int rc = 0;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		set_err(err, errlen, "bad JSON at line %d, column %d: %s", je.line, je.column, je.text);
		return -1;
	}
	if (json_is_array(root)) {
		if (json_array_size(root) > OTLP_ITEMS_MAX) {
			set_err(err, errlen, "more than %d events in one request", OTLP_ITEMS_MAX);
			rc = -1;
		}
		json_array_foreach(root, i, o) {
			if (rc || (rc = event_add(o, i, 1, now_ns, out, err, errlen)))
				break;
		}
	} else {
		rc = event_add(root, 0, 0, now_ns, out, err, errlen);
	}
	json_decref(root);
	if (rc) {
		while (out->n > first)
			row_free(ROW_EVENT, out->rows[--out->n]);
		return -1;
	}
	return (int)(out->n - first);
}
