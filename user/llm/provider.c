/* provider.c -- LLM API recognition (host, path, body shape) and the response-parsing driver. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include "llm/provider.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm/jparse.h"
#include "llm/provider_int.h"

enum op {
	OP_NONE,
	OP_CHAT,
	OP_COMPLETIONS,
	OP_EMBEDDINGS,
	OP_RESPONSES,
	OP_MESSAGES,
	OP_GENERATE,
	OP_OLLAMA_CHAT,		/* Ollama's native API: /api/chat */
	OP_OLLAMA_GENERATE,	/* /api/generate */
	OP_OLLAMA_EMBED,	/* /api/embed, /api/embeddings */
};

static const char *const op_names[] = {
	[OP_NONE] = NULL,
	[OP_CHAT] = "chat",
	[OP_COMPLETIONS] = "completions",
	[OP_EMBEDDINGS] = "embeddings",
	[OP_RESPONSES] = "responses",
	[OP_MESSAGES] = "messages",
	[OP_GENERATE] = "generate_content",
	[OP_OLLAMA_CHAT] = "chat",
	[OP_OLLAMA_GENERATE] = "generate",
	[OP_OLLAMA_EMBED] = "embeddings",
};

/* Hosts that name a vendor. suffix=1 matches the host or any subdomain
 * ending in the pattern (the pattern starts with '.' or '-' there). */
static const struct {
	const char *host;
	int suffix;
	const char *provider;
} hosts[] = {
	{ "api.openai.com", 0, "openai" },
	{ "api.anthropic.com", 0, "anthropic" },
	{ "generativelanguage.googleapis.com", 0, "gemini" },
	{ "aiplatform.googleapis.com", 0, "gemini" },
	{ "-aiplatform.googleapis.com", 1, "gemini" },	/* us-central1-aiplatform... */
	{ ".aiplatform.googleapis.com", 1, "gemini" },
	{ "openrouter.ai", 0, "openrouter" },
	{ "api.deepseek.com", 0, "deepseek" },
	{ "api.groq.com", 0, "groq" },
	{ "api.mistral.ai", 0, "mistral" },
	{ "api.together.xyz", 0, "together" },
	{ "api.together.ai", 0, "together" },
	{ "api.fireworks.ai", 0, "fireworks" },
	{ ".openai.azure.com", 1, "azure-openai" },
	{ ".cognitiveservices.azure.com", 1, "azure-openai" },
	{ "api.x.ai", 0, "xai" },
	{ "dashscope.aliyuncs.com", 0, "dashscope" },		/* Qwen */
	{ "dashscope-intl.aliyuncs.com", 0, "dashscope" },
	{ "api.z.ai", 0, "zhipu" },				/* GLM */
	{ "open.bigmodel.cn", 0, "zhipu" },
	{ "api.moonshot.ai", 0, "moonshot" },			/* Kimi */
	{ "api.moonshot.cn", 0, "moonshot" },
};

/* Lower-cased host without port or trailing dot into out (size n).
 * Returns 0, or -1 when there is no usable host. */
static int host_norm(const char *host, char *out, size_t n)
{
	const char *end;
	size_t len, i;

	if (!host)
		return -1;
	while (*host == ' ' || *host == '\t')
		host++;
	if (*host == '[') {	/* IPv6 literal */
		end = strchr(host, ']');
		end = end ? end + 1 : host + strlen(host);
	} else {
		end = strchr(host, ':');
		if (!end)
			end = host + strlen(host);
	}
	len = end - host;
	while (len && (host[len - 1] == '.' || host[len - 1] == ' '))
		len--;
	if (!len || len >= n)
		return -1;
	for (i = 0; i < len; i++)
		out[i] = tolower((unsigned char)host[i]);
	out[len] = 0;
	return 0;
}

/* The vendor a host names, or NULL. */
static const char *host_provider(const char *host)
{
	char h[256];
	size_t i, hl;

	if (host_norm(host, h, sizeof(h)))
		return NULL;
	hl = strlen(h);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t pl = strlen(hosts[i].host);

		if (!hosts[i].suffix && !strcmp(h, hosts[i].host))
			return hosts[i].provider;
		if (hosts[i].suffix && hl > pl && !strcmp(h + hl - pl, hosts[i].host))
			return hosts[i].provider;
	}
	return NULL;
}

