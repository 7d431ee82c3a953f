/* cover.c -- what llmtap sees and does not: processes with TLS-looking TCP connections, what was hooked for each, or why not (`llmtap doctor`).
 *
 * One pass over /proc: the TCP tables of each network namespace (client
 * connections, established, to non-loopback addresses), then each process's
 * sockets, executable and mapped files. A connection is TLS when its first
 * bytes were a ClientHello (sock.bpf.c, through net.c); one opened before the
 * tracer counts as TLS when its port is 443 or 8443. A TLS connection is seen
 * when a hooked library's session was joined to it (the ClientHello left
 * right after one of our probes fired on that thread), unseen when its
 * first bytes are COVER_UNSEEN_AFTER_NS old and none was.
 */
#include "capture/cover.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/htab.h"
#include "base/procfs.h"
#include "base/util.h"
#include "capture/attach.h"
#include "track/net.h"

#define COVER_FDS_MAX	256	/* sockets looked at per process */
#define COVER_FILES_MAX	1024	/* mapped files looked at per process */
#define COVER_REMOTES	8	/* peers listed per process */
#define KEY_LISTEN	(1ull << 63)	/* htab k1 tag: a listening port */
#define KEY_NS		(1ull << 62)	/* htab k1 tag: a namespace already read */

/* An established TCP socket of a network namespace. */
struct tcp_ent {
	struct htab_node node;		/* key (netns, inode) */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	int v6;
};

/* A classified socket as the tracer knows it. */
struct view_ent {
	struct htab_node node;		/* key (inode, 0) */
	struct net_sock_view v;
};

struct scan {
	struct htab tcp;		/* struct tcp_ent, listening ports, namespaces read */
	struct htab views;		/* struct view_ent */
	const struct attach *a;
	const struct cover_opts *o;
	uint64_t now;
	struct cover_summary *sum;
};

/* What one process's connections are. */
struct conns {
	int tls, plain, unknown;	/* by what their first bytes were (unknown: before us) */
	int seen, unseen, pending;	/* TLS ones: a hooked session on it, or not (yet) */
	json_t *remotes;
};

/* ---- TCP tables ---------------------------------------------------------------- */

/* Parse "0100007F" (IPv4) or 32 hex digits (IPv6) as /proc/net/tcp prints
 * them (each 32-bit word in host order) into a[16]. Returns 0, -1. */
static int hexaddr(const char *s, uint8_t a[16])
{
	size_t n = strlen(s), i;
	uint32_t w;
	char word[9];

	memset(a, 0, 16);
	if (n != 8 && n != 32)
		return -1;
	for (i = 0; i < n / 8; i++) {
		memcpy(word, s + 8 * i, 8);
		word[8] = 0;
		w = (uint32_t)strtoul(word, NULL, 16);
		memcpy(a + 4 * i, &w, 4);
	}
	return 0;
}

/* Loopback: 127/8, ::1, ::ffff:127.0.0.0/104. */
static int is_loopback(const uint8_t a[16], int v6)
{
	static const uint8_t one[16] = { [15] = 1 };
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!v6)
		return a[0] == 127;
	return !memcmp(a, one, 16) || (!memcmp(a, mapped, 12) && a[12] == 127);
}

/* Read one /proc/PID/net/tcp[6] file into s->tcp under namespace ns. */
static void tcp_file_read(struct scan *s, const char *path, uint64_t ns, int v6)
{
	char line[512], la[40], ra[40];
	unsigned lp, rp, st;
	unsigned long ino;
	struct tcp_ent *e;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*s %*s %*s %*d %*d %lu",
			   la, &lp, ra, &rp, &st, &ino) != 6 || !ino)
			continue;
		if (st == 0x0A) {	/* LISTEN: its port marks accepted sockets */
			struct htab_node *n = calloc(1, sizeof(*n));

			if (n && htab_add(&s->tcp, n, ns | KEY_LISTEN, lp))
				free(n);
			continue;
		}
		if (st != 0x01)		/* ESTABLISHED only */
			continue;
		e = calloc(1, sizeof(*e));
		if (!e)
			break;
		e->v6 = v6;
		e->lport = lp;
		e->rport = rp;
		if (hexaddr(la, e->laddr) || hexaddr(ra, e->raddr) ||
		    htab_add(&s->tcp, &e->node, ns, ino)) {
			free(e);
			continue;
		}
	}
	fclose(f);
}

