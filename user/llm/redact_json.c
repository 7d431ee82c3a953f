/* redact_json.c -- redact.c's rules applied to a JSON value: what agents post and export is redacted like captured data. */
#include "llm/redact_json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "llm/redact.h"

/* 1 when a member named name holds a credential. */
static int secret_key(const char *name)
{
	const char *last = strrchr(name, '.');

	return redact_header_is_secret(name) || (last && redact_header_is_secret(last + 1)) ||
	       strcasestr(name, "password") || strcasestr(name, "passwd");
}

/* 1 when s is a plain (possibly negative or decimal) number. */
static int plain_number(const char *s)
{
	int digits = 0;

	if (*s == '-')
		s++;
	for (; *s; s++) {
		if (isdigit((unsigned char)*s))
			digits = 1;
		else if (*s != '.')
			return 0;
	}
	return digits;
}

char *redact_json_text(const char *s)
{
	char *t, *u;

	if (!s)
		return NULL;
	t = redact_text(s);
	if (!t || !strchr(t, '?'))
		return t;
	u = redact_target(t);
	free(t);
	return u;
}

/* The redacted form of string value v, secret when its member names a
 * credential: a new string, or NULL on OOM. */
static json_t *redact_string(int secret, json_t *v)
{
	const char *s = json_string_value(v);
	json_t *out;
	char *r;

	if (secret && !plain_number(s))
		return json_string(REDACTED);
	r = redact_json_text(s);
	if (!r)
		return NULL;
	out = json_string(r);
	if (!out)	/* invalid UTF-8 cannot come from jansson's own strings */
		out = json_string(REDACTED);
	free(r);
	return out;
}

/* Redact v in place; secret when it is (inside) a member naming a credential. */
static int redact_value(json_t *v, int secret)
{
	const char *key;
	json_t *m, *r;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, key, m) {
			int sk = secret || secret_key(key);

			if (json_is_string(m)) {
				r = redact_string(sk, m);
				if (!r || json_object_set_new(v, key, r))
					return -1;
			} else if (redact_value(m, sk)) {
				return -1;
			}
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (json_is_string(m)) {
				r = redact_string(secret, m);
				if (!r || json_array_set_new(v, i, r))
					return -1;
			} else if (redact_value(m, secret)) {
				return -1;
			}
		}
	}
	return 0;
}

int redact_json(json_t *v)
{
	return redact_value(v, 0);
}
