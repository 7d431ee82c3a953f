/* redact.h -- pure secret redaction for header names, request targets and free text. */
#ifndef LLMTAP_REDACT_H
#define LLMTAP_REDACT_H

#define REDACTED "[REDACTED]"

/* Returns 1 when a header with this name carries a credential, else 0 (also
 * for NULL). Case-insensitive: Authorization, Proxy-Authorization, Cookie,
 * Set-Cookie, and any name containing "api-key", "api_key", "apikey",
 * "token" or "secret" (x-api-key, x-goog-api-key, x-auth-token, ...),
 * except rate-limit counters ("x-ratelimit-remaining-tokens"). */
int redact_header_is_secret(const char *name);

/* Returns a malloc'd copy of a request target whose query parameters named
 * key, api_key, apikey, access_token or token (any case) have their values
 * replaced by REDACTED; other parameters, the path and empty values are kept.
 * NULL when target is NULL or out of memory. */
char *redact_target(const char *target);

/* Returns a malloc'd copy of free text (a body, a log line) with credentials
 * replaced by REDACTED: the token after "Bearer " (8+ token68 bytes with a
 * digit or symbol, or 20+ bytes), and key shapes such as "sk-...",
 * "sk-ant-...", "AIza..." (a run of 20+ key bytes starting at a word
 * boundary). NULL when s is NULL or out of memory. */
char *redact_text(const char *s);

#endif
