/* test_proc.c -- unit tests of the process table (user/proc.c): exit codes, argv JSON, CPU sample deltas, exits, pid reuse. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "track/proc.h"

/* pids no live process has (above the kernel's pid_max limit): nothing comes from /proc */
#define PID_A 0x7ffffff0u
#define PID_B 0x7ffffff1u
#define MS 1000000ull

struct sink_log {
	struct proc_row rows[64];
	char argv[64][512];
	int nrows;
	struct cpu_sample_row samples[64];
	int nsamples;
};

static void on_proc_row(struct sink_log *l, const struct proc_row *r)
{
	if (l->nrows == 64)
		return;
	l->rows[l->nrows] = *r;
	snprintf(l->argv[l->nrows], sizeof(l->argv[0]), "%s", r->argv ? r->argv : "");
	l->rows[l->nrows].argv = l->argv[l->nrows];
	l->rows[l->nrows].exe = NULL;
	l->nrows++;
}

/* The row sink: keeps copies of processes and cpu_samples rows. */
static void on_row(void *ud, enum row_kind kind, void *row)
{
	struct sink_log *l = ud;

	if (kind == ROW_PROCESS)
		on_proc_row(l, row);
	else if (kind == ROW_CPU_SAMPLE && l->nsamples < 64)
		l->samples[l->nsamples++] = *(const struct cpu_sample_row *)row;
	row_free(kind, row);
}

static void test_exit_split(void)
{
	int code, sig;

	proc_exit_split(7 << 8, &code, &sig);
	CHECK(code == 7 && sig == 0);
	proc_exit_split(9, &code, &sig);
	CHECK(code == 0 && sig == 9);
	proc_exit_split(0x80 | 11, &code, &sig);	/* SIGSEGV with a core */
	CHECK(code == 0 && sig == 11);
	proc_exit_split(255 << 8, &code, &sig);
	CHECK(code == 255 && sig == 0);
}

static void test_argv_json(void)
{
	char *s;

	s = proc_argv_json("python3\0-c\0print(1)\0two words\0", 30, 0);
	CHECK_STR(s, "[\"python3\",\"-c\",\"print(1)\",\"two words\"]");
	free(s);
	/* no final NUL: the last argument still counts */
	s = proc_argv_json("ls\0-l", 5, 0);
	CHECK_STR(s, "[\"ls\",\"-l\"]");
	free(s);
	s = proc_argv_json("ls\0-lah", 5, 1);
	CHECK_STR(s, "[\"ls\",\"...\"]");
	free(s);
	s = proc_argv_json("ls\0-lah\0", 8, 1);	/* cut right after a whole argument */
	CHECK_STR(s, "[\"ls\",\"-lah\",\"...\"]");
	free(s);
	s = proc_argv_json("a\"b\\\0\xff\xfe", 7, 0);
	CHECK_STR(s, "[\"a\\\"b\\\\\",\"??\"]");
	free(s);
	s = proc_argv_json("", 0, 0);
	CHECK_STR(s, "[]");
	free(s);
}

/* argv as a NUL-separated buffer from a NULL-terminated list, then JSON. */
static char *argv_of(const char *const *args)
{
	char buf[1024];
	size_t n = 0;

	for (; *args; args++) {
		size_t l = strlen(*args) + 1;

		memcpy(buf + n, *args, l);
		n += l;
	}
	return proc_argv_json(buf, n, 0);
}

static void test_argv_redact(void)
{
	static const char *const curl[] = { "curl", "-H", "authorization: Bearer sk-test-SECRETSECRET123456",
		"-H", "x-api-key:abc", "-H", "Cookie: session=s3cr3t", "-H", "content-type: application/json", NULL };
	static const char *const opts[] = { "agent", "--api-key", "hunter2", "--token=abc", "--max-tokens",
		"100", "--password", "pw", "OPENAI_API_KEY=xyz", "--model", "gpt-4o", NULL };
	static const char *const urls[] = { "fetch", "https://user:pw@example.com/v1?key=AIzaSyA-1234567890abcdef&x=1",
		"note Bearer abcdefgh12345678 end", "sk-ant-api03-abcdefghijklmnopqrstuv", NULL };
	char *s;

	s = argv_of(curl);
	CHECK_STR(s, "[\"curl\",\"-H\",\"authorization: [REDACTED]\",\"-H\",\"x-api-key:[REDACTED]\","
		  "\"-H\",\"Cookie: [REDACTED]\",\"-H\",\"content-type: application/json\"]");
	free(s);
	s = argv_of(opts);
	CHECK_STR(s, "[\"agent\",\"--api-key\",\"[REDACTED]\",\"--token=[REDACTED]\",\"--max-tokens\",\"100\","
		  "\"--password\",\"[REDACTED]\",\"OPENAI_API_KEY=[REDACTED]\",\"--model\",\"gpt-4o\"]");
	free(s);
	s = argv_of(urls);
	CHECK_STR(s, "[\"fetch\",\"https://user:[REDACTED]@example.com/v1?key=[REDACTED]&x=1\","
		  "\"note Bearer [REDACTED] end\",\"[REDACTED]\"]");
	free(s);
}

static void pass(struct proc_table *t, uint64_t now, const struct proc_cpu *th, const struct proc_cpu *pr)
{
	proc_sample_begin(t, now);
	if (th)
		proc_sample_thread(t, th);
	if (pr)
		proc_sample_process(t, pr);
	proc_sample_end(t);
}

