/* test_host.c -- unit tests of the host view's readers: /proc text parsers (track/host.c), process resources (track/procres.c), /proc/PID/stat of zombies and the zombie watch (track/procwatch.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "track/host.h"
#include "track/procres.h"
#include "track/procwatch.h"

static void test_stat(void)
{
	static const char text[] =
		"cpu  195350 12415 83388 251388 2558 0 1110 2195 0 0\n"
		"cpu0 92680 5199 37507 136262 925 0 472 1084 0 0\n"
		"cpu1 102670 7216 45881 115126 1632 0 638 1110 0 0\n"
		"intr 1 2 3\nctxt 99\nprocs_running 3\nprocs_blocked 1\n";
	struct host_cpu c;

	CHECK(host_parse_stat(text, &c) == 0);
	CHECK(c.user == 195350 && c.nice == 12415 && c.system == 83388 && c.idle == 251388);
	CHECK(c.iowait == 2558 && c.irq == 0 && c.softirq == 1110 && c.steal == 2195);
	CHECK(c.cpus == 2 && c.running == 3 && c.blocked == 1);
	CHECK(host_parse_stat("intr 1\n", &c) == -1);
	/* an old kernel's four columns */
	CHECK(host_parse_stat("cpu 1 2 3 4\n", &c) == 0 && c.idle == 4 && c.steal == 0 && c.running == -1);
}

