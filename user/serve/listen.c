/* listen.c -- `run --listen`: /health and /metrics over HTTP, served from a snapshot the capture loop keeps current.
 *
 * The capture loop copies its counters into a small struct (listen_update)
 * under a mutex; libmicrohttpd's own thread answers from a copy of that
 * struct. It never touches SQLite, libbpf or the connection tables, so a
 * slow or hostile HTTP client costs the capture nothing. The socket is
 * bound first thing (listen_open), so a port in use fails the run at once;
 * answering starts just before "ready" (listen_start). */
#include "serve/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "push/format.h"
#include "base/util.h"
#include "serve/ingest.h"
#include "serve/selfstat.h"

#define LISTEN_BACKLOG 16
#define LISTEN_CONN_MAX 16		/* clients served at once */
#define LISTEN_TIMEOUT_S 10		/* idle connections are closed after this */
#define LISTEN_CONN_MEM (16u << 10)	/* per connection: request headers and all */
#define NS 1000000000ull

struct listener {
	int fd;				/* the listening socket until MHD runs */
	struct MHD_Daemon *d;
	char addr[64];			/* as bound: 127.0.0.1:9464, [::1]:9464 */
	char *db;
	uint64_t start_ns;		/* monotonic: uptime counts from here */
	pthread_mutex_t mu;
	struct listen_stats stats;	/* under mu, like the two stamps below */
	uint64_t updated_ns;		/* monotonic: last listen_update(); 0 none */
	uint64_t last_drop_ns;		/* monotonic: drops last grew; 0 never */
	struct ingest *ingest;		/* the POST endpoints; NULL: none */
	int loopback;			/* bound to a loopback address */
};

/* The snapshot a request works on. */
struct snap {
	struct listen_stats s;
	const struct ingest_stats *ingest;	/* NULL without the POST endpoints */
	uint64_t now_ns, updated_ns, last_drop_ns;
};

/* ---- the address ---- */

/* Parse "[ADDR:]PORT" into sa (port in network order). Returns 0, or -1
 * with the reason in err. */
static int addr_parse(const char *spec, struct sockaddr_storage *sa, socklen_t *len,
		      char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
	const char *port = spec, *colon;
	char host[64] = LISTEN_DEFAULT_ADDR;
	char *end;
	long v;

	memset(sa, 0, sizeof(*sa));
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host)) {
			snprintf(err, errlen, "an IPv6 address is written [ADDR]:PORT");
			return -1;
		}
		memcpy(host, spec + 1, close - spec - 1);
		host[close - spec - 1] = 0;
		port = close + 2;
	} else if ((colon = strrchr(spec, ':'))) {
		if (colon == spec) {
			snprintf(err, errlen, "the address is missing (127.0.0.1:PORT for this host only, "
				 "0.0.0.0:PORT for every interface)");
			return -1;
		}
		if (memchr(spec, ':', colon - spec)) {
			snprintf(err, errlen, "an IPv6 address is written [ADDR]:PORT");
			return -1;
		}
		if ((size_t)(colon - spec) >= sizeof(host)) {
			snprintf(err, errlen, "address too long");
			return -1;
		}
		memcpy(host, spec, colon - spec);
		host[colon - spec] = 0;
		port = colon + 1;
	}
	errno = 0;
	v = strtol(port, &end, 10);
	if (!*port || *end || *port == '-' || *port == '+' || errno || v < 0 || v > 65535) {
		snprintf(err, errlen, "the port must be a number from 0 to 65535");
		return -1;
	}
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)v);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)v);
		*len = sizeof(*s6);
		return 0;
	}
	snprintf(err, errlen, "'%s' is not a numeric IPv4 or [IPv6] address", host);
	return -1;
}

