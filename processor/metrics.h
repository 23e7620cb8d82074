/* The metrics registry: sluice's catalogue of metrics (OpenTelemetry
 * semconv HTTP histograms and sluice's own health), their series keyed by
 * attribute sets, per-metric attribute selection and the series cap with its
 * overflow series. Thread-safe: the pair path records, exporters snapshot. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_DEFAULT_MAX_SERIES 2000
#define METRICS_VALUE_MAX 255 /* attribute values are cut to this many bytes */

/* Every attribute a point can carry. The order is the output order. New
 * owners (container, pod) go before MK_STAGE and into metrics.c's table;
 * nothing else has to change for them to be selectable. */
enum metrics_key {
	MK_METHOD,       /* http.request.method */
	MK_STATUS,       /* http.response.status_code */
	MK_ROUTE,        /* http.route: server side, from the route heuristic */
	MK_URL_TEMPLATE, /* url.template: client side, likewise */
	MK_ERROR_TYPE,   /* error.type */
	MK_SERVER_ADDR,  /* server.address */
	MK_SERVER_PORT,  /* server.port */
	MK_CLIENT_ADDR,  /* client.address (opt-in) */
	MK_URL_PATH,     /* url.path (opt-in) */
	MK_EXE,          /* process.executable.name */
	MK_PID,          /* process.pid (opt-in) */
	MK_TRANSPORT,    /* network.transport: tcp, udp (flows) */
	MK_IO_DIRECTION, /* network.io.direction: transmit, receive (flows) */
	MK_SOURCE_ADDR,  /* source.address: the DNS name when known, else the IP (flows) */
	MK_SOURCE_PORT,  /* source.port (flows, opt-in) */
	MK_DEST_ADDR,    /* destination.address: name or IP (flows) */
	MK_DEST_PORT,    /* destination.port (flows, opt-in) */
	MK_CONTAINER,    /* container.id (flows) */
	MK_POD_UID,      /* k8s.pod.uid (flows) */
	MK_STAGE,        /* health labels from here on */
	MK_REASON,
	MK_TYPE,
	MK_COMPLETE,
	MK_METRIC,
	MK_SIGNAL,
	MK_RESULT,
	MK_OVERFLOW,     /* otel.metric.overflow: only on the overflow series */
	MK_MAX
};

enum metrics_id {
	M_HTTP_SERVER_DURATION, M_HTTP_CLIENT_DURATION,
	M_HTTP_SERVER_REQ_BODY, M_HTTP_SERVER_RESP_BODY,
	M_HTTP_CLIENT_REQ_BODY, M_HTTP_CLIENT_RESP_BODY,
	M_EVENTS_RECEIVED, M_EVENTS_DROPPED, M_FRAMES_RECEIVED, M_FRAMES_REJECTED,
	M_CAPTURE_TRUNCATED, M_SPOOL_DROPPED, M_HTTP_PAIRS, M_HTTP_DROPPED, M_HTTP_RESYNCS,
	M_HTTP_NOT_HTTP, M_CONNS_TRACKED, M_CONNS_OPENED, M_CONNS_CLOSED, M_CONNS_EVICTED,
	M_CONNS_UNKNOWN, M_SERIES, M_SERIES_OVERFLOW, M_OTLP_SPANS, M_OTLP_QUEUE,
	M_OTLP_REQUESTS,
	M_NET_FLOW_BYTES, M_NET_FLOW_PACKETS,
	M_DNS_PACKETS, M_DNS_CACHE_LOOKUPS, M_DNS_CACHE_REMOVED, M_DNS_CACHE_ENTRIES,
	M_COUNT
};

enum metrics_kind { MKIND_HISTOGRAM, MKIND_COUNTER, MKIND_GAUGE };

struct metrics_def {
	const char *name;     /* OpenTelemetry name: http.server.request.duration */
	const char *prom;     /* Prometheus family: http_server_request_duration_seconds */
	const char *unit;     /* UCUM, as OTLP wants it: s, By, {event} */
	const char *help;
	enum metrics_kind kind;
	const double *bounds; /* histogram bucket upper bounds (inclusive) */
	uint8_t nbounds;
	bool selectable;      /* attribute selection and the series cap apply */
	uint32_t available;   /* bit per enum metrics_key it can carry */
	uint32_t defaults;    /* ... and carries unless configured otherwise */
};