static void test_meminfo(void)
{
	static const char text[] = "MemTotal:       24683784 kB\nMemFree:        19388556 kB\n"
				   "MemAvailable:   23847756 kB\nBuffers: 1 kB\nSwapTotal: 1024 kB\nSwapFree: 512 kB\n";
	struct host_mem m;
	double a, b, c;
	uint64_t us;

	host_parse_meminfo(text, &m);
	CHECK(m.total == 24683784ll * 1024 && m.available == 23847756ll * 1024 && m.free == 19388556ll * 1024);
	CHECK(m.swap_total == 1024 * 1024 && m.swap_free == 512 * 1024);
	host_parse_meminfo("MemTotal: 10 kB\n", &m);
	CHECK(m.total == 10240 && m.available == -1 && m.swap_total == -1);
	CHECK(host_parse_loadavg("2.13 2.18 1.98 3/123 18558\n", &a, &b, &c) == 0 && a == 2.13 && c == 1.98);
	CHECK(host_parse_loadavg("x", &a, &b, &c) == -1);
	CHECK(host_parse_psi("some avg10=1.32 avg60=21.88 avg300=20.81 total=339360789\n"
			     "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &us) == 0 && us == 339360789);
	CHECK(host_parse_psi("full avg10=0.00 total=5\n", &us) == -1);
}

static void test_devices(void)
{
	static const char ds[] =
		"   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
		" 254       0 vda 418827 13473 30479322 641836 60049 140758 25098608 360807 0 60184 1033256 83616 89 7528768 18510 8718 12101\n"
		" 254       1 vda1 10 0 20 0 5 0 40 0 0 7 0\n"
		"garbage\n";
	static const char nd[] =
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		"    lo: 157717774   73991    0    0    0     0          0         0 157717774   73991    0    0    0     0       0          0\n"
		"  eth0: 2028903561   41019    3    4    0     0          0         0  1617829   22304    5    6    0     0       0          0\n";
	struct host_disk d[4];
	struct host_iface f[4];

	CHECK(host_parse_diskstats(ds, d, 4) == 3);
	CHECK_STR(d[1].name, "vda");
	CHECK(d[1].reads == 418827 && d[1].read_sectors == 30479322 && d[1].writes == 60049 &&
	      d[1].write_sectors == 25098608 && d[1].io_ms == 60184);
	CHECK_STR(d[2].name, "vda1");
	CHECK(d[2].io_ms == 7);
	CHECK(host_parse_diskstats(ds, d, 1) == 1);
	CHECK(host_parse_netdev(nd, f, 4) == 2);
	CHECK_STR(f[0].name, "lo");
	CHECK_STR(f[1].name, "eth0");
	CHECK(f[1].rx_bytes == 2028903561ull && f[1].rx_packets == 41019 && f[1].rx_errs == 3 &&
	      f[1].rx_drop == 4 && f[1].tx_bytes == 1617829 && f[1].tx_packets == 22304 &&
	      f[1].tx_errs == 5 && f[1].tx_drop == 6);
}

static void test_procres(void)
{
	static const char status[] = "Name:\tpython3\nState:\tS (sleeping)\nVmHWM:\t  210000 kB\n"
				     "VmRSS:\t  205000 kB\nVmSize:\t 300000 kB\nThreads:\t4\n";
	static const char io[] = "rchar: 1000\nwchar: 2000\nsyscr: 5\nsyscw: 6\nread_bytes: 4096\n"
				 "write_bytes: 8192\ncancelled_write_bytes: 0\n";
	struct proc_res r, prev, d;
	char state, comm[16];
	uint32_t ppid;

	proc_res_init(&r);
	procres_parse_status(status, &r);
	procres_parse_io(io, &r);
	CHECK(r.rss_bytes == 205000ll * 1024 && r.rss_max_bytes == 210000ll * 1024 && r.vms_bytes == 300000ll * 1024);
	CHECK(r.num_threads == 4 && r.state == 'S');
	CHECK(r.read_bytes == 1000 && r.write_bytes == 2000 && r.disk_read_bytes == 4096 && r.disk_write_bytes == 8192);
	/* a zombie: no Vm lines */
	proc_res_init(&prev);
	procres_parse_status("Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n", &prev);
	CHECK(prev.state == 'Z' && prev.rss_bytes == PROC_NULL);
	proc_res_init(&prev);
	prev.read_bytes = 400;
	prev.write_bytes = 3000;	/* went back: 0 */
	procres_delta(&prev, &r, &d);
	CHECK(d.read_bytes == 600 && d.write_bytes == 0 && d.disk_read_bytes == PROC_NULL);
	CHECK(d.rss_bytes == r.rss_bytes && d.state == 'S');
	/* our own process, read for real */
	CHECK(procres_read(getpid(), &r) == 0 && r.rss_bytes > 0 && r.fds >= 3 && r.num_threads >= 1 &&
	      r.state == 'R');
	CHECK(procres_read(0x7ffffff0, &r) == -1 && r.rss_bytes == PROC_NULL);
	CHECK(procwatch_parse_stat("123 (a b) c)) Z 45 1 1 0 -1\n", &state, &ppid, comm) == 0);
	CHECK(state == 'Z' && ppid == 45);
	CHECKF(strcmp(comm, "a b) c)") == 0, "%s", comm);
	CHECK(procwatch_parse_stat("123 no parens", &state, &ppid, comm) == -1);
	CHECK(procwatch_tcp_established(getpid()) == 0);
}

/* Thousands of commands that exit and are reaped at once, then one child
 * nobody reaps: the zombie is still reported (its warning on stderr). */
static void test_zombie_busy_host(void)
{
	struct procwatch *w = procwatch_new(30, 300);
	char path[] = "/tmp/llmtap-test-zombie.XXXXXX", log[4096] = "", want[64], state, comm[16];
	uint64_t t0 = 1000000000000ull, ms = 1000000ull;
	int fd = mkstemp(path), saved = dup(2), i;
	uint32_t ppid;
	ssize_t n;
	pid_t pid;

	if (!w || fd < 0 || saved < 0) {
		CHECK(0);
		return;
	}
	/* reaped at once: pids no process has (above any pid_max) */
	for (i = 0; i < 5 * PROCWATCH_ZOMBIES_MAX; i++)
		procwatch_exit(w, 0x7fff0000u + i, "true", t0 + i * ms, 1);
	pid = fork();
	if (pid == 0)
		_exit(0);
	for (i = 0; i < 2000; i++) {
		char dir[32];
		FILE *f;

		snprintf(dir, sizeof(dir), "/proc/%d/stat", pid);
		f = fopen(dir, "r");
		state = 0;
		if (f && fgets(log, sizeof(log), f))
			procwatch_parse_stat(log, &state, &ppid, comm);
		if (f)
			fclose(f);
		if (state == 'Z')
			break;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	CHECK(state == 'Z');
	procwatch_exit(w, pid, comm, t0 + 5 * PROCWATCH_ZOMBIES_MAX * ms, 1);
	fflush(stderr);
	dup2(fd, 2);
	procwatch_pass(w, t0 + 5 * PROCWATCH_ZOMBIES_MAX * ms + 31000 * ms);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "zombie: pid %d (", pid);
	CHECKF(strstr(log, want) != NULL, "no \"%s\" in \"%s\"", want, log);
	waitpid(pid, NULL, 0);
	close(fd);
	unlink(path);
	procwatch_free(w);
}

int main(void)
{
	test_stat();
	test_meminfo();
	test_devices();
	test_procres();
	test_zombie_busy_host();
	return harness_done("test_host");
}
