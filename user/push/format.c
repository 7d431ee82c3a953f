/* format.c -- pure helpers of the push targets: push URLs, a JSON writer, ClickHouse DDL and rows, JSON batches, gzip, backoff. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strptime, timegm */
#endif
#include "push/format.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* ---- push URLs ---- */

/* s[0..n) as a new string; NULL on OOM. */
static char *url_dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* The value of hex digit c; -1 when c is none. */
static int url_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..n) into a new string; NULL on OOM or a bad escape. */
static char *pct_decode(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	size_t i, o = 0;

	if (!d)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h = i + 2 < n ? url_hexval((unsigned char)s[i + 1]) : -1;
			int l = i + 2 < n ? url_hexval((unsigned char)s[i + 2]) : -1;

			if (h < 0 || l < 0) {
				free(d);
				return NULL;
			}
			d[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			d[o++] = s[i];
		}
	}
	d[o] = 0;
	return d;
}

/* The URL schemes --push takes. */
static const struct {
	const char *scheme;
	enum push_kind kind;
	int tls, port;
} schemes[] = {
	{ "clickhouse", PUSH_CLICKHOUSE, 0, 8123 },
	{ "clickhouse+http", PUSH_CLICKHOUSE, 0, 8123 },
	{ "clickhouses", PUSH_CLICKHOUSE, 1, 8443 },
	{ "clickhouse+https", PUSH_CLICKHOUSE, 1, 8443 },
	{ "otlp+http", PUSH_OTLP, 0, 4318 },
	{ "otlp+https", PUSH_OTLP, 1, 4318 },
	{ "http", PUSH_JSON, 0, 80 },
	{ "https", PUSH_JSON, 1, 443 },
};

/* Put msg into err. Returns -1. */
static int url_fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

