/* run.h -- `llmtap run`: capture LLM calls until a signal or --duration. */
#ifndef LLMTAP_RUN_H
#define LLMTAP_RUN_H

/* The run command. Returns the exit code: 0 stopped cleanly, 1 runtime
 * error (not root, BPF, database), 2 usage error. */
int cmd_run(int argc, char **argv);

#endif