/* The length of path without its query, fragment and trailing slashes. */
static size_t path_len(const char *path)
{
	size_t n = strcspn(path, "?#");

	while (n > 1 && path[n - 1] == '/')
		n--;
	return n;
}

/* 1 when s[0..n) ends with suffix, else 0. */
static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);

	return n >= sl && !memcmp(s + n - sl, suffix, sl);
}

/* The last path segment of path[0..n): its start, and its length in *sn. */
static const char *last_segment(const char *path, size_t n, size_t *sn)
{
	size_t i = n;

	while (i && path[i - 1] != '/')
		i--;
	*sn = n - i;
	return path + i;
}

/* The operation a path names, by suffix. */
static enum op path_op(const char *path)
{
	size_t n, sn;
	const char *seg, *colon;

	if (!path)
		return OP_NONE;
	n = path_len(path);
	/* Ollama's own API (its OpenAI-compatible one is under /v1) */
	if (ends_with(path, n, "/api/chat"))
		return OP_OLLAMA_CHAT;
	if (ends_with(path, n, "/api/generate"))
		return OP_OLLAMA_GENERATE;
	if (ends_with(path, n, "/api/embed") || ends_with(path, n, "/api/embeddings"))
		return OP_OLLAMA_EMBED;
	if (ends_with(path, n, "/chat/completions"))
		return OP_CHAT;
	if (ends_with(path, n, "/completions"))
		return OP_COMPLETIONS;
	if (ends_with(path, n, "/embeddings"))
		return OP_EMBEDDINGS;
	if (ends_with(path, n, "/responses"))
		return OP_RESPONSES;
	if (ends_with(path, n, "/messages"))
		return OP_MESSAGES;
	seg = last_segment(path, n, &sn);
	colon = memchr(seg, ':', sn);
	if (!colon || colon == seg)
		return OP_NONE;
	sn -= colon + 1 - seg;
	if ((sn == 15 && !memcmp(colon + 1, "generateContent", 15)) ||
	    (sn == 21 && !memcmp(colon + 1, "streamGenerateContent", 21)))
		return OP_GENERATE;
	return OP_NONE;
}

/* Does the request body have the shape of op's request? */
static int body_shape(enum op op, json_t *body)
{
	if (!json_is_object(body))
		return 0;
	switch (op) {
	case OP_CHAT:
		return json_is_array(json_object_get(body, "messages"));
	case OP_COMPLETIONS:
		return json_object_get(body, "prompt") != NULL;
	case OP_EMBEDDINGS:
	case OP_RESPONSES:
		return json_object_get(body, "input") != NULL;
	case OP_MESSAGES:
		return json_is_array(json_object_get(body, "messages")) &&
		       (json_object_get(body, "max_tokens") ||
			json_object_get(body, "anthropic_version"));
	case OP_GENERATE:
		return json_is_array(json_object_get(body, "contents"));
	case OP_OLLAMA_CHAT:
		return json_is_string(json_object_get(body, "model")) &&
		       json_is_array(json_object_get(body, "messages"));
	case OP_OLLAMA_GENERATE:
		return json_is_string(json_object_get(body, "model"));
	case OP_OLLAMA_EMBED:
		return json_is_string(json_object_get(body, "model")) &&
		       (json_object_get(body, "input") || json_object_get(body, "prompt"));
	default:
		return 0;
	}
}

/* Strings longer than this in a request body are read as "" (see below). */
#define REQ_STRING_KEEP 256

/* A copy of the JSON text p[0..n) in which every string longer than
 * REQ_STRING_KEEP bytes is "": what is read from a request (its shape, its
 * model) is short, while an agent's request carries its whole conversation
 * (often hundreds of KB) in long strings that jansson would otherwise
 * decode character by character. Text that is not JSON stays not JSON.
 * Returns a malloc'd buffer (*out_len bytes), or NULL when out of memory. */
