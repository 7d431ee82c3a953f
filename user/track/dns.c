/* dns.c -- DNS lookups: getaddrinfo() results and UDP query/response pairs, kept per process for joins, rows for dns_lookups. */
#include "track/dns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/htab.h"
#include "base/util.h"
#include "proto/dnsmsg.h"

#define PROCS_MAX	8192	/* processes with lookups kept; beyond, the stalest goes */
#define PENDING_MAX	4096	/* unanswered queries kept */

enum { SRC_GAI = 0, SRC_UDP = 1 };

/* A finished lookup kept for dns_find(). */
struct lookup {
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC */
	int64_t start_epoch;
	char *name;
	int source;
	size_t naddrs;
	struct dns_addr addrs[DNS_ADDRS_MAX];
};

/* One process's lookups: a ring of the newest DNS_PROC_LOOKUPS. */
struct proc {
	struct htab_node node;		/* key (tgid, 0) */
	uint32_t tgid;
	uint64_t last_ns;		/* end of the newest lookup */
	struct lookup *ring;
	size_t head, count, cap;	/* oldest at head */
};

/* A query sent and not answered yet. */
struct pending {
	uint32_t tgid, tid;
	uint16_t id, qtype;
	char comm[16];
	char *qname;
	uint64_t ts_ns;
	struct dns_addr server;
	uint16_t port;
	struct pending *next;
};

struct dns_table {
	struct row_sink sink;
	struct htab procs;		/* struct proc by tgid */
	struct pending *pending;	/* newest first */
	size_t npending;
	uint64_t malformed;
};

struct dns_table *dns_table_new(const struct row_sink *sink)
{
	struct dns_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (sink)
		t->sink = *sink;
	htab_init(&t->procs);
	return t;
}

static void lookup_clear(struct lookup *l)
{
	free(l->name);
	l->name = NULL;
}

static void proc_free(struct proc *p)
{
	size_t i;

	for (i = 0; i < p->count; i++)
		lookup_clear(&p->ring[(p->head + i) % p->cap]);
	free(p->ring);
	free(p);
}

static void pending_free(struct pending *q)
{
	free(q->qname);
	free(q);
}

void dns_table_free(struct dns_table *t)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct pending *q, *qn;
	struct htab_node *n;

	if (!t)
		return;
	while ((n = htab_next(&t->procs, &it)))
		proc_free(htab_entry(n, struct proc, node));
	htab_fini(&t->procs);
	for (q = t->pending; q; q = qn) {
		qn = q->next;
		pending_free(q);
	}
	free(t);
}

uint64_t dns_malformed(const struct dns_table *t)
{
	return t->malformed;
}

const char *dns_gai_result(int rc, char *out, size_t size)
{
	/* glibc's values (netdb.h), fixed by its ABI. */
	static const struct { int rc; const char *name; } names[] = {
		{ 0, "NOERROR" }, { -1, "EAI_BADFLAGS" }, { -2, "EAI_NONAME" },
		{ -3, "EAI_AGAIN" }, { -4, "EAI_FAIL" }, { -5, "EAI_NODATA" },
		{ -6, "EAI_FAMILY" }, { -7, "EAI_SOCKTYPE" }, { -8, "EAI_SERVICE" },
		{ -9, "EAI_ADDRFAMILY" }, { -10, "EAI_MEMORY" }, { -11, "EAI_SYSTEM" },
		{ -12, "EAI_OVERFLOW" }, { -100, "EAI_INPROGRESS" }, { -101, "EAI_CANCELED" },
		{ -102, "EAI_NOTCANCELED" }, { -103, "EAI_ALLDONE" }, { -104, "EAI_INTR" },
		{ -105, "EAI_IDN_ENCODE" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].rc == rc) {
			snprintf(out, size, "%s", names[i].name);
			return out;
		}
	}
	snprintf(out, size, "EAI_%d", rc);
	return out;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes AF_INET. */
static void addr_normalize(struct dns_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family == AF_INET6 && !memcmp(a->addr, mapped, sizeof(mapped))) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = AF_INET;
	}
	if (a->family == AF_INET)
		memset(a->addr + 4, 0, 12);
}

