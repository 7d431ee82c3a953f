/* test_exepath.c -- unit tests of exepath.c: a program's resolved path for a process gone before its exec is read, remembered by file and name. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "harness.h"
#include "track/exepath.h"

#define GONE 0x7ffffff0	/* no process has this pid */

/* x for the file at path, exec'd by the name name. */
static struct exe_file file_of(const char *path, const char *name)
{
	struct exe_file x = { name, 0, 0, 1 };
	struct stat st;

	if (!stat(path, &st)) {
		x.dev = (major(st.st_dev) << 20) | minor(st.st_dev);
		x.ino = st.st_ino;
	}
	return x;
}

static void test_resolve(void)
{
	char dir[] = "/tmp/llmtap-test-exepath.XXXXXX", real[PATH_MAX], link[PATH_MAX + 8],
	     other[PATH_MAX + 8], out[PATH_MAX], self[PATH_MAX];
	struct exe_paths *c = exe_paths_new();
	struct exe_file x;
	ssize_t n;
	FILE *f;

	CHECK(c && mkdtemp(dir));
	snprintf(real, sizeof(real), "%s/prog", dir);
	snprintf(link, sizeof(link), "%s/alias", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	f = fopen(real, "w");
	CHECK(f && fclose(f) == 0);
	CHECK(symlink(real, link) == 0);

	/* gone, exec'd through a symlink: realpath() of the name, the very file */
	x = file_of(real, link);
	exe_paths_resolve(c, GONE, &x, out, sizeof(out));
	CHECKF(!strcmp(out, real), "got \"%s\"", out);
	/* remembered: the name now points elsewhere, the same file and name still answer */
	CHECK(unlink(link) == 0 && symlink(other, link) == 0);
	exe_paths_resolve(c, GONE + 1, &x, out, sizeof(out));
	CHECKF(!strcmp(out, real), "cached: got \"%s\"", out);
	/* not the file any more (replaced since): the name as given */
	x = file_of(real, link);
	x.ino++;
	exe_paths_resolve(c, GONE, &x, out, sizeof(out));
	CHECKF(!strcmp(out, link), "replaced: got \"%s\"", out);
	/* another mount namespace: the name says nothing here */
	CHECK(unlink(link) == 0 && symlink(real, link) == 0);
	x = file_of(real, link);
	x.ours = 0;
	exe_paths_resolve(NULL, GONE, &x, out, sizeof(out));
	CHECKF(!strcmp(out, link), "not ours: got \"%s\"", out);
	/* alive: /proc/PID/exe */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	x = file_of(self, "test_exepath");
	exe_paths_resolve(c, getpid(), &x, out, sizeof(out));
	CHECKF(!strcmp(out, self), "alive: got \"%s\" want \"%s\"", out, self);

	unlink(link);
	unlink(real);
	rmdir(dir);
	exe_paths_free(c);
}

int main(void)
{
	test_resolve();
	return harness_done("test_exepath");
}
