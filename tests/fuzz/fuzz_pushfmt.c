/* fuzz_pushfmt.c -- libFuzzer harness: push URL parsing and the JSON string writer on any bytes. */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[128];
	struct push_url u;
	struct buf b = { 0 };
	json_t *j;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	/* a parsed URL's key is scheme://[user@]host:port[/path]: never a password */
	if (!push_url_parse(s, &u, err, sizeof(err))) {
		const char *rest;
		char auth[4200];
		size_t n;

		assert(u.endpoint && u.key && u.host && u.port > 0 && u.port < 65536);
		rest = strstr(u.key, "://");
		assert(rest);
		snprintf(auth, sizeof(auth), "%s%s%s:%d", u.user ? u.user : "", u.user ? "@" : "", u.host, u.port);
		n = strlen(auth);
		assert(!strncmp(rest + 3, auth, n) && (rest[3 + n] == 0 || rest[3 + n] == '/'));
		push_url_free(&u);
	}
	/* any bytes become one valid JSON string */
	if (!jw_str(&b, (const char *)data, size)) {
		j = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		assert(json_is_string(j));
		json_decref(j);
	}
	buf_free(&b);
	free(s);
	return 0;
}
