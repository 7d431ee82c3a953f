/* format.h -- pure helpers of the push targets: push URLs, a JSON writer, ClickHouse DDL and rows, JSON batches, gzip, backoff. */
#ifndef LLMTAP_PUSH_FORMAT_H
#define LLMTAP_PUSH_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"

/* ---- push URLs ---- */

enum push_kind {
	PUSH_CLICKHOUSE,	/* clickhouse://[user:pass@]host[:8123]/DB (clickhouses:// for https) */
	PUSH_OTLP,		/* otlp+http://host[:4318][/prefix], otlp+https:// */
	PUSH_JSON,		/* http(s)://host[:port]/path: generic JSON batches */
};

/* A parsed --push URL. Every string is malloc'd. */
struct push_url {
	enum push_kind kind;
	int tls;
	char *user, *pass;	/* percent-decoded; NULL when absent */
	char *host;		/* as written (an IPv6 literal keeps its brackets) */
	int port;
	char *database;		/* ClickHouse: the database ("default" when none) */
	char *endpoint;		/* the URL requests go to, without credentials */
	char *key;		/* the target's name in push_state and in messages: the URL
				 * without password and query (never carries a secret) */
};

/* Parse s. Returns 0 and *u, or -1 with a reason in err (which never
 * repeats the password). */
int push_url_parse(const char *s, struct push_url *u, char *err, size_t errlen);
void push_url_free(struct push_url *u);

/* ---- JSON writer ---- */

/* Append s[0..n) as a JSON string: quoted, escaped; invalid UTF-8 becomes
 * U+FFFD. Returns 0, -1 on OOM (as do the others). */
int jw_str(struct buf *b, const char *s, size_t n);
int jw_cstr(struct buf *b, const char *s);	/* NUL-terminated; NULL writes null */
int jw_int(struct buf *b, int64_t v);
int jw_real(struct buf *b, double v);		/* non-finite writes null */

/* ---- rows ---- */

enum pcol_type { PCOL_STRING, PCOL_INT, PCOL_UINT, PCOL_FLOAT };

/* A column as pushed: its name, type and whether it may be NULL. */
struct pcol {
	const char *name;
	enum pcol_type type;
	int nullable;
};

/* A value of a row; s is not NUL-terminated (n bytes). */
struct pval {
	int null;
	int64_t i;
	double d;
	const char *s;
	size_t n;
};

/* The pushed type of a SQLite column from its declared type and name:
 * INTEGER columns named *_ns are UINT (Unix epoch ns), other INT types INT,
 * REAL/FLOAT/DOUBLE/NUMERIC FLOAT, everything else STRING. */
enum pcol_type pcol_type_of(const char *decl, const char *name);

/* The ClickHouse type of a column, e.g. "Nullable(Int64)". */
const char *ch_type(const struct pcol *c);

/* Append one JSON object {"name": value, ...} for the row, each value
 * coerced to its column's type; a NULL in a non-nullable column becomes
 * 0 or "" (a negative UINT is NULL, or 0). */
int push_row_json(struct buf *b, const struct pcol *cols, const struct pval *vals, int n);

/* Append CREATE TABLE IF NOT EXISTS `db`.`table` (first, cols...) ENGINE =
 * ReplacingMergeTree(version) PARTITION BY toYYYYMM(partition) ORDER BY (order_by);
 * first is raw column SQL put before cols ("host_id String, ..."). */
int ch_create_sql(struct buf *b, const char *db, const char *table, const char *first,
		  const struct pcol *cols, int n, const char *version, const char *partition,
		  const char *order_by);
/* Append ALTER TABLE `db`.`table` ADD COLUMN `name` type. */
int ch_add_column_sql(struct buf *b, const char *db, const char *table, const struct pcol *c);

/* The ClickHouse HTTP query string for an INSERT of JSONEachRow rows into
 * `db`.`table`: "query=INSERT...&input_format_skip_unknown_fields=1" (url-escaped). */
int ch_insert_query(struct buf *b, const char *db, const char *table);

/* Append s percent-encoded for a URL query value. */
int url_escape(struct buf *b, const char *s);

/* Generic JSON batch: open writes {"host_id":..,"batch_id":..,"table":..,"rows":[
 * and close writes ]}; rows between them are separated by commas by the caller. */
int push_batch_open(struct buf *b, const char *host_id, const char *batch_id, const char *table);
int push_batch_close(struct buf *b);

/* ---- transport helpers ---- */

/* gzip in[0..n) into out (appended). Returns 0, -1 on error. */
int gzip_buf(const void *in, size_t n, struct buf *out);

/* Seconds to wait after the failures-th consecutive failure (>= 1):
 * base * 2^(failures-1), capped at max, with "equal jitter": the upper half
 * of that range picked by rnd (uniform over 0..UINT32_MAX). */
double push_backoff_s(int failures, double base, double max, uint32_t rnd);

/* Parse a Retry-After value: delta seconds ("120") or an HTTP date ("Wed,
 * 21 Oct 2015 07:28:00 GMT") relative to now. Returns 0 and *secs (>= 0),
 * -1 when malformed. */
int retry_after_parse(const char *v, time_t now, double *secs);

/* 1 when an HTTP status of an OTLP export may be retried (429, 502, 503, 504), else 0. */
int otlp_status_retryable(long status);

#endif
