/* test_dnsmsg.c -- unit tests for the DNS message parser: built messages, every truncated prefix, malformed input against a guard page. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/dnsmsg.h"
#include "harness.h"

/* ---- a tiny message builder ------------------------------------------------ */

struct msg {
	uint8_t b[4096];
	size_t n;
};

static void put8(struct msg *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
}

static void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put_bytes(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

/* "a.b.c" as labels, with the root label unless ptr >= 0 ends it with a pointer. */
static void put_name(struct msg *m, const char *name, int ptr)
{
	const char *p = name, *dot;

	while (*p) {
		dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		put8(m, (unsigned)len);
		put_bytes(m, p, len);
		p += len;
		if (*p == '.')
			p++;
	}
	if (ptr >= 0)
		put16(m, 0xc000 | (unsigned)ptr);
	else
		put8(m, 0);
}

static void put_header(struct msg *m, unsigned id, unsigned flags, unsigned qd, unsigned an,
		       unsigned ns, unsigned ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

/* An RR header with a pointer (ptr >= 0) or a root owner name. */
static void put_rr(struct msg *m, int ptr, unsigned type, unsigned cls, unsigned rdlen)
{
	if (ptr >= 0)
		put16(m, 0xc000 | (unsigned)ptr);
	else
		put8(m, 0);
	put16(m, type);
	put16(m, cls);
	put32(m, 300);
	put16(m, rdlen);
}

/* A copy of s whose last byte sits just before an inaccessible page, so a
 * read past the end faults. Returns NULL on failure; free with guard_free. */
static uint8_t *guard_copy(const uint8_t *s, size_t n, void **map, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (n + pg - 1) / pg * pg + pg;
	uint8_t *m;

	*maplen = body + pg;
	m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + body, pg, PROT_NONE)) {
		munmap(m, *maplen);
		return NULL;
	}
	*map = m;
	memcpy(m + body - n, s, n);
	return m + body - n;
}

/* Parse p[0..n) placed against a guard page. */
static int parse_guarded(const uint8_t *p, size_t n, struct dnsmsg *m)
{
	void *map;
	size_t maplen;
	uint8_t *g = guard_copy(p, n, &map, &maplen);
	int rc;

	if (!g)
		return -100;
	rc = dnsmsg_parse(g, n, m);
	munmap(map, maplen);
	return rc;
}

/* Every proper prefix of a valid message must say "more input" (-2). */
static void check_prefixes(const char *what, const struct msg *msg)
{
	struct dnsmsg *m = malloc(sizeof(*m));
	size_t k;
	int rc;

	if (!m)
		return;
	for (k = 0; k < msg->n; k++) {
		rc = parse_guarded(msg->b, k, m);
		CHECKF(rc == -2, "%s: prefix %zu of %zu gave %d", what, k, msg->n, rc);
		CHECKF(m->naddrs <= DNSMSG_ADDRS_MAX, "%s: prefix %zu", what, k);
		CHECKF(strlen(m->qname) < DNSMSG_NAME_MAX, "%s: prefix %zu", what, k);
	}
	rc = parse_guarded(msg->b, msg->n, m);
	CHECKF(rc == (int)msg->n, "%s: whole gave %d want %zu", what, rc, msg->n);
	free(m);
}

static int addr_is(const struct dnsmsg_addr *a, int family, const char *text)
{
	uint8_t want[16] = { 0 };

	if (a->family != family || inet_pton(family, text, want) != 1)
		return 0;
	return !memcmp(a->addr, want, family == AF_INET ? 4 : 16);
}

/* ---- cases ----------------------------------------------------------------- */

static void test_query(void)
{
	struct msg q;
	struct dnsmsg m;

	put_header(&q, 0x1234, 0x0100, 1, 0, 0, 0);	/* RD */
	put_name(&q, "api.llmtap.test", -1);
	put16(&q, DNSMSG_TYPE_A);
	put16(&q, DNSMSG_CLASS_IN);
	CHECK(dnsmsg_parse(q.b, q.n, &m) == (int)q.n);
	CHECK(m.id == 0x1234);
	CHECK(m.qr == 0);
	CHECK(m.opcode == 0);
	CHECK(m.rcode == 0);
	CHECK(m.has_question);
	CHECK_STR(m.qname, "api.llmtap.test");
	CHECK(m.qtype == DNSMSG_TYPE_A);
	CHECK(m.qclass == DNSMSG_CLASS_IN);
	CHECK(m.naddrs == 0);
	check_prefixes("query", &q);

	/* Trailing bytes are not part of the message. */
	put32(&q, 0xdeadbeef);
	CHECK(dnsmsg_parse(q.b, q.n, &m) == (int)q.n - 4);
}

