/* attach_kinds.c -- the table of kinds of files llmtap probes: OpenSSL and GnuTLS by their symbols, BoringSSL, static OpenSSL, Go and rustls (on AWS-LC) by a scan of the executable, glibc's resolver; where each is found and which programs go where. */
#include <ctype.h>
#include <string.h>

#include "capture/attach_int.h"
#include "capture/scan.h"

/* OpenSSL's data functions: ssl.bpf.c. */
static const struct pair_probe openssl_pairs[] = {
	{ "SSL_write", "SSL_write_ex", { "ssl_write_enter", "ssl_write_exit", "ssl_write_ex_enter",
					 "ssl_write_ex_exit", "ssl_write_shared_enter",
					 "ssl_write_shared_exit" } },
	{ "SSL_read", "SSL_read_ex", { "ssl_read_enter", "ssl_read_exit", "ssl_read_ex_enter",
				       "ssl_read_ex_exit", "ssl_read_shared_enter",
				       "ssl_read_shared_exit" } },
};

/* OpenSSL's session functions (ssl.bpf.c), on their exported entries:
 * called once or twice per connection, their cost does not matter. */
static const struct probe openssl_probes[] = {
	{ "SSL_free", "ssl_free_enter", PROBE_ENTRY, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_enter", PROBE_ENTRY, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_exit", PROBE_RETURN, 1 },
	{ "SSL_connect", "ssl_connect_enter", PROBE_ENTRY, 1 }, { "SSL_connect", "ssl_connect_exit", PROBE_RETURN, 1 },
};

/* GnuTLS: the record layer has SSL_write/SSL_read's convention (session,
 * buffer, size; returns the bytes moved), so ssl.bpf.c's programs serve it.
 * gnutls_record_send tail-calls gnutls_record_send2: only the outer one is
 * probed (the chained return fires once per call). gnutls_handshake
 * returns 0 when done, hence its own return program. */
static const struct probe gnutls_probes[] = {
	{ "gnutls_record_send", "ssl_write_enter", PROBE_ENTRY, 0 },
	{ "gnutls_record_send", "ssl_write_exit", PROBE_RETURN, 0 },
	{ "gnutls_record_recv", "ssl_read_enter", PROBE_ENTRY, 0 },
	{ "gnutls_record_recv", "ssl_read_exit", PROBE_RETURN, 0 },
	{ "gnutls_deinit", "ssl_free_enter", PROBE_ENTRY, 1 },
	{ "gnutls_handshake", "ssl_do_handshake_enter", PROBE_ENTRY, 1 },
	{ "gnutls_handshake", "gnutls_handshake_exit", PROBE_RETURN, 1 },
};

/* glibc's resolver entry point: dns.bpf.c. */
/* BoringSSL found by signatures (capture/sig_boringssl.c): its SSL_read and
 * SSL_write are OpenSSL's; "SSL_free" is SSL_free or the ssl_st destructor.
 * SSL_read and SSL_write call SSL_do_handshake every time: only its entry is
 * probed (the handshake's start; its end is the first SSL_write, as for
 * node), a return probe there would double the cost of every call. */
static const struct probe boringssl_probes[] = {
	{ "SSL_write", "ssl_write_enter", PROBE_ENTRY, 0 }, { "SSL_write", "ssl_write_exit", PROBE_RETURN, 0 },
	{ "SSL_read", "ssl_read_enter", PROBE_ENTRY, 0 }, { "SSL_read", "ssl_read_exit", PROBE_RETURN, 0 },
	{ "SSL_do_handshake", "ssl_do_handshake_enter", PROBE_ENTRY, 1 },
	{ "SSL_free", "ssl_free_enter", PROBE_ENTRY, 1 },
};

/* Static OpenSSL 3 (capture/sig_openssl.c): the internal functions every
 * read and write goes through have SSL_read_ex's shape; from 3.3 the write
 * takes its `written` pointer fifth. */
