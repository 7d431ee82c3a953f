/* verdict.h -- pure rule naming what dominates a call's latency: network, model, client or mixed. */
#ifndef LLMTAP_VERDICT_H
#define LLMTAP_VERDICT_H

/* The parts of one call's wall time, in ms; a negative value is unknown (0). */
struct latency_split {
	double dns_ms, connect_ms, tls_ms;	/* new connections only */
	double client_ms;	/* connection ready -> first request byte (client busy) */
	double upload_ms;	/* first -> last request byte written */
	double ttfb_ms;		/* last request byte -> first response byte (model queue + prefill) */
	double download_ms;	/* first -> last response byte (generation when streamed) */
	int stream;
};

/* Returns "network", "model", "client" or "mixed", or NULL when the split
 * has no time in it. The rule (README "Network or model?"):
 *   network = dns + connect + tls + upload (+ download when not streamed)
 *   model   = ttfb (+ download when streamed: the model generating)
 *   client  = client
 * A part holding at least 60% of the sum names the verdict; else "mixed". */
const char *verdict_of(const struct latency_split *s);

#endif
