/* exepath.c -- the resolved path of each program processes exec, remembered by file, for processes gone before their exec is read.
 *
 * The exec events of programs the tracer has looked at are read at the
 * timed drain, when most short commands are gone and /proc/PID/exe with
 * them. The processes table still wants the path with its symlinks
 * resolved (/usr/bin/true for "/bin/true"), as a live process shows it:
 * a small direct-mapped cache keyed by the file and the name it was
 * exec'd by answers for the programs a host runs again and again. */
#include "track/exepath.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/procfs.h"
#include "base/util.h"

#define SLOTS 512	/* a power of two */

struct slot {
	uint32_t dev;
	uint64_t ino;
	char *file;	/* the name exec'd; NULL: empty */
	char *path;	/* what it resolved to */
};

struct exe_paths {
	struct slot s[SLOTS];
};

struct exe_paths *exe_paths_new(void)
{
	return calloc(1, sizeof(struct exe_paths));
}

void exe_paths_free(struct exe_paths *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < SLOTS; i++) {
		free(c->s[i].file);
		free(c->s[i].path);
	}
	free(c);
}

static struct slot *slot_of(struct exe_paths *c, const struct exe_file *x)
{
	uint64_t h = hash64(x->file, strlen(x->file), HASH64_INIT ^ x->ino ^ ((uint64_t)x->dev << 40));

	return &c->s[h & (SLOTS - 1)];
}

/* Remember path for x in slot s (replacing what it held); on OOM it stays
 * empty. */
static void slot_set(struct slot *s, const struct exe_file *x, const char *path)
{
	free(s->file);
	free(s->path);
	s->dev = x->dev;
	s->ino = x->ino;
	s->file = strdup(x->file);
	s->path = strdup(path);
	if (!s->file || !s->path) {
		free(s->file);
		free(s->path);
		s->file = s->path = NULL;
	}
}

/* realpath() of x's name into out when it is x's very file. */
static int real_of(const struct exe_file *x, char *out, size_t size)
{
	char real[PATH_MAX];

	if (!x->ours || x->file[0] != '/' || !realpath(x->file, real) ||
	    !file_is(real, x->dev, x->ino))
		return 0;	/* not ours to name, or replaced since */
	snprintf(out, size, "%s", real);
	return 1;
}

void exe_paths_resolve(struct exe_paths *c, pid_t pid, const struct exe_file *x, char *out,
		       size_t size)
{
	struct slot *s = c && x->ino ? slot_of(c, x) : NULL;

	if (s && s->file && s->dev == x->dev && s->ino == x->ino && !strcmp(s->file, x->file)) {
		snprintf(out, size, "%s", s->path);
		return;
	}
	procfs_exe(pid, out, size);
	if (out[0] != '/' && !real_of(x, out, size)) {
		snprintf(out, size, "%s", x->file);
		return;
	}
	if (s)
		slot_set(s, x, out);
}