int push_url_parse(const char *s, struct push_url *u, char *err, size_t errlen)
{
	const char *sep = strstr(s, "://"), *auth, *auth_end, *at, *hp, *colon, *path, *query;
	struct buf ep = { 0 }, key = { 0 };
	size_t i, plen, qlen;
	char scheme[32], port[16];
	long pnum;

	memset(u, 0, sizeof(*u));
	if (!sep || (size_t)(sep - s) >= sizeof(scheme))
		return url_fail(err, errlen, "not a URL (scheme://host...)");
	for (i = 0; s + i < sep; i++)
		scheme[i] = tolower((unsigned char)s[i]);
	scheme[i] = 0;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strcmp(scheme, schemes[i].scheme))
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0]))
		return url_fail(err, errlen, "unknown scheme (clickhouse://, otlp+http://, otlp+https://, http://, https://)");
	u->kind = schemes[i].kind;
	u->tls = schemes[i].tls;
	u->port = schemes[i].port;

	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/?#");
	if (strpbrk(s, " \t\r\n#"))
		return url_fail(err, errlen, "bad URL (white space or fragment)");
	at = NULL;
	for (hp = auth; hp < auth_end; hp++)
		if (*hp == '@')
			at = hp;
	hp = auth;
	if (at) {
		const char *c = memchr(auth, ':', at - auth);

		u->user = pct_decode(auth, (c ? c : at) - auth);
		if (c)
			u->pass = pct_decode(c + 1, at - c - 1);
		if (!u->user || (c && !u->pass)) {
			push_url_free(u);
			return url_fail(err, errlen, "bad user:password in URL");
		}
		hp = at + 1;
	}
	if (*hp == '[') {
		const char *rb = memchr(hp, ']', auth_end - hp);

		if (!rb) {
			push_url_free(u);
			return url_fail(err, errlen, "bad IPv6 host in URL");
		}
		colon = rb + 1 < auth_end && rb[1] == ':' ? rb + 1 : NULL;
		u->host = url_dupn(hp, rb + 1 - hp);
	} else {
		colon = memchr(hp, ':', auth_end - hp);
		u->host = url_dupn(hp, (colon ? colon : auth_end) - hp);
	}
	if (!u->host || !u->host[0]) {
		push_url_free(u);
		return url_fail(err, errlen, "no host in URL");
	}
	if (colon) {
		char *end;

		if ((size_t)(auth_end - colon - 1) >= sizeof(port) || auth_end == colon + 1) {
			push_url_free(u);
			return url_fail(err, errlen, "bad port in URL");
		}
		memcpy(port, colon + 1, auth_end - colon - 1);
		port[auth_end - colon - 1] = 0;
		pnum = strtol(port, &end, 10);
		if (*end || pnum <= 0 || pnum > 65535) {
			push_url_free(u);
			return url_fail(err, errlen, "bad port in URL");
		}
		u->port = (int)pnum;
	}
	path = auth_end;
	plen = strcspn(path, "?");
	query = path[plen] == '?' ? path + plen + 1 : NULL;
	qlen = query ? strlen(query) : 0;
	while (plen && path[plen - 1] == '/')
		plen--;

	if (buf_puts(&ep, u->tls ? "https://" : "http://") || buf_puts(&ep, u->host) ||
	    buf_append(&ep, port, snprintf(port, sizeof(port), ":%d", u->port)))
		goto out_free;
	if (buf_puts(&key, scheme) || buf_puts(&key, "://"))
		goto out_free;
	if (u->user && (buf_puts(&key, u->user) || buf_puts(&key, "@")))
		goto out_free;
	if (buf_puts(&key, u->host) || buf_puts(&key, port))
		goto out_free;

	switch (u->kind) {
	case PUSH_CLICKHOUSE:
		if (query) {
			buf_free(&ep);
			buf_free(&key);
			push_url_free(u);
			return url_fail(err, errlen, "a clickhouse:// URL takes no query");
		}
		if (plen > 1) {
			for (i = 1; i < plen; i++)
				if (!isalnum((unsigned char)path[i]) && path[i] != '_')
					break;
			if (i < plen) {
				buf_free(&ep);
				buf_free(&key);
				push_url_free(u);
				return url_fail(err, errlen, "bad ClickHouse database name (letters, digits, _)");
			}
			u->database = url_dupn(path + 1, plen - 1);
		} else {
			u->database = url_dupn("default", 7);
		}
		if (!u->database || buf_puts(&ep, "/") || buf_puts(&key, "/") ||
		    buf_puts(&key, u->database))
			goto out_free;
		break;
	case PUSH_OTLP:
		if (buf_append(&ep, path, plen) || buf_append(&key, path, plen))
			goto out_free;
		if ((plen < 10 || memcmp(path + plen - 10, "/v1/traces", 10)) &&
		    buf_puts(&ep, "/v1/traces"))
			goto out_free;
		if (query && (buf_puts(&ep, "?") || buf_append(&ep, query, qlen)))
			goto out_free;
		break;
	case PUSH_JSON:
		if (buf_append(&ep, path, plen) || buf_append(&key, path, plen))
			goto out_free;
		if (!plen && buf_puts(&ep, "/"))
			goto out_free;
		if (query && (buf_puts(&ep, "?") || buf_append(&ep, query, qlen)))
			goto out_free;
		break;
	}
	u->endpoint = buf_steal(&ep);
	u->key = buf_steal(&key);
	if (!u->endpoint || !u->key)
		goto out_free;
	return 0;
out_free:
	buf_free(&ep);
	buf_free(&key);
	push_url_free(u);
	return url_fail(err, errlen, "out of memory");
}

void push_url_free(struct push_url *u)
{
	free(u->user);
	if (u->pass)
		memset(u->pass, 0, strlen(u->pass));
	free(u->pass);
	free(u->host);
	free(u->database);
	free(u->endpoint);
	free(u->key);
	memset(u, 0, sizeof(*u));
}

