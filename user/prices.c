/* prices.c -- which price table a command uses: --prices FILE, $LLMTAP_PRICES, `prices =` of the config file, else the one built in. */
#include "prices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "config.h"
#include "llm/cost.h"

#define PRICES_FILE_MAX (16u << 20)

static struct price_table *loaded;
static const char *origin;

/* Read a whole file (at most PRICES_FILE_MAX). Returns a malloc'd buffer
 * and *len, or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(PRICES_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, PRICES_FILE_MAX + 1, f);
	if (ferror(f) || n > PRICES_FILE_MAX) {
		int e = ferror(f) ? EIO : EFBIG;

		free(buf);
		fclose(f);
		errno = e;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

int prices_setup(const char *file)
{
	struct price_table *t;
	char err[256], *text;
	size_t len;

	if (!file || !*file)
		file = getenv("LLMTAP_PRICES");
	if (!file || !*file)
		file = config_file_value("prices");
	if (!file || !*file) {
		if (prices_parse(&t, asset_prices_tsv, ASSET_LEN(prices_tsv), err, sizeof(err))) {
			fprintf(stderr, "llmtap: the built-in price table is bad: %s\n", err);
			return -1;
		}
		origin = "built-in";
		goto out_use;
	}
	text = read_file(file, &len);
	if (!text) {
		fprintf(stderr, "llmtap: cannot read price table %s: %s\n", file, strerror(errno));
		return -1;
	}
	if (prices_parse(&t, text, len, err, sizeof(err))) {
		fprintf(stderr, "llmtap: bad price table %s: %s\n", file, err);
		free(text);
		return -1;
	}
	free(text);
	origin = file;
out_use:
	prices_free(loaded);
	loaded = t;
	cost_use(t);
	return 0;
}

const struct price_table *prices_loaded(void)
{
	return loaded;
}

const char *prices_origin(void)
{
	return origin;
}
