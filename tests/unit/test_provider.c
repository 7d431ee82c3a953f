/* test_provider.c -- unit tests for LLM API detection and response parsing on recorded wire bodies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "llm/provider.h"

#define FIXTURES "tests/unit/fixtures/"
#define N TOKENS_NONE

/* Read a fixture (run from the repo root). Returns a malloc'd buffer, or NULL. */
static char *load(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *b;
	long n;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s (run from the repo root)\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out_close;
	b = malloc(n ? n : 1);
	if (!b)
		goto out_close;
	if (fread(b, 1, n, f) != (size_t)n) {
		free(b);
		goto out_close;
	}
	fclose(f);
	*len = n;
	return b;
out_close:
	fclose(f);
	return NULL;
}

/* A region of at least n bytes followed by an inaccessible page: bytes
 * copied to guard_at(g, len) end right before it. */
struct guard {
	char *map;
	size_t body, len;
};

/* Map a guarded region for up to n bytes. Returns 0, or -1. */
static int guard_new(struct guard *g, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	g->body = (n + pg) / pg * pg;
	g->len = g->body + pg;
	g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return -1;
	return mprotect(g->map + g->body, pg, PROT_NONE);
}

/* Copy s[0..n) so that it ends at the guard page; returns the copy. */
static char *guard_put(struct guard *g, const char *s, size_t n)
{
	if (n)
		memcpy(g->map + g->body - n, s, n);
	return g->map + g->body - n;
}

struct pcase {
	const char *name;
	/* request */
	const char *host, *method, *path, *req;
	/* response: a fixture file, else an inline body */
	int status;
	const char *ctype, *fixture, *body;
	/* expected */
	const char *provider, *operation, *model;
	int stream;
	int64_t in, out, cread, cwrite, reason;
	const char *finish, *text;	/* NULL: expect NULL */
	long fto;
	const char *error;
};

static const char chat_req[] =
	"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
	"\"What is the capital of France?\"}]}";