/* A response with a CNAME chain, two A, one AAAA, an authority NS and an OPT record. */
static void build_response(struct msg *r)
{
	static const uint8_t a1[4] = { 127, 0, 0, 1 }, a2[4] = { 10, 1, 2, 3 };
	uint8_t a6[16] = { 0 };
	size_t cname_at;

	inet_pton(AF_INET6, "2001:db8::42", a6);
	put_header(r, 0xbeef, 0x8180, 1, 4, 1, 1);	/* QR RD RA, NOERROR */
	put_name(r, "www.llmtap.test", -1);		/* at 12 */
	put16(r, DNSMSG_TYPE_A);
	put16(r, DNSMSG_CLASS_IN);
	/* www.llmtap.test CNAME edge.llmtap.test */
	put_rr(r, 12, DNSMSG_TYPE_CNAME, DNSMSG_CLASS_IN, 7);
	cname_at = r->n;
	put8(r, 4);
	put_bytes(r, "edge", 4);
	put16(r, 0xc000 | 16);				/* -> llmtap.test */
	put_rr(r, (int)cname_at, DNSMSG_TYPE_A, DNSMSG_CLASS_IN, 4);
	put_bytes(r, a1, 4);
	put_rr(r, (int)cname_at, DNSMSG_TYPE_A, DNSMSG_CLASS_IN, 4);
	put_bytes(r, a2, 4);
	put_rr(r, (int)cname_at, DNSMSG_TYPE_AAAA, DNSMSG_CLASS_IN, 16);
	put_bytes(r, a6, 16);
	/* authority: llmtap.test NS ns.llmtap.test */
	put_rr(r, 16, 2, DNSMSG_CLASS_IN, 5);
	put8(r, 2);
	put_bytes(r, "ns", 2);
	put16(r, 0xc000 | 16);
	/* additional: OPT (root owner, class = UDP size) */
	put_rr(r, -1, 41, 1232, 0);
}

static void test_response(void)
{
	struct msg r;
	struct dnsmsg m;

	build_response(&r);
	CHECK(dnsmsg_parse(r.b, r.n, &m) == (int)r.n);
	CHECK(m.id == 0xbeef);
	CHECK(m.qr == 1);
	CHECK(m.rcode == DNSMSG_RCODE_NOERROR);
	CHECK(m.ancount == 4 && m.nscount == 1 && m.arcount == 1);
	CHECK_STR(m.qname, "www.llmtap.test");
	CHECK(m.naddrs == 3);
	CHECK(m.naddrs_total == 3);
	CHECK(addr_is(&m.addrs[0], AF_INET, "127.0.0.1"));
	CHECK(addr_is(&m.addrs[1], AF_INET, "10.1.2.3"));
	CHECK(addr_is(&m.addrs[2], AF_INET6, "2001:db8::42"));
	check_prefixes("response", &r);
}

static void test_nxdomain(void)
{
	struct msg r;
	struct dnsmsg m;

	put_header(&r, 7, 0x8183, 1, 0, 1, 0);	/* NXDOMAIN */
	put_name(&r, "nope.llmtap.test", -1);
	put16(&r, DNSMSG_TYPE_AAAA);
	put16(&r, DNSMSG_CLASS_IN);
	/* authority SOA for llmtap.test (owner: pointer into the question) */
	put_rr(&r, 17, 6, DNSMSG_CLASS_IN, 24);
	put16(&r, 0xc000 | 17);		/* mname */
	put16(&r, 0xc000 | 17);		/* rname */
	put32(&r, 1);
	put32(&r, 2);
	put32(&r, 3);
	put32(&r, 4);
	put32(&r, 5);
	CHECK(dnsmsg_parse(r.b, r.n, &m) == (int)r.n);
	CHECK(m.rcode == DNSMSG_RCODE_NXDOMAIN);
	CHECK(m.qtype == DNSMSG_TYPE_AAAA);
	CHECK_STR(m.qname, "nope.llmtap.test");
	CHECK(m.naddrs == 0);
	check_prefixes("nxdomain", &r);
}

