/* test_dns.c -- unit tests for the DNS lookup table: getaddrinfo and UDP rows, query/response matching, dns_find, bounds and expiry. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "track/dns.h"
#include "harness.h"

#define MS 1000000ull
#define S 1000000000ull

struct rows {
	struct dns_row *r[64];
	int n;
};

static void collect(void *ud, enum row_kind kind, void *row)
{
	struct rows *rs = ud;
	struct dns_row *r = row;

	if (kind != ROW_DNS) {
		row_free(kind, row);
		return;
	}
	if (rs->n < 64)
		rs->r[rs->n++] = r;
	else
		row_free(ROW_DNS, r);
}

static void rows_clear(struct rows *rs)
{
	while (rs->n)
		row_free(ROW_DNS, rs->r[--rs->n]);
}

static struct dns_addr A4(const char *s)
{
	struct dns_addr a = { .family = AF_INET };

	inet_pton(AF_INET, s, a.addr);
	return a;
}

static struct dns_addr A6(const char *s)
{
	struct dns_addr a = { .family = AF_INET6 };

	inet_pton(AF_INET6, s, a.addr);
	return a;
}

static void gai(struct dns_table *t, uint32_t tgid, const char *name, uint64_t start,
		uint64_t end, int rc, const struct dns_addr *addrs, size_t n)
{
	struct dns_gai g = {
		.tgid = tgid, .tid = tgid + 1, .comm = "agent", .name = name, .start_ns = start,
		.end_ns = end, .rc = rc, .naddrs = n, .addrs = addrs,
	};

	dns_on_gai(t, &g);
}

/* A query (qr = 0) or a response with one A answer per addr (qr = 1). */
static size_t build(uint8_t *b, unsigned id, int qr, unsigned rcode, const char *name,
		    unsigned qtype, const char *const *addrs, unsigned nanswers)
{
	size_t n = 0;
	const char *p = name;
	unsigned i;

	b[n++] = id >> 8;
	b[n++] = id & 0xff;
	b[n++] = qr ? 0x81 : 0x01;
	b[n++] = qr ? (0x80 | rcode) : 0;
	b[n++] = 0;
	b[n++] = 1;
	b[n++] = 0;
	b[n++] = nanswers;
	memset(b + n, 0, 4);
	n += 4;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		b[n++] = len;
		memcpy(b + n, p, len);
		n += len;
		p += len + (dot ? 1 : 0);
	}
	b[n++] = 0;
	b[n++] = 0;
	b[n++] = qtype;
	b[n++] = 0;
	b[n++] = 1;
	for (i = 0; i < nanswers; i++) {
		static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4 };

		memcpy(b + n, rr, sizeof(rr));
		n += sizeof(rr);
		inet_pton(AF_INET, addrs[i], b + n);
		n += 4;
	}
	return n;
}

static void packet(struct dns_table *t, uint32_t tgid, int sent, uint64_t ts, const uint8_t *b,
		   size_t n)
{
	struct dns_packet p = {
		.tgid = tgid, .tid = tgid, .comm = "agent", .ts_ns = ts, .sent = sent,
		.server = A4("127.0.0.53"), .port = 53, .data = b, .len = n, .msg_len = n,
	};

	dns_on_packet(t, &p);
}

