/* test_procfs.c -- unit tests of procfs.c's cgroup readers: a process's cgroup path and the container id it names. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/procfs.h"
#include "harness.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_container_id(void)
{
	static const struct {
		const char *cgroup, *want;
	} cases[] = {
		{ "/system.slice/docker-" ID64 ".scope", ID64 },
		{ "/docker/" ID64, ID64 },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/"
		  "cri-containerd-" ID64 ".scope", ID64 },
		{ "/kubepods/besteffort/pod5f1c-4e2a/crio-" ID64, ID64 },
		{ "/machine.slice/libpod-" ID64 ".scope/container", ID64 },
		/* the last id wins: a container inside a container's cgroup */
		{ "/docker/" ID64 "/docker/fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210" },
		/* not 64 hex digits: none */
		{ "/user.slice/user-0.slice/session-3.scope", "" },
		{ "/process_api/c2f7c8d0604bf93182386be1a538e597", "" },
		{ "/docker/" ID64 "0", "" },
		{ "/x" ID64 "g", ID64 },
		{ "", "" },
		{ "/", "" },
	};
	char out[65];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = procfs_container_id(cases[i].cgroup, out);

		CHECKF(rc == (cases[i].want[0] != 0) && !strcmp(out, cases[i].want),
		       "case %zu (%s): rc %d got \"%s\"", i, cases[i].cgroup, rc, out);
	}
}

/* Our own cgroup as /proc/self/cgroup says, parsed independently here. */
static void test_cgroup_self(void)
{
	char out[4096], line[4096], want[4096] = "", *p;
	int have_v1 = 0;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f) {
		CHECK(0);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		p = strchr(strchr(line, ':') + 1, ':') + 1;
		if (!strcmp(p, "/"))
			continue;
		if (!strncmp(line, "0::", 3)) {
			snprintf(want, sizeof(want), "%s", p);
			break;
		}
		if (!have_v1++)
			snprintf(want, sizeof(want), "%s", p);
	}
	fclose(f);
	procfs_cgroup(getpid(), out, sizeof(out));
	CHECKF(!strcmp(out, want), "got \"%s\" want \"%s\"", out, want);
	procfs_cgroup(-1, out, sizeof(out));
	CHECKF(!strcmp(out, ""), "got \"%s\" for a pid that does not exist", out);
	/* a short buffer is cut, still terminated */
	procfs_cgroup(getpid(), out, 4);
	CHECK(strlen(out) <= 3);
}

int main(void)
{
	test_container_id();
	test_cgroup_self();
	return harness_done("test_procfs");
}
