/* spool_cipher.c -- what a ring's spool writes to disk, encrypted: AES-128-CTR by file offset under a key that lives in the tracer's memory alone (libcrypto, loaded when a spool first needs it). */
#include "capture/spool_cipher.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/util.h"

/*
 * Why. A spool holds the plaintext the probes read: API keys in request
 * headers among it, which must never rest on a disk (README "The spool").
 * The file is unlinked and read back within seconds, but its pages may be
 * written back before it is emptied. So they are encrypted under a key
 * made at random when the spool is, kept in this process's memory and
 * nowhere else: what reaches the disk cannot be read after the process is
 * gone. The offset in the file is the counter, so a piece read back is
 * decrypted where it starts; a new nonce per filling of the file keeps two
 * fillings from sharing a keystream. libcrypto is opened (by its soname)
 * only when a spool is first used, as libcurl is for --push.
 */

#define CRYPTO_SONAME "libcrypto.so.3"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_cipher_st EVP_CIPHER;
typedef struct engine_st ENGINE;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static struct {
	EVP_CIPHER_CTX *(*ctx_new)(void);
	void (*ctx_free)(EVP_CIPHER_CTX *);
	const EVP_CIPHER *(*aes_128_ctr)(void);
	int (*init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *);
	int (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
	int ok;
} fn;

struct spool_cipher {
	uint8_t key[16];
	uint8_t nonce[8];
	EVP_CIPHER_CTX *ctx[2];
};

/* pthread_once() body: open libcrypto and resolve fn (fn.ok 0 on failure, said once). */
static void lib_load(void)
{
	void *h = dlopen(CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		log_warn("ring spool: cannot load %s (%s): no spool, a full ring drops", CRYPTO_SONAME, dlerror());
		return;
	}
	*(void **)&fn.ctx_new = dlsym(h, "EVP_CIPHER_CTX_new");
	*(void **)&fn.ctx_free = dlsym(h, "EVP_CIPHER_CTX_free");
	*(void **)&fn.aes_128_ctr = dlsym(h, "EVP_aes_128_ctr");
	*(void **)&fn.init = dlsym(h, "EVP_EncryptInit_ex");
	*(void **)&fn.update = dlsym(h, "EVP_EncryptUpdate");
	fn.ok = fn.ctx_new && fn.ctx_free && fn.aes_128_ctr && fn.init && fn.update;
	if (!fn.ok)
		log_warn("ring spool: %s lacks the EVP functions: no spool, a full ring drops", CRYPTO_SONAME);
}

/* Fill p with n random bytes. Returns 0 or a negative errno. */
static int random_fill(void *p, size_t n)
{
	uint8_t *b = p;
	ssize_t r;

	while (n) {
		r = getrandom(b, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

int spool_cipher_new(struct spool_cipher **out)
{
	struct spool_cipher *c;
	int err = -ENOMEM;

	pthread_once(&lib_once, lib_load);
	if (!fn.ok)
		return -ELIBACC;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctx[SPOOL_WRITER] = fn.ctx_new();
	c->ctx[SPOOL_READER] = fn.ctx_new();
	if (!c->ctx[SPOOL_WRITER] || !c->ctx[SPOOL_READER])
		goto out_free;
	err = random_fill(c->key, sizeof(c->key));
	if (!err)
		err = random_fill(c->nonce, sizeof(c->nonce));
	if (err)
		goto out_free;
	*out = c;
	return 0;

out_free:
	spool_cipher_free(c);
	return err;
}

int spool_cipher_renonce(struct spool_cipher *c)
{
	return random_fill(c->nonce, sizeof(c->nonce));
}

int spool_cipher_seek(struct spool_cipher *c, int who, uint64_t off)
{
	uint8_t iv[16];
	uint64_t block = off / 16;
	int i;

	/* the counter block: the nonce, then the block number, big-endian
	 * (CTR mode increments it as a 128-bit big-endian number) */
	memcpy(iv, c->nonce, sizeof(c->nonce));
	for (i = 0; i < 8; i++)
		iv[15 - i] = (uint8_t)(block >> (8 * i));
	return fn.init(c->ctx[who], fn.aes_128_ctr(), NULL, c->key, iv) == 1 ? 0 : -EIO;
}

int spool_cipher_apply(struct spool_cipher *c, int who, uint8_t *out, const uint8_t *in, size_t n)
{
	int len, step;

	while (n) {
		step = n > (1u << 30) ? 1 << 30 : (int)n;
		if (fn.update(c->ctx[who], out, &len, in, step) != 1 || len != step)
			return -EIO;
		out += step;
		in += step;
		n -= (size_t)step;
	}
	return 0;
}

void spool_cipher_free(struct spool_cipher *c)
{
	if (!c)
		return;
	if (c->ctx[SPOOL_WRITER])
		fn.ctx_free(c->ctx[SPOOL_WRITER]);
	if (c->ctx[SPOOL_READER])
		fn.ctx_free(c->ctx[SPOOL_READER]);
	explicit_bzero(c, sizeof(*c));
	free(c);
}
