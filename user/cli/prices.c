/* prices.c -- `llmtap prices`: the price table in use (built in, or --prices FILE), and which row prices a model. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/cost.h"
#include "prices.h"

/* `llmtap prices --help` */
static const char usage_prices[] =
	"usage: llmtap prices [--prices FILE] [--json] [--provider P] [MODEL]...\n"
	"The price table llmtap uses (USD per 1M tokens), with each row's date and source:\n"
	"the built-in one (data/prices.tsv), else --prices FILE, $LLMTAP_PRICES or\n"
	"`prices = FILE` of /etc/llmtap.conf. With MODEL: the row that prices it, as a\n"
	"call of provider P (default any) would be priced. A bad file is one line naming\n"
	"the line that is wrong (exit 2).\n";

/* A price cell: "-" for none (priced as input). */
static const char *cell(double v, char *out, size_t n)
{
	if (v < 0)
		return "-";
	snprintf(out, n, "%g", v);
	return out;
}

/* Print one row as text or JSON; model (may be NULL) is the name asked about. */
static void row_print(const struct price *p, const char *model, int json)
{
	char a[32], b[32], c[32], d[32];

	if (json) {
		json_t *o = json_object();

		if (model)
			json_object_set_new(o, "query", json_string(model));
		json_object_set_new(o, "model", json_string(p->model));
		json_object_set_new(o, "provider", json_string(p->provider));
		json_object_set_new(o, "input", json_real(p->in));
		json_object_set_new(o, "cached_input", p->cached < 0 ? json_null() : json_real(p->cached));
		json_object_set_new(o, "cache_write", p->write < 0 ? json_null() : json_real(p->write));
		json_object_set_new(o, "output", json_real(p->out));
		json_object_set_new(o, "date", json_string(p->date));
		json_object_set_new(o, "source", json_string(p->source));
		cli_json_print(o);
		return;
	}
	if (model)
		printf("%-40s ", model);
	printf("%-38s %-11s %8s %8s %8s %8s %-10s %s\n", p->model, p->provider, cell(p->in, a, sizeof(a)),
	       cell(p->cached, b, sizeof(b)), cell(p->write, c, sizeof(c)), cell(p->out, d, sizeof(d)),
	       p->date, p->source);
}

int cmd_prices(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prices", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "provider", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *file = NULL, *provider = NULL;
	const struct price_table *t;
	int opt, json = 0, i, rc = 0;
	size_t k;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'P': file = optarg; break;
		case 'j': json = 1; break;
		case 'p': provider = optarg; break;
		case 'h': fputs(usage_prices, stdout); return 0;
		default: return cli_opt_error("prices", argv, opt);
		}
	}
	if (prices_setup(file))		/* names the file and the line */
		return 2;
	t = prices_loaded();
	if (!json && optind == argc)
		printf("# %zu rows, from %s; USD per 1M tokens\n", t->n, prices_origin());
	if (!json)
		printf("%s%-38s %-11s %8s %8s %8s %8s %-10s %s\n", optind < argc ? "QUERY                                    " : "",
		       "MODEL", "PROVIDER", "INPUT", "CACHED", "C_WRITE", "OUTPUT", "DATE", "SOURCE");
	if (optind == argc) {
		for (k = 0; k < t->n; k++)
			row_print(&t->rows[k], NULL, json);
		return 0;
	}
	for (i = optind; i < argc; i++) {
		const struct price *p = prices_lookup(t, provider, argv[i]);

		if (p) {
			row_print(p, argv[i], json);
			continue;
		}
		fprintf(stderr, "llmtap: no price for '%s'%s%s\n", argv[i], provider ? " from " : "",
			provider ? provider : "");
		rc = 1;
	}
	return rc;
}
