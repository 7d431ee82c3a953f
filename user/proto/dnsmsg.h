/* dnsmsg.h -- a pure DNS message parser (RFC 1035): header, first question, A/AAAA answers. */
#ifndef LLMTAP_DNSMSG_H
#define LLMTAP_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

/* A name in presentation form ("api.example.com", "." for the root) is at most
 * 253 characters plus escapes (\DDD for a byte that is not a letter, digit,
 * '-' or '_'); longer wire names are a protocol error. */
#define DNSMSG_NAME_MAX		1024
#define DNSMSG_ADDRS_MAX	16	/* A/AAAA answers kept; later ones are counted only */

#define DNSMSG_TYPE_A		1
#define DNSMSG_TYPE_CNAME	5
#define DNSMSG_TYPE_AAAA	28
#define DNSMSG_CLASS_IN		1

/* Header rcodes (4 bits; extended rcodes of EDNS are not combined in). */
#define DNSMSG_RCODE_NOERROR	0
#define DNSMSG_RCODE_FORMERR	1
#define DNSMSG_RCODE_SERVFAIL	2
#define DNSMSG_RCODE_NXDOMAIN	3
#define DNSMSG_RCODE_NOTIMP	4
#define DNSMSG_RCODE_REFUSED	5

struct dnsmsg_addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
};

struct dnsmsg {
	uint16_t id;
	uint8_t qr;		/* 1: a response */
	uint8_t opcode;
	uint8_t rcode;
	uint8_t tc;		/* truncated by the server: the answer comes over TCP */
	uint16_t qdcount, ancount, nscount, arcount;
	int has_question;	/* qname/qtype/qclass are set */
	char qname[DNSMSG_NAME_MAX];
	uint16_t qtype, qclass;
	size_t naddrs;		/* entries in addrs */
	size_t naddrs_total;	/* A/AAAA answers, including those not kept */
	struct dnsmsg_addr addrs[DNSMSG_ADDRS_MAX];
};

/* Parse the DNS message at p[0..n). Fills *m as far as the input goes (the
 * header once 12 bytes are there, then the first question, then answers).
 * Returns the message length (bytes consumed; trailing bytes are ignored),
 * -2 when the input ends before the message does (every prefix of a valid
 * message), or -1 when the message is malformed: a label or name too long, a
 * compression pointer that does not point backwards, an A/AAAA record of the
 * wrong size. Reads nothing outside p[0..n). */
int dnsmsg_parse(const uint8_t *p, size_t n, struct dnsmsg *m);

/* Name of an rcode ("NOERROR", "NXDOMAIN", ...; "RCODE15" for the rest) into
 * out (at least 16 bytes). Returns out. */
const char *dnsmsg_rcode_name(int rcode, char *out, size_t size);

/* Name of a query type ("A", "AAAA", "HTTPS", ...; "TYPE65280" else) into out
 * (at least 16 bytes). Returns out. */
const char *dnsmsg_type_name(int qtype, char *out, size_t size);

#endif
