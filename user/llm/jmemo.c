/* jmemo.c -- one call's parsed JSON documents, shared by the parsers that read the same bytes.
 *
 * Parsing is jparse_loadb() (see jparse.c for why not json_loadb()), and a
 * call's response was parsed twice: by the provider parser and by the
 * agent-runs builder. The scope is one call on one thread, so what is kept
 * is bounded by one call's bodies and goes at its end. A document is found
 * by length and a hash of its bytes, then confirmed against a copy of them:
 * a collision can only cost a parse, never give the wrong document.
 */
#include "llm/jmemo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "llm/jparse.h"

/* A document takes several times its text in memory, and a long stream's
 * events would otherwise all be held until its row is made: past these
 * bounds the rest are parsed twice, as before. */
#define JMEMO_DOCS 1024			/* documents kept in a scope ... */
#define JMEMO_BYTES (512u << 10)	/* ... and bytes of their text */
#define JMEMO_SLOTS 2048		/* hash slots (a power of two, > JMEMO_DOCS) */

struct jdoc {
	uint64_t hash;
	size_t len, flags;
	char *text;			/* a copy of the bytes parsed */
	json_t *doc;
};

struct jmemo {
	int open;
	struct jdoc docs[JMEMO_DOCS];
	uint16_t slot[JMEMO_SLOTS];	/* index + 1 into docs; 0: empty */
	size_t ndocs, bytes;
};

static __thread struct jmemo *memo;
static unsigned long long hits;

/* Release what m keeps; it stays allocated for the next scope. */
static void memo_clear(struct jmemo *m)
{
	size_t i;

	for (i = 0; i < m->ndocs; i++) {
		json_decref(m->docs[i].doc);
		free(m->docs[i].text);
	}
	if (m->ndocs)
		memset(m->slot, 0, sizeof(m->slot));
	m->ndocs = m->bytes = 0;
}

void jmemo_begin(void)
{
	if (!memo)
		memo = calloc(1, sizeof(*memo));
	if (!memo)
		return;		/* out of memory: plain parses */
	memo_clear(memo);
	memo->open = 1;
}

void jmemo_end(void)
{
	if (!memo)
		return;
	memo_clear(memo);
	memo->open = 0;
}

json_t *jmemo_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	struct jmemo *m = memo;
	uint64_t h;
	size_t s;
	struct jdoc *d;
	json_t *doc;

	if (!m || !m->open || !buf)
		return jparse_loadb(buf, len, flags, err);
	h = hash64(buf, len, HASH64_INIT);
	for (s = h & (JMEMO_SLOTS - 1); m->slot[s]; s = (s + 1) & (JMEMO_SLOTS - 1)) {
		d = &m->docs[m->slot[s] - 1];
		if (d->hash == h && d->len == len && d->flags == flags && !memcmp(d->text, buf, len)) {
			__atomic_add_fetch(&hits, 1, __ATOMIC_RELAXED);
			return json_incref(d->doc);
		}
	}
	doc = jparse_loadb(buf, len, flags, err);
	if (!doc || m->ndocs >= JMEMO_DOCS || m->bytes + len > JMEMO_BYTES)
		return doc;
	d = &m->docs[m->ndocs];
	d->text = malloc(len ? len : 1);
	if (!d->text)
		return doc;
	memcpy(d->text, buf, len);
	d->hash = h;
	d->len = len;
	d->flags = flags;
	d->doc = json_incref(doc);
	m->slot[s] = (uint16_t)(++m->ndocs);
	m->bytes += len;
	return doc;
}

unsigned long long jmemo_hits(void)
{
	return __atomic_load_n(&hits, __ATOMIC_RELAXED);
}
