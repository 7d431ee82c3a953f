/* spool_cipher.c -- what a ring's spool writes to disk, encrypted: ChaCha20 by file offset under a key that lives in the tracer's memory alone (libsodium, loaded when a spool first needs it). */
#include "capture/spool_cipher.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/*
 * Why. A spool holds the plaintext the probes read: API keys in request
 * headers among it, which must never rest on a disk (README "The spool").
 * The file is unlinked and read back within seconds, but its pages may be
 * written back before it is emptied. So they are encrypted under a key
 * made at random when the spool is, kept in this process's memory and
 * nowhere else: what reaches the disk cannot be read once the process is
 * gone. The file offset is the block counter, so a piece read back is
 * decrypted where it starts; a new nonce per filling of the file keeps two
 * fillings from sharing a keystream. libsodium is opened (by its soname)
 * only when a spool is first used, as libcurl is for --push: it adds about
 * 0.2 MB to the tracer then (libcrypto added 3.3).
 */

#define SODIUM_SONAME "libsodium.so.23"
#define KEY_BYTES 32
#define NONCE_BYTES 12

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static struct {
	int (*init)(void);
	int (*xor_ic)(unsigned char *, const unsigned char *, unsigned long long, const unsigned char *, uint32_t,
		      const unsigned char *);
	void (*random)(void *, size_t);
	int ok;
} fn;

struct spool_cipher {
	unsigned char key[KEY_BYTES];
	unsigned char nonce[NONCE_BYTES];
};

/* pthread_once() body: open libsodium and resolve fn (fn.ok 0 on failure, said once). */
static void lib_load(void)
{
	void *h = dlopen(SODIUM_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		log_warn("ring spool: cannot load %s (%s): no spool, a full ring drops", SODIUM_SONAME, dlerror());
		return;
	}
	*(void **)&fn.init = dlsym(h, "sodium_init");
	*(void **)&fn.xor_ic = dlsym(h, "crypto_stream_chacha20_ietf_xor_ic");
	*(void **)&fn.random = dlsym(h, "randombytes_buf");
	fn.ok = fn.init && fn.xor_ic && fn.random && fn.init() >= 0;
	if (!fn.ok)
		log_warn("ring spool: %s does not start: no spool, a full ring drops", SODIUM_SONAME);
}

int spool_cipher_new(struct spool_cipher **out)
{
	struct spool_cipher *c;

	pthread_once(&lib_once, lib_load);
	if (!fn.ok)
		return -ELIBACC;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	fn.random(c->key, sizeof(c->key));
	fn.random(c->nonce, sizeof(c->nonce));
	*out = c;
	return 0;
}

void spool_cipher_renonce(struct spool_cipher *c)
{
	fn.random(c->nonce, sizeof(c->nonce));
}

int spool_cipher_xor(const struct spool_cipher *c, uint64_t off, uint8_t *buf, size_t n)
{
	uint64_t block = off / SPOOL_CIPHER_BLOCK;

	/* the IETF variant counts blocks in 32 bits: 256 GiB of file */
	if (off % SPOOL_CIPHER_BLOCK || block + (n + SPOOL_CIPHER_BLOCK - 1) / SPOOL_CIPHER_BLOCK > UINT32_MAX)
		return -EIO;
	return fn.xor_ic(buf, buf, n, c->nonce, (uint32_t)block, c->key) ? -EIO : 0;
}

void spool_cipher_free(struct spool_cipher *c)
{
	if (!c)
		return;
	explicit_bzero(c, sizeof(*c));
	free(c);
}
