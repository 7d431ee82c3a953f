/* main.c -- llmtap's command line: the table of subcommands and the top-level usage. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "run.h"
#include "version.h"

/* The top-level usage text. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: llmtap COMMAND [OPTIONS]\n"
		"  run     capture LLM API calls (needs root)\n"
		"  calls   list recorded calls\n"
		"  show    one call: headers, bodies, latency\n"
		"  stats   totals by model, provider, process or host\n"
		"  dns     recent DNS lookups: name, answers, result, latency\n"
		"  top     live view: calls in flight, calls/min, tokens/s, cost/min, slowest, busiest\n"
		"  report  one HTML file: timeline of every call, costs, slowest calls, CPU\n"
		"  prices  the price table in use, and which row prices a model\n"
		"  events  what llmtap noticed (disk, OOM, zombies, stuck agents) and agents posted\n"
		"  host    host samples: CPU, load, memory, pressure, disk and network\n"
		"  runs    agent runs: their LLM calls, tool calls and what the tools ran\n"
		"  doctor  processes talking TLS to other hosts: what llmtap hooked, or why not\n"
		"  scan    TLS stacks found in executables without symbols\n"
		"Run 'llmtap COMMAND --help' for a command's options; 'llmtap --version'.\n");
}

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct cmd cmds[] = {
	{ "run", cmd_run },
	{ "calls", cmd_calls },
	{ "show", cmd_show },
	{ "stats", cmd_stats },
	{ "dns", cmd_dns },
	{ "prices", cmd_prices },
	{ "report", cmd_report },
	{ "top", cmd_top },
	{ "events", cmd_events },
	{ "host", cmd_host },
	{ "runs", cmd_runs },
	{ "doctor", cmd_doctor },
	{ "scan", cmd_scan },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
		printf("llmtap %s\n", LLMTAP_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "llmtap: unknown command '%s'; try 'llmtap --help'\n", argv[1]);
	return 2;
}
