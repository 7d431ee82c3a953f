/* share.c -- `run --db-group`: the database made readable by a group, so that its members run calls/stats/top without sudo. */
#include "db/share.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/store_int.h"

/* The gid of group (a name or a number). Returns 0 and *gid, -1. */
static int share_gid(const char *group, gid_t *gid)
{
	struct group *g = getgrnam(group);
	char *end;
	long v;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	v = strtol(group, &end, 10);
	if (!*group || *end || v < 0)
		return -1;
	*gid = (gid_t)v;
	return 0;
}

int share_check(const char *group)
{
	gid_t gid;

	if (share_gid(group, &gid)) {
		fprintf(stderr, "llmtap: bad --db-group value '%s': no such group\n", group);
		return -1;
	}
	return 0;
}

/* chown to :gid and chmod to mode; a file that does not exist is skipped. */
static int share_file(const char *path, gid_t gid, mode_t mode)
{
	if (chown(path, (uid_t)-1, gid) || chmod(path, mode)) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "llmtap: --db-group: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int share_apply(struct store *s, const char *path, const char *group)
{
	char *dup = strdup(path), *side = malloc(strlen(path) + 8);
	int persist = 1, rc = -1;
	gid_t gid;

	if (!dup || !side)
		goto out_free;
	if (share_gid(group, &gid)) {
		fprintf(stderr, "llmtap: bad --db-group value '%s': no such group\n", group);
		goto out_free;
	}
	/* the -wal and -shm stay when the last connection closes */
	sqlite3_file_control(store_sqlite(s), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	/* a read creates them now if they are missing */
	sqlite3_exec(store_sqlite(s), "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	if (share_file(dirname(dup), gid, 0750) || share_file(path, gid, 0640))
		goto out_free;
	sprintf(side, "%s-wal", path);
	if (share_file(side, gid, 0640))
		goto out_free;
	sprintf(side, "%s-shm", path);
	if (share_file(side, gid, 0640))
		goto out_free;
	rc = 0;
out_free:
	free(dup);
	free(side);
	return rc;
}