static int addr_eq(const struct dns_addr *a, const struct dns_addr *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

/* Copy addresses, normalised and without duplicates. Returns how many. */
static size_t addrs_copy(struct dns_addr *dst, const struct dns_addr *src, size_t n)
{
	size_t i, j, k = 0;

	for (i = 0; i < n && k < DNS_ADDRS_MAX; i++) {
		struct dns_addr a = src[i];

		if (a.family != AF_INET && a.family != AF_INET6)
			continue;
		addr_normalize(&a);
		for (j = 0; j < k && !addr_eq(&dst[j], &a); j++)
			;
		if (j == k)
			dst[k++] = a;
	}
	return k;
}

/* "a,b,c" of the addresses. NULL on OOM. */
static char *addrs_text(const struct dns_addr *a, size_t n)
{
	char *s = malloc(n * (INET6_ADDRSTRLEN + 1) + 1);
	size_t i, o = 0;

	if (!s)
		return NULL;
	s[0] = 0;
	for (i = 0; i < n; i++) {
		if (i)
			s[o++] = ',';
		if (!inet_ntop(a[i].family, a[i].addr, s + o, INET6_ADDRSTRLEN))
			strcpy(s + o, "?");
		o += strlen(s + o);
	}
	return s;
}

static struct proc *proc_get(struct dns_table *t, uint32_t tgid, int create)
{
	struct htab_node *n = htab_find(&t->procs, tgid, 0);
	struct proc *p;

	if (n || !create)
		return n ? htab_entry(n, struct proc, node) : NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	if (htab_add(&t->procs, &p->node, tgid, 0)) {
		free(p);
		return NULL;
	}
	return p;
}

static void proc_remove(struct dns_table *t, struct proc *p)
{
	htab_del(&t->procs, &p->node);
	proc_free(p);
}

/* Over PROCS_MAX processes: drop the one whose newest lookup is oldest. */
static void procs_trim(struct dns_table *t, const struct proc *keep)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct proc *p, *stalest = NULL;
	struct htab_node *n;

	if (t->procs.count <= PROCS_MAX)
		return;
	while ((n = htab_next(&t->procs, &it))) {
		p = htab_entry(n, struct proc, node);
		if (p != keep && (!stalest || p->last_ns < stalest->last_ns))
			stalest = p;
	}
	if (stalest)
		proc_remove(t, stalest);
}

/* Keep a finished lookup for dns_find(); the oldest of a full ring goes. */
static void lookup_keep(struct dns_table *t, uint32_t tgid, int source, const char *name,
			uint64_t start_ns, uint64_t end_ns, int64_t start_epoch,
			const struct dns_addr *addrs, size_t naddrs)
{
	struct proc *p = proc_get(t, tgid, 1);
	struct lookup *l;
	char *dup;

	if (!p)
		return;
	if (p->count == p->cap && p->cap < DNS_PROC_LOOKUPS) {
		size_t cap = p->cap ? 2 * p->cap : 8, i;
		struct lookup *r = calloc(cap, sizeof(*r));

		if (!r)
			return;
		for (i = 0; i < p->count; i++)
			r[i] = p->ring[(p->head + i) % p->cap];
		free(p->ring);
		p->ring = r;
		p->cap = cap;
		p->head = 0;
	}
	if (!p->cap)
		return;
	dup = strdup(name);
	if (!dup)
		return;
	if (p->count == p->cap) {
		lookup_clear(&p->ring[p->head]);
		p->head = (p->head + 1) % p->cap;
		p->count--;
	}
	l = &p->ring[(p->head + p->count) % p->cap];
	memset(l, 0, sizeof(*l));
	l->name = dup;
	l->source = source;
	l->start_ns = start_ns;
	l->end_ns = end_ns;
	l->start_epoch = start_epoch;
	l->naddrs = addrs_copy(l->addrs, addrs, naddrs);
	p->count++;
	if (end_ns > p->last_ns)
		p->last_ns = end_ns;
	procs_trim(t, p);
}

static struct dns_row *row_new(uint32_t tgid, uint32_t tid, const char *comm, const char *name,
			       const struct dns_addr *addrs, size_t naddrs)
{
	struct dns_row *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	uuid7(r->id);
	r->pid = tgid;
	r->tid = tid;
	snprintf(r->comm, sizeof(r->comm), "%s", comm ? comm : "");
	r->name = strdup(name);
	r->addrs = addrs_text(addrs, naddrs);
	if (!r->name || !r->addrs) {
		row_free(ROW_DNS, r);
		return NULL;
	}
	return r;
}

