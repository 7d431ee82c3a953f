/* proc.c -- the process table: pid -> exec info, exit, CPU totals; turns BPF CPU map samples into per-interval rows.
 *
 * A process enters the table when it execs, when a sampling pass finds CPU
 * time for it, when it makes an LLM call, is chosen by the OOM killer or
 * exits; what the events did not say (processes older than the tracer) is
 * read once from /proc. CPU totals only grow: a pass computes each
 * process's "effective" total (map total plus the running slices of its
 * threads on CPU right now), and the delta against the last pass becomes a
 * cpu_samples row. At exit the kernel's final totals close the last
 * interval, so the samples of a process add up to its processes.cpu_ms. */
#include "track/proc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/htab.h"
#include "base/procfs.h"
#include "base/util.h"
#include "llm/redact.h"
#include "track/events.h"
#include "track/exepath.h"
#include "track/procres.h"
#include "track/procwatch.h"

#define PROC_ARGV_MAX		4096	/* as LT_ARGV_MAX: /proc reads are cut alike */
#define EXITED_KEEP_PASSES	2	/* late LLM call rows still find the process */
#define GONE_PASSES		3	/* absent from the maps this long: check /proc */
#define START_SLACK_NS		50000000ull	/* /proc start times have tick precision */

struct thread {
	struct htab_node node;	/* key (tid, 0) */
	uint32_t tid, tgid;
	uint64_t last_ns;	/* effective on-CPU total at the last pass */
	uint64_t gen;		/* pass that last saw it */
};

struct proc {
	struct htab_node node;	/* key (pid, 0) */
	char id[37];
	uint32_t pid, ppid, uid;
	int have_ppid, have_uid;
	char comm[16];
	char *exe, *argv;
	int64_t start_ns, exec_ns, exit_ns, since_ns;	/* epoch; PROC_NULL when unknown */
	uint64_t start_mono;				/* 0 when unknown */
	int exited, exit_code, exit_signal, oom_killed;
	uint64_t cpu_ns, runq_ns, switches, preempts;	/* totals so far */
	uint64_t seen_gen, exit_gen;
	/* this pass (valid when pass_gen == table gen) */
	uint64_t pass_gen, top_ns;
	uint32_t threads, top_tid;
	int dirty;		/* row differs from the one last written */
	struct proc_res res;	/* /proc at its last sample (totals) */
	int have_res;
	int agent;		/* it made an LLM call */
	uint64_t active_mono;	/* a pass last saw its CPU move (or its call) */
	int stuck;		/* reported stuck, not active since */
	uint64_t stuck_check;	/* when it was last checked for being stuck */
	int exec_written;	/* a row since its last exec (or since it was read from /proc) was written */
};

struct proc_table {
	struct row_sink sink;
	struct htab procs;	/* struct proc by pid */
	struct htab threads;	/* struct thread by tid */
	uint64_t gen;		/* sampling passes begun */
	uint64_t now_ns;	/* this pass, monotonic */
	uint64_t prev_ns;	/* the previous pass, or the table's creation */
	int64_t created_ns;	/* epoch */
	struct procwatch *watch;	/* zombies and stuck agents; NULL: none */
	struct exe_paths *exes;	/* programs' resolved paths; NULL: none kept */
};

struct proc_table *proc_table_new(const struct row_sink *sink)
{
	struct proc_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (sink)
		t->sink = *sink;
	htab_init(&t->procs);
	htab_init(&t->threads);
	t->exes = exe_paths_new();
	t->prev_ns = mono_ns();
	t->created_ns = mono_to_epoch_ns(t->prev_ns);
	return t;
}

void proc_table_set_watch(struct proc_table *t, struct procwatch *w)
{
	t->watch = w;
}

size_t proc_count(const struct proc_table *t)
{
	return t->procs.count;
}

void proc_exit_split(int raw, int *code, int *sig)
{
	*code = (raw >> 8) & 0xff;
	*sig = raw & 0x7f;
}

/* A JSON string of s[0..n), bytes of invalid UTF-8 replaced by '?'. */
static json_t *json_str_lossy(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	char *c;
	size_t i;

	if (v)
		return v;
	c = malloc(n + 1);
	if (!c)
		return NULL;
	for (i = 0; i < n; i++)
		c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	v = json_stringn(c, n);
	free(c);
	return v;
}

