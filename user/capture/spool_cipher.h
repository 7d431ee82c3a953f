/* spool_cipher.h -- what a ring's spool writes to disk, encrypted: ChaCha20 by file offset under a key that lives in the tracer's memory alone (libsodium, loaded when a spool first needs it). */
#ifndef LLMTAP_SPOOL_CIPHER_H
#define LLMTAP_SPOOL_CIPHER_H

#include <stddef.h>
#include <stdint.h>

/* The cipher's block: every piece encrypted or decrypted starts on one. */
#define SPOOL_CIPHER_BLOCK 64

struct spool_cipher;

/* A cipher with a fresh random key and nonce. Returns 0 and *out, or a
 * negative errno (-ELIBACC: libsodium could not be loaded; said once). */
int spool_cipher_new(struct spool_cipher **out);

/* A new random nonce: what is written after this (from offset 0 again)
 * never shares a keystream with what was written before. Not while
 * spool_cipher_xor() runs. */
void spool_cipher_renonce(struct spool_cipher *c);

/* Encrypt (or decrypt: the same) the n bytes at buf in place, which sit
 * at offset off of the file (a multiple of SPOOL_CIPHER_BLOCK). Returns 0
 * or -EIO. */
int spool_cipher_xor(const struct spool_cipher *c, uint64_t off, uint8_t *buf, size_t n);

/* Free c (its key wiped); NULL is fine. */
void spool_cipher_free(struct spool_cipher *c);

#endif
