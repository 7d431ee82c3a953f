/* dbfile.h -- the tracer's database file as root opens it: no link, root's own file in directories only root can change, modes 0600, one tracer per file. */
#ifndef LLMTAP_DBFILE_H
#define LLMTAP_DBFILE_H

#include <sys/types.h>

struct dbfile {
	int fd;			/* the database, held open for the lock */
	dev_t dev;
	ino_t ino;
	char *path;		/* absolute, its directories resolved: what SQLite opens */
};

/* Open (creating when missing, with missing directories 0700) the database
 * at path for the tracer: refuses a symbolic link, a file that is not a
 * regular file of the effective user with one link, and a path under a
 * directory that another user could change (every directory up to / must
 * be the effective user's or root's and not writable by group or others,
 * unless sticky like /tmp); -wal and -shm are made the same way; modes
 * wider than 0600 are narrowed (one line says so). Takes the file's
 * instance lock: a second tracer on it is refused, naming the first's pid.
 * Returns 0, or -1 with one message printed (none when quiet). */
int dbfile_open(struct dbfile *f, const char *path, int quiet);

/* 0 while path still names the file that was opened; 1 when it was deleted
 * or replaced (rows written now would go nowhere anyone can read). */
int dbfile_gone(const struct dbfile *f);

/* Release the lock and the fd; f can be opened again. */
void dbfile_close(struct dbfile *f);

#endif
