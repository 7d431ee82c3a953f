/* common.c -- what the read-side commands share: the default database, option parsing, cells and rows printed as text or JSON. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db/query.h"
#include "db/store.h"
#include "push/format.h"
#include "base/util.h"

const char *cli_default_db(void)
{
	const char *db = getenv("LLMTAP_DB");

	if (!(db && *db))
		db = config_file_value("db");	/* /etc/llmtap.conf, as `run` reads it */
	return db && *db ? db : "./llmtap.db";
}

/* The current row of q as a JSON object, column names as keys. */
json_t *cli_row_to_json(struct query *q)
{
	json_t *o = json_object();
	int i, n = query_ncols(q);

	for (i = 0; i < n; i++) {
		const char *name = query_name(q, i);
		json_t *v;

		switch (query_type(q, i)) {
		case QUERY_INT:
			v = json_integer(query_int(q, i));
			break;
		case QUERY_REAL:
			v = json_real(cli_round(name, query_real(q, i)));
			break;
		case QUERY_TEXT:
			v = json_stringn_nocheck(query_text(q, i), query_bytes(q, i));
			break;
		default:
			v = json_null();
		}
		json_object_set_new(o, name, v);
	}
	return o;
}

/* Print o as one line and drop it. */
void cli_json_print(json_t *o)
{
	/* 15 significant digits: a value rounded by cli_round() prints as written */
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));

	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

/* Print the current row of q as one JSON line. */
void cli_row_print_json(struct query *q)
{
	cli_json_print(cli_row_to_json(q));
}

int cli_parse_since(const char *s, int64_t *ns)
{
	static const char *const fmts[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d %H:%M", "%Y-%m-%d",
	};
	double secs;
	struct tm tm;
	size_t i;
	char *end;
	time_t t;

	if (!parse_duration(s, &secs)) {
		*ns = (int64_t)real_ns() - (int64_t)(secs * 1e9);
		return 0;
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, fmts[i], &tm);
		if (!end || (*end && strcmp(end, "Z")))
			continue;
		tm.tm_isdst = -1;
		t = *end == 'Z' ? timegm(&tm) : mktime(&tm);
		*ns = (int64_t)t * 1000000000;
		return 0;
	}
	return -1;
}

/* Parse a positive integer option value; on error say which option. Returns 0 or -1. */
int cli_parse_positive(const char *arg, const char *opt, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0) {
		fprintf(stderr, "llmtap: bad %s value '%s'\n", opt, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* Column i of q's row as text; dflt when NULL or absent. */
const char *cli_col_text(struct query *q, int i, const char *dflt)
{
	const char *t = query_text(q, i);

	return t ? t : dflt;
}

/* Column name of q's row as text; dflt when NULL or absent. */
const char *cli_col_named(struct query *q, const char *name, const char *dflt)
{
	return cli_col_text(q, query_index(q, name), dflt);
}

/* Format a duration column in whole ms into out: "-" when NULL. */
const char *cli_fmt_ms(struct query *q, int i, char *out, size_t n)
{
	if (query_type(q, i) == QUERY_NULL)
		return "-";
	snprintf(out, n, "%.0f", query_real(q, i));
	return out;
}

/* Format an integer column into out: "-" when NULL. */
const char *cli_fmt_int(struct query *q, int i, char *out, size_t n)
{
	if (query_type(q, i) == QUERY_NULL)
		return "-";
	snprintf(out, n, "%lld", (long long)query_int(q, i));
	return out;
}

/* Format epoch ns as local "MM-DD HH:MM:SS" into out. */
void cli_fmt_time(int64_t ns, char *out, size_t n)
{
	time_t t = ns / 1000000000;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, n, "%m-%d %H:%M:%S", &tm);
}


double cli_round(const char *name, double v)
{
	size_t n = name ? strlen(name) : 0;
	double scale = 1e6;

	if (!isfinite(v))
		return 0;
	if (n > 3 && (!strcmp(name + n - 3, "_ms") || strstr(name, "_ms_")))
		scale = 1e3;
	else if (name && strstr(name, "usd"))
		scale = 1e9;
	else if (name && (strstr(name, "per_s") || strstr(name, "per_min") || strstr(name, "pct")))
		scale = 1e3;
	return round(v * scale) / scale;
}

const char *cli_fmt_usd(double usd, char *out, size_t n)
{
	int decimals;
	char *e;

	if (usd < 0 || !isfinite(usd)) {
		snprintf(out, n, "-");
		return out;
	}
	if (usd == 0) {
		snprintf(out, n, "0");
		return out;
	}
	if (usd >= 1) {
		snprintf(out, n, "%.2f", usd);
		return out;
	}
	/* 3 significant digits, then no trailing zeros */
	decimals = 2 - (int)floor(log10(usd));
	if (decimals > 9)
		decimals = 9;
	snprintf(out, n, "%.*f", decimals, usd);
	if (strchr(out, '.')) {
		for (e = out + strlen(out) - 1; *e == '0'; e--)
			*e = 0;
		if (*e == '.')
			*e = 0;
	}
	if (!strcmp(out, "0"))
		snprintf(out, n, "<0.000000001");
	return out;
}

const char *cli_fmt_real(struct query *q, int i, char *out, size_t n)
{
	const char *name = query_name(q, i);
	double v;

	if (query_type(q, i) == QUERY_NULL)
		return "-";
	v = query_real(q, i);
	if (name && strstr(name, "usd"))
		return cli_fmt_usd(v, out, n);
	snprintf(out, n, "%.15g", cli_round(name, v));
	return out;
}

int cli_opt_error(const char *cmd, char **argv, int opt)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	char shortopt[3] = { '-', (char)optopt, 0 };

	/* a short option grouped with others ("-vx") is named alone */
	if (optopt > 0 && optopt < 0x100 && (arg[0] != '-' || arg[1] != '-'))
		arg = shortopt;
	if (opt == ':')
		fprintf(stderr, "llmtap %s: option '%s' needs a value; try 'llmtap %s --help'\n",
			cmd, arg, cmd);
	else
		fprintf(stderr, "llmtap %s: unknown option '%s'; try 'llmtap %s --help'\n", cmd, arg, cmd);
	return 2;
}
