/* test_verdict.c -- the latency verdict rule on hand-made splits. */
#include "harness.h"
#include "llm/verdict.h"

#define V(...) verdict_of(&(struct latency_split){ __VA_ARGS__ })

int main(void)
{
	CHECK(V(.ttfb_ms = -1, .dns_ms = -1) == NULL);
	CHECK(V(.ttfb_ms = 0) == NULL);
	CHECK_STR(V(.ttfb_ms = 900, .upload_ms = 5, .download_ms = 10), "model");
	CHECK_STR(V(.dns_ms = 300, .connect_ms = 200, .tls_ms = 300, .ttfb_ms = 100), "network");
	CHECK_STR(V(.dns_ms = 300, .ttfb_ms = 300), "mixed");
	/* a long stream is the model generating; a long plain download is the network */
	CHECK_STR(V(.ttfb_ms = 100, .download_ms = 2000, .stream = 1), "model");
	CHECK_STR(V(.ttfb_ms = 100, .download_ms = 2000, .stream = 0), "network");
	CHECK_STR(V(.client_ms = 700, .ttfb_ms = 100, .upload_ms = 10), "client");
	/* exactly at the 60% line counts */
	CHECK_STR(V(.ttfb_ms = 60, .upload_ms = 40), "model");
	CHECK_STR(V(.ttfb_ms = 59, .upload_ms = 41), "mixed");
	/* unknown (negative) parts are ignored */
	CHECK_STR(V(.dns_ms = -1, .connect_ms = -1, .tls_ms = -1, .ttfb_ms = 50, .upload_ms = -1), "model");
	return harness_done("test_verdict");
}