static const char chat_stream_req[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
	"\"What is the capital of France?\"}],\"stream\":true,"
	"\"stream_options\":{\"include_usage\":true}}";
static const char tools_req[] =
	"{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],"
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
	"{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}}}}}],\"stream\":true}";
static const char anthropic_req[] =
	"{\"model\":\"claude-3-5-haiku-latest\",\"max_tokens\":1024,\"messages\":"
	"[{\"role\":\"user\",\"content\":\"Bonjour\"}]}";
static const char anthropic_stream_req[] =
	"{\"model\":\"claude-sonnet-4-20250514\",\"max_tokens\":2048,\"stream\":true,"
	"\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
	"\"messages\":[{\"role\":\"user\",\"content\":\"27 + 15?\"}]}";
static const char gemini_req[] =
	"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Explain photosynthesis "
	"in one sentence.\"}]}]}";
static const char responses_req[] =
	"{\"model\":\"o4-mini\",\"input\":\"What is a prime number?\"}";

static const struct pcase cases[] = {
	{ "openai chat", "api.openai.com", "POST", "/v1/chat/completions", chat_req,
	  200, "application/json", "openai_chat.json", NULL,
	  "openai", "chat", "gpt-4o-2024-08-06", 0, 1342, 8, 1280, N, 0,
	  "stop", "The capital of France is Paris.", -1, NULL },
	{ "openai chat n=2", "api.openai.com", "POST", "/v1/chat/completions",
	  "{\"model\":\"o3-mini\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	  200, "application/json", "openai_chat_n2.json", NULL,
	  "openai", "chat", "o3-mini-2025-01-31", 0, 15, 530, 0, N, 512,
	  "stop", "First answer.", -1, NULL },
	{ "openai chat stream", "api.openai.com", "POST", "/v1/chat/completions", chat_stream_req,
	  200, "text/event-stream; charset=utf-8", "openai_chat_stream.txt", NULL,
	  "openai", "chat", "gpt-4o-mini-2024-07-18", 1, 24, 7, 0, N, 0,
	  "stop", "The capital of France is Paris.", 677, NULL },
	{ "openai chat stream tool call", "api.openai.com", "POST", "/v1/chat/completions", tools_req,
	  200, "text/event-stream; charset=utf-8", "openai_chat_stream_tools.txt", NULL,
	  "openai", "chat", "gpt-4.1-2025-04-14", 1, N, N, N, N, N,
	  "tool_calls", NULL, 774, NULL },
	{ "openai chat stream error", "api.openai.com", "POST", "/v1/chat/completions", chat_req,
	  200, "text/event-stream", "openai_chat_stream_error.txt", NULL,
	  "openai", "chat", "gpt-4o-2024-08-06", 1, N, N, N, N, N,
	  NULL, "Once upon a time", 575,
	  "server_error: The server had an error while processing your request. Sorry about that!" },
	{ "openai responses", "api.openai.com", "POST", "/v1/responses", responses_req,
	  200, "application/json", "openai_responses.json", NULL,
	  "openai", "responses", "o4-mini-2025-04-16", 0, 18, 214, 0, N, 192,
	  "stop", "A prime number has exactly two divisors: 1 and itself.", -1, NULL },
	{ "openai responses stream", "api.openai.com", "POST", "/v1/responses",
	  "{\"model\":\"gpt-4.1-mini\",\"instructions\":\"You are terse.\",\"input\":\"hi\",\"stream\":true}",
	  200, "text/event-stream; charset=utf-8", "openai_responses_stream.txt", NULL,
	  "openai", "responses", "gpt-4.1-mini-2025-04-14", 1, 2077, 10, 1920, N, 0,
	  "stop", "Hi there! How can I help?", 2266, NULL },
	{ "openai responses incomplete", "api.openai.com", "POST", "/v1/responses",
	  "{\"model\":\"gpt-5\",\"input\":\"hi\",\"max_output_tokens\":16}",
	  200, "application/json", NULL,
	  "{\"id\":\"resp_68\",\"object\":\"response\",\"status\":\"incomplete\",\"error\":null,"
	  "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"model\":\"gpt-5-2025-08-07\","
	  "\"output\":[{\"id\":\"rs_68\",\"type\":\"reasoning\",\"summary\":[]}],"
	  "\"usage\":{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":0},"
	  "\"output_tokens\":16,\"output_tokens_details\":{\"reasoning_tokens\":16},\"total_tokens\":25}}",
	  "openai", "responses", "gpt-5-2025-08-07", 0, 9, 16, 0, N, 16,
	  "max_output_tokens", NULL, -1, NULL },
	{ "openai responses function call", "api.openai.com", "POST", "/v1/responses",
	  "{\"model\":\"gpt-4.1\",\"input\":\"weather?\",\"tools\":[]}",
	  200, "application/json", NULL,
	  "{\"id\":\"resp_69\",\"object\":\"response\",\"status\":\"completed\",\"error\":null,"
	  "\"incomplete_details\":null,\"model\":\"gpt-4.1-2025-04-14\",\"output\":[{\"type\":"
	  "\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
	  "\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\",\"status\":\"completed\"}],"
	  "\"usage\":{\"input_tokens\":291,\"input_tokens_details\":{\"cached_tokens\":0},"
	  "\"output_tokens\":23,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":314}}",
	  "openai", "responses", "gpt-4.1-2025-04-14", 0, 291, 23, 0, N, 0,
	  "tool_calls", NULL, -1, NULL },
	{ "openai completions", "api.openai.com", "POST", "/v1/completions",
	  "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say this is a test\",\"max_tokens\":7}",
	  200, "application/json", "openai_completions.json", NULL,
	  "openai", "completions", "gpt-3.5-turbo-instruct:20230824-v2", 0, 5, 7, N, N, N,
	  "length", "\n\nThis is indeed a test", -1, NULL },
	{ "openai completions stream", "127.0.0.1:8000", "POST", "/v1/completions",
	  "{\"model\":\"Qwen/Qwen2.5-0.5B\",\"prompt\":\"Hi\",\"stream\":true}",
	  200, "text/event-stream", NULL,
	  "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":"
	  "\"Qwen/Qwen2.5-0.5B\",\"choices\":[{\"index\":0,\"text\":\" there\",\"logprobs\":null,"
	  "\"finish_reason\":null}],\"usage\":null}\n\n"
	  "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":"
	  "\"Qwen/Qwen2.5-0.5B\",\"choices\":[{\"index\":0,\"text\":\"!\",\"logprobs\":null,"
	  "\"finish_reason\":\"length\"}],\"usage\":null}\n\ndata: [DONE]\n\n",
	  "openai-compatible", "completions", "Qwen/Qwen2.5-0.5B", 1, N, N, N, N, N,
	  "length", " there!", 180, NULL },
	{ "openai embeddings", "api.openai.com", "POST", "/v1/embeddings",
	  "{\"model\":\"text-embedding-3-small\",\"input\":\"The food was delicious\",\"encoding_format\":\"float\"}",
	  200, "application/json", "openai_embeddings.json", NULL,
	  "openai", "embeddings", "text-embedding-3-small", 0, 8, N, N, N, N,
	  NULL, NULL, -1, NULL },
	{ "openai 401", "api.openai.com", "POST", "/v1/chat/completions", chat_req,
	  401, "application/json; charset=utf-8", "openai_error_401.json", NULL,
	  "openai", "chat", "gpt-4o", 0, N, N, N, N, N, NULL, NULL, -1,
	  "invalid_api_key: Incorrect API key provided: sk-proj-****************"
	  "****************************Q1aZ. You can find your API key at "
	  "https://platform.openai.com/account/api-keys." },
	{ "html 502", "api.openai.com", "POST", "/v1/chat/completions", chat_req,
	  502, "text/html", NULL,
	  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
	  "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
	  "openai", "chat", "gpt-4o", 0, N, N, N, N, N, NULL, NULL, -1, "HTTP 502" },
	{ "anthropic messages", "api.anthropic.com", "POST", "/v1/messages", anthropic_req,
	  200, "application/json", "anthropic_messages.json", NULL,
	  "anthropic", "messages", "claude-3-5-haiku-20241022", 0, 21, 17, 0, 1536, N,
	  "end_turn", "Bonjour ! Comment puis-je vous aider aujourd'hui ?", -1, NULL },
	{ "anthropic messages tool use", "api.anthropic.com", "POST", "/v1/messages", anthropic_req,
	  200, "application/json", "anthropic_messages_tools.json", NULL,
	  "anthropic", "messages", "claude-sonnet-4-5-20250929", 0, 412, 129, 3072, 0, N,
	  "tool_use", "I'll check the weather in Paris. One moment.", -1, NULL },
	{ "anthropic stream thinking", "api.anthropic.com", "POST", "/v1/messages", anthropic_stream_req,
	  200, "text/event-stream; charset=utf-8", "anthropic_stream.txt", NULL,
	  "anthropic", "messages", "claude-sonnet-4-20250514", 1, 472, 181, 2048, 0, N,
	  "end_turn", "27 + 15 = 42.", 1384, NULL },
	{ "anthropic stream tool use", "api.anthropic.com", "POST", "/v1/messages", anthropic_stream_req,
	  200, "text/event-stream; charset=utf-8", "anthropic_stream_tools.txt", NULL,
	  "anthropic", "messages", "claude-3-7-sonnet-20250219", 1, 384, 89, 0, 0, N,
	  "tool_use", NULL, 832, NULL },
	{ "anthropic stream overloaded", "api.anthropic.com", "POST", "/v1/messages", anthropic_stream_req,
	  200, "text/event-stream; charset=utf-8", "anthropic_stream_error.txt", NULL,
	  "anthropic", "messages", "claude-opus-4-1-20250805", 1, 12, 1, 0, 0, N,
	  NULL, "Hello", 556, "overloaded_error: Overloaded" },
	{ "anthropic 429", "api.anthropic.com", "POST", "/v1/messages", anthropic_req,
	  429, "application/json", "anthropic_error_429.json", NULL,
	  "anthropic", "messages", "claude-3-5-haiku-latest", 0, N, N, N, N, N, NULL, NULL, -1,
	  "rate_limit_error: This request would exceed the rate limit for your "
	  "organization of 50,000 input tokens per minute." },
	{ "gemini generateContent", "generativelanguage.googleapis.com", "POST",
	  "/v1beta/models/gemini-2.5-flash:generateContent", gemini_req,
	  200, "application/json; charset=UTF-8", "gemini_generate.json", NULL,
	  "gemini", "generate_content", "gemini-2.5-flash", 0, 1043, 14, 1024, N, 391,
	  "STOP", "Photosynthesis turns light, water and CO2 into sugar and oxygen.", -1, NULL },
	{ "vertex generateContent", "us-central1-aiplatform.googleapis.com", "POST",
	  "/v1/projects/acme-prod/locations/us-central1/publishers/google/models/"
	  "gemini-2.0-flash-001:generateContent", gemini_req,
	  200, "application/json; charset=UTF-8", "gemini_vertex.json", NULL,
	  "gemini", "generate_content", "gemini-2.0-flash-001", 0, 4, 4, N, N, N,
	  "MAX_TOKENS", "Hello from Vertex.", -1, NULL },
	{ "gemini stream sse", "generativelanguage.googleapis.com", "POST",
	  "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", gemini_req,
	  200, "text/event-stream", "gemini_stream_sse.txt", NULL,
	  "gemini", "generate_content", "gemini-2.5-flash", 1, 11, 9, N, N, 412,
	  "STOP", "Why did the scarecrow win an award? He was outstanding in his field.",
	  333, NULL },
	{ "gemini stream json array", "generativelanguage.googleapis.com", "POST",
	  "/v1beta/models/gemini-2.0-flash:streamGenerateContent", gemini_req,
	  200, "application/json; charset=UTF-8", "gemini_stream_array.json", NULL,
	  "gemini", "generate_content", "gemini-2.0-flash", 1, 8, 12, N, N, N,
	  "STOP", "Once upon a time, there was a tiny robot.", 408, NULL },
	{ "gemini 429", "generativelanguage.googleapis.com", "POST",
	  "/v1beta/models/gemini-2.5-pro:generateContent?key=AIzaXXXX", gemini_req,
	  429, "application/json; charset=UTF-8", "gemini_error_429.json", NULL,
	  "gemini", "generate_content", "gemini-2.5-pro", 0, N, N, N, N, N, NULL, NULL, -1,
	  "RESOURCE_EXHAUSTED: You exceeded your current quota, please check your plan "
	  "and billing details." },
	{ "gemini openai-compatible endpoint", "generativelanguage.googleapis.com", "POST",
	  "/v1beta/openai/chat/completions",
	  "{\"model\":\"gemini-2.0-flash\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	  200, "application/json", NULL,
	  "{\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,\"message\":{\"content\":"
	  "\"Hi there!\",\"role\":\"assistant\"}}],\"created\":1754901500,\"model\":"
	  "\"gemini-2.0-flash\",\"object\":\"chat.completion\",\"usage\":{\"completion_tokens\":3,"
	  "\"prompt_tokens\":2,\"total_tokens\":5}}",
	  "gemini", "chat", "gemini-2.0-flash", 0, 2, 3, N, N, N, "stop", "Hi there!", -1, NULL },
	{ "ollama stream", "localhost:11434", "POST", "/v1/chat/completions",
	  "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
	  "\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
	  200, "text/event-stream", "ollama_chat_stream.txt", NULL,
	  "openai-compatible", "chat", "llama3.2", 1, 30, 6, N, N, N,
	  "stop", "Hello! How are you?", 227, NULL },
	{ "ollama native chat stream", "localhost:11434", "POST", "/api/chat",
	  "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
	  200, "application/x-ndjson", "ollama_native_chat_stream.ndjson", NULL,
	  "ollama", "chat", "llama3.2", 1, 26, 7, N, N, N, "stop", "Hello! How are you?", 120, NULL },
	{ "ollama native chat", "127.0.0.1:11434", "POST", "/api/chat",
	  "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
	  200, "application/json; charset=utf-8", NULL,
	  "{\"model\":\"llama3.2\",\"created_at\":\"2025-08-11T10:00:00Z\",\"message\":{\"role\":"
	  "\"assistant\",\"content\":\"Hello!\"},\"done_reason\":\"stop\",\"done\":true,"
	  "\"prompt_eval_count\":26,\"eval_count\":3}",
	  "ollama", "chat", "llama3.2", 0, 26, 3, N, N, N, "stop", "Hello!", -1, NULL },
	{ "ollama native generate stream", "localhost:11434", "POST", "/api/generate",
	  "{\"model\":\"llama3.2\",\"prompt\":\"Why is the sky blue?\"}",
	  200, "application/x-ndjson", "ollama_native_generate_stream.ndjson", NULL,
	  "ollama", "generate", "llama3.2", 1, 31, 5, N, N, N, "stop", "The sky is blue.", 88, NULL },
	{ "ollama native embed", "localhost:11434", "POST", "/api/embed",
	  "{\"model\":\"all-minilm\",\"input\":\"Why is the sky blue?\"}",
	  200, "application/json; charset=utf-8", NULL,
	  "{\"model\":\"all-minilm\",\"embeddings\":[[0.01,-0.02,0.03]],\"total_duration\":14143917,"
	  "\"prompt_eval_count\":8}",
	  "ollama", "embeddings", "all-minilm", 0, 8, N, N, N, N, NULL, NULL, -1, NULL },
	{ "ollama native model not found", "localhost:11434", "POST", "/api/chat",
	  "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
	  404, "application/json; charset=utf-8", NULL,
	  "{\"error\":\"model \\\"nope\\\" not found, try pulling it first\"}",
	  "ollama", "chat", "nope", 0, N, N, N, N, N, NULL, NULL, -1,
	  "model \"nope\" not found, try pulling it first" },
	{ "ollama not found", "localhost:11434", "POST", "/v1/chat/completions",
	  "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
	  404, "application/json", NULL,
	  "{\"error\":{\"message\":\"model \\\"nope\\\" not found, try pulling it first\","
	  "\"type\":\"api_error\",\"param\":null,\"code\":null}}",
	  "openai-compatible", "chat", "nope", 0, N, N, N, N, N, NULL, NULL, -1,
	  "api_error: model \"nope\" not found, try pulling it first" },
	{ "openrouter stream", "openrouter.ai", "POST", "/api/v1/chat/completions",
	  "{\"model\":\"anthropic/claude-sonnet-4\",\"messages\":[{\"role\":\"user\",\"content\":\"Go\"}],\"stream\":true}",
	  200, "text/event-stream", "openrouter_chat_stream.txt", NULL,
	  "openrouter", "chat", "anthropic/claude-sonnet-4", 1, 14, 12, 0, N, 0,
	  "stop", "Sure, here it is.", 630, NULL },
	{ "deepseek cache hit", "api.deepseek.com", "POST", "/chat/completions",
	  "{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
	  200, "application/json", NULL,
	  "{\"id\":\"930c60df\",\"object\":\"chat.completion\",\"created\":1754901600,\"model\":"
	  "\"deepseek-chat\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	  "\"content\":\"Hello!\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
	  "{\"prompt_tokens\":70,\"completion_tokens\":3,\"total_tokens\":73,"
	  "\"prompt_cache_hit_tokens\":64,\"prompt_cache_miss_tokens\":6},"
	  "\"system_fingerprint\":\"fp_8802369eaa_prod0425fp8\"}",
	  "deepseek", "chat", "deepseek-chat", 0, 70, 3, 64, N, N, "stop", "Hello!", -1, NULL },
	{ "azure stream with prompt filter chunk", "acme-eastus.openai.azure.com", "POST",
	  "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21",
	  "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true}",
	  200, "text/event-stream; charset=utf-8", NULL,
	  "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
	  "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n"
	  "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{\"content\":\"Hey\","
	  "\"role\":\"assistant\"},\"finish_reason\":null,\"index\":0}],\"created\":1754901700,"
	  "\"id\":\"chatcmpl-az1\",\"model\":\"gpt-4o-2024-11-20\",\"object\":\"chat.completion.chunk\"}\n\n"
	  "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{},\"finish_reason\":"
	  "\"stop\",\"index\":0}],\"created\":1754901700,\"id\":\"chatcmpl-az1\",\"model\":"
	  "\"gpt-4o-2024-11-20\",\"object\":\"chat.completion.chunk\"}\n\ndata: [DONE]\n\n",
	  "azure-openai", "chat", "gpt-4o-2024-11-20", 1, N, N, N, N, N, "stop", "Hey", 367, NULL },
	{ "openai responses stream failed", "api.openai.com", "POST", "/v1/responses",
	  "{\"model\":\"gpt-5\",\"input\":\"hi\",\"stream\":true}",
	  200, "text/event-stream; charset=utf-8", NULL,
	  "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
	  "\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\","
	  "\"model\":\"gpt-5-2025-08-07\",\"output\":[],\"usage\":null,\"error\":null}}\n\n"
	  "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":1,"
	  "\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"failed\","
	  "\"model\":\"gpt-5-2025-08-07\",\"output\":[],\"usage\":null,\"error\":{\"code\":"
	  "\"server_error\",\"message\":\"An error occurred while processing your request.\"}}}\n\n",
	  "openai", "responses", "gpt-5-2025-08-07", 1, N, N, N, N, N,
	  "failed", NULL, -1, "server_error: An error occurred while processing your request." },
	{ "openai responses stream error event", "api.openai.com", "POST", "/v1/responses",
	  "{\"model\":\"gpt-5\",\"input\":\"hi\",\"stream\":true}",
	  200, "text/event-stream; charset=utf-8", NULL,
	  "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
	  "\"sequence_number\":4,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
	  "\"delta\":\"Par\",\"logprobs\":[]}\n\n"
	  "event: error\ndata: {\"type\":\"error\",\"code\":\"ERR_SOMETHING\",\"message\":"
	  "\"Something went wrong\",\"param\":null,\"sequence_number\":5}\n\n",
	  "openai", "responses", "gpt-5", 1, N, N, N, N, N,
	  NULL, "Par", 180, "ERR_SOMETHING: Something went wrong" },
	{ "anthropic 529 json under event-stream type", "api.anthropic.com", "POST", "/v1/messages",
	  anthropic_stream_req, 529, "text/event-stream", NULL,
	  "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
	  "anthropic", "messages", "claude-sonnet-4-20250514", 0, N, N, N, N, N,
	  NULL, NULL, -1, "overloaded_error: Overloaded" },
	{ "gemini array error", "generativelanguage.googleapis.com", "POST",
	  "/v1beta/models/gemini-2.5-pro:streamGenerateContent", gemini_req,
	  503, "application/json; charset=UTF-8", NULL,
	  "[{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"The model is overloaded. "
	  "Please try again later.\",\n    \"status\": \"UNAVAILABLE\"\n  }\n}\n]",
	  "gemini", "generate_content", "gemini-2.5-pro", 1, N, N, N, N, N, NULL, NULL, -1,
	  "UNAVAILABLE: The model is overloaded. Please try again later." },
	{ "no response", "api.anthropic.com", "POST", "/v1/messages", anthropic_req,
	  0, NULL, NULL, NULL,
	  "anthropic", "messages", "claude-3-5-haiku-latest", 0, N, N, N, N, N,
	  NULL, NULL, -1, NULL },
	{ "garbage json", "api.openai.com", "POST", "/v1/chat/completions", chat_req,
	  200, "application/json", NULL, "{\"id\":\"chatcmpl-1\",\"choices\":[{\"message\":{\"content\":\"Hi",
	  "openai", "chat", "gpt-4o", 0, N, N, N, N, N, NULL, NULL, -1, NULL },
	{ "not an llm call", "example.com", "POST", "/v1/chat/completions", "{\"a\":1}",
	  500, "application/json", NULL, "{\"error\":\"boom\"}",
	  NULL, NULL, NULL, 0, N, N, N, N, N, NULL, NULL, -1, "boom" },
};

