/* sock.bpf.h -- BPF-only helpers of sock.bpf.c: a msghdr's iovecs, and the request line a write is classified by. */
#ifndef LLMTAP_SOCK_BPF_H
#define LLMTAP_SOCK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Bytes of a write looked at to classify it (request line up to the path's end). */
#define PROBE_LEN	192

/* The iovec array and count of a user msghdr. Returns 0 when read. */
static __always_inline int msg_vec(__u64 msg, __u64 *vec, __u64 *nvec)
{
	struct user_msghdr h;

	if (bpf_probe_read_user(&h, sizeof(h), (void *)msg) || !h.msg_iov)
		return -1;
	*vec = (__u64)h.msg_iov;
	*nvec = h.msg_iovlen;
	return 0;
}

/* ---- classifying a write -------------------------------------------------------- */

/* 1 when the n bytes at b[at..] equal s (n <= 16, at + n <= 256). */
static __always_inline int bytes_eq(const char *b, __u32 at, const char *s, __u32 n)
{
	__u32 i;

	for (i = 0; i < 16; i++) {
		if (i >= n)
			break;
		if (b[(at + i) & 0xff] != s[i])
			return 0;
	}
	return 1;
}

/* Length of the HTTP method b starts with, counting its space; 0 when none. */
static __always_inline __u32 method_len(const char *b, __u32 n)
{
	if (n >= 5 && bytes_eq(b, 0, "POST ", 5))
		return 5;
	if (n >= 4 && (bytes_eq(b, 0, "GET ", 4) || bytes_eq(b, 0, "PUT ", 4)))
		return 4;
	if (n >= 5 && bytes_eq(b, 0, "HEAD ", 5))
		return 5;
	if (n >= 6 && bytes_eq(b, 0, "PATCH ", 6))
		return 6;
	if (n >= 7 && bytes_eq(b, 0, "DELETE ", 7))
		return 7;
	if (n >= 8 && bytes_eq(b, 0, "OPTIONS ", 8))
		return 8;
	return 0;
}

/* Path suffixes of the LLM APIs user/llm/provider.c recognises (a query
 * string is not part of the path). Kept short: every write on an HTTP
 * socket is compared with them. */
#define SUFFIX(s) { s, sizeof(s) - 1 }
static const struct {
	char s[16];
	__u32 n;
} suffixes[] = {
	SUFFIX("/completions"),		/* /v1/chat/completions, /v1/completions */
	SUFFIX("/embeddings"),		/* /v1/embeddings, /api/embeddings (Ollama) */
	SUFFIX("/responses"),
	SUFFIX("/messages"),		/* Anthropic and Anthropic-compatible gateways */
	SUFFIX("generateContent"),	/* Gemini :generateContent, :streamGenerateContent */
	SUFFIX("/api/chat"),		/* Ollama */
	SUFFIX("/api/generate"),
	SUFFIX("/api/embed"),
};

/* State of path_step() under bpf_loop(). */
struct path_ctx {
	const char *b;
	__u32 at;	/* next byte to look at */
	__u32 n;	/* bytes read */
};

/* bpf_loop() callback: stop at the path's end (a space, '?' or the bytes
 * read), else step over one byte. */
static long path_step(__u32 i, void *data)
{
	struct path_ctx *x = data;
	char ch;

	if (x->at >= x->n || x->at >= PROBE_LEN)
		return 1;
	ch = x->b[x->at & 0xff];
	if (ch == ' ' || ch == '?')
		return 1;
	x->at++;
	return 0;
}

/* Index just past the path that starts at b[m] (its first space or '?'),
 * within the n bytes read. */
static __always_inline __u32 path_end(const char *b, __u32 m, __u32 n)
{
	struct path_ctx x = { .b = b, .at = m, .n = n };

	bpf_loop(PROBE_LEN, path_step, &x, 0);
	return x.at;
}

#endif
