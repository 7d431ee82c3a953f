/* call.h -- one finished LLM call as stored in llm_calls: the row the connection layer hands to the store. */
#ifndef LLMTAP_CALL_H
#define LLMTAP_CALL_H

#include <stdint.h>

#define CALL_NULL_INT INT64_MIN	/* an INTEGER column that is NULL */
#define CALL_NULL_REAL (-1.0)	/* a REAL duration column that is NULL */

/* All strings are malloc'd and owned by the row (NULL = SQL NULL), except
 * provider and operation, which are static. */
struct call_row {
	char id[37];
	int64_t pid, tid;
	char comm[16];
	char *exe;
	const char *provider, *operation;
	char *model, *host, *method, *path;
	int64_t status;				/* CALL_NULL_INT when no response */
	int64_t stream;
	int64_t input_tokens, output_tokens;	/* CALL_NULL_INT when not reported */
	int64_t cache_read_tokens, cache_write_tokens, reasoning_tokens;
	double cost_usd;			/* < 0: NULL */
	char *finish_reason, *response_text;
	int64_t start_ns;
	double duration_ms, ttfb_ms, ttft_ms;	/* < 0: NULL */
	double dns_ms, connect_ms, tls_ms;	/* < 0: NULL */
	int64_t conn_reused;
	int64_t request_bytes, response_bytes;
	char *request_headers, *response_headers;
	char *request_body, *response_body;
	char *error;
	/* beyond CONTRACT.md: the latency split (issue 3) */
	char conn_id[37];			/* connections.id; "" = NULL */
	double upload_ms;			/* first request byte written -> last one
						 * written, or acknowledged for large bodies */
	double wait_ms;				/* upload end -> first response byte */
	double client_ms;			/* connection ready -> first request byte */
	double tokens_per_s;			/* streams: output tokens / generation time */
	const char *verdict;			/* static: network/model/client/mixed, NULL */
};

/* Free the row's strings and the row itself. */
void call_row_free(struct call_row *r);

#endif
