/* Export wiring: turns each HTTP pair into metric measurements and an OTLP
 * span, publishes the processor's health counters as metrics, and owns the
 * exporters' lives (metrics registry, Prometheus endpoint, OTLP sender)
 * as the config file and flags set them up. */
#ifndef SLUICE_EXPORT_H
#define SLUICE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "processor/config.h"
#include "processor/conntrack.h"
#include "processor/http1.h"

struct processor;
struct export;

/* Starts what c asks for. NULL with a message in err when it cannot
 * (a taken port, a bad URL): the processor should not start then. */
struct export *export_start(const struct config *c, char *err, size_t errlen);
/* One pair (the pair path: cheap, never blocks on the network).
 * server_name: the server end's DNS name or NULL; it becomes server.address
 * and the IP stays in the span's network.peer.address. */
void export_pair(struct export *e, const struct conn *c, const struct http1_pair *p,
		 const char *process_name, const char *server_name, int64_t boot_to_unix_ns);
/* The metrics registry, for modules that record their own (flows). */
struct metrics *export_metrics(struct export *e);
/* Copies the processor's counters into the health metrics. Call from the
 * thread that owns p, as often as they should be fresh (~1/s). */
void export_health(struct export *e, const struct processor *p);
/* Last health values and OTLP push (bounded wait), then everything stops. */
void export_stop(struct export *e, const struct processor *p);

#endif