static const struct probe openssl_static_probes[] = {
	{ "ssl_read_internal", "ssl_read_ex_enter", PROBE_ENTRY, 0 },
	{ "ssl_read_internal", "ssl_read_ex_exit", PROBE_RETURN, 0 },
	{ "ssl_write_internal", "ssl_write_ex_enter", PROBE_ENTRY, 1 },
	{ "ssl_write_internal", "ssl_write_ex_exit", PROBE_RETURN, 1 },
	{ "ssl_write_internal_flags", "ssl_write_internal_flags_enter", PROBE_ENTRY, 1 },
	{ "ssl_write_internal_flags", "ssl_write_ex_exit", PROBE_RETURN, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_enter", PROBE_ENTRY, 1 },
	{ "SSL_do_handshake", "ssl_do_handshake_exit", PROBE_RETURN, 1 },
	{ "SSL_new", "ssl_new_exit", PROBE_RETURN, 1 },
};

/* Go crypto/tls from .gopclntab (capture/gopclntab.c): go_tls.bpf.c. The
 * handshake's start only: its end is the first Write (as for node), which
 * spares a uprobe on each of its RETs (a dozen) in every Go executable. */
static const struct probe go_probes[] = {
	{ "Conn.Write", "go_write_enter", PROBE_ENTRY, 0 }, { "Conn.Write", "go_write_ret", PROBE_RETS, 0 },
	{ "Conn.Read", "go_read_enter", PROBE_ENTRY, 0 }, { "Conn.Read", "go_read_ret", PROBE_RETS, 0 },
	{ "Conn.Close", "go_close_enter", PROBE_ENTRY, 1 },
	{ "Conn.clientHandshake", "go_hs_enter", PROBE_ENTRY, 1 },
};

/* rustls on AWS-LC (capture/sig_awslc.c): the AES-GCM and ChaCha20-Poly1305 methods' seal
 * (the plaintext is there at entry), open (at its return) and cleanup (a
 * sealing key's end ends its session): rustls.bpf.c. Methods share
 * functions: each distinct one is numbered once. */
static const struct probe rustls_probes[] = {
	{ "seal1", "aead_seal_enter", PROBE_ENTRY, 0 }, { "seal2", "aead_seal_enter", PROBE_ENTRY, 1 },
	{ "seal3", "aead_seal_enter", PROBE_ENTRY, 1 }, { "seal4", "aead_seal_enter", PROBE_ENTRY, 1 },
	{ "seal5", "aead_seal_enter", PROBE_ENTRY, 1 },
	{ "open1", "aead_open_enter", PROBE_ENTRY, 0 }, { "open1", "aead_open_exit", PROBE_RETURN, 0 },
	{ "open2", "aead_open_enter", PROBE_ENTRY, 1 }, { "open2", "aead_open_exit", PROBE_RETURN, 1 },
	{ "open3", "aead_open_enter", PROBE_ENTRY, 1 }, { "open3", "aead_open_exit", PROBE_RETURN, 1 },
	{ "free1", "aead_free_enter", PROBE_ENTRY, 1 }, { "free2", "aead_free_enter", PROBE_ENTRY, 1 },
	{ "free3", "aead_free_enter", PROBE_ENTRY, 1 },
};

static const struct probe gai_probes[] = {
	{ "getaddrinfo", "gai_enter", PROBE_ENTRY, 0 }, { "getaddrinfo", "gai_exit", PROBE_RETURN, 0 },
};

_Static_assert(ARRAY_SIZE(openssl_pairs) <= PAIRS_MAX, "raise PAIRS_MAX");
_Static_assert(ARRAY_SIZE(openssl_probes) <= PROBES_MAX, "raise PROBES_MAX");
_Static_assert(ARRAY_SIZE(gai_probes) <= PROBES_MAX, "raise PROBES_MAX");
_Static_assert(ARRAY_SIZE(gnutls_probes) <= PROBES_MAX, "raise PROBES_MAX");
_Static_assert(ARRAY_SIZE(openssl_static_probes) <= PROBES_MAX, "raise PROBES_MAX");
_Static_assert(ARRAY_SIZE(rustls_probes) <= PROBES_MAX, "raise PROBES_MAX");

/* libssl*, or _ssl* (Python's module, linked with OpenSSL statically at times). */
static int openssl_name(const char *base)
{
	return strncmp(base, "libssl", 6) == 0 || strncmp(base, "_ssl", 4) == 0;
}

/* OpenSSL's API is there when SSL_write is. */
static int openssl_detect(const char *path, char *why, size_t n)
{
	(void)why;
	(void)n;
	return elf_defines(path, "SSL_write");
}

/* libgnutls.so.30 (not libgnutls-dane, libgnutlsxx, libgnutls-openssl). */
static int gnutls_name(const char *base)
{
	return strncmp(base, "libgnutls.so", 12) == 0;
}

/* GnuTLS's API is there when gnutls_record_send is. */
static int gnutls_detect(const char *path, char *why, size_t n)
{
	(void)why;
	(void)n;
	return elf_defines(path, "gnutls_record_send");
}

/* glibc's libc: libc.so.6, or libc-2.31.so before glibc 2.34. */
static int libc_name(const char *base)
{
	return strncmp(base, "libc.so", 7) == 0 ||
	       (strncmp(base, "libc-", 5) == 0 && isdigit((unsigned char)base[5]));
}

/* A native libc with getaddrinfo: dns.bpf.c reads x86-64 struct addrinfo. */
static int libc_detect(const char *path, char *why, size_t n)
{
	(void)why;
	(void)n;
	return elf_native(path) && elf_defines(path, "getaddrinfo");
}

static const char *const openssl_globs[] = {
	"/lib/*-linux-gnu/libssl.so*", "/usr/lib/*-linux-gnu/libssl.so*",
	"/lib64/libssl.so*", "/usr/lib64/libssl.so*", "/lib/libssl.so*",
	"/usr/lib/libssl.so*", "/usr/local/lib/libssl.so*",
	"/usr/local/lib64/libssl.so*", "/usr/local/ssl/lib*/libssl.so*", NULL,
};

static const char *const openssl_sonames[] = {
	"libssl.so.3", "libssl.so.1.1", "libssl.so.1.0.0", "libssl.so.10", NULL,
};

/* Node links OpenSSL into its executable. */
static const char *const openssl_exes[] = { "node", "nodejs", NULL };
/* Agents that carry their TLS stack inside: looked at before they run. */
static const char *const bun_exes[] = { "bun", "claude", NULL };
static const char *const codex_exes[] = { "codex", NULL };

static const char *const gnutls_globs[] = {
	"/lib/*-linux-gnu/libgnutls.so*", "/usr/lib/*-linux-gnu/libgnutls.so*",
	"/lib64/libgnutls.so*", "/usr/lib64/libgnutls.so*", "/usr/lib/libgnutls.so*",
	"/usr/local/lib/libgnutls.so*", NULL,
};

static const char *const gnutls_sonames[] = { "libgnutls.so.30", NULL };
static const char *const libc_sonames[] = { "libc.so.6", NULL };

static const char *const libc_globs[] = {
	"/lib/*-linux-gnu/libc.so.6", "/usr/lib/*-linux-gnu/libc.so.6",
	"/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6", "/usr/lib/libc.so.6", NULL,
};

const struct kind attach_kinds[] = {
	{
		.name = "openssl", .role = ROLE_TLS, .method = "symbols",
		.name_match = openssl_name, .detect = openssl_detect,
		.globs = openssl_globs, .sonames = openssl_sonames,
		.path_exes = openssl_exes, .exe = 1,
		.probes = openssl_probes, .nprobes = ARRAY_SIZE(openssl_probes),
		.pairs = openssl_pairs, .npairs = ARRAY_SIZE(openssl_pairs),
	},
	{
		.name = "gnutls", .role = ROLE_TLS, .method = "symbols",
		.name_match = gnutls_name, .detect = gnutls_detect,
		.globs = gnutls_globs, .sonames = gnutls_sonames,
		.probes = gnutls_probes, .nprobes = ARRAY_SIZE(gnutls_probes),
	},
	{
		.name = "boringssl", .role = ROLE_TLS, .method = "signatures",
		.scan = SCAN_BORINGSSL + 1, .path_exes = bun_exes, .exe = 1,
		.probes = boringssl_probes, .nprobes = ARRAY_SIZE(boringssl_probes),
	},
	{
		.name = "openssl-static", .role = ROLE_TLS, .method = "signatures",
		.scan = SCAN_OPENSSL + 1, .path_exes = codex_exes, .exe = 1,
		.probes = openssl_static_probes, .nprobes = ARRAY_SIZE(openssl_static_probes),
	},
	{
		.name = "go", .role = ROLE_TLS, .method = "symbols (.gopclntab)",
		.scan = SCAN_GO + 1, .exe = 1,
		.probes = go_probes, .nprobes = ARRAY_SIZE(go_probes),
	},
	{
		.name = "rustls", .role = ROLE_TLS, .method = "signatures",
		.scan = SCAN_RUSTLS + 1, .path_exes = codex_exes, .exe = 1,
		.probes = rustls_probes, .nprobes = ARRAY_SIZE(rustls_probes),
	},
	{
		.name = "libc", .role = ROLE_DNS, .method = "symbols",
		.name_match = libc_name, .detect = libc_detect,
		.globs = libc_globs, .sonames = libc_sonames,
		.probes = gai_probes, .nprobes = ARRAY_SIZE(gai_probes),
	},
};

const size_t attach_nkinds = ARRAY_SIZE(attach_kinds);
_Static_assert(ARRAY_SIZE(attach_kinds) == ATTACH_KINDS, "set ATTACH_KINDS in capture/attach_int.h");

/* The file name part of path. */
static const char *base_name(const char *path)
{
	const char *base = strrchr(path, '/');

	return base ? base + 1 : path;
}

int attach_kind_by_name(const char *path)
{
	const char *base = base_name(path);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(attach_kinds); i++)
		if (attach_kinds[i].name_match && attach_kinds[i].name_match(base))
			return (int)i;
	return -1;
}
