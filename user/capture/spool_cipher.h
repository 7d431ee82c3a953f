/* spool_cipher.h -- what a ring's spool writes to disk, encrypted: AES-128-CTR by file offset under a key that lives in the tracer's memory alone (libcrypto, loaded when a spool first needs it). */
#ifndef LLMTAP_SPOOL_CIPHER_H
#define LLMTAP_SPOOL_CIPHER_H

#include <stddef.h>
#include <stdint.h>

/* Two streams of the cipher: the writer's and the reader's (each used by
 * one thread at a time). */
enum { SPOOL_WRITER, SPOOL_READER };

struct spool_cipher;

/* A cipher with a fresh random key and nonce. Returns 0 and *out, or a
 * negative errno (-ELIBACC: libcrypto could not be loaded; said once). */
int spool_cipher_new(struct spool_cipher **out);

/* A new random nonce: what is written after this (from offset 0 again)
 * never shares a keystream with what was written before. Serialised with
 * both streams. Returns 0 or a negative errno. */
int spool_cipher_renonce(struct spool_cipher *c);

/* Position stream who at file offset off (a multiple of 16). Returns 0 or
 * -EIO. */
int spool_cipher_seek(struct spool_cipher *c, int who, uint64_t off);

/* Encrypt (or decrypt: the same) n bytes of in into out (in place is
 * fine), continuing stream who from where it is. Returns 0 or -EIO. */
int spool_cipher_apply(struct spool_cipher *c, int who, uint8_t *out, const uint8_t *in, size_t n);

/* Free c (its key wiped); NULL is fine. */
void spool_cipher_free(struct spool_cipher *c);

#endif