/* Equal strings, or both NULL. */
static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

#define CHECK_OPT_STR(got, want, name)                                          \
	CHECKF(str_eq((got), (want)), "%s: %s: got \"%s\" want \"%s\"", (name), \
	       #got, (got) ? (got) : "(null)", (want) ? (want) : "(null)")
#define CHECK_INT(got, want, name)                                              \
	CHECKF((got) == (want), "%s: %s: got %lld want %lld", (name), #got,     \
	       (long long)(got), (long long)(want))

/* The request and response of case t, with the given response body. */
static void fill(const struct pcase *t, struct llm_request *req,
		 struct llm_response *resp, const char *body, size_t len)
{
	req->host = t->host;
	req->method = t->method;
	req->path = t->path;
	req->body = (const uint8_t *)t->req;
	req->body_len = t->req ? strlen(t->req) : 0;
	resp->status = t->status;
	resp->content_type = t->ctype;
	resp->body = (const uint8_t *)body;
	resp->body_len = len;
}

/* Every truncated prefix parses without a crash (against a guard page);
 * its text is a prefix of the full text and its first-token offset is the
 * full one once the prefix holds that event, else -1 or smaller. */
static void check_prefixes(const struct pcase *t, const char *body, size_t len,
			   const struct llm_call *full)
{
	struct llm_request req;
	struct llm_response resp;
	struct guard g;
	size_t k, bad = 0;

	if (guard_new(&g, len)) {
		CHECK(!"guard page");
		return;
	}
	for (k = 0; k <= len; k++) {
		struct llm_call c;
		char *b = guard_put(&g, body, k);
		int ok = 1;

		fill(t, &req, &resp, b, k);
		if (provider_parse(&c, &req, &resp))
			ok = 0;
		if (c.response_text && (!full->response_text ||
		    strncmp(c.response_text, full->response_text, strlen(c.response_text))))
			ok = 0;
		if (full->first_token_offset >= 0 && (long)k >= full->first_token_offset) {
			if (c.first_token_offset != full->first_token_offset)
				ok = 0;
		} else if (c.first_token_offset > (long)k) {
			ok = 0;
		}
		if (k == len && (!str_eq(c.response_text, full->response_text) ||
				 c.output_tokens != full->output_tokens))
			ok = 0;
		if (!ok && bad++ < 3)
			CHECKF(ok, "%s: prefix %zu: text \"%s\" fto %ld", t->name, k,
			       c.response_text ? c.response_text : "(null)",
			       c.first_token_offset);
		llm_call_clear(&c);
	}
	CHECKF(bad == 0, "%s: %zu bad prefixes", t->name, bad);
	munmap(g.map, g.len);
}

/* Every case: each field exact, then every truncated prefix. */
static void test_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *t = &cases[i];
		struct llm_request req;
		struct llm_response resp;
		struct llm_call c;
		char *body = NULL;
		size_t len = 0;

		if (t->fixture) {
			body = load(t->fixture, &len);
			CHECKF(body != NULL, "%s: fixture %s", t->name, t->fixture);
			if (!body)
				continue;
		} else if (t->body) {
			body = strdup(t->body);
			len = strlen(t->body);
		}
		fill(t, &req, &resp, body, len);
		CHECK_INT(provider_parse(&c, &req, &resp), 0, t->name);
		CHECK_OPT_STR(c.provider, t->provider, t->name);
		CHECK_OPT_STR(c.operation, t->operation, t->name);
		CHECK_OPT_STR(c.model, t->model, t->name);
		CHECK_INT(c.stream, t->stream, t->name);
		CHECK_INT(c.input_tokens, t->in, t->name);
		CHECK_INT(c.output_tokens, t->out, t->name);
		CHECK_INT(c.cache_read_tokens, t->cread, t->name);
		CHECK_INT(c.cache_write_tokens, t->cwrite, t->name);
		CHECK_INT(c.reasoning_tokens, t->reason, t->name);
		CHECK_OPT_STR(c.finish_reason, t->finish, t->name);
		CHECK_OPT_STR(c.response_text, t->text, t->name);
		CHECK_INT(c.first_token_offset, t->fto, t->name);
		CHECK_OPT_STR(c.error, t->error, t->name);

		check_prefixes(t, body, len, &c);

		llm_call_clear(&c);
		CHECK(c.model == NULL && c.response_text == NULL && c.error == NULL &&
		      c.finish_reason == NULL && c.input_tokens == TOKENS_NONE &&
		      c.first_token_offset == -1);
		free(body);
	}
}