/* The network namespace of pid (its inode), its TCP tables read once. 0
 * when unknown. */
static uint64_t netns_of(struct scan *s, pid_t pid)
{
	char path[96], dir[64];
	struct stat st;
	struct htab_node *n;

	procfs_task_dir(pid, dir, sizeof(dir));	/* a main thread gone first has no namespaces */
	snprintf(path, sizeof(path), "%s/ns/net", dir);
	if (stat(path, &st))
		return 0;
	if (htab_find(&s->tcp, st.st_ino | KEY_NS, 0))
		return st.st_ino;
	n = calloc(1, sizeof(*n));
	if (!n || htab_add(&s->tcp, n, st.st_ino | KEY_NS, 0)) {
		free(n);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/net/tcp", dir);
	tcp_file_read(s, path, st.st_ino, 0);
	snprintf(path, sizeof(path), "%s/net/tcp6", dir);
	tcp_file_read(s, path, st.st_ino, 1);
	return st.st_ino;
}

/* "addr:port" of the remote end, as a JSON string. */
static json_t *remote_json(const struct tcp_ent *e)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	char host[64], out[80];
	const uint8_t *a = e->raddr;

	if (!e->v6 || !memcmp(a, mapped, 12)) {
		if (e->v6)
			a += 12;
		snprintf(out, sizeof(out), "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], e->rport);
		return json_string(out);
	}
	snprintf(host, sizeof(host), "%x:%x:%x:%x:%x:%x:%x:%x",
		 a[0] << 8 | a[1], a[2] << 8 | a[3], a[4] << 8 | a[5], a[6] << 8 | a[7],
		 a[8] << 8 | a[9], a[10] << 8 | a[11], a[12] << 8 | a[13], a[14] << 8 | a[15]);
	snprintf(out, sizeof(out), "[%s]:%u", host, e->rport);
	return json_string(out);
}

/* ---- a process's connections ------------------------------------------------- */

/* net_classified() callback: index the tracer's view of a socket by its inode. */
static void view_add(void *ctx, const struct net_sock_view *v)
{
	struct scan *s = ctx;
	struct view_ent *e;

	if (!v->ino)
		return;
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->v = *v;
	if (htab_add(&s->views, &e->node, v->ino, 0))
		free(e);
}

/* Count one client connection e (socket inode ino) of a process into c. */
static void conn_count(struct scan *s, const struct tcp_ent *e, uint64_t ino, struct conns *c)
{
	struct htab_node *n = htab_find(&s->views, ino, 0);
	const struct net_sock_view *v = n ? &htab_entry(n, struct view_ent, node)->v : NULL;

	if (v && v->cls == NET_CLASS_PLAIN) {
		c->plain++;
	} else if (v && v->cls == NET_CLASS_TLS) {
		c->tls++;
		if (v->joined)
			c->seen++;
		else if (s->now - v->class_ns < COVER_UNSEEN_AFTER_NS)
			c->pending++;
		else
			c->unseen++;
	} else if (e->rport == 443 || e->rport == 8443) {
		c->unknown++;		/* before the tracer, or not written since */
	} else {
		return;
	}
	if (json_array_size(c->remotes) < COVER_REMOTES)
		json_array_append_new(c->remotes, remote_json(e));
}

/* Count pid's client TCP connections (in namespace ns) into c. */
static void proc_conns(struct scan *s, pid_t pid, uint64_t ns, struct conns *c)
{
	char path[340], link[64], dir[64];
	unsigned long ino;
	struct dirent *de;
	struct htab_node *n;
	int nfd = 0;
	ssize_t len;
	DIR *d;

	procfs_task_dir(pid, dir, sizeof(dir));	/* a main thread gone first has no files */
	snprintf(path, sizeof(path), "%s/fd", dir);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && nfd < COVER_FDS_MAX) {
		const struct tcp_ent *e;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/fd/%s", dir, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		n = htab_find(&s->tcp, ns, ino);
		if (!n)
			continue;
		nfd++;
		e = htab_entry(n, struct tcp_ent, node);
		/* accepted (a server's side), or to this host's loopback */
		if (htab_find(&s->tcp, ns | KEY_LISTEN, e->lport) || is_loopback(e->raddr, e->v6))
			continue;
		conn_count(s, e, ino, c);
	}
	closedir(d);
}

