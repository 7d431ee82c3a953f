/* call.c -- one finished LLM call as stored in llm_calls: freeing a row. */
#include "db/rows.h"

#include <stdlib.h>

void call_row_free(struct call_row *r)
{
	if (!r)
		return;
	free(r->exe);
	free(r->model);
	free(r->host);
	free(r->method);
	free(r->path);
	free(r->finish_reason);
	free(r->response_text);
	free(r->request_headers);
	free(r->response_headers);
	free(r->request_body);
	free(r->response_body);
	free(r->error);
	free(r);
}
