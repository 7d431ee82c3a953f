/* share.h -- `run --db-group`: the database made readable by a group, so that its members run calls/stats/top without sudo. */
#ifndef LLMTAP_SHARE_H
#define LLMTAP_SHARE_H

struct store;

/* Check that group names a group (or is a number). Returns 0, or -1 after
 * one line naming --db-group. */
int share_check(const char *group);

/* Make s's database (path), its -wal and -shm, and its directory owned by
 * group, files 0640 and directory 0750, and keep the -wal and -shm after
 * the tracer stops (a reader that may not write the directory cannot
 * create them). Returns 0, or -1 after one line on stderr. */
int share_apply(struct store *s, const char *path, const char *group);

#endif