/* ---- a process's files -------------------------------------------------------- */

/* TLS libraries llmtap has no probes for, by file name. */
static const struct {
	const char *prefix, *name;
} unsupported[] = {
	{ "libmbedtls", "mbed TLS" }, { "libwolfssl", "wolfSSL" }, { "libnss3", "NSS" },
	{ "libssl3.so", "NSS" }, { "libbotan", "Botan" }, { "libs2n", "s2n-tls" },
	{ "libmatrixssl", "MatrixSSL" }, { "libbearssl", "BearSSL" },
};

/* What pid's files say: what was done with them (hooked[], not_hooked[]),
 * an unsupported TLS library it maps (unsup, "" when none), how many files
 * it maps. */
struct files {
	json_t *hooked, *not_hooked;
	char unsup[320];
	int nfiles;
};

/* attach_records_pid() callback: a TLS file of the process and its fate. */
static void file_record(void *ctx, const struct attach_record *r)
{
	struct files *f = ctx;

	if (!strcmp(r->kind, "libc"))
		return;		/* DNS, not TLS */
	if (r->state == ATTACH_ATTACHED)
		json_array_append_new(f->hooked,
				      json_pack("{s:s, s:s, s:s, s:s}", "path", r->path, "kind", r->kind,
						"method", r->method, "version", r->version ? r->version : ""));
	else
		json_array_append_new(f->not_hooked,
				      json_pack("{s:s, s:s, s:s}", "path", r->path, "kind", r->kind,
						"reason", r->reason ? r->reason : "not hooked"));
}

/* Look at pid's files: the records of what was done with them, and by
 * name the TLS libraries llmtap has no probes for. */