enum metrics_key_type { MKT_STRING, MKT_INT, MKT_BOOL }; /* OTLP's value kind */

struct metrics_key_def {
	const char *name;  /* OpenTelemetry attribute name */
	const char *label; /* Prometheus label name */
	enum metrics_key_type type;
};

extern const struct metrics_def metrics_defs[M_COUNT];
extern const struct metrics_key_def metrics_keys[MK_MAX];

/* One attribute selector, as in Beyla's attributes.select: metric is a glob
 * over metric names (OpenTelemetry or Prometheus form); include/exclude are
 * globs over attribute names. Every selector matching a metric applies: the
 * include lists are united (none: the metric's defaults), then the exclude
 * lists are removed. */
struct metrics_select {
	const char *metric;
	const char *const *include; /* NULL when the selector has no include list */
	size_t ninclude;
	const char *const *exclude;
	size_t nexclude;
};

struct metrics_opts {
	uint32_t max_series; /* per selectable metric, not counting the overflow series */
	const struct metrics_select *select;
	size_t nselect;
};

/* Attribute values of one measurement, by key; NULL: absent. */
struct metrics_attrs {
	const char *v[MK_MAX];
};

struct metrics;

struct metrics *metrics_new(const struct metrics_opts *o);
void metrics_free(struct metrics *m);
/* The attribute keys metric id carries after selection (bit per key). */
uint32_t metrics_selected(const struct metrics *m, enum metrics_id id);
/* Histogram measurement. */
void metrics_observe(struct metrics *m, enum metrics_id id, const struct metrics_attrs *a,
		     double v);
/* n (at most 4) histogram measurements sharing one attribute set (one
 * pair's duration and body sizes): the series key is built once per
 * distinct selection and the lock taken once. */
void metrics_observe_n(struct metrics *m, const enum metrics_id *ids, const double *v, size_t n,
		       const struct metrics_attrs *a);
/* Counter or gauge: sets the current value (counters are fed totals). */
void metrics_set(struct metrics *m, enum metrics_id id, const struct metrics_attrs *a,
		 uint64_t v);
/* Counter: adds v. Several measurements may share a series once attribute
 * selection drops what told them apart: they add up (flows). */
void metrics_add(struct metrics *m, enum metrics_id id, const struct metrics_attrs *a,
		 uint64_t v);
/* Series in use (without the overflow series) and measurements that went to
 * the overflow series. */
void metrics_usage(struct metrics *m, enum metrics_id id, uint64_t *series, uint64_t *overflow);

/* A series as of a snapshot. Read its parts with the functions below. */
struct metrics_series {
	struct metrics_series *next; /* hash chain; NULL in snapshots */
	uint64_t hash;
	uint64_t start_ns;  /* Unix ns of its first measurement */
	uint64_t count;     /* histogram: measurements */
	double sum;         /* histogram: their sum */
	uint64_t value;     /* counter, gauge */
	uint32_t attrs_len;
	uint32_t size;      /* bytes of this series, parts included */
	/* then: uint64_t buckets[nbounds + 1] (histograms), attrs[attrs_len] */
};

struct metrics_snapshot {
	uint64_t time_ns;   /* Unix ns it was taken at */
	struct {
		size_t n;
		const struct metrics_series **series;
	} m[M_COUNT];
	void *mem;
};

/* A consistent copy, taken under the lock and read without it. */
struct metrics_snapshot *metrics_snapshot(struct metrics *m);
void metrics_snapshot_free(struct metrics_snapshot *s);
/* Per-bucket (not cumulative) counts of a histogram series. */
const uint64_t *metrics_buckets(const struct metrics_series *s);
/* Iterates a series' attributes in key order: *pos starts at 0. */
bool metrics_attr_next(const struct metrics_series *s, enum metrics_id id, uint32_t *pos,
		       enum metrics_key *key, const char **value);

/* Copies src into dst (room for max bytes and a NUL) as valid UTF-8
 * without control characters: each offending byte becomes '?'. Cuts at a
 * character boundary. Returns the length. Exporters use it on anything
 * traffic decides, since an invalid label fails a whole Prometheus scrape. */
size_t metrics_clean_value(char *dst, const char *src, size_t max);

/* Lookups for the config file's checks; -1 when unknown. */
int metrics_find(const char *name);
int metrics_key_find(const char *name);

#endif
