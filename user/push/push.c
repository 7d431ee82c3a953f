/* push.c -- fleet push: start and stop, one worker thread per target (backoff, status), the retention thread.
 *
 * Each target's worker wakes when a batch of rows waits or its interval
 * (or backoff) ends, pushes a round of batches through the outbox
 * (outbox.c), and publishes its status for the health endpoint. At exit
 * every worker makes a last attempt bounded by the exit deadline. A
 * further thread runs retention (db/retention.c) every minute. */
#include "push/push_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "db/retention.h"
#include "base/util.h"

#define BACKOFF_BASE_S 1.0
#define BACKOFF_MAX_S 60.0
#define RETRY_AFTER_MAX_S 300.0
#define RETAIN_FIRST_S 10		/* first retention pass after start */
#define DISK_CHECK_S 5			/* the volume is checked this often (--max-disk-pct) */
#define RETAIN_EVERY_S 60
#define CHECKPOINT_EVERY_NS 1000000000ull	/* the WAL is copied back this often */
#define STATUS_COUNT_EVERY_NS 5000000000ull	/* backlog recount while draining */

const struct push_opts *push_opts_of(const struct pusher *p)
{
	return &p->o;
}

const char *push_host_id(const struct pusher *p)
{
	return p->host_id;
}

const char *push_host_name(const struct pusher *p)
{
	return p->host_name;
}

int push_stopping(struct pusher *p)
{
	return __atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE);
}

/* push_stopping() as retention asks it. */
static int maint_stopping(void *p)
{
	return push_stopping(p);
}

/* The operations of target kind k. */
static const struct push_kind_ops *push_kind_find(enum push_kind k)
{
	switch (k) {
	case PUSH_CLICKHOUSE: return &push_clickhouse_ops;
	case PUSH_OTLP: return &push_otlp_ops;
	default: return &push_json_ops;
	}
}

int push_check_url(const char *url)
{
	struct push_url u;
	char err[128];

	if (push_url_parse(url, &u, err, sizeof(err))) {
		fprintf(stderr, "llmtap: bad --push URL: %s\n", err);
		return -1;
	}
	push_url_free(&u);
	return 0;
}

/* The host id into out[0..n): override when set, else /etc/machine-id (or
 * D-Bus's copy), else the host name, else "unknown". */
static void push_host_id_load(const char *override, char *out, size_t n)
{
	static const char *const files[] = { "/etc/machine-id", "/var/lib/dbus/machine-id" };
	size_t i, len;
	FILE *f;

	if (override && *override) {
		snprintf(out, n, "%s", override);
		return;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		f = fopen(files[i], "r");
		if (!f)
			continue;
		out[0] = 0;
		if (fgets(out, (int)n, f)) {
			len = strcspn(out, " \t\r\n");
			out[len] = 0;
		}
		fclose(f);
		if (out[0])
			return;
	}
	if (gethostname(out, n) || !out[0])
		snprintf(out, n, "unknown");
	out[n - 1] = 0;
}

/* A random 32-bit number (the clock when getrandom() fails), for jitter. */
static uint32_t push_rnd32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)mono_ns();
	return r;
}

/* ---- status (push_status) ---- */

/* The status a target starts with: its last delivery (of an earlier run
 * too) and the backlog it finds. */
static void target_status_load(struct push_target *t)
{
	int64_t backlog;

	t->delivered_ns = push_outbox_last_success(t);
	backlog = push_outbox_backlog(t);
	t->counted_ns = mono_ns();
	pthread_mutex_lock(&t->p->mu);
	t->status.backlog_rows = backlog;
	t->status.last_success_ns = t->delivered_ns;
	pthread_mutex_unlock(&t->p->mu);
}

/* Publish the outcome of one attempt (rc of push_outbox_round(), begun at
 * started_ns). The backlog is recounted after an attempt that drained or
 * failed, and at most every STATUS_COUNT_EVERY_NS while a backlog drains
 * (each count reads the rows waiting). */