/* ---- JSON writer ---- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t c;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

int jw_str(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, l;
	char esc[8];

	if (buf_append(b, "\"", 1))
		return -1;
	while (i < n) {
		unsigned char c = p[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			i++;
			continue;
		}
		if (c >= 0x80 && (l = utf8_len(p + i, n - i)) > 0) {
			run += l;
			i += l;
			continue;
		}
		if (run && buf_append(b, p + i - run, run))
			return -1;
		run = 0;
		switch (c) {
		case '"': strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		default:
			if (c < 0x20)
				snprintf(esc, sizeof(esc), "\\u%04x", c);
			else
				strcpy(esc, "\xef\xbf\xbd");	/* invalid UTF-8: U+FFFD */
		}
		if (buf_puts(b, esc))
			return -1;
		i++;
	}
	if (run && buf_append(b, p + i - run, run))
		return -1;
	return buf_append(b, "\"", 1);
}

int jw_cstr(struct buf *b, const char *s)
{
	return s ? jw_str(b, s, strlen(s)) : buf_puts(b, "null");
}

int jw_int(struct buf *b, int64_t v)
{
	char t[32];

	return buf_append(b, t, snprintf(t, sizeof(t), "%lld", (long long)v));
}

int jw_real(struct buf *b, double v)
{
	char t[40];

	if (!isfinite(v))
		return buf_puts(b, "null");
	/* %.17g round-trips every double; integral values keep a ".0" off (JSON allows both) */
	return buf_append(b, t, snprintf(t, sizeof(t), "%.17g", v));
}

/* ---- rows ---- */

enum pcol_type pcol_type_of(const char *decl, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	char up[64];
	size_t i;

	for (i = 0; decl && decl[i] && i < sizeof(up) - 1; i++)
		up[i] = toupper((unsigned char)decl[i]);
	up[i] = 0;
	if (strstr(up, "INT"))
		return n > 3 && !strcmp(name + n - 3, "_ns") ? PCOL_UINT : PCOL_INT;
	if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT") || strstr(up, "BLOB") || !up[0])
		return PCOL_STRING;
	return PCOL_FLOAT;	/* REAL, FLOA, DOUB, NUMERIC, DECIMAL ... */
}

const char *ch_type(const struct pcol *c)
{
	static const char *const plain[] = { "String", "Int64", "UInt64", "Float64" };
	static const char *const nullable[] = { "Nullable(String)", "Nullable(Int64)",
						"Nullable(UInt64)", "Nullable(Float64)" };

	return c->nullable ? nullable[c->type] : plain[c->type];
}

int push_row_json(struct buf *b, const struct pcol *cols, const struct pval *vals, int n)
{
	int i, rc = buf_append(b, "{", 1);

	for (i = 0; i < n && !rc; i++) {
		const struct pval *v = &vals[i];
		int null = v->null;

		if (i)
			rc |= buf_append(b, ",", 1);
		rc |= jw_cstr(b, cols[i].name);
		rc |= buf_append(b, ":", 1);
		if (cols[i].type == PCOL_UINT && !null && v->i < 0)
			null = 1;
		if (null && cols[i].nullable) {
			rc |= buf_puts(b, "null");
			continue;
		}
		switch (cols[i].type) {
		case PCOL_STRING:
			rc |= null || !v->s ? buf_puts(b, "\"\"") : jw_str(b, v->s, v->n);
			break;
		case PCOL_INT:
		case PCOL_UINT:
			rc |= jw_int(b, null ? 0 : v->i);
			break;
		case PCOL_FLOAT:
			if (!null && isfinite(v->d))
				rc |= jw_real(b, v->d);
			else
				rc |= buf_puts(b, cols[i].nullable ? "null" : "0");
			break;
		}
	}
	return rc | buf_append(b, "}", 1) ? -1 : 0;
}

/* Append `name` (backquoted; a backquote in it doubled). */
static int ch_ident(struct buf *b, const char *name)
{
	int rc = buf_append(b, "`", 1);

	for (; *name && !rc; name++)
		rc = *name == '`' ? buf_puts(b, "``") : buf_append(b, name, 1);
	return rc | buf_append(b, "`", 1) ? -1 : 0;
}

