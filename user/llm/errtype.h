/* errtype.h -- pure classification of a failed or incomplete LLM call into one error kind (rate_limited, auth, ...). */
#ifndef LLMTAP_ERRTYPE_H
#define LLMTAP_ERRTYPE_H

/* What is known of a call's failure. Any field may be absent (0 / NULL). */
struct errtype_in {
	int status;		/* HTTP status; 0 when no response head arrived */
	const char *api_error;	/* the provider's error ("rate_limit_error: ...", "HTTP 429"), from the body */
	const char *capture;	/* why the tracker ended the exchange ("capture gap: ...",
				 * "connection closed before the response completed", ...) */
	int truncated;		/* a body was cut at --max-body or the BPF copy cap */
	int response_started;	/* at least one response byte was read */
};

/* The kind of error of a call, a static string, or NULL when the call
 * succeeded. One of: rate_limited, context_length, auth, invalid_request,
 * overloaded, server_error, timeout, network, truncated, capture_gap,
 * incomplete. A specific kind in the provider's own error wins over the
 * status (an Anthropic stream that fails with "overloaded_error" after a
 * 200 is overloaded; a 400 "prompt is too long" is context_length), the
 * status over a generic one and over the capture (a 429 cut short is
 * still rate_limited). */
const char *errtype_of(const struct errtype_in *in);

/* Every kind errtype_of() may return, NULL-terminated (for documentation
 * and for labels). */
extern const char *const errtype_kinds[];

#endif