char *proc_argv_json(const char *buf, size_t len, int cut)
{
	json_t *a = json_array();
	enum redact_argv_state state = REDACT_ARG_PLAIN;
	size_t i = 0, n;
	char *out, *arg, *r;

	if (!a)
		return NULL;
	while (i < len) {
		n = strnlen(buf + i, len - i);
		/* an argument cut short is dropped: "..." says more followed */
		if (cut && i + n >= len)
			break;
		arg = strndup(buf + i, n);
		r = arg ? redact_arg(arg, &state) : NULL;
		/* never the unredacted argument: on OOM, the marker */
		json_array_append_new(a, r ? json_str_lossy(r, strlen(r)) : json_string(REDACTED));
		free(arg);
		free(r);
		i += n + 1;
	}
	if (cut)
		json_array_append_new(a, json_string("..."));
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

static void str_set(char **dst, const char *src)
{
	char *c = src && *src ? strdup(src) : NULL;

	if (src && *src && !c)
		return;		/* OOM: keep the old value */
	free(*dst);
	*dst = c;
}

static uint64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Fill what /proc says about p->pid: comm, ppid, start, uid, exe, argv.
 * Returns 0, -1 when the process is gone. */
static int proc_load(struct proc *p)
{
	char path[64], buf[1024], *s;
	unsigned long long ticks = 0;
	int ppid = 0, n;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/stat", p->pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	s = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!s)
		return -1;
	s = strrchr(buf, ')');
	if (s) {
		char *lp = strchr(buf, '(');

		if (!p->comm[0] && lp && lp < s) {
			n = s - lp - 1;
			if (n > (int)sizeof(p->comm) - 1)
				n = sizeof(p->comm) - 1;
			memcpy(p->comm, lp + 1, n);
			p->comm[n] = 0;
		}
		/* after ')': state ppid pgrp session tty tpgid flags minflt cminflt
		 * majflt cmajflt utime stime cutime cstime priority nice threads
		 * itrealvalue starttime */
		if (sscanf(s + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d"
			   " %*d %*d %*d %*d %llu", &ppid, &ticks) == 2) {
			if (!p->have_ppid) {
				p->ppid = ppid;
				p->have_ppid = 1;
			}
			if (!p->start_mono) {
				uint64_t since_boot = ticks * (1000000000ull / sysconf(_SC_CLK_TCK));
				uint64_t boot_mono = mono_ns() - boottime_ns();

				/* boottime runs ahead of monotonic by the time suspended */
				p->start_mono = boot_mono + since_boot;
				p->start_ns = real_ns() - boottime_ns() + since_boot;
			}
		}
	}
	snprintf(path, sizeof(path), "/proc/%u/status", p->pid);
	f = fopen(path, "re");
	if (f) {
		unsigned uid;

		while (fgets(buf, sizeof(buf), f)) {
			if (sscanf(buf, "Uid: %u", &uid) == 1) {
				if (!p->have_uid) {
					p->uid = uid;
					p->have_uid = 1;
				}
				break;
			}
		}
		fclose(f);
	}
	if (!p->exe) {
		char exe[4096];

		procfs_exe(p->pid, exe, sizeof(exe));
		str_set(&p->exe, exe);
	}
	if (!p->argv) {
		snprintf(path, sizeof(path), "/proc/%u/cmdline", p->pid);
		f = fopen(path, "re");
		if (f) {
			char cmd[PROC_ARGV_MAX + 1];

			len = fread(cmd, 1, sizeof(cmd), f);
			fclose(f);
			if (len > 0) {
				int cut = len > PROC_ARGV_MAX;

				p->argv = proc_argv_json(cmd, cut ? PROC_ARGV_MAX : len, cut);
			}
		}
	}
	return 0;
}

static struct proc *proc_find(struct proc_table *t, uint32_t pid)
{
	struct htab_node *n = htab_find(&t->procs, pid, 0);

	return n ? htab_entry(n, struct proc, node) : NULL;
}

const char *proc_exe_of(struct proc_table *t, uint32_t pid)
{
	struct proc *p = proc_find(t, pid);

	return p && p->exe && p->exe[0] ? p->exe : NULL;
}

static void proc_free(struct proc *p)
{
	free(p->exe);
	free(p->argv);
	free(p);
}

static void proc_remove(struct proc_table *t, struct proc *p)
{
	htab_del(&t->procs, &p->node);
	proc_free(p);
}

/* A new entry for pid (replacing an older one with that pid). With load,
 * what /proc knows is read; NULL when that fails or on OOM. */
static struct proc *proc_new(struct proc_table *t, uint32_t pid, int load)
{
	struct proc *p = calloc(1, sizeof(*p)), *old = proc_find(t, pid);

	if (!p)
		return NULL;
	p->pid = pid;
	p->start_ns = p->exec_ns = p->exit_ns = PROC_NULL;
	p->seen_gen = t->gen;
	proc_res_init(&p->res);
	uuid7(p->id);
	if (load && proc_load(p)) {
		proc_free(p);
		return NULL;
	}
	if (old)
		proc_remove(t, old);
	if (htab_add(&t->procs, &p->node, pid, 0)) {
		proc_free(p);
		return NULL;
	}
	p->dirty = 1;
	return p;
}

/* The live entry of pid, created from /proc when there is none (or only an
 * exited one: the pid was reused). NULL when the process is gone. */
static struct proc *proc_live(struct proc_table *t, uint32_t pid)
{
	struct proc *p = proc_find(t, pid);

	if (p && !p->exited)
		return p;
	return proc_new(t, pid, 1);
}

/* Mono start times equal within /proc's precision (unknown matches). */
static int same_start(uint64_t a, uint64_t b)
{
	return !a || !b || (a > b ? a - b : b - a) <= START_SLACK_NS;
}

/* Send p's processes row (a copy the sink owns). On OOM the row stays
 * dirty, to be sent at the next pass. */
static void proc_emit(struct proc_table *t, struct proc *p)
{
	struct proc_row *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	memcpy(r->id, p->id, sizeof(r->id));
	r->pid = p->pid;
	r->ppid = p->have_ppid ? (int64_t)p->ppid : PROC_NULL;
	r->uid = p->have_uid ? (int64_t)p->uid : PROC_NULL;
	memcpy(r->comm, p->comm, sizeof(r->comm));
	r->exe = p->exe ? strdup(p->exe) : NULL;
	r->argv = p->argv ? strdup(p->argv) : NULL;
	if ((p->exe && !r->exe) || (p->argv && !r->argv)) {
		row_free(ROW_PROCESS, r);
		return;
	}
	r->start_ns = p->start_ns;
	r->exec_ns = p->exec_ns;
	r->exit_ns = p->exited ? p->exit_ns : PROC_NULL;
	r->exit_code = p->exited ? p->exit_code : PROC_NULL;
	r->exit_signal = p->exited ? p->exit_signal : PROC_NULL;
	r->oom_killed = p->oom_killed;
	r->cpu_ms = p->cpu_ns / 1e6;
	r->runq_ms = p->runq_ns / 1e6;
	r->switches = p->switches;
	r->preempts = p->preempts;
	if (p->since_ns == 0)
		p->since_ns = p->start_ns != PROC_NULL && p->start_ns > t->created_ns ?
			      p->start_ns : t->created_ns;
	r->cpu_since_ns = p->since_ns;
	r->updated_ns = real_ns();
	r->res = p->res;
	if (p->exited)
		r->res.state = 'X';	/* dead: /proc said what it was before */
	p->dirty = 0;
	p->exec_written = 1;
	row_emit(&t->sink, ROW_PROCESS, r);
}

/* Send a cpu_samples row (a copy the sink owns; dropped on OOM). */
static void sample_emit(struct proc_table *t, const struct cpu_sample_row *s)
{
	struct cpu_sample_row *r = malloc(sizeof(*r));

	if (!r)
		return;
	*r = *s;
	row_emit(&t->sink, ROW_CPU_SAMPLE, r);
}

void proc_on_exec(struct proc_table *t, const struct proc_exec_info *e)
{
	struct proc *p = proc_find(t, e->pid);
	struct exe_file x = { e->exe, e->exe_dev, e->exe_ino, e->exe_ours };
	char exe[4096];

	if (!p || p->exited || !same_start(p->start_mono, e->start_ns))
		p = proc_new(t, e->pid, 0);
	if (!p)
		return;
	/* It exec'd before (bash -c 'a; b' execs b in place) and that program's
	 * row was never written: the sink sees it before it is replaced (the run
	 * builder keeps the command line an agent's tool started). */
	if (p->exec_ns != PROC_NULL && !p->exec_written && p->argv)
		proc_emit(t, p);
	p->exec_written = 0;
	p->ppid = e->ppid;
	p->have_ppid = 1;
	p->uid = e->uid;
	p->have_uid = 1;
	snprintf(p->comm, sizeof(p->comm), "%s", e->comm);
	if (e->start_ns) {
		p->start_mono = e->start_ns;
		p->start_ns = mono_to_epoch_ns(e->start_ns);
	}
	p->exec_ns = mono_to_epoch_ns(e->ts_ns);
	/* The binary as /proc shows it (symlinks resolved), as llm_calls.exe,
	 * even when the process is gone already. */
	exe_paths_resolve(t->exes, e->pid, &x, exe, sizeof(exe));
	str_set(&p->exe, exe);
	free(p->argv);
	p->argv = e->argv_len ? proc_argv_json(e->argv, e->argv_len, e->argv_cut) : NULL;
	p->dirty = 1;
}

void proc_on_exit(struct proc_table *t, const struct proc_exit_info *e)
{
	struct proc *p = proc_find(t, e->pid);
	struct cpu_sample_row s;
	uint64_t from;

	if (!p || p->exited || !same_start(p->start_mono, e->start_ns)) {
		p = proc_new(t, e->pid, 0);
		if (!p)
			return;
		proc_load(p);	/* usually gone already; best effort */
	}
	if (!p->have_ppid) {
		p->ppid = e->ppid;
		p->have_ppid = 1;
	}
	if (!p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "%s", e->comm);
	if (e->start_ns && !p->start_mono) {
		p->start_mono = e->start_ns;
		p->start_ns = mono_to_epoch_ns(e->start_ns);
	}
	/* The last interval: from the previous pass (or the start) to the exit. */
	memset(&s, 0, sizeof(s));
	if (e->oncpu_ns > p->cpu_ns || e->runq_ns > p->runq_ns) {
		from = p->start_mono > t->prev_ns ? p->start_mono : t->prev_ns;
		s.ts_ns = mono_to_epoch_ns(e->ts_ns);
		s.interval_ms = e->ts_ns > from ? (e->ts_ns - from) / 1e6 : 0;
		s.pid = p->pid;
		memcpy(s.comm, p->comm, sizeof(s.comm));
		s.cpu_ms = e->oncpu_ns > p->cpu_ns ? (e->oncpu_ns - p->cpu_ns) / 1e6 : 0;
		s.runq_ms = e->runq_ns > p->runq_ns ? (e->runq_ns - p->runq_ns) / 1e6 : 0;
		s.switches = e->switches > p->switches ? e->switches - p->switches : 0;
		s.preempts = e->preempts > p->preempts ? e->preempts - p->preempts : 0;
		s.threads = s.top_tid = PROC_NULL;
		s.top_tid_cpu_ms = -1;
		proc_res_init(&s.res);
		memcpy(s.process_id, p->id, sizeof(s.process_id));
		sample_emit(t, &s);
	}
	if (e->oncpu_ns > p->cpu_ns)
		p->cpu_ns = e->oncpu_ns;
	if (e->runq_ns > p->runq_ns)
		p->runq_ns = e->runq_ns;
	if (e->switches > p->switches)
		p->switches = e->switches;
	if (e->preempts > p->preempts)
		p->preempts = e->preempts;
	p->exited = 1;
	p->exit_ns = mono_to_epoch_ns(e->ts_ns);
	proc_exit_split(e->exit_code, &p->exit_code, &p->exit_signal);
	p->exit_gen = t->gen;
	procwatch_exit(t->watch, p->pid, p->comm, e->ts_ns, p->exit_ns);
	proc_emit(t, p);
}

void proc_on_oom(struct proc_table *t, uint32_t pid, uint32_t tid, const char *comm,
		 uint64_t ts_ns)
{
	struct proc *p = proc_find(t, pid);

	(void)ts_ns;
	log_warn("OOM killer chose pid %u (%s, thread %u)", pid, comm, tid);
	events_notice(SEV_ERROR, "process.oom_killed", pid,
		      json_pack("{s:s, s:i}", "comm", comm, "tid", (json_int_t)tid));
	if (!p || p->exited) {
		p = proc_new(t, pid, 0);
		if (!p)
			return;
		proc_load(p);
	}
	if (!p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->oom_killed = 1;
	proc_emit(t, p);
}

void proc_on_call(struct proc_table *t, uint32_t pid)
{
	struct proc *p;
	int depth;

	if (!t)
		return;
	p = proc_find(t, pid);
	if (!p) {
		p = proc_new(t, pid, 1);
		if (!p)
			return;
		p->agent = 1;
		p->active_mono = mono_ns();
		proc_emit(t, p);
		return;
	}
	if (!p->agent) {
		p->agent = 1;
		p->active_mono = mono_ns();
	}
	/* Known (an exited one too: the call was its last). Its row and its
	 * ancestors' are written now when their exec was not written yet: the
	 * run of a call is decided from them (llm/runs.c: sub-agents). */
	for (depth = 0; p && depth < 32; depth++) {
		if (p->dirty && !p->exec_written)
			proc_emit(t, p);
		if (!p->have_ppid || p->ppid <= 1 || p->ppid == p->pid)
			break;
		p = proc_find(t, p->ppid);
	}
}

void proc_sample_begin(struct proc_table *t, uint64_t now_ns)
{
	t->gen++;
	t->now_ns = now_ns;
}

/* The entry a map sample belongs to, its per-pass fields reset when first
 * touched in this pass. NULL when it cannot be made. */
static struct proc *proc_for_pass(struct proc_table *t, uint32_t pid)
{
	struct proc *p = proc_live(t, pid);

	if (!p)
		p = proc_new(t, pid, 0);	/* gone from /proc already: its exit comes */
	if (!p)
		return NULL;
	if (p->pass_gen != t->gen) {
		p->pass_gen = t->gen;
		p->top_ns = 0;
		p->threads = p->top_tid = 0;
	}
	return p;
}

void proc_sample_thread(struct proc_table *t, const struct proc_cpu *c)
{
	struct htab_node *n = htab_find(&t->threads, c->id, 0);
	struct thread *th = n ? htab_entry(n, struct thread, node) : NULL;
	uint64_t ran = c->oncpu_ns, delta;
	struct proc *p;

	if (!th) {
		th = calloc(1, sizeof(*th));
		if (!th)
			return;
		th->tid = c->id;
		th->tgid = c->tgid;
		if (htab_add(&t->threads, &th->node, c->id, 0)) {
			free(th);
			return;
		}
	} else if (th->tgid != c->tgid) {
		th->tgid = c->tgid;	/* tid reused by another process */
		th->last_ns = 0;
	}
	delta = ran > th->last_ns ? ran - th->last_ns : 0;
	if (ran > th->last_ns)
		th->last_ns = ran;
	th->gen = t->gen;
	p = proc_for_pass(t, c->tgid);
	if (!p)
		return;
	if (delta) {
		p->threads++;
		if (delta > p->top_ns) {
			p->top_ns = delta;
			p->top_tid = c->id;
		}
	}
}

void proc_sample_process(struct proc_table *t, const struct proc_cpu *c)
{
	struct cpu_sample_row s;
	struct proc *p = proc_for_pass(t, c->id);
	uint64_t cpu, from;

	if (!p)
		return;
	p->seen_gen = t->gen;
	cpu = c->oncpu_ns;
	if (cpu <= p->cpu_ns && c->runq_ns <= p->runq_ns)
		return;
	memset(&s, 0, sizeof(s));
	from = p->start_mono > t->prev_ns ? p->start_mono : t->prev_ns;
	s.ts_ns = mono_to_epoch_ns(t->now_ns);
	s.interval_ms = t->now_ns > from ? (t->now_ns - from) / 1e6 : 0;
	s.pid = p->pid;
	memcpy(s.comm, p->comm, sizeof(s.comm));
	s.cpu_ms = cpu > p->cpu_ns ? (cpu - p->cpu_ns) / 1e6 : 0;
	s.runq_ms = c->runq_ns > p->runq_ns ? (c->runq_ns - p->runq_ns) / 1e6 : 0;
	s.switches = c->switches > p->switches ? c->switches - p->switches : 0;
	s.preempts = c->preempts > p->preempts ? c->preempts - p->preempts : 0;
	s.threads = p->threads;
	s.top_tid = p->top_tid ? (int64_t)p->top_tid : PROC_NULL;
	s.top_tid_cpu_ms = p->top_tid ? p->top_ns / 1e6 : -1;
	memcpy(s.process_id, p->id, sizeof(s.process_id));
	/* it ran: what it holds now and what it read and wrote meanwhile */
	procres_sample(p->pid, &p->res, &p->have_res,
		       p->start_ns != PROC_NULL && p->start_ns >= t->created_ns, &s.res);
	if (p->stuck)
		procwatch_resumed(t->watch, p->pid, p->comm, (t->now_ns - p->active_mono) / 1e9);
	p->stuck = 0;
	p->stuck_check = 0;
	p->active_mono = t->now_ns;
	if (cpu > p->cpu_ns)
		p->cpu_ns = cpu;
	if (c->runq_ns > p->runq_ns)
		p->runq_ns = c->runq_ns;
	if (c->switches > p->switches)
		p->switches = c->switches;
	if (c->preempts > p->preempts)
		p->preempts = c->preempts;
	p->dirty = 1;
	sample_emit(t, &s);
}

/* 1 when agent p has been idle long enough to be checked for being stuck
 * (rechecked at most every quarter of that time while idle). */
static int stuck_due(struct proc_table *t, struct proc *p)
{
	double after = procwatch_stuck_after(t->watch);

	if (after <= 0 || !p->active_mono || t->now_ns - p->active_mono < after * 1e9)
		return 0;
	if (p->stuck_check && t->now_ns - p->stuck_check < after * 0.25e9)
		return 0;
	p->stuck_check = t->now_ns;
	return 1;
}

void proc_sample_end(struct proc_table *t)
{
	struct htab_iter ti = HTAB_ITER_INIT, pi = HTAB_ITER_INIT;
	struct htab_node *n;

	while ((n = htab_next(&t->threads, &ti))) {
		struct thread *th = htab_entry(n, struct thread, node);

		if (th->gen != t->gen) {
			htab_del(&t->threads, n);
			free(th);
		}
	}
	while ((n = htab_next(&t->procs, &pi))) {
		struct proc *p = htab_entry(n, struct proc, node);
		int drop = p->exited ? t->gen - p->exit_gen >= EXITED_KEEP_PASSES :
			   t->gen - p->seen_gen >= GONE_PASSES && !procfs_alive(p->pid);

		if (!p->exited && p->dirty)
			proc_emit(t, p);
		if (p->agent && !p->exited && !p->stuck && stuck_due(t, p))
			p->stuck = procwatch_stuck(t->watch, p->pid, p->comm,
						   (t->now_ns - p->active_mono) / 1e9, &p->res);
		if (drop)
			proc_remove(t, p);
	}
	procwatch_pass(t->watch, t->now_ns);
	t->prev_ns = t->now_ns;
}

void proc_table_free(struct proc_table *t)
{
	struct htab_iter ti = HTAB_ITER_INIT, pi = HTAB_ITER_INIT;
	struct htab_node *n;

	if (!t)
		return;
	while ((n = htab_next(&t->threads, &ti))) {
		htab_del(&t->threads, n);
		free(htab_entry(n, struct thread, node));
	}
	while ((n = htab_next(&t->procs, &pi))) {
		struct proc *p = htab_entry(n, struct proc, node);

		if (p->dirty)
			proc_emit(t, p);
		proc_remove(t, p);
	}
	htab_fini(&t->threads);
	htab_fini(&t->procs);
	exe_paths_free(t->exes);
	free(t);
}
