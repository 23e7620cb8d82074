/* The Prometheus endpoint: text exposition format 0.0.4 of a metrics
 * snapshot, served at /metrics by libmicrohttpd from its own thread. */
#ifndef SLUICE_PROM_H
#define SLUICE_PROM_H

#include <stdio.h>

#include "processor/metrics.h"

#define PROM_DEFAULT_LISTEN "127.0.0.1:9464"

/* Writes the exposition of snap: families in catalogue order, HELP and TYPE
 * lines, histograms as cumulative _bucket{le=...}, _sum and _count. */
void prom_render(const struct metrics_snapshot *snap, FILE *f);

/* Splits "host:port", "[v6]:port" or ":port" (all interfaces). Returns 0,
 * or -EINVAL. host gets "" for ":port". */
int prom_parse_listen(const char *s, char *host, size_t hostlen, char *port, size_t portlen);

struct prom;

/* Listens on `listen` ("host:port") and serves m. On failure returns NULL
 * with an error message in err. */
struct prom *prom_start(const char *listen, struct metrics *m, char *err, size_t errlen);
void prom_stop(struct prom *p);

#endif