static void target_status_publish(struct push_target *t, int rc, const struct push_result *r,
				  uint64_t started_ns)
{
	uint64_t now = mono_ns();
	int64_t backlog = -1;

	if (rc != 1 || now - t->counted_ns >= STATUS_COUNT_EVERY_NS) {
		backlog = push_outbox_backlog(t);
		t->counted_ns = now;
	}
	pthread_mutex_lock(&t->p->mu);
	if (backlog >= 0)
		t->status.backlog_rows = backlog;
	t->status.last_success_ns = t->delivered_ns;
	if (rc < 0) {
		if (!t->status.failing_since_ns)
			t->status.failing_since_ns = started_ns;
		snprintf(t->status.last_error, sizeof(t->status.last_error), "%s", r->err);
	} else {
		t->status.failing_since_ns = 0;
		t->status.last_error[0] = 0;
	}
	pthread_mutex_unlock(&t->p->mu);
}

int push_status(struct pusher *p, struct push_status *out, int max)
{
	int i, n = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->ntargets && n < max; i++)
		out[n++] = p->targets[i].status;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* ---- the target thread ---- */

/* After a failed attempt: the next one after the backoff (or the server's
 * Retry-After, capped), said once per new error. */
static void target_on_failure(struct push_target *t, const struct push_result *r)
{
	double wait = push_backoff_s(++t->failures, BACKOFF_BASE_S, BACKOFF_MAX_S, push_rnd32());

	if (r->retry_after >= 0)
		wait = r->retry_after < RETRY_AFTER_MAX_S ? r->retry_after : RETRY_AFTER_MAX_S;
	if (t->failures == 1 || strcmp(t->last_error, r->err))
		log_warn("push: %s: %s (retry in %.1f s)", t->url.key, r->err, wait);
	else
		log_debug("push: %s: %s (failure %d, retry in %.1f s)", t->url.key, r->err,
			  t->failures, wait);
	snprintf(t->last_error, sizeof(t->last_error), "%s", r->err);
	t->next_ns = mono_ns() + (uint64_t)(wait * 1e9);
}

/* After an attempt that worked: the next one at once when more rows wait,
 * else after the interval. */
static void target_on_success(struct push_target *t, int more)
{
	const struct push_opts *o = &t->p->o;

	if (t->failures)
		log_warn("push: %s: delivering again after %d failed attempt(s)", t->url.key, t->failures);
	t->failures = 0;
	t->last_error[0] = 0;
	t->next_ns = more ? mono_ns() : mono_ns() + (uint64_t)(o->interval_s * 1e9);
}

/* A target's worker thread: a round when a batch waits, the interval or the
 * backoff ended, until stopped; then the last attempt, until drained, a
 * failure or the deadline. */
