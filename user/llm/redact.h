/* redact.h -- pure secret redaction: the one list of rules for every text llmtap stores or pushes. */
#ifndef LLMTAP_REDACT_H
#define LLMTAP_REDACT_H

#include <stddef.h>

#define REDACTED "[REDACTED]"

/* Returns 1 when a field named [name, name + n) carries a credential: a
 * header, a JSON member, a query parameter, a command-line option (leading
 * dashes ignored) or a variable. The name is cut into words (at '-', '_',
 * '.', and lower-to-upper case changes: "apiKey" is "api key"); it is
 * secret when a word is auth, authorization, token, secret(s), password,
 * passwd, cookie, credential(s), apikey, bearer or sig, or when its last
 * word is key (x-api-key, Ocp-Apim-Subscription-Key, OPENAI_API_KEY, key),
 * unless a word is ratelimit, idempotency, cache or public (counters and
 * identifiers that are no secret). "max_tokens" and "author" are not. */
int redact_name_is_secret(const char *name, size_t n);

/* redact_name_is_secret() of a NUL-terminated header name; 0 for NULL. */
int redact_header_is_secret(const char *name);

/* Returns a malloc'd copy of a header value as it may be stored: REDACTED
 * when the name is secret, else the value through redact_text() (a
 * "Helicone-Auth: Bearer sk-..." is caught by the value's shape). NULL on
 * OOM or when value is NULL. */
char *redact_header_value(const char *name, const char *value);

/* Returns a malloc'd copy of a request target whose query parameters with a
 * secret name have their values replaced by REDACTED; the path, other
 * parameters and empty values are kept. NULL when target is NULL or OOM. */
char *redact_target(const char *target);

/* Returns a malloc'd copy of the n bytes at s (NUL bytes allowed; the copy
 * is NUL-terminated, its length in *outn when outn is set) with every
 * credential replaced by REDACTED, by these rules:
 *  - "Bearer TOKEN" / "Basic TOKEN" (8+ token68 bytes with a digit or a
 *    symbol, or 20+ bytes);
 *  - key shapes at a word start: sk-, sk_, sk-ant-, AIza, gsk_, xai-, pplx-,
 *    hf_, r8_, ghp_, gho_, ghu_, ghs_, github_pat_, glpat-, xoxb-, xoxp-,
 *    npm_, ya29. followed by key bytes (20+ bytes in all; '*' counts, so a
 *    provider's masked echo goes too); AKIA/ASIA + 16 (AWS key ids); JWTs
 *    (eyJ..., two dots, 30+ bytes);
 *  - the value of a JSON member with a secret name ("api_key": "...", also
 *    inside an escaped JSON string);
 *  - "name: value" and "name=value" with a secret name (header lines,
 *    -H 'x-api-key: ...', OPENAI_API_KEY=..., --token=..., ?key=...), the
 *    word after an option with a secret name (--oauth2-bearer TOK,
 *    --api-key K) and the password of -u/--user/--proxy-user user:pass;
 *    values that are plain numbers are kept (--max-tokens 100);
 *  - the password of a URL's user:password@.
 * NULL when s is NULL or out of memory. */
char *redact_textn(const char *s, size_t n, size_t *outn);

/* redact_textn() without the copy when there is nothing to take out: NULL
 * with *clean 1 when s holds no secret (use s as it is), the redacted copy
 * with *clean 0 when it does, NULL with *clean 0 when out of memory. The
 * store binds most columns this way: a clean column is not copied twice. */
char *redact_textn_changed(const char *s, size_t n, size_t *outn, int *clean);

/* redact_textn() of a NUL-terminated string. */
char *redact_text(const char *s);

/* Like redact_textn() for a response body whose text the provider
 * assembled from pieces (SSE deltas): every secret that the rules find in
 * assembled (NUL-terminated, may be NULL) is also removed from the body
 * where it arrived split across JSON string values -- its first piece
 * becomes REDACTED, the following pieces empty strings -- so the stored
 * body cannot be reassembled into it either. */
char *redact_stream_body(const char *body, size_t n, const char *assembled, size_t *outn);

/* State of redact_arg() across one argv: what the next argument is. */
enum redact_argv_state { REDACT_ARG_PLAIN, REDACT_ARG_SECRET, REDACT_ARG_USERPASS };

/* Returns a malloc'd copy of argument arg of a command line, redacted:
 * the argument after an option with a secret name (--token T, --api-key K,
 * --oauth2-bearer T; a plain number is kept) or the password part after
 * -u/--user/--proxy-user (also "-uuser:pass"), and everything redact_text()
 * finds inside (an sh -c string is text too). *state carries what the
 * previous argument said; start it at REDACT_ARG_PLAIN. NULL on OOM. */
char *redact_arg(const char *arg, enum redact_argv_state *state);

#endif