static void test_gai(void)
{
	struct rows rs = { 0 };
	struct row_sink sink = { collect, &rs };
	struct dns_table *t = dns_table_new(&sink);
	struct dns_addr addrs[] = { A4("127.0.0.1"), A4("127.0.0.1"), A6("::1"), A6("::ffff:10.0.0.9") };
	struct dns_answer ans;
	uint8_t v4[4], v6[16];

	gai(t, 100, "api.llmtap.test", 1 * S, 1 * S + 150 * MS, 0, addrs, 4);
	CHECK(rs.n == 1);
	if (rs.n == 1) {
		struct dns_row *r = rs.r[0];

		CHECK(r->pid == 100 && r->tid == 101);
		CHECK_STR(r->comm, "agent");
		CHECK_STR(r->name, "api.llmtap.test");
		CHECK_STR(r->addrs, "127.0.0.1,::1,10.0.0.9");
		CHECK_STR(r->source, "getaddrinfo");
		CHECK_STR(r->qtype, "A,AAAA");
		CHECK_STR(r->result, "NOERROR");
		CHECK(r->rcode == 0);
		CHECK(r->latency_ms > 149.9 && r->latency_ms < 150.1);
		CHECK(r->server[0] == 0);
		CHECK(strlen(r->id) == 36);
	}
	inet_pton(AF_INET, "127.0.0.1", v4);
	CHECK(dns_find(t, 100, AF_INET, v4, 2 * S, &ans) == 1);
	CHECK_STR(ans.name, "api.llmtap.test");
	CHECK(ans.latency_ms > 149.9 && ans.latency_ms < 150.1);
	CHECK(ans.start_ns_epoch > 0);
	/* not finished yet at that time; another process; another address */
	CHECK(dns_find(t, 100, AF_INET, v4, 1 * S + 100 * MS, &ans) == 0);
	CHECK(dns_find(t, 101, AF_INET, v4, 2 * S, &ans) == 0);
	inet_pton(AF_INET, "127.0.0.2", v4);
	CHECK(dns_find(t, 100, AF_INET, v4, 2 * S, &ans) == 0);
	/* an IPv4-mapped socket address matches the IPv4 answer, and the reverse */
	inet_pton(AF_INET6, "::ffff:127.0.0.1", v6);
	CHECK(dns_find(t, 100, AF_INET6, v6, 2 * S, &ans) == 1);
	inet_pton(AF_INET, "10.0.0.9", v4);
	CHECK(dns_find(t, 100, AF_INET, v4, 2 * S, &ans) == 1);
	inet_pton(AF_INET6, "::1", v6);
	CHECK(dns_find(t, 100, AF_INET6, v6, 2 * S, &ans) == 1);
	CHECK(dns_find(t, 100, 99, v6, 2 * S, &ans) == 0);
	CHECK(dns_find(t, 100, AF_INET, NULL, 2 * S, &ans) == 0);

	/* the most recent lookup of the address wins */
	addrs[0] = A4("127.0.0.1");
	gai(t, 100, "other.llmtap.test", 3 * S, 3 * S + 5 * MS, 0, addrs, 1);
	inet_pton(AF_INET, "127.0.0.1", v4);
	CHECK(dns_find(t, 100, AF_INET, v4, 4 * S, &ans) == 1);
	CHECK_STR(ans.name, "other.llmtap.test");
	CHECK(dns_find(t, 100, AF_INET, v4, 2 * S, &ans) == 1);
	CHECK_STR(ans.name, "api.llmtap.test");

	/* a failed lookup: a row, nothing to find */
	rows_clear(&rs);
	gai(t, 100, "nope.llmtap.test", 5 * S, 5 * S + 2 * MS, -2, NULL, 0);
	CHECK(rs.n == 1);
	if (rs.n == 1) {
		CHECK_STR(rs.r[0]->result, "EAI_NONAME");
		CHECK(rs.r[0]->rcode == -2);
		CHECK_STR(rs.r[0]->addrs, "");
	}
	/* numeric hosts and empty names ask no server: no row */
	rows_clear(&rs);
	gai(t, 100, "10.1.1.1", 6 * S, 6 * S + 1000, 0, addrs, 1);
	gai(t, 100, "fe80::1%eth0", 6 * S, 6 * S + 1000, 0, addrs, 1);
	gai(t, 100, "", 6 * S, 6 * S + 1000, 0, addrs, 1);
	CHECK(rs.n == 0);
	rows_clear(&rs);
	dns_table_free(t);
}