static char *json_squeeze(const char *p, size_t n, size_t *out_len)
{
	const char *end = p + n, *q, *s;
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	while (p < end) {
		q = memchr(p, '"', (size_t)(end - p));
		if (!q) {
			memcpy(o, p, (size_t)(end - p));
			o += end - p;
			break;
		}
		memcpy(o, p, (size_t)(q - p + 1));	/* up to the opening quote */
		o += q - p + 1;
		/* the closing quote: the first one not escaped by a backslash */
		for (s = q + 1;; s++) {
			size_t bs = 0;

			s = memchr(s, '"', (size_t)(end - s));
			if (!s)
				break;
			while (s - bs > q + 1 && s[-1 - (ptrdiff_t)bs] == '\\')
				bs++;
			if (!(bs & 1))
				break;
		}
		if (!s) {			/* unterminated: keep it as it is */
			memcpy(o, q + 1, (size_t)(end - q - 1));
			o += end - q - 1;
			break;
		}
		if ((size_t)(s - q - 1) <= REQ_STRING_KEEP) {
			memcpy(o, q + 1, (size_t)(s - q));
			o += s - q;
		} else {
			*o++ = '"';
		}
		p = s + 1;
	}
	*out_len = (size_t)(o - out);
	return out;
}

/* The request body as JSON, or NULL when it is absent or not JSON. Long
 * strings are read as "" (json_squeeze()): only the shape and the model
 * are used. */
static json_t *request_json(const struct llm_request *req)
{
	size_t n;
	char *text;
	json_t *j;

	if (!req->body || !req->body_len)
		return NULL;
	text = json_squeeze((const char *)req->body, req->body_len, &n);
	if (!text)
		return NULL;
	j = jparse_loadb(text, n, JSON_ALLOW_NUL, NULL);
	free(text);
	return j;
}

/* Detection. The request body is parsed only when its shape decides; on
 * success *root is that parsed body (NULL when not parsed or not JSON),
 * which the caller must json_decref(). */
static int detect(const struct llm_request *req, const char **provider,
		  enum op *opp, json_t **root)
{
	const char *vendor;
	json_t *body = NULL;
	enum op op;
	int ok;

	*root = NULL;
	if (!req || !req->method || strcasecmp(req->method, "POST"))
		return 0;
	op = path_op(req->path);
	if (op == OP_NONE)
		return 0;
	vendor = host_provider(req->host);

	if (vendor) {
		/* A vendor host: the path decides, except for suffixes a
		 * vendor also uses for non-LLM calls (OpenAI's
		 * /threads/{id}/messages). */
		if (op == OP_MESSAGES && strcmp(vendor, "anthropic"))
			ok = body_shape(op, body = request_json(req));
		else if (op == OP_GENERATE && strcmp(vendor, "gemini"))
			ok = body_shape(op, body = request_json(req));
		else
			ok = 1;
		*provider = vendor;
	} else {
		ok = body_shape(op, body = request_json(req));
		if (op >= OP_OLLAMA_CHAT)
			*provider = "ollama";
		else if (op == OP_MESSAGES)
			*provider = "anthropic-compatible";
		else if (op == OP_GENERATE)
			*provider = "gemini-compatible";
		else
			*provider = "openai-compatible";
	}
	if (!ok && !req->head_only) {
		json_decref(body);
		return 0;
	}
	*opp = op;
	*root = body;
	return 1;
}

/* See provider.h. */
int provider_detect(const struct llm_request *req, const char **provider,
		    const char **operation)
{
	const char *prov = NULL;
	enum op op = OP_NONE;
	json_t *root;

	if (!detect(req, &prov, &op, &root))
		return 0;
	json_decref(root);
	*provider = prov;
	*operation = op_names[op];
	return 1;
}

