/* scan.h -- finding TLS functions in executables without symbols (BoringSSL in Bun, static OpenSSL 3, Go crypto/tls, rustls presence), cached per file version. */
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
	SCAN_RUSTLS,		/* rustls: reported, not probed */
	SCAN_NLIBS,
};

enum scan_status {
	SCAN_ABSENT = 0,	/* the file does not carry this stack */
	SCAN_FOUND,		/* located and verified: funcs[] may be probed */
	SCAN_UNVERIFIED,	/* it is there, but no signature set verified (reason) */
	SCAN_UNSUPPORTED,	/* it is there, and llmtap has no probes for it (reason) */
};

#define SCAN_FUNCS_MAX	8
#define SCAN_RETS_MAX	32

/* A located function: its entry and, for Go, its RET instructions. */
struct scan_func {
	char name[40];			/* role: "SSL_read", "ssl_write_internal", "Conn.Read" */
	uint64_t off;			/* file offset of the entry */
	uint64_t va;
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

struct scan_cache;

struct scan_cache *scan_cache_new(void);
void scan_cache_free(struct scan_cache *c);

/* The scan of the file at path, from the cache when the same file version
 * (device, inode, mtime, size) was scanned before, else scanned now and
 * kept. Returns NULL only when the file cannot be stat'ed or memory runs
 * out; a file that is not ELF gives a result with err set. */
const struct scan_result *scan_cached(struct scan_cache *c, const char *path);

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

/* Add function name at virtual address va to l. Returns the entry, or NULL
 * when it is full or va is not in the file. */
struct scan_func *scan_add(const struct elfimg *im, struct scan_lib *l, const char *name, uint64_t va);

/* Set l's status and printf-style reason. Returns 0. */
int scan_set(struct scan_lib *l, enum scan_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
