/* scan.h -- finding TLS functions in executables without symbols (BoringSSL in Bun, static OpenSSL 3, Go crypto/tls, rustls on AWS-LC), cached per file version. */
#ifndef LLMTAP_SCAN_H
#define LLMTAP_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The TLS stacks a scan looks for. */
enum scan_lib_id {
	SCAN_BORINGSSL = 0,	/* BoringSSL linked into an executable (Bun, Claude Code) */
	SCAN_OPENSSL,		/* OpenSSL 3 linked statically, stripped (Codex) */
	SCAN_GO,		/* Go crypto/tls, through .gopclntab */
	SCAN_RUSTLS,		/* rustls on AWS-LC: its AEAD seal and open */
	SCAN_NLIBS,
};

enum scan_status {
	SCAN_ABSENT = 0,	/* the file does not carry this stack */
	SCAN_FOUND,		/* located and verified: funcs[] may be probed */
	SCAN_UNVERIFIED,	/* it is there, but no signature set verified (reason) */
	SCAN_UNSUPPORTED,	/* it is there, and llmtap has no probes for it (reason) */
};

#define SCAN_FUNCS_MAX	12
#define SCAN_RETS_MAX	32

/* A located function: its entry and, for Go, its RET instructions. */
struct scan_func {
	char name[40];			/* role: "SSL_read", "ssl_write_internal", "Conn.Read" */
	uint64_t off;			/* file offset of the entry */
	uint64_t va;
	uint64_t entry_probe;		/* file offset for the entry probe: off, or a cheaper
					 * place before any argument register changes */
	uint32_t nrets;
	uint64_t rets[SCAN_RETS_MAX];	/* file offsets of its RETs */
};

struct scan_lib {
	enum scan_status status;
	char version[48];		/* "OpenSSL 3.6.4", "go1.19.8", "rustls 0.23.46", "Bun v1.4.6" */
	char variant[48];		/* which signature set matched */
	char reason[200];		/* why not FOUND (or notes) */
	int nfuncs;
	struct scan_func funcs[SCAN_FUNCS_MAX];
};

/* What one scan of a file found, for every stack. */
struct scan_result {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	int64_t size;
	int err;			/* 0, or -errno when the file could not be read */
	int ssl_symbols;		/* it defines SSL_read/SSL_write: probed by symbols instead */
	double ms;			/* time the scan took */
	struct scan_lib libs[SCAN_NLIBS];
};

/* Name of stack id ("boringssl", "openssl-static", "go", "rustls"). */
const char *scan_lib_name(enum scan_lib_id id);

/* Scan the file at path now (no cache). Returns 0 and *out, or a negative
 * errno when it cannot be opened (-ENOEXEC: not an x86-64 ELF file). */
int scan_path(const char *path, struct scan_result *out);

/* The function with role name in l, or NULL. */
const struct scan_func *scan_func(const struct scan_lib *l, const char *name);

/* ---- scans kept per file version, done in the background when large ---- */

struct scan_queue;

/* Make the cache; its scanning thread starts with the first queued scan.
 * Returns 0 and *out, or -errno. */
int scan_queue_new(struct scan_queue **out);

/* Stop the thread and free q; with a scan under way, the thread is left to
 * finish it and q is not freed (call it when the process is about to end). */
void scan_queue_free(struct scan_queue *q);

enum scan_get {
	SCAN_GET_DONE,		/* *out holds the result */
	SCAN_GET_QUEUED,	/* scanning in the background: ask again later */
	SCAN_GET_ERROR,		/* the file cannot be stat'ed */
};

/* The scan of the file at path in its current version (device, inode,
 * mtime, size), copied to *out: from the cache, else scanned now when wait
 * is set or the file is small, else queued for the thread (shown and pid
 * are handed back by scan_queue_done() to say what and whom it was for). */
enum scan_get scan_queue_get(struct scan_queue *q, const char *path, const char *shown, pid_t pid,
			     int wait, struct scan_result *out);

/* Call fn for each queued scan that finished since the last call: io names
 * the file (held open until fn returns, so it is there even when its
 * process has exited and its path is gone), path is the one queued. */
void scan_queue_done(struct scan_queue *q,
		     void (*fn)(void *ctx, const char *io, const char *path, pid_t pid), void *ctx);

/* ---- for the scanners (capture/sig_*.c, capture/gopclntab.c) ---- */

struct elfimg;
struct xdec;

struct scan_ctx {
	const struct elfimg *im;
	struct xdec *xd;
};

int sig_boringssl(struct scan_ctx *sc, struct scan_lib *out);
int sig_openssl(struct scan_ctx *sc, struct scan_lib *out);
int gopclntab_scan(struct scan_ctx *sc, struct scan_lib *out);
int sig_awslc(struct scan_ctx *sc, struct scan_lib *out);

/* Add function name at virtual address va to l. Returns the entry, or NULL
 * when it is full or va is not in the file. */
struct scan_func *scan_add(const struct elfimg *im, struct scan_lib *l, const char *name, uint64_t va);

/* Set l's status and printf-style reason. Returns 0. */
int scan_set(struct scan_lib *l, enum scan_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
