/* exepath.h -- the resolved path of each program processes exec, remembered by file, for processes gone before their exec is read. */
#ifndef LLMTAP_EXEPATH_H
#define LLMTAP_EXEPATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct exe_paths;

/* The program a process exec'd: the path execve was given, and the file
 * by the kernel's names for it (s_dev in the kernel's encoding, inode). */
struct exe_file {
	const char *file;
	uint32_t dev;
	uint64_t ino;
	int ours;		/* exec'd in our mount namespace: file names the same file here */
};

/* A new, empty cache; NULL on OOM. */
struct exe_paths *exe_paths_new(void);
void exe_paths_free(struct exe_paths *c);

/* The path of the program process pid exec'd (as /proc/PID/exe shows it:
 * symlinks resolved) into out: what it resolved to before for the same
 * file and name; else /proc/PID/exe while the process lives; else, for a
 * process gone already and a file in our namespace, realpath() of its name
 * when that is the very file; else the name as given. Every answer but the
 * last is remembered (c may be NULL: nothing is). */
void exe_paths_resolve(struct exe_paths *c, pid_t pid, const struct exe_file *x, char *out,
		       size_t size);

#endif
