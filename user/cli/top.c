/* top.c -- `llmtap top`: placeholder. */
#include "cli/cli.h"

int cmd_top(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}