/* The start of the JSON text in b (past a BOM and blanks), or NULL. */
static const char *json_start(const uint8_t *b, size_t n, size_t *left)
{
	size_t i = 0;

	if (!b)
		return NULL;
	if (n >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	*left = n - i;
	return i < n ? (const char *)b + i : NULL;
}

/* See provider.h. */
int provider_detect_answer(const struct llm_request *req, const struct llm_response *resp,
			   const char **provider, const char **operation)
{
	const char *vendor, *p;
	json_t *root, *e;
	enum op op;
	size_t n;
	int yes;

	if (!req || !resp || resp->status < 400 || (op = path_op(req->path)) == OP_NONE)
		return 0;
	p = json_start(resp->body, resp->body_len, &n);
	if (!p || *p != '{')
		return 0;
	root = jparse_loadb(p, n, JSON_ALLOW_NUL, NULL);
	e = json_object_get(root, "error");
	yes = json_is_object(e) || (json_is_string(e) && json_string_length(e) > 0) ||
	      p_streq(json_object_get(root, "type"), "error");
	json_decref(root);
	if (!yes)
		return 0;
	vendor = host_provider(req->host);
	if (vendor)
		*provider = vendor;
	else if (op == OP_MESSAGES)
		*provider = "anthropic-compatible";
	else if (op == OP_GENERATE)
		*provider = "gemini-compatible";
	else
		*provider = "openai-compatible";
	*operation = op_names[op];
	return 1;
}

/* See provider.h. */
int provider_llm_path(const char *path)
{
	return path_op(path) != OP_NONE;
}

/* See provider.h. */
const char *provider_why_not(const struct llm_request *req)
{
	if (!req || !req->method)
		return "no request";
	if (path_op(req->path) == OP_NONE)
		return "not an LLM API path";
	if (strcasecmp(req->method, "POST"))
		return "an LLM API path but not a POST";
	if (!req->body_len)
		return "an LLM API path without a request body";
	return "an LLM API path but the body is not an LLM request";
}

/* ---- response parsing ---- */

/* The response format of an operation, or NULL for OP_NONE. */
static const struct pformat *op_format(enum op op)
{
	switch (op) {
	case OP_CHAT:		return &openai_chat_format;
	case OP_COMPLETIONS:	return &openai_completions_format;
	case OP_EMBEDDINGS:	return &openai_embeddings_format;
	case OP_RESPONSES:	return &openai_responses_format;
	case OP_MESSAGES:	return &anthropic_format;
	case OP_GENERATE:	return &gemini_format;
	case OP_OLLAMA_CHAT:
	case OP_OLLAMA_GENERATE: return &ollama_format;
	case OP_OLLAMA_EMBED:	return &ollama_embed_format;
	default:		return NULL;
	}
}


/* The model a Gemini path names ("models/gemini-2.0-flash:generateContent"),
 * into *model when none is known yet. */
static void path_model(struct pstate *p, const char *path)
{
	size_t n, sn;
	const char *seg, *colon;
	char *m;

	if (!path || p->c->model)
		return;
	n = path_len(path);
	seg = last_segment(path, n, &sn);
	colon = memchr(seg, ':', sn);
	if (!colon || colon == seg)
		return;
	m = strndup(seg, colon - seg);
	if (!m) {
		p->nomem = 1;
		return;
	}
	p->c->model = m;
}

/* *c as provider_parse() starts it: nothing known. */
static void call_init(struct llm_call *c)
{
	memset(c, 0, sizeof(*c));
	c->input_tokens = c->output_tokens = TOKENS_NONE;
	c->cache_read_tokens = c->cache_write_tokens = TOKENS_NONE;
	c->reasoning_tokens = TOKENS_NONE;
	c->first_token_offset = -1;
}

/* See provider.h. An exchange that provider_detect() rejects gets no
 * provider/operation, but an HTTP error status is still recorded. On -1
 * *c may be partly filled; llm_call_clear() it as usual. */
int provider_parse(struct llm_call *c, const struct llm_request *req,
		   const struct llm_response *resp)
{
	struct pstate p = { .c = c, .offset = -1 };
	const struct pformat *fmt = NULL;
	json_t *req_root = NULL;
	enum op op = OP_NONE;
	const char *prov = NULL;
	char num[32];

	call_init(c);
	if (detect(req, &prov, &op, &req_root)) {
		c->provider = prov;
		c->operation = op_names[op];
		fmt = op_format(op);
	}
	if (resp && resp->body && resp->body_len)
		p_parse_body(&p, fmt, resp);

	if (fmt && !c->model) {
		if (!req_root)
			req_root = request_json(req);
		p_model(&p, json_object_get(req_root, "model"));
		if (op == OP_GENERATE)
			path_model(&p, req->path);
	}
	if (!c->error && resp && resp->status >= 400) {
		snprintf(num, sizeof(num), "HTTP %d", resp->status);
		p_set_error(&p, num, NULL);
	}
	if (p.have_text && !(c->response_text = buf_steal(&p.text)))
		p.nomem = 1;
	buf_free(&p.text);
	json_decref(req_root);
	return p.nomem ? -1 : 0;
}

/* See provider.h. */
void llm_call_clear(struct llm_call *c)
{
	free(c->model);
	free(c->finish_reason);
	free(c->response_text);
	free(c->error);
	call_init(c);
}
