/* ingest.h -- the front door on the --listen address: POST /v1/events, /v1/traces and /v1/logs, checked, limited and queued for the main loop. */
#ifndef LLMTAP_INGEST_H
#define LLMTAP_INGEST_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_MAX_BODY_DEFAULT (4u << 20)	/* bytes of a request body, decoded */
#define INGEST_RATE_DEFAULT 100.0		/* requests per second (burst: one second's) */

struct ingest_opts {
	const char *token;	/* NULL: no token; else "Authorization: Bearer TOKEN" required */
	size_t max_body;	/* 413 above this (after gzip decoding too) */
	double rate;		/* 429 above this many requests per second */
};

/* What /metrics shows of the front door (counted in the HTTP thread). */
struct ingest_stats {
	uint64_t requests;		/* POSTs answered */
	uint64_t rows;			/* rows accepted: events, spans, log records */
	uint64_t bad, too_large, limited, unauthorized;	/* 400, 413, 429, 401 */
};

struct ingest;

/* A new front door (o copied; the token too). NULL on OOM. */
struct ingest *ingest_new(const struct ingest_opts *o);
void ingest_free(struct ingest *in);

/* 1 when url is one of the ingest paths (/v1/events, /v1/traces, /v1/logs). */
int ingest_owns(const char *url);

/* libmicrohttpd's access handler for a request ingest_owns(): reads the
 * body into the request's state (*req), answers 202 (events) or 200
 * (OTLP) once the rows are queued, or 400/401/405/413/415/429 with a
 * reason. Rows go to the events inbox (track/events.h). */
enum MHD_Result ingest_request(struct ingest *in, struct MHD_Connection *c, const char *url,
			       const char *method, const char *upload_data, size_t *upload_data_size,
			       void **req);

/* libmicrohttpd's completion callback: frees *req when it is an ingest
 * request's state (whatever else the server put there is left alone). */
void ingest_completed(void *cls, struct MHD_Connection *c, void **req,
		      enum MHD_RequestTerminationCode toe);

/* A copy of the counters (the HTTP thread's own; call from it). */
void ingest_stats(const struct ingest *in, struct ingest_stats *out);

/* Constant-time comparison of a secret and a candidate: 1 when equal. The
 * time depends on the secret's length only. */
int ingest_token_equal(const char *secret, const char *given);

#endif
