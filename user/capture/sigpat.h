/* sigpat.h -- byte signatures of machine code: hex bytes, .. for any byte, (a|b) alternatives and ( )? optional groups, matched at one position. */
#ifndef LLMTAP_SIGPAT_H
#define LLMTAP_SIGPAT_H

#include <stddef.h>
#include <stdint.h>

/* Match signature pat against the bytes b[0..n) from their start: groups
 * are tried in order and a failed choice is undone (backtracking), so a
 * match is found when one exists. Returns the length matched, or -1. The
 * pattern must be well formed (see sigpat_valid()). */
long sigpat_match(const char *pat, const uint8_t *b, size_t n);

/* 1 when pat is well formed: pairs of hex digits or "..", balanced groups,
 * '|' and a trailing '?' only on groups, spaces anywhere between tokens. */
int sigpat_valid(const char *pat);

#endif
