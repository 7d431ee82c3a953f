/* jmemo.h -- one call's parsed JSON documents, shared by the parsers that read the same bytes. */
#ifndef LLMTAP_JMEMO_H
#define LLMTAP_JMEMO_H

#include <jansson.h>
#include <stddef.h>

/* A call's row is made by several parsers that each read its bodies: the
 * provider parser reads the bytes captured, the agent-runs builder the
 * redacted copy that is stored, which is the same bytes unless a secret was
 * taken out. Between jmemo_begin() and jmemo_end() (one call, on one
 * thread) a document parsed once is handed to the next parser of the same
 * bytes. Documents from jmemo_loadb() are shared: read them, never change
 * them. */

/* Start a call's scope on this thread (what an unended scope held goes). */
void jmemo_begin(void);

/* End it: every document it keeps is released. */
void jmemo_end(void);

/* jparse_loadb(buf, len, flags, err) (json_loadb()'s document) within a
 * scope: the same bytes parsed with the same flags earlier in it give that
 * document again (a new reference; err untouched). Outside a scope, or
 * past its bounds (512 KiB of text, 1024 documents), a plain
 * jparse_loadb(). */
json_t *jmemo_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

/* Documents handed out again (not parsed) since start, for tests. */
unsigned long long jmemo_hits(void);

#endif