/* 1 when name is an IPv4 or IPv6 literal: getaddrinfo asks no server. */
static int numeric_host(const char *name)
{
	uint8_t buf[16];
	char tmp[64];
	const char *pct = strchr(name, '%');

	if (inet_pton(AF_INET, name, buf) == 1)
		return 1;
	/* A scoped address ("fe80::1%eth0") is numeric too. */
	if (pct && (size_t)(pct - name) < sizeof(tmp)) {
		memcpy(tmp, name, pct - name);
		tmp[pct - name] = 0;
		name = tmp;
	}
	return inet_pton(AF_INET6, name, buf) == 1;
}

void dns_on_gai(struct dns_table *t, const struct dns_gai *g)
{
	struct dns_addr addrs[DNS_ADDRS_MAX];
	struct dns_row *r;
	int64_t epoch;
	size_t n;

	if (!g->name || !*g->name || numeric_host(g->name))
		return;
	n = addrs_copy(addrs, g->addrs, g->naddrs);
	epoch = (int64_t)mono_to_epoch_ns(g->start_ns);
	lookup_keep(t, g->tgid, SRC_GAI, g->name, g->start_ns, g->end_ns, epoch, addrs, n);
	r = row_new(g->tgid, g->tid, g->comm, g->name, addrs, n);
	if (!r)
		return;
	snprintf(r->qtype, sizeof(r->qtype), "%s",
		 g->hint_family == AF_INET ? "A" : g->hint_family == AF_INET6 ? "AAAA" : "A,AAAA");
	r->rcode = g->rc;
	dns_gai_result(g->rc, r->result, sizeof(r->result));
	r->source = "getaddrinfo";
	r->start_ns = epoch;
	r->latency_ms = g->end_ns >= g->start_ns ? (g->end_ns - g->start_ns) / 1e6 : 0;
	row_emit(&t->sink, ROW_DNS, r);
}

static void server_text(const struct dns_addr *a, uint16_t port, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, a->addr, ip, sizeof(ip))) {
		out[0] = 0;
		return;
	}
	if (a->family == AF_INET6)
		snprintf(out, size, "[%s]:%u", ip, port);
	else
		snprintf(out, size, "%s:%u", ip, port);
}

/* The row of a query: answered by m (NULL when it timed out at ts_ns). */
static void udp_row(struct dns_table *t, const struct pending *q, const struct dnsmsg *m,
		    uint64_t ts_ns)
{
	struct dns_addr addrs[DNSMSG_ADDRS_MAX];
	struct dns_row *r;
	int64_t epoch = (int64_t)mono_to_epoch_ns(q->ts_ns);
	size_t i, n = 0;

	if (m) {
		for (i = 0; i < m->naddrs; i++) {
			addrs[n].family = m->addrs[i].family;
			memcpy(addrs[n].addr, m->addrs[i].addr, 16);
			n++;
		}
		n = addrs_copy(addrs, addrs, n);
		lookup_keep(t, q->tgid, SRC_UDP, q->qname, q->ts_ns, ts_ns, epoch, addrs, n);
	}
	r = row_new(q->tgid, q->tid, q->comm, q->qname, addrs, n);
	if (!r)
		return;
	dnsmsg_type_name(q->qtype, r->qtype, sizeof(r->qtype));
	if (m) {
		r->rcode = m->rcode;
		dnsmsg_rcode_name(m->rcode, r->result, sizeof(r->result));
		r->latency_ms = ts_ns >= q->ts_ns ? (ts_ns - q->ts_ns) / 1e6 : 0;
	} else {
		r->rcode = DNS_RCODE_NONE;
		snprintf(r->result, sizeof(r->result), "TIMEOUT");
		r->latency_ms = -1;
	}
	r->source = "udp";
	r->start_ns = epoch;
	server_text(&q->server, q->port, r->server, sizeof(r->server));
	row_emit(&t->sink, ROW_DNS, r);
}

