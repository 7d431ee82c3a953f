/* test_pushfmt.c -- push URLs, the JSON writer, ClickHouse DDL and rows, JSON batches, gzip, backoff, Retry-After. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "harness.h"
#include "push/format.h"

static void url_ok(const char *s, enum push_kind kind, const char *endpoint, const char *key,
		   const char *user, const char *pass, const char *db)
{
	struct push_url u;
	char err[128] = "";

	CHECKF(push_url_parse(s, &u, err, sizeof(err)) == 0, "%s: %s", s, err);
	CHECKF(u.kind == kind, "%s: kind %d", s, u.kind);
	CHECK_STR(u.endpoint, endpoint);
	CHECK_STR(u.key, key);
	CHECKF((!user && !u.user) || (user && u.user && !strcmp(user, u.user)), "%s: user", s);
	CHECKF((!pass && !u.pass) || (pass && u.pass && !strcmp(pass, u.pass)), "%s: pass", s);
	CHECKF((!db && !u.database) || (db && u.database && !strcmp(db, u.database)), "%s: db", s);
	/* the key never carries the password */
	CHECKF(!u.pass || !strstr(u.key, u.pass), "%s: password in key", s);
	push_url_free(&u);
}

static void url_bad(const char *s)
{
	struct push_url u;
	char err[128] = "";

	if (!push_url_parse(s, &u, err, sizeof(err))) {
		CHECKF(0, "%s accepted", s);
		push_url_free(&u);
		return;
	}
	CHECKF(err[0], "%s: no reason", s);
	CHECKF(!strstr(err, "s3cret"), "%s: error repeats the password: %s", s, err);
}

static void test_urls(void)
{
	url_ok("clickhouse://127.0.0.1:18123/llmtap", PUSH_CLICKHOUSE, "http://127.0.0.1:18123/",
	       "clickhouse://127.0.0.1:18123/llmtap", NULL, NULL, "llmtap");
	url_ok("clickhouse://bob:s3cret@ch.local/fleet_1", PUSH_CLICKHOUSE, "http://ch.local:8123/",
	       "clickhouse://bob@ch.local:8123/fleet_1", "bob", "s3cret", "fleet_1");
	url_ok("clickhouse://u:p%40ss%3A@h:9/", PUSH_CLICKHOUSE, "http://h:9/", "clickhouse://u@h:9/default",
	       "u", "p@ss:", "default");
	url_ok("clickhouses://h/db", PUSH_CLICKHOUSE, "https://h:8443/", "clickhouses://h:8443/db",
	       NULL, NULL, "db");
	url_ok("otlp+http://127.0.0.1:4318", PUSH_OTLP, "http://127.0.0.1:4318/v1/traces",
	       "otlp+http://127.0.0.1:4318", NULL, NULL, NULL);
	url_ok("otlp+https://collector/otel/", PUSH_OTLP, "https://collector:4318/otel/v1/traces",
	       "otlp+https://collector:4318/otel", NULL, NULL, NULL);
	url_ok("otlp+http://c:4318/v1/traces", PUSH_OTLP, "http://c:4318/v1/traces",
	       "otlp+http://c:4318/v1/traces", NULL, NULL, NULL);
	url_ok("http://[::1]:8080/ingest?x=1", PUSH_JSON, "http://[::1]:8080/ingest?x=1",
	       "http://[::1]:8080/ingest", NULL, NULL, NULL);
	url_ok("HTTPS://fleet.example.com", PUSH_JSON, "https://fleet.example.com:443/",
	       "https://fleet.example.com:443", NULL, NULL, NULL);
	url_bad("ftp://h/x");
	url_bad("clickhouse:/h");
	url_bad("clickhouse://:8123/db");
	url_bad("clickhouse://h:0/db");
	url_bad("clickhouse://h:99999/db");
	url_bad("clickhouse://h:12x/db");
	url_bad("clickhouse://h/db?x=1");
	url_bad("clickhouse://h/db-1");
	url_bad("clickhouse://u:s3cret%zz@h/db");
	url_bad("http://h/a b");
	url_bad("http://h/#frag");
	url_bad("http://[::1/");
	url_bad("");
}

