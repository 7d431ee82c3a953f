/* dns.h -- DNS lookups: getaddrinfo() results and UDP query/response pairs, kept per process for joins, rows for dns_lookups. */
#ifndef LLMTAP_DNS_H
#define LLMTAP_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "db/rows.h"

#define DNS_ADDRS_MAX		16	/* answer addresses kept per lookup */
#define DNS_PROC_LOOKUPS	256	/* lookups kept per process (the newest) */
#define DNS_KEEP_NS		(600ull * 1000000000ull)	/* lookups older than 10 min are dropped */
#define DNS_QUERY_TIMEOUT_NS	(10ull * 1000000000ull)	/* an unanswered query becomes a row */

struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
};

/* A getaddrinfo() call that returned (decoded by event.c). */
struct dns_gai {
	uint32_t tgid, tid;
	const char *comm;
	const char *name;		/* the node argument */
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC: entry and return */
	int rc;				/* 0 or an EAI_* code */
	int hint_family;		/* hints->ai_family; 0 = AF_UNSPEC */
	size_t naddrs;
	const struct dns_addr *addrs;	/* distinct addresses, in the order returned */
};

/* A UDP datagram a process sent to or received from port 53 (decoded by event.c). */
struct dns_packet {
	uint32_t tgid, tid;
	const char *comm;
	uint64_t ts_ns;			/* CLOCK_MONOTONIC: send entry or receive return */
	int sent;			/* 1: sent (a query), 0: received (a response) */
	struct dns_addr server;		/* the name server */
	uint16_t port;
	const uint8_t *data;		/* payload, len bytes of a msg_len-byte datagram */
	size_t len, msg_len;
};

struct dns_table;

/* A table that sends its dns_lookups rows (ROW_DNS) to sink (NULL: memory
 * only). NULL on OOM. */
struct dns_table *dns_table_new(const struct row_sink *sink);
/* Free everything; unanswered queries are dropped without rows. */
void dns_table_free(struct dns_table *t);

/* Record a getaddrinfo() result: a row, and kept for dns_find(). Calls on a
 * numeric host ("10.0.0.1", "::1") resolve nothing and are ignored. */
void dns_on_gai(struct dns_table *t, const struct dns_gai *g);
/* A query is kept until its response (same process, id, name, type) arrives:
 * then a row, kept for dns_find(). Unparseable payloads are counted, ignored. */
void dns_on_packet(struct dns_table *t, const struct dns_packet *p);
/* Drop lookups older than DNS_KEEP_NS; queries unanswered for
 * DNS_QUERY_TIMEOUT_NS become rows with result "TIMEOUT". now_ns is
 * CLOCK_MONOTONIC. */
void dns_reap(struct dns_table *t, uint64_t now_ns);
/* Datagrams on port 53 that did not parse as DNS. */
uint64_t dns_malformed(const struct dns_table *t);

struct dns_answer {
	double latency_ms;
	const char *name;
	int64_t start_ns_epoch;
};

/* Most recent lookup by process tgid (getaddrinfo preferred over udp) whose
 * answers include the address (family AF_INET/AF_INET6, 4 or 16 bytes in
 * network order; an IPv4-mapped IPv6 address matches its IPv4 address) and
 * that finished before `before_mono_ns` (CLOCK_MONOTONIC, as BPF timestamps);
 * returns 1 and fills *out (name valid until the next dns_* call), else 0. */
int dns_find(struct dns_table *t, uint32_t tgid, int family, const void *addr,
	     uint64_t before_mono_ns, struct dns_answer *out);

/* Name of a getaddrinfo() return code ("EAI_NONAME"; "NOERROR" for 0) into
 * out (at least 24 bytes). Returns out. */
const char *dns_gai_result(int rc, char *out, size_t size);

#endif