static void test_udp(void)
{
	static const char *const one[] = { "127.0.0.1" }, *const two[] = { "10.9.9.9", "10.9.9.8" };
	struct rows rs = { 0 };
	struct row_sink sink = { collect, &rs };
	struct dns_table *t = dns_table_new(&sink);
	struct dns_answer ans;
	struct dns_addr a = A4("127.0.0.1");
	uint8_t b[512], v4[4];
	size_t n;

	/* query, a retransmission, the response: latency from the first send */
	n = build(b, 0x4242, 0, 0, "api.llmtap.test", 1, NULL, 0);
	packet(t, 200, 1, 10 * S, b, n);
	packet(t, 200, 1, 10 * S + 50 * MS, b, n);
	/* another process's response with the same id is not ours */
	n = build(b, 0x4242, 1, 0, "api.llmtap.test", 1, one, 1);
	packet(t, 201, 0, 10 * S + 100 * MS, b, n);
	CHECK(rs.n == 0);
	/* the wrong id, the wrong type: not it either */
	n = build(b, 0x4243, 1, 0, "api.llmtap.test", 1, one, 1);
	packet(t, 200, 0, 10 * S + 100 * MS, b, n);
	n = build(b, 0x4242, 1, 0, "api.llmtap.test", 28, NULL, 0);
	packet(t, 200, 0, 10 * S + 100 * MS, b, n);
	CHECK(rs.n == 0);
	/* names compare case-insensitively */
	n = build(b, 0x4242, 1, 0, "API.llmtap.TEST", 1, one, 1);
	packet(t, 200, 0, 10 * S + 200 * MS, b, n);
	CHECK(rs.n == 1);
	if (rs.n == 1) {
		struct dns_row *r = rs.r[0];

		CHECK_STR(r->source, "udp");
		CHECK_STR(r->name, "api.llmtap.test");
		CHECK_STR(r->qtype, "A");
		CHECK_STR(r->addrs, "127.0.0.1");
		CHECK(r->rcode == 0);
		CHECK_STR(r->result, "NOERROR");
		CHECK_STR(r->server, "127.0.0.53:53");
		CHECK(r->latency_ms > 199.9 && r->latency_ms < 200.1);
	}
	/* a duplicate response finds nothing pending */
	packet(t, 200, 0, 10 * S + 300 * MS, b, n);
	CHECK(rs.n == 1);
	inet_pton(AF_INET, "127.0.0.1", v4);
	CHECK(dns_find(t, 200, AF_INET, v4, 11 * S, &ans) == 1);
	CHECK(ans.latency_ms > 199.9 && ans.latency_ms < 200.1);
	/* getaddrinfo is preferred even when a udp lookup is more recent */
	gai(t, 200, "gai.llmtap.test", 9 * S, 9 * S + 20 * MS, 0, &a, 1);
	CHECK(dns_find(t, 200, AF_INET, v4, 11 * S, &ans) == 1);
	CHECK_STR(ans.name, "gai.llmtap.test");

	/* NXDOMAIN */
	rows_clear(&rs);
	n = build(b, 7, 0, 0, "nope.llmtap.test", 28, NULL, 0);
	packet(t, 200, 1, 12 * S, b, n);
	n = build(b, 7, 1, 3, "nope.llmtap.test", 28, NULL, 0);
	packet(t, 200, 0, 12 * S + MS, b, n);
	CHECK(rs.n == 1);
	if (rs.n == 1) {
		CHECK(rs.r[0]->rcode == 3);
		CHECK_STR(rs.r[0]->result, "NXDOMAIN");
		CHECK_STR(rs.r[0]->qtype, "AAAA");
	}
	/* two answers: both findable */
	rows_clear(&rs);
	n = build(b, 8, 0, 0, "two.llmtap.test", 1, NULL, 0);
	packet(t, 200, 1, 13 * S, b, n);
	n = build(b, 8, 1, 0, "two.llmtap.test", 1, two, 2);
	packet(t, 200, 0, 13 * S + MS, b, n);
	CHECK(rs.n == 1 && !strcmp(rs.r[0]->addrs, "10.9.9.9,10.9.9.8"));
	inet_pton(AF_INET, "10.9.9.8", v4);
	CHECK(dns_find(t, 200, AF_INET, v4, 14 * S, &ans) == 1);
	CHECK_STR(ans.name, "two.llmtap.test");

	/* unanswered: a TIMEOUT row once DNS_QUERY_TIMEOUT_NS passed, not before */
	rows_clear(&rs);
	n = build(b, 9, 0, 0, "lost.llmtap.test", 1, NULL, 0);
	packet(t, 200, 1, 20 * S, b, n);
	dns_reap(t, 25 * S);
	CHECK(rs.n == 0);
	dns_reap(t, 31 * S);
	CHECK(rs.n == 1);
	if (rs.n == 1) {
		CHECK_STR(rs.r[0]->result, "TIMEOUT");
		CHECK(rs.r[0]->rcode == DNS_RCODE_NONE);
		CHECK(rs.r[0]->latency_ms < 0);
	}

	/* garbage and a cut header are counted, not rows */
	rows_clear(&rs);
	memset(b, 0xff, 40);
	packet(t, 200, 1, 40 * S, b, 40);
	packet(t, 200, 0, 40 * S, b, 5);
	CHECK(rs.n == 0);
	CHECK(dns_malformed(t) == 2);
	rows_clear(&rs);
	dns_table_free(t);
}

static void test_bounds(void)
{
	struct dns_table *t = dns_table_new(NULL);
	struct dns_answer ans;
	struct dns_addr a;
	char name[64], ip[32];
	uint8_t v4[4];
	int i;

	/* only the newest DNS_PROC_LOOKUPS of a process are kept */
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		a = A4(ip);
		gai(t, 300, name, (uint64_t)(i + 1) * S, (uint64_t)(i + 1) * S + MS, 0, &a, 1);
	}
	inet_pton(AF_INET, "10.0.0.0", v4);
	CHECK(dns_find(t, 300, AF_INET, v4, 1000 * S, &ans) == 0);
	inet_pton(AF_INET, "10.0.0.44", v4);
	CHECK(dns_find(t, 300, AF_INET, v4, 1000 * S, &ans) == 1);
	CHECK_STR(ans.name, "n44.test");
	inet_pton(AF_INET, "10.0.1.43", v4);
	CHECK(dns_find(t, 300, AF_INET, v4, 1000 * S, &ans) == 1);
	CHECK_STR(ans.name, "n299.test");
	/* lookups older than DNS_KEEP_NS go at the next reap */
	dns_reap(t, 300 * S + DNS_KEEP_NS - 10 * S);
	CHECK(dns_find(t, 300, AF_INET, v4, 2000 * S, &ans) == 1);
	dns_reap(t, 301 * S + DNS_KEEP_NS);
	CHECK(dns_find(t, 300, AF_INET, v4, 2000 * S, &ans) == 0);
	dns_table_free(t);
	dns_table_free(NULL);
}

int main(void)
{
	char buf[24];

	test_gai();
	test_udp();
	test_bounds();
	CHECK_STR(dns_gai_result(-3, buf, sizeof(buf)), "EAI_AGAIN");
	CHECK_STR(dns_gai_result(-77, buf, sizeof(buf)), "EAI_-77");
	return harness_done("test_dns");
}