static void test_many_answers(void)
{
	struct msg r;
	struct dnsmsg m;
	unsigned i;

	put_header(&r, 1, 0x8180, 1, 20, 0, 0);
	put_name(&r, "many.test", -1);
	put16(&r, DNSMSG_TYPE_A);
	put16(&r, DNSMSG_CLASS_IN);
	for (i = 0; i < 20; i++) {
		put_rr(&r, 12, DNSMSG_TYPE_A, DNSMSG_CLASS_IN, 4);
		put32(&r, 0x0a000000 | i);
	}
	CHECK(dnsmsg_parse(r.b, r.n, &m) == (int)r.n);
	CHECK(m.naddrs == DNSMSG_ADDRS_MAX);
	CHECK(m.naddrs_total == 20);
	CHECK(addr_is(&m.addrs[15], AF_INET, "10.0.0.15"));
	check_prefixes("many", &r);
}

static void test_names(void)
{
	struct msg q;
	struct dnsmsg m;
	char buf[DNSMSG_NAME_MAX];
	int i;

	/* The root name. */
	put_header(&q, 2, 0, 1, 0, 0, 0);
	put8(&q, 0);
	put16(&q, 2);
	put16(&q, 1);
	CHECK(dnsmsg_parse(q.b, q.n, &m) == (int)q.n);
	CHECK_STR(m.qname, ".");

	/* Bytes that need escaping: a dot inside a label, a space, a backslash, 0xff. */
	put_header(&q, 3, 0, 1, 0, 0, 0);
	put8(&q, 7);
	put_bytes(&q, "a.b c\\\xff", 7);
	put8(&q, 4);
	put_bytes(&q, "test", 4);
	put8(&q, 0);
	put16(&q, 1);
	put16(&q, 1);
	CHECK(dnsmsg_parse(q.b, q.n, &m) == (int)q.n);
	CHECK_STR(m.qname, "a\\.b\\032c\\\\\\255.test");
	check_prefixes("escapes", &q);

	/* The longest legal name: 255 bytes on the wire (3 x 63 + 61 + 4 length bytes + root). */
	put_header(&q, 4, 0, 1, 0, 0, 0);
	for (i = 0; i < 3; i++) {
		put8(&q, 63);
		memset(q.b + q.n, 'a' + i, 63);
		q.n += 63;
	}
	put8(&q, 61);
	memset(q.b + q.n, 'd', 61);
	q.n += 61;
	put8(&q, 0);
	put16(&q, 1);
	put16(&q, 1);
	CHECK(dnsmsg_parse(q.b, q.n, &m) == (int)q.n);
	CHECK(strlen(m.qname) == 253);
	check_prefixes("longest name", &q);

	/* One byte more is malformed. */
	put_header(&q, 5, 0, 1, 0, 0, 0);
	for (i = 0; i < 3; i++) {
		put8(&q, 63);
		memset(q.b + q.n, 'a', 63);
		q.n += 63;
	}
	put8(&q, 62);
	memset(q.b + q.n, 'd', 62);
	q.n += 62;
	put8(&q, 0);
	put16(&q, 1);
	put16(&q, 1);
	CHECK(dnsmsg_parse(q.b, q.n, &m) == -1);

	CHECK_STR(dnsmsg_rcode_name(3, buf, sizeof(buf)), "NXDOMAIN");
	CHECK_STR(dnsmsg_rcode_name(0, buf, sizeof(buf)), "NOERROR");
	CHECK_STR(dnsmsg_rcode_name(15, buf, sizeof(buf)), "RCODE15");
	CHECK_STR(dnsmsg_type_name(28, buf, sizeof(buf)), "AAAA");
	CHECK_STR(dnsmsg_type_name(65, buf, sizeof(buf)), "HTTPS");
	CHECK_STR(dnsmsg_type_name(65280, buf, sizeof(buf)), "TYPE65280");
}