static struct pending **pending_find(struct dns_table *t, uint32_t tgid, const struct dnsmsg *m)
{
	struct pending **pp;

	for (pp = &t->pending; *pp; pp = &(*pp)->next) {
		struct pending *q = *pp;

		if (q->tgid == tgid && q->id == m->id && q->qtype == m->qtype &&
		    !strcasecmp(q->qname, m->qname))
			return pp;
	}
	return NULL;
}

void dns_on_packet(struct dns_table *t, const struct dns_packet *p)
{
	struct dnsmsg *m = malloc(sizeof(*m));
	struct pending **pp, *q;
	int rc;

	if (!m)
		return;
	rc = dnsmsg_parse(p->data, p->len, m);
	/* A capture cut short still carries the header and question. */
	if (rc == -1 || !m->has_question || m->opcode != 0 ||
	    (rc == -2 && p->len >= p->msg_len)) {
		t->malformed++;
		goto out_free;
	}
	pp = pending_find(t, p->tgid, m);
	if (p->sent && !m->qr) {
		/* A retransmission keeps the first send: the latency the caller saw. */
		if (pp || t->npending >= PENDING_MAX)
			goto out_free;
		q = calloc(1, sizeof(*q));
		if (!q)
			goto out_free;
		q->qname = strdup(m->qname);
		if (!q->qname) {
			free(q);
			goto out_free;
		}
		q->tgid = p->tgid;
		q->tid = p->tid;
		q->id = m->id;
		q->qtype = m->qtype;
		snprintf(q->comm, sizeof(q->comm), "%s", p->comm ? p->comm : "");
		q->ts_ns = p->ts_ns;
		q->server = p->server;
		q->port = p->port;
		q->next = t->pending;
		t->pending = q;
		t->npending++;
	} else if (!p->sent && m->qr && pp) {
		q = *pp;
		*pp = q->next;
		t->npending--;
		udp_row(t, q, m, p->ts_ns);
		pending_free(q);
	}
out_free:
	free(m);
}

void dns_reap(struct dns_table *t, uint64_t now_ns)
{
	struct pending **pp = &t->pending, *q;
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;
	struct proc *p;

	while ((q = *pp)) {
		if (now_ns > q->ts_ns && now_ns - q->ts_ns >= DNS_QUERY_TIMEOUT_NS) {
			*pp = q->next;
			t->npending--;
			udp_row(t, q, NULL, now_ns);
			pending_free(q);
		} else {
			pp = &q->next;
		}
	}
	if (now_ns < DNS_KEEP_NS)
		return;
	while ((n = htab_next(&t->procs, &it))) {
		p = htab_entry(n, struct proc, node);
		/* Roughly oldest first: rings fill in arrival order. */
		while (p->count && p->ring[p->head].end_ns < now_ns - DNS_KEEP_NS) {
			lookup_clear(&p->ring[p->head]);
			p->head = (p->head + 1) % p->cap;
			p->count--;
		}
		if (!p->count)
			proc_remove(t, p);
	}
}

int dns_find(struct dns_table *t, uint32_t tgid, int family, const void *addr,
	     uint64_t before_mono_ns, struct dns_answer *out)
{
	struct proc *p = proc_get(t, tgid, 0);
	const struct lookup *best = NULL;
	struct dns_addr want = { .family = family };
	size_t i, j;
	int src;

	if (!p || !addr || (family != AF_INET && family != AF_INET6))
		return 0;
	memcpy(want.addr, addr, family == AF_INET ? 4 : 16);
	addr_normalize(&want);
	for (src = SRC_GAI; src <= SRC_UDP && !best; src++) {
		for (i = 0; i < p->count; i++) {
			const struct lookup *l = &p->ring[(p->head + i) % p->cap];

			if (l->source != src || l->end_ns > before_mono_ns ||
			    (best && l->end_ns <= best->end_ns))
				continue;
			for (j = 0; j < l->naddrs; j++)
				if (addr_eq(&l->addrs[j], &want))
					break;
			if (j < l->naddrs)
				best = l;
		}
	}
	if (!best)
		return 0;
	out->latency_ms = (best->end_ns - best->start_ns) / 1e6;
	out->name = best->name;
	out->start_ns_epoch = best->start_epoch;
	return 1;
}
