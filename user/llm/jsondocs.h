/* jsondocs.h -- pure iteration over the JSON documents an LLM response body carries: one document, SSE events, or a streamed JSON array. */
#ifndef LLMTAP_JSONDOCS_H
#define LLMTAP_JSONDOCS_H

#include <jansson.h>
#include <stddef.h>

/* What a body turned out to be. */
enum jsondocs_kind {
	JSONDOCS_NONE,		/* empty, or nothing that parses */
	JSONDOCS_ONE,		/* one JSON object */
	JSONDOCS_SSE,		/* an event stream: one document per "data:" event */
	JSONDOCS_ARRAY,		/* a streamed JSON array (Gemini without alt=sse): one per element */
};

/* Called once per document, in order; event is the SSE "event" field ("" when
 * absent or not SSE). doc is borrowed for the call. */
typedef void (*jsondocs_fn)(void *ud, const char *event, json_t *doc);

/* Call fn for each JSON document of body[0..len): the body itself when it is
 * a JSON object; each element of a body that starts with '[' (stopping at the
 * first that does not parse: a truncated stream yields what came whole); each
 * SSE event whose data is JSON ("[DONE]" and other text are skipped). A
 * leading BOM and white space are skipped. Never fails on bad input. Returns
 * the kind, or -1 when out of memory (documents before it were given). */
int jsondocs_each(const char *body, size_t len, jsondocs_fn fn, void *ud);

#endif