int ch_create_sql(struct buf *b, const char *db, const char *table, const char *first,
		  const struct pcol *cols, int n, const char *version, const char *partition,
		  const char *order_by)
{
	int i, rc = buf_puts(b, "CREATE TABLE IF NOT EXISTS ");

	rc |= ch_ident(b, db);
	rc |= buf_puts(b, ".");
	rc |= ch_ident(b, table);
	rc |= buf_puts(b, " (");
	if (first && *first)
		rc |= buf_puts(b, first);
	for (i = 0; i < n; i++) {
		if (i || (first && *first))
			rc |= buf_puts(b, ", ");
		rc |= ch_ident(b, cols[i].name);
		rc |= buf_puts(b, " ");
		rc |= buf_puts(b, ch_type(&cols[i]));
	}
	rc |= buf_puts(b, ") ENGINE = ReplacingMergeTree(");
	rc |= ch_ident(b, version);
	rc |= buf_puts(b, ") PARTITION BY toYYYYMM(");
	rc |= ch_ident(b, partition);
	rc |= buf_puts(b, ") ORDER BY (");
	rc |= buf_puts(b, order_by);
	rc |= buf_puts(b, ")");
	return rc ? -1 : 0;
}

int ch_add_column_sql(struct buf *b, const char *db, const char *table, const struct pcol *c)
{
	int rc = buf_puts(b, "ALTER TABLE ");

	rc |= ch_ident(b, db);
	rc |= buf_puts(b, ".");
	rc |= ch_ident(b, table);
	rc |= buf_puts(b, " ADD COLUMN ");
	rc |= ch_ident(b, c->name);
	rc |= buf_puts(b, " ");
	rc |= buf_puts(b, ch_type(c));
	return rc ? -1 : 0;
}

int url_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = *s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			rc = buf_append(b, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

int ch_insert_query(struct buf *b, const char *db, const char *table)
{
	struct buf q = { 0 };
	int rc;

	rc = buf_puts(&q, "INSERT INTO ");
	rc |= ch_ident(&q, db);
	rc |= buf_puts(&q, ".");
	rc |= ch_ident(&q, table);
	rc |= buf_puts(&q, " FORMAT JSONEachRow");
	if (!rc) {
		rc |= buf_puts(b, "query=");
		rc |= url_escape(b, (const char *)q.data);
		rc |= buf_puts(b, "&input_format_skip_unknown_fields=1");
	}
	buf_free(&q);
	return rc ? -1 : 0;
}

int push_batch_open(struct buf *b, const char *host_id, const char *batch_id, const char *table)
{
	int rc = buf_puts(b, "{\"host_id\":");

	rc |= jw_cstr(b, host_id);
	rc |= buf_puts(b, ",\"batch_id\":");
	rc |= jw_cstr(b, batch_id);
	rc |= buf_puts(b, ",\"table\":");
	rc |= jw_cstr(b, table);
	rc |= buf_puts(b, ",\"rows\":[");
	return rc ? -1 : 0;
}

int push_batch_close(struct buf *b)
{
	return buf_puts(b, "]}");
}

/* ---- transport helpers ---- */

int gzip_buf(const void *in, size_t n, struct buf *out)
{
	z_stream z = { 0 };
	uint8_t chunk[16384];
	int rc;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	if ((size_t)z.avail_in != n) {	/* > 4 GiB: not for a push batch */
		deflateEnd(&z);
		return -1;
	}
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		if (rc == Z_STREAM_ERROR || buf_append(out, chunk, sizeof(chunk) - z.avail_out)) {
			deflateEnd(&z);
			return -1;
		}
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

double push_backoff_s(int failures, double base, double max, uint32_t rnd)
{
	double d = base;

	while (--failures > 0 && d < max)
		d *= 2;
	if (d > max)
		d = max;
	return d / 2 + d / 2 * ((double)rnd / 4294967295.0);
}

int retry_after_parse(const char *v, time_t now, double *secs)
{
	struct tm tm;
	char *end;
	long n;

	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		n = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end || n < 0)
			return -1;
		*secs = (double)n;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	*secs = difftime(timegm(&tm), now);
	if (*secs < 0)
		*secs = 0;
	return 0;
}

int otlp_status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}