static void *target_main(void *arg)
{
	struct push_target *t = arg;
	struct pusher *p = t->p;
	struct push_result r;
	struct timespec ts;
	uint64_t now, deadline, started;
	int rc, stop;

	target_status_load(t);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		for (;;) {
			now = mono_ns();
			if (p->stopping || now >= t->next_ns ||
			    (!t->failures && p->seq - t->seen_seq >= (unsigned long long)p->o.batch_rows))
				break;
			clock_gettime(CLOCK_REALTIME, &ts);
			{
				uint64_t wake = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec +
						(t->next_ns - now);

				ts.tv_sec = wake / 1000000000ull;
				ts.tv_nsec = wake % 1000000000ull;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		stop = p->stopping;
		deadline = p->deadline_ns;
		t->seen_seq = p->seq;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		started = mono_ns();
		rc = push_outbox_round(t, &r);
		if (rc < 0)
			target_on_failure(t, &r);
		else
			target_on_success(t, rc);
		target_status_publish(t, rc, &r, started);
	}
	/* The last attempt: whatever the backoff said, until drained, a failure or the deadline. */
	while (mono_ns() < deadline) {
		rc = push_outbox_round(t, &r);
		if (rc < 0) {
			log_warn("push: %s: last attempt failed: %s; the rows stay in the database "
				 "for the next run", t->url.key, r.err);
			break;
		}
		if (!rc)
			break;
	}
	return NULL;
}

/* The retention thread: a pass RETAIN_FIRST_S after start, then every
 * RETAIN_EVERY_S, until the pusher stops; meanwhile the WAL's checkpoints,
 * which the capture thread would otherwise make in the middle of a write. */
static void *maint_main(void *arg)
{
	struct pusher *p = arg;
	struct retention_target *rt = calloc(p->ntargets ? p->ntargets : 1, sizeof(*rt));
	struct retention_opts ro = {
		.retain_days = p->o.retain_days,
		.max_db_bytes = p->o.max_db_bytes,
		.max_disk_pct = p->o.max_disk_pct,
		.targets = rt,
		.ntargets = p->ntargets,
		.stopping = maint_stopping,
		.notice = p->o.notice,
		.ud = p,
		.notice_ud = p->o.notice_ud,
	};
	struct retention *r;
	struct timespec ts;
	uint64_t next = mono_ns() + RETAIN_FIRST_S * 1000000000ull, now, wake;
	uint64_t next_disk = mono_ns(), next_ckpt = mono_ns() + CHECKPOINT_EVERY_NS;
	int i, kicked;

	if (!rt)
		return NULL;
	for (i = 0; i < p->ntargets; i++) {
		rt[i].key = p->targets[i].url.key;
		rt[i].tables = p->targets[i].ops->tables;
	}
	if (retention_open(&r, p->db_path, &ro))
		goto out_free;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		wake = p->o.max_disk_pct > 0 && next_disk < next ? next_disk : next;
		if (next_ckpt < wake)
			wake = next_ckpt;
		while (!p->stopping && !p->ckpt_now && (now = mono_ns()) < wake) {
			uint64_t left = wake - now;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(left / 1000000000ull);
			ts.tv_nsec += (long)(left % 1000000000ull);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		kicked = p->ckpt_now;
		p->ckpt_now = 0;
		pthread_mutex_unlock(&p->mu);
		if (push_stopping(p))
			break;
		if (kicked || mono_ns() >= next_ckpt) {
			retention_checkpoint(r);
			next_ckpt = mono_ns() + CHECKPOINT_EVERY_NS;
			if (mono_ns() < next && (p->o.max_disk_pct <= 0 || mono_ns() < next_disk))
				continue;
		}
		if (mono_ns() >= next) {
			retention_run(r);
			next = mono_ns() + RETAIN_EVERY_S * 1000000000ull;
		} else {
			retention_disk(r);
		}
		next_disk = mono_ns() + DISK_CHECK_S * 1000000000ull;
	}
	retention_close(r);
out_free:
	free(rt);
	return NULL;
}

/* ---- start and stop ---- */

/* strdup(s); NULL for NULL (or out of memory). */
static char *push_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Free p and its targets (whose threads ended or never started). */
static void pusher_free(struct pusher *p)
{
	int i;

	for (i = 0; i < p->ntargets; i++) {
		struct push_target *t = &p->targets[i];

		push_http_close(t);
		push_outbox_close(t);
		push_url_free(&t->url);
	}
	free(p->targets);
	for (i = 0; i < p->o.nurls; i++)
		free(p->urls[i]);
	free(p->db_path);
	free(p->ca_file);
	if (p->token)
		memset(p->token, 0, strlen(p->token));
	free(p->token);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

/* The target's own connection, tables and HTTP handle, in the calling
 * thread. Returns 0, -1 (message printed). */
static int target_open(struct push_target *t)
{
	if (push_outbox_open(t))
		return -1;
	return push_http_open(t);
}

int push_start(struct pusher **out, const struct push_opts *o)
{
	struct pusher *p = calloc(1, sizeof(*p));
	sigset_t block, old;
	char err[128];
	int i;

	*out = NULL;
	if (!p)
		return -1;
	p->o = *o;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->db_path = push_strdup(o->db_path);
	p->ca_file = push_strdup(o->ca_file);
	p->token = push_strdup(o->token);
	p->o.db_path = p->db_path;
	p->o.ca_file = p->ca_file;
	p->o.token = NULL;	/* only p->token holds it */
	if (p->o.batch_rows <= 0)
		p->o.batch_rows = 500;
	if (p->o.interval_s <= 0)
		p->o.interval_s = 5;
	push_host_id_load(o->host_id, p->host_id, sizeof(p->host_id));
	p->o.host_id = p->host_id;
	if (gethostname(p->host_name, sizeof(p->host_name)))
		p->host_name[0] = 0;
	p->host_name[sizeof(p->host_name) - 1] = 0;
	if (o->nurls && push_http_global_init()) {
		pusher_free(p);
		return -1;
	}
	p->targets = calloc(o->nurls ? o->nurls : 1, sizeof(*p->targets));
	if (!p->targets) {
		pusher_free(p);
		return -1;
	}
	for (i = 0; i < o->nurls; i++) {
		struct push_target *t = &p->targets[i];
		int j;

		p->urls[i] = strdup(o->urls[i]);
		p->o.urls[i] = p->urls[i];
		t->p = p;
		if (push_url_parse(o->urls[i], &t->url, err, sizeof(err))) {
			log_warn("bad --push URL: %s", err);
			p->ntargets = i;
			pusher_free(p);
			return -1;
		}
		p->ntargets = i + 1;
		for (j = 0; j < i; j++) {
			if (!strcmp(p->targets[j].url.key, t->url.key)) {
				log_warn("--push %s given twice", t->url.key);
				pusher_free(p);
				return -1;
			}
		}
		t->ops = push_kind_find(t->url.kind);
		snprintf(t->status.target, sizeof(t->status.target), "%s", t->url.key);
		if (target_open(t)) {
			pusher_free(p);
			return -1;
		}
	}
	/* The workers leave SIGINT and SIGTERM to the main thread (they inherit this mask). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < p->ntargets; i++) {
		struct push_target *t = &p->targets[i];

		if (pthread_create(&t->thread, NULL, target_main, t)) {
			log_warn("push: cannot start a thread: %s", strerror(errno));
			break;
		}
		t->started = 1;
		log_debug("push: %s (%s), host id %s, batches of %d rows every %.1f s", t->url.key,
			  t->ops->name, p->host_id, p->o.batch_rows, p->o.interval_s);
	}
	if (!pthread_create(&p->maint, NULL, maint_main, p))
		p->maint_started = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (i < p->ntargets) {
		push_stop(p, mono_ns());
		return -1;
	}
	*out = p;
	return 0;
}

void push_notify(struct pusher *p, unsigned rows)
{
	if (!p || !rows)
		return;
	pthread_mutex_lock(&p->mu);
	p->seq += rows;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void push_checkpoint(struct pusher *p)
{
	if (!p || !p->maint_started)
		return;
	pthread_mutex_lock(&p->mu);
	if (!p->ckpt_now) {
		p->ckpt_now = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void push_stop(struct pusher *p, uint64_t deadline_ns)
{
	struct timespec ts;
	uint64_t now;
	int i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->deadline_ns = deadline_ns;
	__atomic_store_n(&p->stopping, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->ntargets; i++) {
		if (!p->targets[i].started)
			continue;
		/* The worker ends by the deadline (curl is bounded by it); allow a little more. */
		now = mono_ns();
		clock_gettime(CLOCK_REALTIME, &ts);
		{
			uint64_t wake = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec +
					(deadline_ns > now ? deadline_ns - now : 0) + 500000000ull;

			ts.tv_sec = wake / 1000000000ull;
			ts.tv_nsec = wake % 1000000000ull;
		}
		if (pthread_timedjoin_np(p->targets[i].thread, NULL, &ts)) {
			log_warn("push: %s: still busy at exit; its batch is sent again next run",
				 p->targets[i].url.key);
			return;	/* the thread still uses p: leave it to the exit */
		}
	}
	if (p->maint_started)
		pthread_join(p->maint, NULL);
	if (p->ntargets)
		push_http_global_cleanup();
	pusher_free(p);
}