struct dcase {
	const char *method, *host, *path, *body;
	const char *provider, *operation;	/* NULL: not an LLM call */
};

static const char chat_body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static const struct dcase dcases[] = {
	{ "POST", "api.openai.com", "/v1/chat/completions", chat_body, "openai", "chat" },
	{ "POST", "API.OpenAI.com:443", "/v1/responses", NULL, "openai", "responses" },
	{ "POST", "api.openai.com.", "/v1/embeddings", NULL, "openai", "embeddings" },
	{ "POST", "api.openai.com", "/v1/completions", NULL, "openai", "completions" },
	{ "post", "api.openai.com", "/v1/chat/completions/", chat_body, "openai", "chat" },
	{ "GET", "api.openai.com", "/v1/chat/completions", NULL, NULL, NULL },
	{ "POST", "api.openai.com", "/v1/files", NULL, NULL, NULL },
	{ "POST", "api.openai.com", "/v1/chat/completions/chatcmpl-abc", "{\"metadata\":{}}", NULL, NULL },
	{ "POST", "api.openai.com", "/v1/responses/resp_123/cancel", NULL, NULL, NULL },
	{ "POST", "api.openai.com", "/v1/threads/thread_abc/messages",
	  "{\"role\":\"user\",\"content\":\"hi\"}", NULL, NULL },
	{ "POST", "api.anthropic.com", "/v1/messages", NULL, "anthropic", "messages" },
	{ "POST", "api.anthropic.com", "/v1/messages?beta=true", NULL, "anthropic", "messages" },
	{ "POST", "api.anthropic.com", "/v1/messages/count_tokens", NULL, NULL, NULL },
	{ "POST", "api.anthropic.com", "/v1/chat/completions", chat_body, "anthropic", "chat" },
	{ "POST", "generativelanguage.googleapis.com",
	  "/v1beta/models/gemini-2.0-flash:generateContent?key=AIza", NULL, "gemini", "generate_content" },
	{ "POST", "generativelanguage.googleapis.com",
	  "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", NULL, "gemini", "generate_content" },
	{ "POST", "generativelanguage.googleapis.com",
	  "/v1beta/models/gemini-2.0-flash:countTokens", NULL, NULL, NULL },
	{ "POST", "generativelanguage.googleapis.com", "/v1beta/openai/chat/completions",
	  chat_body, "gemini", "chat" },
	{ "POST", "europe-west4-aiplatform.googleapis.com",
	  "/v1/projects/p/locations/europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
	  NULL, "gemini", "generate_content" },
	{ "POST", "aiplatform.googleapis.com",
	  "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
	  NULL, "gemini", "generate_content" },
	{ "POST", "openrouter.ai", "/api/v1/chat/completions", chat_body, "openrouter", "chat" },
	{ "POST", "api.deepseek.com", "/chat/completions", chat_body, "deepseek", "chat" },
	{ "POST", "api.deepseek.com", "/anthropic/v1/messages",
	  "{\"model\":\"deepseek-chat\",\"max_tokens\":64,\"messages\":[]}", "deepseek", "messages" },
	{ "POST", "api.groq.com", "/openai/v1/chat/completions", chat_body, "groq", "chat" },
	{ "POST", "api.mistral.ai", "/v1/chat/completions", chat_body, "mistral", "chat" },
	{ "POST", "api.together.xyz", "/v1/chat/completions", chat_body, "together", "chat" },
	{ "POST", "api.fireworks.ai", "/inference/v1/chat/completions", chat_body, "fireworks", "chat" },
	{ "POST", "acme.openai.azure.com",
	  "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21", NULL, "azure-openai", "chat" },
	{ "POST", "api.x.ai", "/v1/chat/completions", chat_body, "xai", "chat" },
	{ "POST", "localhost:11434", "/v1/chat/completions", chat_body, "openai-compatible", "chat" },
	{ "POST", "localhost:11434", "/v1/chat/completions", "{\"foo\":1}", NULL, NULL },
	{ "POST", "localhost:11434", "/v1/chat/completions", NULL, NULL, NULL },
	{ "POST", "localhost:11434", "/v1/chat/completions", "not json", NULL, NULL },
	{ "POST", "127.0.0.1:8000", "/v1/completions", "{\"model\":\"x\",\"prompt\":\"hi\"}",
	  "openai-compatible", "completions" },
	{ "POST", "127.0.0.1:8000", "/v1/embeddings", "{\"model\":\"x\",\"input\":[\"a\"]}",
	  "openai-compatible", "embeddings" },
	{ "POST", "[::1]:8080", "/v1/responses", "{\"model\":\"x\",\"input\":\"hi\"}",
	  "openai-compatible", "responses" },
	{ "POST", "localhost:4000", "/v1/messages",
	  "{\"model\":\"claude\",\"max_tokens\":10,\"messages\":[]}", "anthropic-compatible", "messages" },
	{ "POST", "localhost:4000", "/v1/messages", "{\"messages\":[]}", NULL, NULL },
	{ "POST", "localhost:8080", "/v1beta/models/gemma-3:generateContent",
	  "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}", "gemini-compatible", "generate_content" },
	{ "POST", "localhost:8080", "/v1beta/models/:generateContent", "{\"contents\":[]}", NULL, NULL },
	{ "POST", NULL, "/v1/chat/completions", chat_body, "openai-compatible", "chat" },
	{ "POST", "example.com", "/api/users", "{\"name\":\"x\"}", NULL, NULL },
	{ "GET", "example.com", "/", NULL, NULL, NULL },
	{ "POST", "api.openai.com", NULL, NULL, NULL, NULL },
	{ NULL, "api.openai.com", "/v1/chat/completions", NULL, NULL, NULL },
	{ "POST", "", "", "", NULL, NULL },
	{ "POST", ":", "?", "[", NULL, NULL },
};

