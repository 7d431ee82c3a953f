/* vfs_guard.h -- a SQLite VFS over the default one that will not write a database's -shm made immutable (a write into its map would be SIGBUS). */
#ifndef LLMTAP_VFS_GUARD_H
#define LLMTAP_VFS_GUARD_H

#include <sqlite3.h>

/* Make the guard the process's default VFS (once; later calls do nothing).
 * Call before the first sqlite3_open. */
void vfs_guard_install(void);

/* What the guard last refused ("PATH-shm is immutable or append-only
 * (chattr)"), or NULL; vfs_guard_clear() forgets it. */
const char *vfs_guard_fault(void);
void vfs_guard_clear(void);

#endif
