/* verdict.c -- pure rule naming what dominates a call's latency: network, model, client or mixed. */
#include "llm/verdict.h"

#include <stddef.h>

#define VERDICT_SHARE 0.6

static double known(double v)
{
	return v > 0 ? v : 0;
}

const char *verdict_of(const struct latency_split *s)
{
	double net, model, client, total;

	net = known(s->dns_ms) + known(s->connect_ms) + known(s->tls_ms) + known(s->upload_ms);
	model = known(s->ttfb_ms);
	if (s->stream)
		model += known(s->download_ms);
	else
		net += known(s->download_ms);
	client = known(s->client_ms);
	total = net + model + client;
	if (total <= 0)
		return NULL;
	if (model >= VERDICT_SHARE * total)
		return "model";
	if (net >= VERDICT_SHARE * total)
		return "network";
	if (client >= VERDICT_SHARE * total)
		return "client";
	return "mixed";
}
