/* jparse.h -- a JSON reader that builds the same jansson documents as json_loadb(), at memory speed. */
#ifndef LLMTAP_JPARSE_H
#define LLMTAP_JPARSE_H

#include <jansson.h>
#include <stddef.h>

/* json_loadb(buf, len, flags, err), the same document or the same failure.
 * jansson reads text a byte at a time through a stream with a UTF-8 check
 * per byte (about 70 MB/s here); an LLM body is mostly long strings, which
 * this reads a word at a time and copies once. Flags other than
 * JSON_ALLOW_NUL and JSON_REJECT_DUPLICATES, a non-NULL err (for jansson's
 * own message and position), nesting past 512, and numbers longer than 63
 * characters are handed to json_loadb() itself. */
json_t *jparse_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

/* The object or array at the start of buf[0..len) (after white space),
 * where more may follow: what json_loadb(buf, len, flags |
 * JSON_DISABLE_EOF_CHECK, &err) returns, and *used its err.position (the
 * bytes up to the value's closing bracket). NULL (and *used 0) when
 * jansson would give none. For the values of a streamed array and the
 * lines of a newline-delimited stream. */
json_t *jparse_loadb_first(const char *buf, size_t len, size_t flags, size_t *used);

#endif