/* jw_str output parses back (jansson) to want. */
static void jstr(const char *in, size_t n, const char *want)
{
	struct buf b = { 0 };
	json_t *j;

	CHECK(jw_str(&b, in, n) == 0);
	j = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	CHECKF(json_is_string(j), "not a JSON string: %s", (const char *)b.data);
	CHECKF(j && json_string_length(j) == strlen(want) && !memcmp(json_string_value(j), want, strlen(want)),
	       "got %s", (const char *)b.data);
	json_decref(j);
	buf_free(&b);
}

static void test_json_writer(void)
{
	struct buf b = { 0 };

	jstr("plain", 5, "plain");
	jstr("q\"b\\s/\n\r\t\x01\x1f", 11, "q\"b\\s/\n\r\t\x01\x1f");
	jstr("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac", 14, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac");
	/* invalid UTF-8: stray continuation, overlong, surrogate, truncated sequence */
	jstr("a\x80" "b", 3, "a\xef\xbf\xbd" "b");
	jstr("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	jstr("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	jstr("x\xe2\x82", 3, "x\xef\xbf\xbd\xef\xbf\xbd");
	CHECK(jw_str(&b, "a\0b", 3) == 0);
	CHECK_STR((const char *)b.data, "\"a\\u0000b\"");
	buf_reset(&b);
	CHECK(jw_cstr(&b, NULL) == 0 && !strcmp((const char *)b.data, "null"));
	buf_reset(&b);
	jw_int(&b, INT64_MIN);
	CHECK_STR((const char *)b.data, "-9223372036854775808");
	buf_reset(&b);
	jw_real(&b, 0.1);
	CHECK(strtod((const char *)b.data, NULL) == 0.1);
	buf_reset(&b);
	jw_real(&b, NAN);
	CHECK_STR((const char *)b.data, "null");
	buf_free(&b);
}

static void test_rows(void)
{
	struct pcol cols[] = {
		{ "id", PCOL_STRING, 0 }, { "pid", PCOL_INT, 1 }, { "start_ns", PCOL_UINT, 1 },
		{ "ms", PCOL_FLOAT, 1 }, { "n", PCOL_INT, 0 }, { "t", PCOL_STRING, 1 },
		{ "u", PCOL_UINT, 0 }, { "f", PCOL_FLOAT, 0 },
	};
	struct pval v[8] = { 0 };
	struct buf b = { 0 };

	v[0].s = "abc";
	v[0].n = 3;
	v[1].i = -5;
	v[2].i = 1795564192972200104LL;
	v[3].d = 43.25;
	v[4].null = 1;
	v[5].null = 1;
	v[6].i = -1;	/* negative in UInt64: 0 when not nullable */
	v[7].d = INFINITY;
	CHECK(push_row_json(&b, cols, v, 8) == 0);
	CHECK_STR((const char *)b.data, "{\"id\":\"abc\",\"pid\":-5,\"start_ns\":1795564192972200104,"
		  "\"ms\":43.25,\"n\":0,\"t\":null,\"u\":0,\"f\":0}");
	buf_reset(&b);
	v[2].i = -7;
	v[0].null = 1;
	CHECK(push_row_json(&b, cols, v, 3) == 0);
	CHECK_STR((const char *)b.data, "{\"id\":\"\",\"pid\":-5,\"start_ns\":null}");
	buf_free(&b);

	CHECK(pcol_type_of("INTEGER", "start_ns") == PCOL_UINT);
	CHECK(pcol_type_of("INTEGER", "pid") == PCOL_INT);
	CHECK(pcol_type_of("integer", "ns") == PCOL_INT);
	CHECK(pcol_type_of("REAL", "duration_ms") == PCOL_FLOAT);
	CHECK(pcol_type_of("TEXT", "x_ns") == PCOL_STRING);
	CHECK(pcol_type_of("", "x") == PCOL_STRING);
	CHECK(pcol_type_of(NULL, "x") == PCOL_STRING);
	CHECK(pcol_type_of("NUMERIC", "x") == PCOL_FLOAT);
	CHECK_STR(ch_type(&cols[0]), "String");
	CHECK_STR(ch_type(&cols[2]), "Nullable(UInt64)");
	CHECK_STR(ch_type(&cols[3]), "Nullable(Float64)");
}

static void test_clickhouse_sql(void)
{
	struct pcol cols[] = { { "id", PCOL_STRING, 0 }, { "start_ns", PCOL_UINT, 1 }, { "we`ird", PCOL_INT, 1 } };
	struct buf b = { 0 };

	CHECK(ch_create_sql(&b, "llmtap", "llm_calls", "`host_id` String, `time` DateTime", cols, 3,
			    "row_version", "time", "`host_id`, `id`") == 0);
	CHECK_STR((const char *)b.data,
		  "CREATE TABLE IF NOT EXISTS `llmtap`.`llm_calls` (`host_id` String, `time` DateTime, "
		  "`id` String, `start_ns` Nullable(UInt64), `we``ird` Nullable(Int64)) ENGINE = "
		  "ReplacingMergeTree(`row_version`) PARTITION BY toYYYYMM(`time`) ORDER BY (`host_id`, `id`)");
	buf_reset(&b);
	CHECK(ch_add_column_sql(&b, "db", "t", &cols[1]) == 0);
	CHECK_STR((const char *)b.data, "ALTER TABLE `db`.`t` ADD COLUMN `start_ns` Nullable(UInt64)");
	buf_reset(&b);
	CHECK(ch_insert_query(&b, "db", "llm_calls") == 0);
	CHECK_STR((const char *)b.data, "query=INSERT%20INTO%20%60db%60.%60llm_calls%60%20FORMAT%20JSONEachRow"
		  "&input_format_skip_unknown_fields=1");
	buf_reset(&b);
	CHECK(push_batch_open(&b, "h\"1", "b-1", "llm_calls") == 0);
	buf_puts(&b, "{\"a\":1},{\"a\":2}");
	CHECK(push_batch_close(&b) == 0);
	CHECK_STR((const char *)b.data, "{\"host_id\":\"h\\\"1\",\"batch_id\":\"b-1\",\"table\":\"llm_calls\","
		  "\"rows\":[{\"a\":1},{\"a\":2}]}");
	buf_free(&b);
}

static void test_gzip(void)
{
	struct buf z = { 0 };
	char in[20000], out[20001];
	z_stream s = { 0 };
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = "llmtap push "[i % 12] ^ (char)(i / 977);
	CHECK(gzip_buf(in, sizeof(in), &z) == 0);
	CHECK(z.len > 18 && z.data[0] == 0x1f && z.data[1] == 0x8b);
	CHECK(inflateInit2(&s, 15 + 16) == Z_OK);
	s.next_in = z.data;
	s.avail_in = (uInt)z.len;
	s.next_out = (Bytef *)out;
	s.avail_out = sizeof(out);
	CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END);
	CHECK(s.total_out == sizeof(in) && !memcmp(in, out, sizeof(in)));
	inflateEnd(&s);
	buf_reset(&z);
	CHECK(gzip_buf("", 0, &z) == 0 && z.len >= 18);
	buf_free(&z);
}

static void test_backoff(void)
{
	double d;
	int f;

	CHECK(push_backoff_s(1, 1, 60, 0) == 0.5);
	CHECK(push_backoff_s(1, 1, 60, UINT32_MAX) == 1.0);
	CHECK(push_backoff_s(3, 1, 60, UINT32_MAX) == 4.0);
	for (f = 1; f < 100; f++) {
		d = push_backoff_s(f, 1, 60, (uint32_t)(f * 2654435761u));
		CHECKF(d >= 0.5 && d <= 60, "failure %d: %g", f, d);
	}
	CHECK(push_backoff_s(1000, 1, 60, 0) == 30);
}

static void test_retry_after(void)
{
	double s = -1;

	CHECK(retry_after_parse("120", 0, &s) == 0 && s == 120);
	CHECK(retry_after_parse(" 0 ", 0, &s) == 0 && s == 0);
	CHECK(retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470, &s) == 0 && s == 10);
	CHECK(retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490, &s) == 0 && s == 0);
	CHECK(retry_after_parse("soon", 0, &s) == -1);
	CHECK(retry_after_parse("-5", 0, &s) == -1);
	CHECK(retry_after_parse("5x", 0, &s) == -1);
	CHECK(otlp_status_retryable(429) && otlp_status_retryable(503));
	CHECK(!otlp_status_retryable(400) && !otlp_status_retryable(500) && !otlp_status_retryable(200));
}

int main(void)
{
	test_urls();
	test_json_writer();
	test_rows();
	test_clickhouse_sql();
	test_gzip();
	test_backoff();
	test_retry_after();
	return harness_done("test_pushfmt");
}
