/* dnsmsg.c -- a pure DNS message parser (RFC 1035): header, first question, A/AAAA answers. */
#include "proto/dnsmsg.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define DNS_HDR_LEN	12
#define DNS_WIRE_NAME_MAX 255	/* RFC 1035 3.1: a name's wire length, root label included */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Append label bytes to out in presentation form, escaping as dig does. */
static void put_label(char *out, size_t *o, const uint8_t *l, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = l[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')
			out[(*o)++] = (char)c;
		else if (c == '.' || c == '\\') {
			out[(*o)++] = '\\';
			out[(*o)++] = (char)c;
		} else {
			*o += (size_t)snprintf(out + *o, 5, "\\%03u", c);
		}
	}
}

/* Read the (possibly compressed) name at p[*off..n). With out (DNSMSG_NAME_MAX
 * bytes), also writes it in presentation form. Returns 0 and moves *off past
 * the name where it sits, -2 when the input ends inside it, -1 when malformed.
 * Every compression pointer must point before the segment it ends, so the
 * walk strictly moves backwards and ends. */
static int read_name(const uint8_t *p, size_t n, size_t *off, char *out)
{
	size_t pos = *off, limit = *off, end = 0, wire = 1, o = 0;
	int jumped = 0;

	for (;;) {
		uint8_t len;

		if (pos >= n)
			return -2;
		len = p[pos];
		if ((len & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= n)
				return -2;
			target = (size_t)(len & 0x3f) << 8 | p[pos + 1];
			if (target >= limit)
				return -1;
			if (!jumped)
				end = pos + 2;
			jumped = 1;
			limit = target;
			pos = target;
			continue;
		}
		if (len & 0xc0)
			return -1;	/* extended label types (RFC 6891 deprecated them) */
		if (len == 0) {
			pos++;
			break;
		}
		wire += 1 + (size_t)len;
		if (wire > DNS_WIRE_NAME_MAX)
			return -1;
		if (pos + 1 + len > n)
			return -2;
		if (out) {
			if (o)
				out[o++] = '.';
			put_label(out, &o, p + pos + 1, len);
		}
		pos += 1 + (size_t)len;
	}
	if (out) {
		if (!o)
			out[o++] = '.';
		out[o] = 0;
	}
	*off = jumped ? end : pos;
	return 0;
}

/* Parse one resource record at *off; A/AAAA answers (answer = 1) go to m. */
static int read_rr(const uint8_t *p, size_t n, size_t *off, int answer, struct dnsmsg *m)
{
	size_t pos = *off;
	uint16_t type, cls, rdlen;
	int rc;

	rc = read_name(p, n, &pos, NULL);
	if (rc)
		return rc;
	if (n - pos < 10)
		return -2;
	type = get16(p + pos);
	cls = get16(p + pos + 2);
	rdlen = get16(p + pos + 8);
	pos += 10;
	if (answer && cls == DNSMSG_CLASS_IN &&
	    ((type == DNSMSG_TYPE_A && rdlen != 4) || (type == DNSMSG_TYPE_AAAA && rdlen != 16)))
		return -1;
	if (n - pos < rdlen)
		return -2;
	if (answer && cls == DNSMSG_CLASS_IN && (type == DNSMSG_TYPE_A || type == DNSMSG_TYPE_AAAA)) {
		if (m->naddrs < DNSMSG_ADDRS_MAX) {
			struct dnsmsg_addr *a = &m->addrs[m->naddrs++];

			memset(a, 0, sizeof(*a));
			a->family = type == DNSMSG_TYPE_A ? AF_INET : AF_INET6;
			memcpy(a->addr, p + pos, rdlen);
		}
		m->naddrs_total++;
	}
	*off = pos + rdlen;
	return 0;
}

int dnsmsg_parse(const uint8_t *p, size_t n, struct dnsmsg *m)
{
	size_t pos = DNS_HDR_LEN;
	unsigned i, nrr;
	int rc;

	memset(m, 0, offsetof(struct dnsmsg, qname));
	m->qname[0] = 0;
	m->qtype = m->qclass = 0;
	m->naddrs = m->naddrs_total = 0;
	if (n < DNS_HDR_LEN)
		return -2;
	m->id = get16(p);
	m->qr = p[2] >> 7;
	m->opcode = (p[2] >> 3) & 0xf;
	m->tc = (p[2] >> 1) & 1;
	m->rcode = p[3] & 0xf;
	m->qdcount = get16(p + 4);
	m->ancount = get16(p + 6);
	m->nscount = get16(p + 8);
	m->arcount = get16(p + 10);
	for (i = 0; i < m->qdcount; i++) {
		char *out = i == 0 ? m->qname : NULL;

		rc = read_name(p, n, &pos, out);
		if (rc) {
			m->qname[0] = 0;
			return rc;
		}
		if (n - pos < 4) {
			if (i == 0)
				m->qname[0] = 0;
			return -2;
		}
		if (i == 0) {
			m->qtype = get16(p + pos);
			m->qclass = get16(p + pos + 2);
			m->has_question = 1;
		}
		pos += 4;
	}
	nrr = (unsigned)m->ancount + m->nscount + m->arcount;
	for (i = 0; i < nrr; i++) {
		rc = read_rr(p, n, &pos, i < m->ancount, m);
		if (rc)
			return rc;
	}
	return (int)pos;
}

const char *dnsmsg_rcode_name(int rcode, char *out, size_t size)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		snprintf(out, size, "%s", names[rcode]);
	else
		snprintf(out, size, "RCODE%d", rcode);
	return out;
}

const char *dnsmsg_type_name(int qtype, char *out, size_t size)
{
	static const struct { int type; const char *name; } names[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
		{ 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" }, { 35, "NAPTR" },
		{ 41, "OPT" }, { 43, "DS" }, { 46, "RRSIG" }, { 48, "DNSKEY" }, { 64, "SVCB" },
		{ 65, "HTTPS" }, { 255, "ANY" }, { 257, "CAA" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].type == qtype) {
			snprintf(out, size, "%s", names[i].name);
			return out;
		}
	}
	snprintf(out, size, "TYPE%d", qtype);
	return out;
}
