/* hash.h -- a fast 64-bit hash of bytes, for lookups and comparisons in memory (never stored). */
#ifndef LLMTAP_HASH_H
#define LLMTAP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH64_INIT 0xcbf29ce484222325ull

/* Hash of s[0..n), continuing from h (start with HASH64_INIT; chained
 * calls hash the concatenation with each part's length mixed in). Whole
 * request and response bodies go through it several times per call, so it
 * takes 32 bytes a step in four independent lanes: the multiplies overlap
 * instead of waiting on each other. Not for adversarial keys' sake alone:
 * callers confirm a match when a collision would matter. */
uint64_t hash64(const void *s, size_t n, uint64_t h);

#endif