static void test_malformed(void)
{
	struct msg q;
	struct dnsmsg m;

	/* A pointer to itself, to a later byte, and into the header's own position. */
	put_header(&q, 6, 0, 1, 0, 0, 0);
	put16(&q, 0xc000 | 12);
	put16(&q, 1);
	put16(&q, 1);
	CHECK(parse_guarded(q.b, q.n, &m) == -1);
	put_header(&q, 6, 0, 1, 0, 0, 0);
	put16(&q, 0xc000 | 20);
	put16(&q, 1);
	put16(&q, 1);
	put8(&q, 0);
	CHECK(parse_guarded(q.b, q.n, &m) == -1);

	/* A label, then a pointer forward (into the answer's owner): no loop can form. */
	put_header(&q, 6, 0x8000, 1, 1, 0, 0);
	put8(&q, 1);
	put8(&q, 'a');
	put16(&q, 0xc000 | 18);
	put16(&q, 1);
	put16(&q, 1);
	put_rr(&q, 12, 1, 1, 4);
	put32(&q, 0);
	CHECK(parse_guarded(q.b, q.n, &m) == -1);

	/* Label types 01 and 10 (reserved). */
	put_header(&q, 6, 0, 1, 0, 0, 0);
	put8(&q, 0x41);
	put8(&q, 'x');
	put8(&q, 0);
	put16(&q, 1);
	put16(&q, 1);
	CHECK(parse_guarded(q.b, q.n, &m) == -1);

	/* An A answer of 5 bytes, an AAAA answer of 4. */
	put_header(&q, 6, 0x8180, 1, 1, 0, 0);
	put_name(&q, "x.test", -1);
	put16(&q, 1);
	put16(&q, 1);
	put_rr(&q, 12, DNSMSG_TYPE_A, DNSMSG_CLASS_IN, 5);
	put32(&q, 0);
	put8(&q, 0);
	CHECK(parse_guarded(q.b, q.n, &m) == -1);
	CHECK(m.has_question);
	CHECK_STR(m.qname, "x.test");
	put_header(&q, 6, 0x8180, 1, 1, 0, 0);
	put_name(&q, "x.test", -1);
	put16(&q, 28);
	put16(&q, 1);
	put_rr(&q, 12, DNSMSG_TYPE_AAAA, DNSMSG_CLASS_IN, 4);
	put32(&q, 0);
	CHECK(parse_guarded(q.b, q.n, &m) == -1);

	/* Counts larger than the message: needs more input, never a read past the end. */
	put_header(&q, 6, 0x8180, 1, 65535, 65535, 65535);
	put_name(&q, "x.test", -1);
	put16(&q, 1);
	put16(&q, 1);
	CHECK(parse_guarded(q.b, q.n, &m) == -2);
	CHECK(m.has_question);

	/* Too short for a header; empty. */
	CHECK(parse_guarded(q.b, 11, &m) == -2);
	CHECK(parse_guarded(q.b, 0, &m) == -2);
	CHECK(!m.has_question && m.qname[0] == 0);
}

/* Arbitrary bytes: no crash, no read outside the input, sane outputs. */
static void test_noise(void)
{
	struct dnsmsg *m = malloc(sizeof(*m));
	uint8_t buf[600];
	uint32_t x = 12345;
	int i, rc;
	size_t j, n;

	if (!m)
		return;
	for (i = 0; i < 20000; i++) {
		n = (size_t)(x % sizeof(buf));
		for (j = 0; j < n; j++) {
			x = x * 1103515245u + 12345u;
			buf[j] = (uint8_t)(x >> 16);
			/* Mostly small label lengths and pointers, to get deep. */
			if ((x >> 8) % 4 == 0)
				buf[j] = (uint8_t)((x >> 24) % 8);
			else if ((x >> 8) % 4 == 1)
				buf[j] = (uint8_t)(0xc0 | ((x >> 24) % 2));
		}
		if (n >= 12) {
			buf[4] = 0;
			buf[5] = 1;
		}
		rc = parse_guarded(buf, n, m);
		CHECKF(rc == -1 || rc == -2 || (rc >= 12 && (size_t)rc <= n), "noise %d: rc %d", i, rc);
		CHECKF(strlen(m->qname) < DNSMSG_NAME_MAX && m->naddrs <= DNSMSG_ADDRS_MAX,
		       "noise %d", i);
		x = x * 1103515245u + 12345u;
	}
	free(m);
}

int main(void)
{
	test_query();
	test_response();
	test_nxdomain();
	test_many_answers();
	test_names();
	test_malformed();
	test_noise();
	return harness_done("test_dnsmsg");
}
