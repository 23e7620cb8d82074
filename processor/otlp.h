/* The OTLP/HTTP exporter: spans (one per HTTP pair) and the metrics
 * registry, encoded as OTLP JSON and POSTed to /v1/traces and /v1/metrics
 * by a sender thread of its own. Spans wait in a bounded queue whose
 * overflow is counted; failed requests are retried with exponential backoff
 * for a bounded time. The pair path only copies a span into the queue. */
#ifndef SLUICE_OTLP_H
#define SLUICE_OTLP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "processor/metrics.h"

#define OTLP_SPAN_KIND_SERVER 2 /* opentelemetry.proto.trace.v1.Span.SpanKind */
#define OTLP_SPAN_KIND_CLIENT 3

struct otlp_span {
	uint64_t start_ns, end_ns; /* Unix ns */
	uint8_t trace_id[16], span_id[8], parent_id[8];
	bool has_parent;           /* a traceparent header named the parent */
	bool complete;             /* both messages seen whole */
	uint8_t kind;              /* OTLP_SPAN_KIND_* */
	uint16_t status;           /* HTTP status; 0 when no response */
	uint16_t server_port, client_port;
	uint32_t pid;
	uint64_t req_body, resp_body;
	char method[16];           /* normalised: GET ... or _OTHER */
	char method_orig[16];      /* as sent, when method is _OTHER */
	char route[256];           /* template from the route heuristic; "" when none */
	char path[256];
	char server_addr[256];     /* the server's DNS name when known, else its IP */
	char client_addr[48];
	char peer_addr[48];        /* network.peer.address: the remote end's IP */
	uint16_t peer_port;
	char exe[64];              /* process.executable.name, also service.name */
};

struct otlp_opts {
	const char *traces_url;    /* NULL: no traces */
	const char *metrics_url;   /* NULL: no metrics */
	const char *headers;       /* "name=value, name=value" or NULL */
	uint32_t timeout_ms, retry_ms, interval_ms, batch, queue;
	struct metrics *metrics;   /* what /v1/metrics gets */
	void (*refresh)(void *ctx); /* called (sender thread) before each metrics push */
	void *refresh_ctx;
};

struct otlp_stats {
	uint64_t exported, queue_full, failed, rejected; /* spans */
	uint64_t queued;                                 /* spans waiting now */
	uint64_t requests[2][3];   /* [traces, metrics][ok, retry, failed] */
};

struct otlp;

struct otlp *otlp_start(const struct otlp_opts *o, char *err, size_t errlen);
/* Queues a copy of s (span_id and, without a parent, trace_id are filled
 * in here). Never blocks on the network: a full queue drops and counts. */
void otlp_span(struct otlp *x, const struct otlp_span *s);
void otlp_stats(struct otlp *x, struct otlp_stats *st);
/* Sends what is queued and a last metrics push, for at most wait_ms, then
 * stops the thread. */
void otlp_stop(struct otlp *x, uint32_t wait_ms);

/* Parses a W3C traceparent value ("00-<32 hex>-<16 hex>-<2 hex>"):
 * returns true and fills trace and parent ids when it is valid (not all
 * zeros, version not ff). */
bool otlp_parse_traceparent(const char *v, uint8_t trace_id[16], uint8_t parent_id[8]);

/* The JSON bodies, exposed for the tests. */
void otlp_encode_spans(FILE *f, const struct otlp_span *spans, size_t n, const char *host);
void otlp_encode_metrics(FILE *f, const struct metrics_snapshot *snap, const char *host);

#endif