/* provider_detect() on each dcase. */
static void test_detect(void)
{
	size_t i;

	for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *t = &dcases[i];
		struct llm_request req = {
			.host = t->host, .method = t->method, .path = t->path,
			.body = (const uint8_t *)t->body,
			.body_len = t->body ? strlen(t->body) : 0,
		};
		const char *prov = NULL, *op = NULL;
		int r = provider_detect(&req, &prov, &op);

		CHECKF(r == (t->provider != NULL), "detect %zu %s %s: got %d", i,
		       t->host ? t->host : "(null)", t->path ? t->path : "(null)", r);
		if (r && t->provider) {
			CHECK_OPT_STR(prov, t->provider, t->path);
			CHECK_OPT_STR(op, t->operation, t->path);
		}
	}
}

/* A request whose conversation is long (strings past what is read in
 * full): its shape and model are still found, whatever the long strings
 * hold (quotes and backslashes escaped, a look-alike "model" inside), and
 * a cut-off body is still not JSON. */
static void test_long_request(void)
{
	static const char *const tails[] = { "end", "ends with a backslash \\\\", "q \\\"" };
	size_t i, k, n;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		char *body = malloc(8192), *p;
		struct llm_request req = { .host = "localhost:11434", .method = "POST",
					   .path = "/v1/chat/completions" };
		const char *prov = NULL, *op = NULL;
		struct llm_call c;

		p = body + sprintf(body, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
		for (k = 0; k < 300; k++)
			p += sprintf(p, "\\\"model\\\":\\\"fake\\\" \\\\ ");
		p += sprintf(p, "%s\"}],\"model\":\"m-after-long\",\"stream\":false}", tails[i]);
		n = (size_t)(p - body);
		req.body = (const uint8_t *)body;
		req.body_len = n;
		CHECKF(provider_detect(&req, &prov, &op) == 1, "long request %zu detected", i);
		CHECK_OPT_STR(prov, "openai-compatible", "long request");
		CHECK_INT(provider_parse(&c, &req, NULL), 0, "long request");
		CHECK_OPT_STR(c.model, "m-after-long", "long request: the model after the long string");
		llm_call_clear(&c);
		req.body_len = n / 2;	/* cut inside the long string */
		CHECKF(provider_detect(&req, &prov, &op) == 0, "cut long request %zu not detected", i);
		free(body);
	}
}

/* Runs every test; exit status 0 when all passed. */
int main(void)
{
	test_cases();
	test_detect();
	test_long_request();
	return harness_done("test_provider");
}
