/* awslc_tables.c -- a stand-in for AWS-LC's AEAD method tables: AES-GCM's, filled at run time as its FIPS module does (a table in .bss, constants and function pointers stored by an init function), and ChaCha20-Poly1305's, a constant, built stripped and unstripped so the stacks suite can check that `llmtap scan` finds the seal, open and cleanup functions where the symbols say. Not a TLS client. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The layout of AWS-LC's struct evp_aead_st (the part the scanner reads). */
struct aead {
	uint8_t key_len, nonce_len, overhead, max_tag_len;
	uint16_t aead_id;
	int seal_scatter_supports_extra_in;
	int (*init)(void *);
	int (*init_with_direction)(void *);
	void (*cleanup)(void *);
	int (*open)(void *);
	int (*seal_scatter)(void *);
	int (*open_gather)(void *);
	int (*get_iv)(void *);
	int (*tag_len)(void *);
};

/* What the scanner also looks for: a rustls crate path and AWS-LC's name. */
const char *volatile fixture_strings[] = {
	"/registry/src/index.crates.io-0/rustls-0.23.46/src/conn.rs", "AWS-LC",
};

static volatile int sink;

__attribute__((noinline)) int fixture_gcm_init(void *c) { sink = 1; return c != NULL; }
__attribute__((noinline)) void fixture_gcm_cleanup(void *c) { sink = c != NULL; }
__attribute__((noinline)) int fixture_gcm_seal(void *c) { sink = 2; return c != NULL; }
__attribute__((noinline)) int fixture_gcm_tls13_seal(void *c) { sink = 3; return c != NULL; }
__attribute__((noinline)) int fixture_gcm_open_gather(void *c) { sink = 4; return c != NULL; }

__attribute__((noinline)) int fixture_chacha_init(void *c) { sink = 5; return c != NULL; }
__attribute__((noinline)) void fixture_chacha_cleanup(void *c) { sink = c != NULL; }
__attribute__((noinline)) int fixture_chacha_seal(void *c) { sink = 6; return c != NULL; }
__attribute__((noinline)) int fixture_chacha_open_gather(void *c) { sink = 7; return c != NULL; }

static struct aead gcm_128, gcm_128_tls13;

/* ChaCha20-Poly1305's table is a constant (outside AWS-LC's FIPS module):
 * in a PIE its pointers are relocated, so it lands in .data.rel.ro. */
const struct aead fixture_chacha = {
	.key_len = 32, .nonce_len = 12, .overhead = 16, .max_tag_len = 16, .aead_id = 5,
	.seal_scatter_supports_extra_in = 1,
	.init = fixture_chacha_init, .cleanup = fixture_chacha_cleanup,
	.seal_scatter = fixture_chacha_seal, .open_gather = fixture_chacha_open_gather,
};

/* The tables' init functions, as AWS-LC's DEFINE_METHOD_FUNCTION makes them. */
__attribute__((noinline)) void fixture_gcm_128_init(void)
{
	memset(&gcm_128, 0, sizeof(gcm_128));
	gcm_128.key_len = 16;
	gcm_128.nonce_len = 12;
	gcm_128.overhead = 16;
	gcm_128.max_tag_len = 16;
	gcm_128.aead_id = 16;
	gcm_128.seal_scatter_supports_extra_in = 1;
	gcm_128.init = fixture_gcm_init;
	gcm_128.cleanup = fixture_gcm_cleanup;
	gcm_128.seal_scatter = fixture_gcm_seal;
	gcm_128.open_gather = fixture_gcm_open_gather;
}

__attribute__((noinline)) void fixture_gcm_128_tls13_init(void)
{
	memset(&gcm_128_tls13, 0, sizeof(gcm_128_tls13));
	gcm_128_tls13.key_len = 16;
	gcm_128_tls13.nonce_len = 12;
	gcm_128_tls13.overhead = 16;
	gcm_128_tls13.max_tag_len = 16;
	gcm_128_tls13.aead_id = 23;
	gcm_128_tls13.seal_scatter_supports_extra_in = 1;
	gcm_128_tls13.init = fixture_gcm_init;
	gcm_128_tls13.cleanup = fixture_gcm_cleanup;
	gcm_128_tls13.seal_scatter = fixture_gcm_tls13_seal;
	gcm_128_tls13.open_gather = fixture_gcm_open_gather;
}

int main(void)
{
	fixture_gcm_128_init();
	fixture_gcm_128_tls13_init();
	printf("%s %d %d\n", fixture_strings[1], gcm_128.aead_id, gcm_128_tls13.aead_id);
	return gcm_128_tls13.seal_scatter(NULL) + fixture_chacha.seal_scatter(NULL);
}