/* "127.0.0.1:9464" or "[::1]:9464" for sa. */
static void addr_format(const struct sockaddr_storage *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* 1 when sa is a loopback address (127/8, ::1, ::ffff:127.x). */
static int addr_loopback(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
}

int listen_check(const char *spec)
{
	struct sockaddr_storage sa;
	socklen_t len;
	char err[128];

	if (addr_parse(spec, &sa, &len, err, sizeof(err))) {
		fprintf(stderr, "llmtap: bad --listen value '%s': %s\n", spec, err);
		return -1;
	}
	return 0;
}

/* ---- the pages ---- */

/* Append printf-style text (short: one line of a page). */
static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The reasons /health is degraded, appended to b as JSON strings (when b is
 * not NULL). Returns how many there are. */
static int health_reasons(const struct snap *sn, struct buf *b)
{
	int i, n = 0;

	if (sn->last_drop_ns && sn->now_ns - sn->last_drop_ns < LISTEN_DROPS_WINDOW_S * NS) {
		if (b)
			bprintf(b, "%s\"events dropped in the last %d s (ring buffer full)\"", n ? "," : "",
				LISTEN_DROPS_WINDOW_S);
		n++;
	}
	for (i = 0; i < sn->s.npush; i++) {
		uint64_t since = sn->s.push[i].failing_since_ns;

		if (!since || sn->now_ns < since || sn->now_ns - since <= LISTEN_PUSH_FAIL_S * NS)
			continue;
		if (b) {
			bprintf(b, "%s\"push target ", n ? "," : "");
			/* the target as a JSON string, without its quotes */
			{
				struct buf t = { 0 };

				jw_cstr(&t, sn->s.push[i].target);
				if (t.len >= 2)
					buf_append(b, t.data + 1, t.len - 2);
				buf_free(&t);
			}
			bprintf(b, " failing for %llu s\"", (unsigned long long)((sn->now_ns - since) / NS));
		}
		n++;
	}
	n += selfstat_reasons(&sn->s.self, b, n);
	if (sn->updated_ns && sn->now_ns - sn->updated_ns > LISTEN_STALE_S * NS) {
		if (b)
			bprintf(b, "%s\"capture loop silent for %llu s\"", n ? "," : "",
				(unsigned long long)((sn->now_ns - sn->updated_ns) / NS));
		n++;
	}
	return n;
}

/* /health as JSON; *status 200 when ok, 503 when degraded. */
static void page_health(const struct listener *l, const struct snap *sn, struct buf *b, unsigned *status)
{
	int i, bad = health_reasons(sn, NULL);

	*status = bad ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
	bprintf(b, "{\"status\":\"%s\",\"reasons\":[", bad ? "degraded" : "ok");
	health_reasons(sn, b);
	bprintf(b, "],\"uptime_s\":%llu,\"files_attached\":%d,\"calls_recorded\":%llu,"
		"\"events_dropped\":%llu,\"db\":",
		(unsigned long long)((sn->now_ns - l->start_ns) / NS), sn->s.files,
		sn->s.calls, (unsigned long long)sn->s.drops);
	jw_cstr(b, l->db);
	buf_puts(b, ",\"push\":[");
	for (i = 0; i < sn->s.npush; i++) {
		const struct push_status *p = &sn->s.push[i];

		buf_puts(b, i ? ",{\"target\":" : "{\"target\":");
		jw_cstr(b, p->target);
		bprintf(b, ",\"backlog_rows\":%lld,\"last_success_ns\":", (long long)p->backlog_rows);
		if (p->last_success_ns)
			bprintf(b, "%llu", (unsigned long long)p->last_success_ns);
		else
			buf_puts(b, "null");
		buf_puts(b, ",\"last_error\":");
		jw_cstr(b, p->last_error[0] ? p->last_error : NULL);
		buf_puts(b, "}");
	}
	buf_puts(b, "],\"self\":");
	selfstat_health(b, &sn->s.self);
	buf_puts(b, "}\n");
}

/* s as a label value of the text format: \\, \" and \n escaped. */
static void label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_append(b, "\\", 1);
		if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, s, 1);
	}
}