static void proc_files(struct scan *s, pid_t pid, struct files *f)
{
	char path[96], line[4608], last[4096] = "", dir[64];
	FILE *m;
	size_t i;

	attach_records_pid(s->a, pid, file_record, f);
	procfs_task_dir(pid, dir, sizeof(dir));	/* a main thread gone first has no memory */
	snprintf(path, sizeof(path), "%s/maps", dir);
	m = fopen(path, "re");
	if (!m)
		return;
	while (fgets(line, sizeof(line), m)) {
		char *p = strchr(line, '/'), *base;

		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		if (!strcmp(p, last))
			continue;
		snprintf(last, sizeof(last), "%s", p);
		f->nfiles++;
		base = strrchr(p, '/') + 1;
		for (i = 0; !f->unsup[0] && i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
			if (!strncmp(base, unsupported[i].prefix, strlen(unsupported[i].prefix)))
				snprintf(f->unsup, sizeof(f->unsup), "%s (%s)", unsupported[i].name, p);
	}
	fclose(m);
}

/* ---- verdicts -------------------------------------------------------------------- */

/* The status of a process and, unless covered, why, into why[0..n). */
static const char *proc_status(const struct conns *c, const struct files *f, const char *exe,
			       char *why, size_t n)
{
	int hooked = json_array_size(f->hooked) > 0;
	json_t *nh = json_array_get(f->not_hooked, 0);

	why[0] = 0;
	if (!hooked && (c->unseen || c->unknown)) {
		if (nh)
			snprintf(why, n, "%.250s: %.250s", json_string_value(json_object_get(nh, "path")),
				 json_string_value(json_object_get(nh, "reason")));
		else if (f->unsup[0])
			snprintf(why, n, "uses %.400s, which llmtap does not hook", f->unsup);
		else
			snprintf(why, n, "no TLS library llmtap knows in %.300s or the %d files it maps "
				 "(a TLS stack built in without symbols?)", exe[0] ? exe : "its executable",
				 f->nfiles > 0 ? f->nfiles - 1 : 0);
		return "uncovered";
	}
	if (c->unseen) {
		snprintf(why, n, "%d TLS connection(s) with no hooked session although %.300s is hooked",
			 c->unseen, json_string_value(json_object_get(json_array_get(f->hooked, 0), "path")));
		return "partial";
	}
	if (!c->seen && !c->unknown && !c->plain && c->pending)
		return "pending";
	return "covered";
}

/* The report entry of pid, or NULL when it has no connection of interest. */
static json_t *proc_report(struct scan *s, pid_t pid)
{
	struct conns c = { 0 };
	struct files *f;
	char exe[4096], comm[64] = "", why[512];
	const char *status;
	uint64_t ns;
	json_t *o = NULL;
	FILE *cf;

	ns = netns_of(s, pid);
	if (!ns)
		return NULL;
	c.remotes = json_array();
	if (!c.remotes)
		return NULL;
	proc_conns(s, pid, ns, &c);
	if (!c.tls && !c.plain && !c.unknown)
		goto out_remotes;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto out_remotes;
	f->hooked = json_array();
	f->not_hooked = json_array();
	procfs_exe(pid, exe, sizeof(exe));
	snprintf(why, sizeof(why), "/proc/%d/comm", pid);
	cf = fopen(why, "re");
	if (cf) {
		if (fgets(comm, sizeof(comm), cf))
			comm[strcspn(comm, "\n")] = 0;
		fclose(cf);
	}
	proc_files(s, pid, f);
	status = proc_status(&c, f, exe, why, sizeof(why));
	if (c.plain)
		json_array_append_new(f->hooked, json_pack("{s:s, s:s, s:s, s:s}", "path", "(socket syscalls)",
							   "kind", "plain-http", "method", "syscalls",
							   "version", ""));
	o = json_pack("{s:i, s:s, s:s, s:s, s:s?, s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:O, s:O, s:O}",
		      "pid", pid, "comm", comm, "exe", exe, "status", status,
		      "reason", why[0] ? why : NULL,
		      "connections", "tls", c.tls, "plain", c.plain, "unknown", c.unknown,
		      "seen", c.seen, "unseen", c.unseen, "pending", c.pending,
		      "remotes", c.remotes, "hooked", f->hooked, "not_hooked", f->not_hooked);
	s->sum->processes++;
	s->sum->unseen += c.unseen;
	if (!strcmp(status, "covered"))
		s->sum->covered++;
	else if (!strcmp(status, "partial"))
		s->sum->partial++;
	else if (!strcmp(status, "pending"))
		s->sum->pending++;
	else
		s->sum->uncovered++;
	json_decref(f->hooked);
	json_decref(f->not_hooked);
	free(f);
out_remotes:
	json_decref(c.remotes);
	return o;
}

/* ---- the scan ------------------------------------------------------------------- */

/* attach_records() callback: one file's record as a JSON object of the report's "files". */
static void record_json(void *ctx, const struct attach_record *r)
{
	static const char *const states[] = { "?", "attached", "failed", "uncovered" };

	json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:i}", "path", r->path,
					     "kind", r->kind, "method", r->method,
					     "version", r->version ? r->version : "",
					     "state", states[r->state <= ATTACH_UNCOVERED ? r->state : 0],
					     "reason", r->reason, "probes", r->probes));
}

/* Free every node of h (each allocated on its own, the node first). */
static void htab_free_all(struct htab *h)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	while ((n = htab_next(h, &it))) {
		htab_del(h, n);
		free(n);
	}
	htab_fini(h);
}

json_t *cover_scan(const struct attach *a, const struct net_table *net,
		   const struct cover_opts *o, struct cover_summary *sum)
{
	struct scan s = { .a = a, .o = o, .now = mono_ns(), .sum = sum };
	json_t *report, *procs, *files, *p;
	struct dirent *de;
	DIR *d;

	memset(sum, 0, sizeof(*sum));
	htab_init(&s.tcp);
	htab_init(&s.views);
	if (net)
		net_classified(net, view_add, &s);
	procs = json_array();
	files = json_array();
	d = opendir("/proc");
	while (d && procs && (de = readdir(d))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		/* `run -p`: the other processes are not traced, by request */
		if (pid == o->self || (a && !attach_scoped(a, pid)))
			continue;
		p = proc_report(&s, pid);
		if (p)
			json_array_append_new(procs, p);
	}
	if (d)
		closedir(d);
	if (files && a)
		attach_records(a, record_json, files);
	htab_free_all(&s.tcp);
	htab_free_all(&s.views);
	report = json_pack("{s:o, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:i}}",
			   "processes", procs ? procs : json_array(),
			   "files", files ? files : json_array(),
			   "summary", "processes", sum->processes, "covered", sum->covered,
			   "partial", sum->partial, "uncovered", sum->uncovered,
			   "pending", sum->pending, "unseen_connections", sum->unseen);
	return report;
}