static double sum_cpu(const struct sink_log *l, const char *id)
{
	double s = 0;
	int i;

	for (i = 0; i < l->nsamples; i++)
		if (!strcmp(l->samples[i].process_id, id))
			s += l->samples[i].cpu_ms;
	return s;
}

static void test_samples(void)
{
	struct sink_log *l = calloc(1, sizeof(*l));
	struct row_sink sink = { on_row, l };
	struct proc_table *t = proc_table_new(&sink);
	struct proc_cpu th = { .id = PID_A, .tgid = PID_A }, pr = { .id = PID_A, .tgid = PID_A };
	struct proc_exec_info ex = {
		.pid = PID_A, .ppid = 1, .uid = 0, .comm = "burn", .exe = "/bin/burn",
		.argv = "burn\0-x\0", .argv_len = 8, .ts_ns = 500 * MS, .start_ns = 0,
	};
	struct proc_exit_info xi = {
		.pid = PID_A, .ppid = 1, .comm = "burn", .exit_code = 7 << 8, .ts_ns = 2500 * MS,
	};
	char id[37];
	const struct proc_row *r;

	proc_on_exec(t, &ex);
	CHECK(proc_count(t) == 1);

	/* pass 1: 100 ms on CPU, 10 ms waiting, off CPU now */
	th.oncpu_ns = pr.oncpu_ns = 100 * MS;
	pr.runq_ns = 10 * MS;
	pr.switches = 5;
	pass(t, 1000 * MS, &th, &pr);
	CHECK(l->nsamples == 1);
	CHECK(l->samples[0].cpu_ms == 100 && l->samples[0].runq_ms == 10 && l->samples[0].switches == 5);
	CHECK(l->samples[0].threads == 1 && l->samples[0].top_tid == PID_A);
	CHECK(l->samples[0].top_tid_cpu_ms == 100);
	/* the exec'd entry was written at the pass end, with its argv */
	CHECK(l->nrows == 1);
	CHECK_STR(l->rows[0].argv, "[\"burn\",\"-x\"]");
	CHECK(l->rows[0].ppid == 1 && l->rows[0].cpu_ms == 100 && l->rows[0].exit_code == PROC_NULL);
	memcpy(id, l->rows[0].id, sizeof(id));
	CHECK(!strcmp(l->samples[0].process_id, id));

	/* pass 2: on CPU since 1500 ms: its total includes the running slice */
	th.oncpu_ns = pr.oncpu_ns = 600 * MS;
	pass(t, 2000 * MS, &th, &pr);
	CHECK(l->nsamples == 2 && l->samples[1].cpu_ms == 500);
	CHECK(l->samples[1].interval_ms == 1000);

	/* pass 3: switched out at 2200 ms: only the 200 ms since the last pass */
	th.oncpu_ns = pr.oncpu_ns = 800 * MS;
	pass(t, 3000 * MS, &th, &pr);
	CHECK(l->nsamples == 3 && l->samples[2].cpu_ms == 200);

	/* pass 4: nothing moved: no sample, no row */
	{
		int rows = l->nrows;

		pass(t, 4000 * MS, &th, &pr);
		CHECK(l->nsamples == 3 && l->nrows == rows);
	}

	/* exit: the kernel's totals close the last interval */
	xi.oncpu_ns = 850 * MS;
	xi.runq_ns = 12 * MS;
	xi.switches = 6;
	proc_on_exit(t, &xi);
	CHECK(l->nsamples == 4 && l->samples[3].cpu_ms == 50 && l->samples[3].runq_ms == 2);
	CHECK(l->samples[3].threads == PROC_NULL);
	r = &l->rows[l->nrows - 1];
	CHECK(!strcmp(r->id, id));
	CHECK(r->exit_code == 7 && r->exit_signal == 0 && r->oom_killed == 0);
	CHECK(r->cpu_ms == 850 && r->runq_ms == 12 && r->switches == 6);
	CHECK(r->exit_ns != PROC_NULL && r->exec_ns != PROC_NULL);
	CHECK(sum_cpu(l, id) == 850);

	/* the pid comes back (reused) in the maps: a new process, a new id */
	th.oncpu_ns = pr.oncpu_ns = 30 * MS;
	pr.runq_ns = 0;
	pass(t, 5000 * MS, &th, &pr);
	CHECK(l->nsamples == 5 && l->samples[4].cpu_ms == 30);
	CHECK(strcmp(l->samples[4].process_id, id) != 0);

	/* OOM victim then SIGKILL */
	proc_on_oom(t, PID_B, PID_B, "hog", 6000 * MS);
	r = &l->rows[l->nrows - 1];
	CHECK(r->pid == PID_B && r->oom_killed == 1);
	memset(&xi, 0, sizeof(xi));
	xi.pid = PID_B;
	xi.comm = "hog";
	xi.exit_code = 9;
	xi.ts_ns = 6100 * MS;
	proc_on_exit(t, &xi);
	r = &l->rows[l->nrows - 1];
	CHECK(r->pid == PID_B && r->oom_killed == 1 && r->exit_signal == 9 && r->exit_code == 0);

	/* exited entries are forgotten two passes later */
	pass(t, 7000 * MS, NULL, NULL);
	pass(t, 8000 * MS, NULL, NULL);
	CHECK(proc_count(t) == 1);	/* the reused PID_A, still alive as far as the maps said */
	proc_table_free(t);
	free(l);
}

int main(void)
{
	test_exit_split();
	test_argv_json();
	test_argv_redact();
	test_samples();
	return harness_done("test_proc");
}