static void metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* /metrics in the Prometheus text format 0.0.4. */
static void page_metrics(const struct snap *sn, struct buf *b)
{
	int i;

	metric_head(b, "llmtap_calls_total", "counter", "LLM API calls recorded since the tracer started.");
	bprintf(b, "llmtap_calls_total %llu\n", sn->s.calls);
	metric_head(b, "llmtap_events_total", "counter",
		    "Events the BPF programs handed to the ring buffers.");
	bprintf(b, "llmtap_events_total %llu\n", (unsigned long long)sn->s.events);
	metric_head(b, "llmtap_events_dropped_total", "counter",
		    "Events lost because a ring buffer was full.");
	bprintf(b, "llmtap_events_dropped_total %llu\n", (unsigned long long)sn->s.drops);
	metric_head(b, "llmtap_files_attached", "gauge",
		    "Files (libssl, executables) with the TLS uprobes attached.");
	bprintf(b, "llmtap_files_attached %d\n", sn->s.files);
	metric_head(b, "llmtap_open_connections", "gauge", "TLS connections being reassembled.");
	bprintf(b, "llmtap_open_connections %llu\n", (unsigned long long)sn->s.open_conns);
	metric_head(b, "llmtap_uncovered_processes", "gauge",
		    "Processes with TLS connections to other hosts whose TLS llmtap cannot see.");
	bprintf(b, "llmtap_uncovered_processes %d\n", sn->s.uncovered);
	metric_head(b, "llmtap_unseen_tls_connections", "gauge",
		    "Open TLS connections that carried bytes but no hooked TLS session.");
	bprintf(b, "llmtap_unseen_tls_connections %d\n", sn->s.unseen);
	metric_head(b, "llmtap_push_backlog_rows", "gauge",
		    "Rows waiting for a push target, as counted at its last attempt.");
	for (i = 0; i < sn->s.npush; i++) {
		buf_puts(b, "llmtap_push_backlog_rows{target=\"");
		label_value(b, sn->s.push[i].target);
		bprintf(b, "\"} %lld\n", (long long)sn->s.push[i].backlog_rows);
	}
	metric_head(b, "llmtap_push_last_success_seconds", "gauge",
		    "Unix time of the last batch a push target accepted; 0 when none.");
	for (i = 0; i < sn->s.npush; i++) {
		buf_puts(b, "llmtap_push_last_success_seconds{target=\"");
		label_value(b, sn->s.push[i].target);
		bprintf(b, "\"} %.3f\n", sn->s.push[i].last_success_ns / 1e9);
	}
	genai_write(sn->s.genai, b);
	selfstat_metrics(b, &sn->s.self, sn->ingest);
}

/* ---- the HTTP thread ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     const struct buf *b, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(b->len, b->data ? (void *)b->data : (void *)"",
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Every request: answered at its first call, from a copy of the snapshot;
 * a request body is read and ignored. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req)
{
	static int answered;
	struct listener *l = cls;
	struct buf b = { 0 };
	struct ingest_stats ist;
	struct snap sn;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ret;
	int health = !strcmp(url, "/health"), metrics = !strcmp(url, "/metrics");

	(void)version;
	if (l->ingest && ingest_owns(url))
		return ingest_request(l->ingest, c, url, method, upload_data, upload_data_size, req);
	if (*req) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	*req = &answered;
	if (!health && !metrics) {
		buf_puts(&b, "not found: try /health or /metrics\n");
		ret = reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", &b, NULL);
	} else if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		buf_puts(&b, "method not allowed: GET only\n");
		ret = reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", &b, "GET, HEAD");
	} else {
		pthread_mutex_lock(&l->mu);
		sn.s = l->stats;
		sn.updated_ns = l->updated_ns;
		sn.last_drop_ns = l->last_drop_ns;
		pthread_mutex_unlock(&l->mu);
		sn.now_ns = mono_ns();
		sn.ingest = NULL;
		if (l->ingest) {
			ingest_stats(l->ingest, &ist);
			sn.ingest = &ist;
		}
		if (health) {
			page_health(l, &sn, &b, &status);
			ret = reply(c, status, "application/json", &b, NULL);
		} else {
			page_metrics(&sn, &b);
			ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
		}
	}
	buf_free(&b);
	return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_debug("listen: %s", line);
}

/* ---- life cycle ---- */

