/* scan.c -- `llmtap scan FILE...`: which TLS stacks an executable carries and where llmtap would probe them (or why it cannot), without running it. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "capture/scan.h"

/* A status as the output names it. */
static const char *status_name(enum scan_status s)
{
	switch (s) {
	case SCAN_FOUND: return "found";
	case SCAN_UNVERIFIED: return "unverified";
	case SCAN_UNSUPPORTED: return "unsupported";
	default: return "absent";
	}
}

/* One file's result as a JSON object. */
static json_t *scan_json(const char *path, const struct scan_result *r)
{
	json_t *o = json_object(), *libs = json_array();
	int i, j, k;

	json_object_set_new(o, "file", json_string(path));
	json_object_set_new(o, "scan_ms", json_real(r->ms));
	for (i = 0; i < SCAN_NLIBS; i++) {
		const struct scan_lib *l = &r->libs[i];
		json_t *lo, *fa;

		if (l->status == SCAN_ABSENT)
			continue;
		lo = json_object();
		fa = json_array();
		json_object_set_new(lo, "stack", json_string(scan_lib_name(i)));
		json_object_set_new(lo, "status", json_string(status_name(l->status)));
		json_object_set_new(lo, "method", json_string(i == SCAN_GO ? "symbols" : "signatures"));
		json_object_set_new(lo, "version", json_string(l->version));
		if (l->variant[0])
			json_object_set_new(lo, "variant", json_string(l->variant));
		if (l->reason[0])
			json_object_set_new(lo, "reason", json_string(l->reason));
		for (j = 0; j < l->nfuncs; j++) {
			const struct scan_func *f = &l->funcs[j];
			json_t *fo = json_object(), *rets;

			json_object_set_new(fo, "name", json_string(f->name));
			json_object_set_new(fo, "offset", json_integer((json_int_t)f->off));
			json_object_set_new(fo, "vaddr", json_integer((json_int_t)f->va));
			if (f->entry_probe != f->off)
				json_object_set_new(fo, "entry_probe", json_integer((json_int_t)f->entry_probe));
			if (f->nrets) {
				rets = json_array();
				for (k = 0; k < (int)f->nrets; k++)
					json_array_append_new(rets, json_integer((json_int_t)f->rets[k]));
				json_object_set_new(fo, "rets", rets);
			}
			json_array_append_new(fa, fo);
		}
		json_object_set_new(lo, "functions", fa);
		json_array_append_new(libs, lo);
	}
	json_object_set_new(o, "stacks", libs);
	return o;
}

/* One file's result as text. */
static void scan_print(const char *path, const struct scan_result *r)
{
	int i, j, any = 0;

	printf("%s (scanned in %.0f ms)\n", path, r->ms);
	for (i = 0; i < SCAN_NLIBS; i++) {
		const struct scan_lib *l = &r->libs[i];

		if (l->status == SCAN_ABSENT)
			continue;
		any = 1;
		printf("  %-15s %-11s %s%s%s%s\n", scan_lib_name(i), status_name(l->status), l->version,
		       l->variant[0] ? " [" : "", l->variant, l->variant[0] ? "]" : "");
		for (j = 0; j < l->nfuncs; j++) {
			const struct scan_func *f = &l->funcs[j];

			printf("    %-24s offset %#llx%s", f->name, (unsigned long long)f->off,
			       f->nrets ? " (and its RETs)" : "");
			if (f->entry_probe != f->off)
				printf(", entry probe at %#llx", (unsigned long long)f->entry_probe);
			printf("\n");
		}
		if (l->reason[0])
			printf("    %s\n", l->reason);
	}
	if (!any)
		printf("  no TLS stack found by signatures (a libssl it loads is attached by its symbols)\n");
}

/* The command's usage text. */
static void usage(FILE *f)
{
	fprintf(f, "usage: llmtap scan [--json] FILE...\n"
		   "  Look for TLS stacks llmtap finds without symbols (BoringSSL in Bun, static\n"
		   "  OpenSSL 3, Go crypto/tls, rustls) and print where they would be probed.\n");
}

/* `llmtap scan`: exit 0, 1 when a file could not be scanned, 2 on a usage error. */
int cmd_scan(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int json = 0, opt, rc = 0, i;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "llmtap scan: no FILE given\n");
		usage(stderr);
		return 2;
	}
	for (i = optind; i < argc; i++) {
		struct scan_result r;
		int err = scan_path(argv[i], &r);

		if (err) {
			fprintf(stderr, "llmtap scan: %s: %s\n", argv[i],
				err == -ENOEXEC ? "not an x86-64 ELF file" : strerror(-err));
			rc = 1;
			continue;
		}
		if (json)
			cli_json_print(scan_json(argv[i], &r));
		else
			scan_print(argv[i], &r);
	}
	return rc;
}
