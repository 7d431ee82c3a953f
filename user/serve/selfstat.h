/* selfstat.h -- llmtap's own health: its memory, CPU, files and queues, read for /health and /metrics. */
#ifndef LLMTAP_SELFSTAT_H
#define LLMTAP_SELFSTAT_H

#include "base/buf.h"
#include "serve/ingest.h"
#include "serve/listen.h"

/* Fill the process fields of s (rss_bytes, cpu_s, fds, threads) from /proc/self. */
void selfstat_read(struct listen_self *s);

/* Append the reasons s makes /health degraded (the database's filesystem
 * over --max-disk-pct, rows dropped from a full queue) as JSON strings,
 * each preceded by a comma when n (reasons before) or an earlier one is
 * not 0. b may be NULL (count only). Returns how many. */
int selfstat_reasons(const struct listen_self *s, struct buf *b, int n);

/* Append s as the JSON object /health shows under "self". */
void selfstat_health(struct buf *b, const struct listen_self *s);

/* Append the self metrics (and the front door's counters, when in is not
 * NULL) in the Prometheus text format. */
void selfstat_metrics(struct buf *b, const struct listen_self *s, const struct ingest_stats *in);

#endif