int listen_open(struct listener **out, const char *spec, const char *db)
{
	struct sockaddr_storage sa;
	struct listener *l;
	socklen_t len;
	char err[128], cwd[4096];
	int one = 1;

	*out = NULL;
	if (addr_parse(spec, &sa, &len, err, sizeof(err))) {
		fprintf(stderr, "llmtap: bad --listen value '%s': %s\n", spec, err);
		return -1;
	}
	l = calloc(1, sizeof(*l));
	if (l && db[0] != '/' && getcwd(cwd, sizeof(cwd)))
		l->db = malloc(strlen(cwd) + strlen(db) + 2);
	if (l && l->db)
		sprintf(l->db, "%s/%s", cwd, db);	/* /health names it absolute */
	else if (l)
		l->db = strdup(db);
	if (!l || !l->db) {
		free(l);
		fprintf(stderr, "llmtap: --listen: out of memory\n");
		return -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->start_ns = mono_ns();
	addr_format(&sa, l->addr, sizeof(l->addr));
	l->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l->fd, (struct sockaddr *)&sa, len) ||
	    listen(l->fd, LISTEN_BACKLOG)) {
		fprintf(stderr, "llmtap: --listen %s: cannot listen: %s\n", l->addr,
			errno == EADDRNOTAVAIL ? "not an address of this host" : strerror(errno));
		listen_close(l);
		return -1;
	}
	/* the port the kernel chose for port 0 */
	len = sizeof(sa);
	if (!getsockname(l->fd, (struct sockaddr *)&sa, &len))
		addr_format(&sa, l->addr, sizeof(l->addr));
	l->loopback = addr_loopback(&sa);
	if (!l->loopback)
		log_warn("--listen %s: /health and /metrics are open to the network, without "
			 "authentication", l->addr);
	*out = l;
	return 0;
}

int listen_start(struct listener *l)
{
	sigset_t block, old;

	/* The HTTP thread leaves SIGINT and SIGTERM to the capture loop (it inherits this mask). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	l->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
				NULL, NULL, on_request, l,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l,
				MHD_OPTION_LISTEN_SOCKET, l->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)LISTEN_CONN_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LISTEN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LISTEN_CONN_MEM,
				MHD_OPTION_NOTIFY_COMPLETED, ingest_completed, NULL,
				MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!l->d) {
		fprintf(stderr, "llmtap: --listen %s: cannot start the HTTP server\n", l->addr);
		/* whether libmicrohttpd closed the socket on failure is unspecified:
		 * leave it to the exit rather than risk closing another file */
		l->fd = -1;
		return -1;
	}
	log_warn("serving /health and /metrics on http://%s", l->addr);
	if (l->ingest)
		log_warn("accepting POST /v1/events, /v1/traces and /v1/logs on http://%s", l->addr);
	return 0;
}

void listen_update(struct listener *l, const struct listen_stats *s)
{
	uint64_t now = mono_ns();

	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	if (s->drops > l->stats.drops || (!l->updated_ns && s->drops))
		l->last_drop_ns = now;
	l->stats = *s;
	l->updated_ns = now;
	pthread_mutex_unlock(&l->mu);
}

int listen_is_loopback(const struct listener *l)
{
	return l && l->loopback;
}

void listen_set_ingest(struct listener *l, struct ingest *in)
{
	if (l)
		l->ingest = in;
}

void listen_close(struct listener *l)
{
	if (!l)
		return;
	if (l->d) {
		/* quiescing hands the socket back, so it is closed exactly once, here */
		l->fd = MHD_quiesce_daemon(l->d);
		MHD_stop_daemon(l->d);
	}
	if (l->fd >= 0)
		close(l->fd);
	pthread_mutex_destroy(&l->mu);
	free(l->db);
	free(l);
}
