/* fuzz_runs.c -- libFuzzer harness: the run builder fed any sequence of call and process rows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/runs.h"

/* Rows go nowhere (each is freed). */
static void drop(void *ud, enum row_kind kind, void *row)
{
	(void)ud;
	row_free(kind, row);
}

/* Bodies the records choose from: tool calls and results of each format. */
static const char *const bodies[] = {
	"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[{}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"x\"}],\"tools\":[{}]}",
	"{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"tool_calls\":[{\"id\":\"call_1\",\"function\":{\"name\":\"bash\",\"arguments\":\"{\\\"command\\\":\\\"ls\\\"}\"}}]}}]}",
	"{\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"is_error\":true}]}],\"tools\":[{}]}",
	"{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}}]}",
	"{\"contents\":[{\"parts\":[{\"functionResponse\":{\"name\":\"run\",\"id\":\"run_1_0\",\"response\":{}}}]}],\"tools\":[{}]}",
	"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"run\",\"args\":{\"command\":\"ls\"}}}]}}]}",
	"{\"input\":\"hi\",\"previous_response_id\":\"resp_1\",\"tools\":[{}]}",
	"{\"id\":\"resp_1\",\"output\":[{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"sh\",\"arguments\":\"{}\"}]}",
	"{}",
};
#define NB (sizeof(bodies) / sizeof(bodies[0]))

/* Each record of 8 bytes is a call, a process row or a tick; values come
 * from its bytes (small pids and times so that records meet). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ops[] = { "chat", "messages", "generate_content", "responses" };
	static const char *const argvs[] = { "[\"bash\",\"-c\",\"ls\"]", "[\"ls\"]", "not json", NULL };
	const struct row_sink sink = { drop, NULL };
	struct runs *r = runs_new(&sink);
	int64_t t = 1000000000000000000ll;
	size_t i;

	if (!r)
		return 0;
	for (i = 0; i + 8 <= size; i += 8) {
		const uint8_t *d = data + i;

		t += (int64_t)d[7] * 1000000;
		if (d[0] % 3 == 0) {
			struct call_row *c = calloc(1, sizeof(*c));

			if (!c)
				break;
			memset(c->id, 'a' + d[1] % 26, 36);
			c->id[8] = c->id[13] = c->id[18] = c->id[23] = '-';
			c->pid = 100 + d[2] % 4;
			c->provider = "openai";
			c->operation = ops[d[3] % 4];
			c->status = d[4] & 1 ? 429 : 200;
			c->input_tokens = d[5] * 1000;
			c->output_tokens = CALL_NULL_INT;
			c->cache_read_tokens = c->cache_write_tokens = c->reasoning_tokens = CALL_NULL_INT;
			c->cost_usd = d[6] & 1 ? -1 : d[6] / 100.0;
			c->start_ns = t;
			c->duration_ms = d[6];
			c->request_body = strdup(bodies[d[4] % NB]);
			c->response_body = strdup(bodies[d[5] % NB]);
			c->response_text = d[6] & 2 ? strdup("a summary long enough to be found again in a later request") : NULL;
			runs_on_call(r, c);
			if (d[6] & 4)
				runs_flush(r);
			call_row_free(c);
		} else if (d[0] % 3 == 1) {
			struct proc_row p = { 0 };

			p.pid = 100 + d[1] % 8;
			p.ppid = d[2] % 3 ? 100 + d[2] % 8 : 1;
			p.comm[0] = 'x';
			p.argv = (char *)argvs[d[3] % 4];
			p.start_ns = t - d[4] * 1000000ll;
			p.exec_ns = d[5] & 1 ? PROC_NULL : t;
			p.exit_ns = d[5] & 2 ? t + d[6] * 1000000ll : PROC_NULL;
			p.exit_code = p.exit_ns == PROC_NULL ? PROC_NULL : d[6] & 3;
			p.exit_signal = p.exit_ns == PROC_NULL ? PROC_NULL : 0;
			runs_on_process(r, &p);
		} else {
			runs_tick(r, t + (int64_t)d[1] * 60 * 1000000000ll);
		}
	}
	runs_stop(r, t);
	runs_free(r);
	return 0;
}
