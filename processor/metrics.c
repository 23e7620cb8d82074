/* The metrics registry (processor/metrics.h): the catalogue, attribute
 * selection, series lookup under one mutex, the per-metric series cap and
 * snapshots. Series are never removed: values are cumulative, and the cap
 * bounds memory (max_series * metrics * ~400 bytes). */
#include "processor/metrics.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BIT(k) (1u << (k))

/* semconv http.*.request.duration advice, seconds */
static const double duration_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
};
/* Body sizes: semconv gives no advice; powers of 4 from 64 B to 16 MiB, and
 * 0 so that body-less requests (most GETs) have a bucket of their own. */
static const double size_bounds[] = {
	0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
};

const struct metrics_key_def metrics_keys[MK_MAX] = {
	[MK_METHOD] = { "http.request.method", "http_request_method", MKT_STRING },
	[MK_STATUS] = { "http.response.status_code", "http_response_status_code", MKT_INT },
	[MK_ROUTE] = { "http.route", "http_route", MKT_STRING },
	[MK_URL_TEMPLATE] = { "url.template", "url_template", MKT_STRING },
	[MK_ERROR_TYPE] = { "error.type", "error_type", MKT_STRING },
	[MK_SERVER_ADDR] = { "server.address", "server_address", MKT_STRING },
	[MK_SERVER_PORT] = { "server.port", "server_port", MKT_INT },
	[MK_CLIENT_ADDR] = { "client.address", "client_address", MKT_STRING },
	[MK_URL_PATH] = { "url.path", "url_path", MKT_STRING },
	[MK_EXE] = { "process.executable.name", "process_executable_name", MKT_STRING },
	[MK_PID] = { "process.pid", "process_pid", MKT_INT },
	[MK_TRANSPORT] = { "network.transport", "network_transport", MKT_STRING },
	[MK_IO_DIRECTION] = { "network.io.direction", "network_io_direction", MKT_STRING },
	[MK_SOURCE_ADDR] = { "source.address", "source_address", MKT_STRING },
	[MK_SOURCE_PORT] = { "source.port", "source_port", MKT_INT },
	[MK_DEST_ADDR] = { "destination.address", "destination_address", MKT_STRING },
	[MK_DEST_PORT] = { "destination.port", "destination_port", MKT_INT },
	[MK_CONTAINER] = { "container.id", "container_id", MKT_STRING },
	[MK_POD_UID] = { "k8s.pod.uid", "k8s_pod_uid", MKT_STRING },
	[MK_STAGE] = { "stage", "stage", MKT_STRING },
	[MK_REASON] = { "reason", "reason", MKT_STRING },
	[MK_TYPE] = { "type", "type", MKT_STRING },
	[MK_COMPLETE] = { "complete", "complete", MKT_STRING },
	[MK_METRIC] = { "metric", "metric", MKT_STRING },
	[MK_SIGNAL] = { "signal", "signal", MKT_STRING },
	[MK_RESULT] = { "result", "result", MKT_STRING },
	[MK_OVERFLOW] = { "otel.metric.overflow", "otel_metric_overflow", MKT_BOOL },
};

/* What HTTP metrics can carry: url.path, client.address and process.pid are
 * opt-in because each can make a series per request. */
#define HTTP_COMMON (BIT(MK_METHOD) | BIT(MK_STATUS) | BIT(MK_ERROR_TYPE) | \
		     BIT(MK_SERVER_ADDR) | BIT(MK_SERVER_PORT) | BIT(MK_EXE))
#define HTTP_OPTIN (BIT(MK_URL_PATH) | BIT(MK_PID))
#define SERVER_DEF (HTTP_COMMON | BIT(MK_ROUTE))
#define CLIENT_DEF (HTTP_COMMON | BIT(MK_URL_TEMPLATE))
#define SERVER_AVAIL (SERVER_DEF | HTTP_OPTIN | BIT(MK_CLIENT_ADDR))
#define CLIENT_AVAIL (CLIENT_DEF | HTTP_OPTIN)

/* Flows: ports and pid are opt-in (an ephemeral port makes a series per
 * connection). */
#define FLOW_DEF (BIT(MK_TRANSPORT) | BIT(MK_IO_DIRECTION) | BIT(MK_SOURCE_ADDR) | \
		  BIT(MK_DEST_ADDR) | BIT(MK_EXE) | BIT(MK_CONTAINER) | BIT(MK_POD_UID))
#define FLOW_AVAIL (FLOW_DEF | BIT(MK_SOURCE_PORT) | BIT(MK_DEST_PORT) | BIT(MK_PID))
#define COUNTER(n, p, u, h, avail, def) { n, p, u, h, MKIND_COUNTER, NULL, 0, true, avail, def }

#define HIST(n, p, u, h, b, avail, def) \
	{ n, p, u, h, MKIND_HISTOGRAM, b, sizeof(b) / sizeof(b[0]), true, avail, def }
#define HEALTH(n, p, u, h, kind, keys) { n, p, u, h, kind, NULL, 0, false, keys, keys }

const struct metrics_def metrics_defs[M_COUNT] = {
	[M_HTTP_SERVER_DURATION] = HIST("http.server.request.duration",
		"http_server_request_duration_seconds", "s",
		"Duration of HTTP server requests.", duration_bounds, SERVER_AVAIL, SERVER_DEF),
	[M_HTTP_CLIENT_DURATION] = HIST("http.client.request.duration",
		"http_client_request_duration_seconds", "s",
		"Duration of HTTP client requests.", duration_bounds, CLIENT_AVAIL, CLIENT_DEF),
	[M_HTTP_SERVER_REQ_BODY] = HIST("http.server.request.body.size",
		"http_server_request_body_size_bytes", "By",
		"Size of HTTP server request bodies.", size_bounds, SERVER_AVAIL, SERVER_DEF),
	[M_HTTP_SERVER_RESP_BODY] = HIST("http.server.response.body.size",
		"http_server_response_body_size_bytes", "By",
		"Size of HTTP server response bodies.", size_bounds, SERVER_AVAIL, SERVER_DEF),
	[M_HTTP_CLIENT_REQ_BODY] = HIST("http.client.request.body.size",
		"http_client_request_body_size_bytes", "By",
		"Size of HTTP client request bodies.", size_bounds, CLIENT_AVAIL, CLIENT_DEF),
	[M_HTTP_CLIENT_RESP_BODY] = HIST("http.client.response.body.size",
		"http_client_response_body_size_bytes", "By",
		"Size of HTTP client response bodies.", size_bounds, CLIENT_AVAIL, CLIENT_DEF),
	[M_EVENTS_RECEIVED] = HEALTH("sluice.events.received", "sluice_events_received_total",
		"{event}", "Events received from the loader, by type.", MKIND_COUNTER, BIT(MK_TYPE)),
	[M_EVENTS_DROPPED] = HEALTH("sluice.events.dropped", "sluice_events_dropped_total",
		"{event}", "Events lost before pairing, by stage (kernel, loader, decode) and reason.",
		MKIND_COUNTER, BIT(MK_STAGE) | BIT(MK_REASON)),
	[M_FRAMES_RECEIVED] = HEALTH("sluice.frames.received", "sluice_frames_received_total",
		"{frame}", "Batches received from the loader with a valid header.", MKIND_COUNTER, 0),
	[M_FRAMES_REJECTED] = HEALTH("sluice.frames.rejected", "sluice_frames_rejected_total",
		"{frame}", "Batches not processed: malformed, or replayed after a reconnect.",
		MKIND_COUNTER, BIT(MK_REASON)),
	[M_CAPTURE_TRUNCATED] = HEALTH("sluice.capture.truncated",
		"sluice_capture_truncated_bytes_total", "By",
		"Payload bytes beyond the capture cap (counted, not captured; no event lost).",
		MKIND_COUNTER, 0),
	[M_SPOOL_DROPPED] = HEALTH("sluice.loader.spool.dropped",
		"sluice_loader_spool_dropped_batches_total", "{batch}",
		"Batches the loader dropped because its spool was full.", MKIND_COUNTER, 0),
	[M_HTTP_PAIRS] = HEALTH("sluice.http.pairs", "sluice_http_pairs_total", "{pair}",
		"HTTP request/response pairs emitted; complete=false when bytes were missing.",
		MKIND_COUNTER, BIT(MK_COMPLETE)),
	[M_HTTP_DROPPED] = HEALTH("sluice.http.dropped", "sluice_http_dropped_total",
		"{message}", "HTTP messages that could not be paired, by reason.", MKIND_COUNTER,
		BIT(MK_REASON)),
	[M_HTTP_RESYNCS] = HEALTH("sluice.http.resyncs", "sluice_http_resyncs_total",
		"{resync}", "Times an HTTP stream lost framing and resynchronised.",
		MKIND_COUNTER, 0),
	[M_HTTP_NOT_HTTP] = HEALTH("sluice.http.not_http",
		"sluice_http_not_http_connections_total", "{connection}",
		"Connections given up as not HTTP/1.x.", MKIND_COUNTER, 0),
	[M_CONNS_TRACKED] = HEALTH("sluice.connections.tracked", "sluice_connections_tracked",
		"{connection}", "Connections tracked now.", MKIND_GAUGE, 0),
	[M_CONNS_OPENED] = HEALTH("sluice.connections.opened", "sluice_connections_opened_total",
		"{connection}", "Connections seen opening.", MKIND_COUNTER, 0),
	[M_CONNS_CLOSED] = HEALTH("sluice.connections.closed", "sluice_connections_closed_total",
		"{connection}", "Connections seen closing.", MKIND_COUNTER, 0),
	[M_CONNS_EVICTED] = HEALTH("sluice.connections.evicted",
		"sluice_connections_evicted_total", "{connection}",
		"Connections evicted because the table was full.", MKIND_COUNTER, 0),
	[M_CONNS_UNKNOWN] = HEALTH("sluice.connections.unknown",
		"sluice_connections_unknown_total", "{connection}",
		"Connections first seen by data or close (their open event was never seen).",
		MKIND_COUNTER, 0),
	[M_SERIES] = HEALTH("sluice.metric.series", "sluice_metric_series", "{series}",
		"Series per metric (the overflow series not counted).", MKIND_GAUGE, BIT(MK_METRIC)),
	[M_SERIES_OVERFLOW] = HEALTH("sluice.metric.overflow", "sluice_metric_overflow_total",
		"{measurement}", "Measurements recorded in a metric's overflow series (series cap hit).",
		MKIND_COUNTER, BIT(MK_METRIC)),
	[M_OTLP_SPANS] = HEALTH("sluice.otlp.spans", "sluice_otlp_spans_total", "{span}",
		"Spans by outcome: exported, queue_full, failed (retries exhausted), rejected.",
		MKIND_COUNTER, BIT(MK_RESULT)),
	[M_OTLP_QUEUE] = HEALTH("sluice.otlp.queue", "sluice_otlp_queue_spans", "{span}",
		"Spans waiting to be sent.", MKIND_GAUGE, 0),
	[M_OTLP_REQUESTS] = HEALTH("sluice.otlp.requests", "sluice_otlp_requests_total",
		"{request}", "OTLP export requests by signal and result (ok, retry, failed).",
		MKIND_COUNTER, BIT(MK_SIGNAL) | BIT(MK_RESULT)),
	[M_NET_FLOW_BYTES] = COUNTER("sluice.network.flow.bytes", "sluice_network_flow_bytes_total",
		"By", "L4 payload bytes per flow (TCP/UDP data, no headers), by direction, ends "
		"(DNS names when known) and owner.", FLOW_AVAIL, FLOW_DEF),
	[M_NET_FLOW_PACKETS] = COUNTER("sluice.network.flow.packets",
		"sluice_network_flow_packets_total", "{packet}",
		"Packets (GSO segments) per flow, by direction, ends and owner.", FLOW_AVAIL,
		FLOW_DEF),
	[M_DNS_PACKETS] = HEALTH("sluice.dns.packets", "sluice_dns_packets_total", "{packet}",
		"DNS packets seen, by type: query, response, malformed.", MKIND_COUNTER,
		BIT(MK_TYPE)),
	[M_DNS_CACHE_LOOKUPS] = HEALTH("sluice.dns.cache.lookups", "sluice_dns_cache_lookups_total",
		"{lookup}", "Address-to-name lookups, by result: hit, miss.", MKIND_COUNTER,
		BIT(MK_RESULT)),
	[M_DNS_CACHE_REMOVED] = HEALTH("sluice.dns.cache.removed", "sluice_dns_cache_removed_total",
		"{entry}", "Names dropped from the cache, by reason: evicted (full), expired (TTL).",
		MKIND_COUNTER, BIT(MK_REASON)),
	[M_DNS_CACHE_ENTRIES] = HEALTH("sluice.dns.cache.entries", "sluice_dns_cache_entries",
		"{entry}", "Names in the cache now.", MKIND_GAUGE, 0),
};

struct metrics_table {
	struct metrics_series **heads; /* hash buckets */
	uint32_t nheads;               /* power of two */
	struct metrics_series **all;   /* creation order, for output */
	uint32_t n, cap;               /* series in use, most allowed */
	struct metrics_series *overflow;
	uint64_t overflowed;           /* measurements that went to overflow */
	uint32_t selected;             /* bit per key after selection */
};

struct metrics {
	pthread_mutex_t lock;
	size_t bytes;                  /* all series' sizes, for snapshots */
	struct metrics_table t[M_COUNT];
};

static uint64_t now_unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- attribute selection ---- */

static bool glob_any(const char *const *globs, size_t n, const char *a, const char *b)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], a, 0) == 0 || fnmatch(globs[i], b, 0) == 0)
			return true;
	return false;
}

static uint32_t keys_matching(const char *const *globs, size_t n, uint32_t among)
{
	uint32_t mask = 0;

	for (int k = 0; k < MK_MAX; k++)
		if ((among & BIT(k)) && glob_any(globs, n, metrics_keys[k].name, metrics_keys[k].label))
			mask |= BIT(k);
	return mask;
}

static uint32_t select_keys(const struct metrics_def *d, const struct metrics_opts *o)
{
	uint32_t inc = 0, exc = 0;
	bool any_include = false;

	if (!d->selectable)
		return d->defaults; /* health: a dropped label would merge set() values */
	for (size_t i = 0; i < o->nselect; i++) {
		const struct metrics_select *s = &o->select[i];

		if (fnmatch(s->metric, d->name, 0) != 0 && fnmatch(s->metric, d->prom, 0) != 0)
			continue;
		if (s->include) {
			any_include = true;
			inc |= keys_matching(s->include, s->ninclude, d->available);
		}
		exc |= keys_matching(s->exclude, s->nexclude, d->available);
	}
	return (any_include ? inc : d->defaults) & ~exc;
}

uint32_t metrics_selected(const struct metrics *m, enum metrics_id id)
{
	return m->t[id].selected;
}

/* ---- attribute values ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4 || n < len)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	cp = len == 2 ? (s[0] & 0x1fu) << 6 | (s[1] & 0x3f)
	   : len == 3 ? (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3f)
	   : (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3f);
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, surrogate */
	return len;
}

size_t metrics_clean_value(char *dst, const char *src, size_t max)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0;

	while (*s) {
		size_t n = *s < 0x80 ? 1 : utf8_len(s, strnlen((const char *)s, 4));

		if (n == 0 || *s < 0x20 || *s == 0x7f) {
			if (out + 1 > max)
				break;
			dst[out++] = '?'; /* traffic decides these bytes: keep output valid */
			s++;
			continue;
		}
		if (out + n > max)
			break;
		memcpy(dst + out, s, n);
		out += n;
		s += n;
	}
	dst[out] = 0;
	return out;
}

/* The series key: for each selected, present key in key order, one byte
 * key, the cleaned value, a NUL. */
#define KEY_MAX (MK_MAX * (METRICS_VALUE_MAX + 2))

static uint32_t build_key(uint32_t sel, const struct metrics_attrs *a, char *buf)
{
	uint32_t len = 0;

	for (int k = 0; k < MK_MAX; k++) {
		if (!(sel & BIT(k)) || !a->v[k])
			continue;
		buf[len++] = (char)k;
		len += (uint32_t)metrics_clean_value(buf + len, a->v[k], METRICS_VALUE_MAX) + 1;
	}
	return len;
}

static uint64_t hash_key(const char *k, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)k[i]) * 0x100000001b3ULL;
	return h;
}

/* ---- series ---- */

static size_t nbuckets(enum metrics_id id)
{
	return metrics_defs[id].kind == MKIND_HISTOGRAM ? metrics_defs[id].nbounds + 1u : 0;
}

static uint64_t *buckets_of(struct metrics_series *s)
{
	return (uint64_t *)(s + 1);
}

const uint64_t *metrics_buckets(const struct metrics_series *s)
{
	return (const uint64_t *)(s + 1);
}

static char *attrs_of(struct metrics_series *s, enum metrics_id id)
{
	return (char *)(buckets_of(s) + nbuckets(id));
}

static struct metrics_series *series_new(enum metrics_id id, const char *key, uint32_t len,
					 uint64_t hash)
{
	size_t size = sizeof(struct metrics_series) + nbuckets(id) * sizeof(uint64_t) + len;
	struct metrics_series *s;

	size = (size + 7) & ~(size_t)7; /* snapshots pack series back to back */
	if (!(s = calloc(1, size)))
		return NULL;
	s->hash = hash;
	s->attrs_len = len;
	s->size = (uint32_t)size;
	s->start_ns = now_unix_ns();
	memcpy(attrs_of(s, id), key, len);
	return s;
}

static struct metrics_series *overflow_series(struct metrics *m, enum metrics_id id)
{
	static const char key[] = { MK_OVERFLOW, 't', 'r', 'u', 'e', 0 };
	struct metrics_table *t = &m->t[id];

	t->overflowed++;
	if (!t->overflow && (t->overflow = series_new(id, key, sizeof(key), 0)))
		m->bytes += t->overflow->size;
	return t->overflow;
}

/* The series for key, created if the cap allows; else the overflow series.
 * NULL only when memory runs out. Called with the lock held. */
static struct metrics_series *series_get(struct metrics *m, enum metrics_id id,
					 const char *key, uint32_t len, uint64_t h)
{
	struct metrics_table *t = &m->t[id];
	struct metrics_series **head = &t->heads[h & (t->nheads - 1)], *s;

	for (s = *head; s; s = s->next)
		if (s->hash == h && s->attrs_len == len && memcmp(attrs_of(s, id), key, len) == 0)
			return s;
	if (t->n >= t->cap || !(s = series_new(id, key, len, h)))
		return overflow_series(m, id);
	s->next = *head;
	*head = s;
	t->all[t->n++] = s;
	m->bytes += s->size;
	return s;
}

/* Adds v to the series for key. Called with the lock held. */
static void observe_locked(struct metrics *m, enum metrics_id id, const char *key,
			   uint32_t len, uint64_t hash, double v)
{
	const struct metrics_def *d = &metrics_defs[id];
	struct metrics_series *s;
	size_t b = 0;

	if (d->kind != MKIND_HISTOGRAM || v != v)
		return;
	while (b < d->nbounds && v > d->bounds[b])
		b++;
	if ((s = series_get(m, id, key, len, hash))) {
		buckets_of(s)[b]++;
		s->count++;
		s->sum += v;
	}
}

void metrics_observe(struct metrics *m, enum metrics_id id, const struct metrics_attrs *a,
		     double v)
{
	metrics_observe_n(m, &id, &v, 1, a);
}

#define OBSERVE_MAX 4 /* measurements per call; more are ignored */

void metrics_observe_n(struct metrics *m, const enum metrics_id *ids, const double *v, size_t n,
		       const struct metrics_attrs *a)
{
	char keys[OBSERVE_MAX][KEY_MAX];
	uint32_t len[OBSERVE_MAX], sel[OBSERVE_MAX];
	uint64_t hash[OBSERVE_MAX];
	size_t key_of[OBSERVE_MAX], nkeys = 0;

	if (n > OBSERVE_MAX)
		n = OBSERVE_MAX;
	for (size_t i = 0; i < n; i++) { /* outside the lock */
		uint32_t want = m->t[ids[i]].selected;
		size_t k = 0;

		while (k < nkeys && sel[k] != want)
			k++;
		if (k == nkeys) {
			sel[k] = want;
			len[k] = build_key(want, a, keys[k]);
			hash[k] = hash_key(keys[k], len[k]);
			nkeys++;
		}
		key_of[i] = k;
	}
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < n; i++)
		observe_locked(m, ids[i], keys[key_of[i]], len[key_of[i]], hash[key_of[i]], v[i]);
	pthread_mutex_unlock(&m->lock);
}

void metrics_set(struct metrics *m, enum metrics_id id, const struct metrics_attrs *a,
		 uint64_t v)
{
	char key[KEY_MAX];
	uint32_t len = build_key(m->t[id].selected, a, key);
	uint64_t hash = hash_key(key, len);
	struct metrics_series *s;

	if (metrics_defs[id].kind == MKIND_HISTOGRAM)
		return;
	pthread_mutex_lock(&m->lock);
	if ((s = series_get(m, id, key, len, hash)))
		s->value = v;
	pthread_mutex_unlock(&m->lock);
}

void metrics_add(struct metrics *m, enum metrics_id id, const struct metrics_attrs *a,
		 uint64_t v)
{
	char key[KEY_MAX];
	uint32_t len = build_key(m->t[id].selected, a, key);
	uint64_t hash = hash_key(key, len);
	struct metrics_series *s;

	if (metrics_defs[id].kind != MKIND_COUNTER)
		return;
	pthread_mutex_lock(&m->lock);
	if ((s = series_get(m, id, key, len, hash)))
		s->value += v;
	pthread_mutex_unlock(&m->lock);
}

void metrics_usage(struct metrics *m, enum metrics_id id, uint64_t *series, uint64_t *overflow)
{
	pthread_mutex_lock(&m->lock);
	*series = m->t[id].n;
	*overflow = m->t[id].overflowed;
	pthread_mutex_unlock(&m->lock);
}

/* ---- life ---- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

struct metrics *metrics_new(const struct metrics_opts *o)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	for (int id = 0; id < M_COUNT; id++) {
		struct metrics_table *t = &m->t[id];

		/* health metrics have a handful of series by construction */
		t->cap = metrics_defs[id].selectable ? o->max_series : 64;
		t->nheads = pow2_at_least(t->cap);
		t->selected = select_keys(&metrics_defs[id], o);
		t->heads = calloc(t->nheads, sizeof(*t->heads));
		t->all = calloc(t->cap ? t->cap : 1, sizeof(*t->all));
		if (!t->heads || !t->all) {
			metrics_free(m);
			return NULL;
		}
	}
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (int id = 0; id < M_COUNT; id++) {
		struct metrics_table *t = &m->t[id];

		for (uint32_t i = 0; i < t->n; i++)
			free(t->all[i]);
		free(t->overflow);
		free(t->all);
		free(t->heads);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---- snapshots ---- */

/* One allocation: the pointer arrays, then the series copied back to back. */
struct metrics_snapshot *metrics_snapshot(struct metrics *m)
{
	struct metrics_snapshot *snap = calloc(1, sizeof(*snap));
	size_t ptrs = 0;
	char *mem, *at;

	if (!snap)
		return NULL;
	pthread_mutex_lock(&m->lock);
	for (int id = 0; id < M_COUNT; id++)
		ptrs += m->t[id].n + 1u;
	if (!(mem = malloc(ptrs * sizeof(void *) + m->bytes + 8))) {
		pthread_mutex_unlock(&m->lock);
		free(snap);
		return NULL;
	}
	snap->mem = mem;
	snap->time_ns = now_unix_ns();
	at = mem + ptrs * sizeof(void *);
	for (int id = 0; id < M_COUNT; id++) {
		const struct metrics_table *t = &m->t[id];
		const struct metrics_series **out = (const struct metrics_series **)(void *)mem;

		mem += (t->n + 1u) * sizeof(void *);
		snap->m[id].series = out;
		for (uint32_t i = 0; i <= t->n; i++) {
			const struct metrics_series *s = i < t->n ? t->all[i] : t->overflow;

			if (!s)
				continue;
			memcpy(at, s, s->size);
			((struct metrics_series *)(void *)at)->next = NULL;
			out[snap->m[id].n++] = (const struct metrics_series *)(void *)at;
			at += s->size;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return snap;
}

void metrics_snapshot_free(struct metrics_snapshot *s)
{
	if (s) {
		free(s->mem);
		free(s);
	}
}

bool metrics_attr_next(const struct metrics_series *s, enum metrics_id id, uint32_t *pos,
		       enum metrics_key *key, const char **value)
{
	const char *a = (const char *)(metrics_buckets(s) + nbuckets(id));

	if (*pos >= s->attrs_len)
		return false;
	*key = (enum metrics_key)a[*pos];
	*value = a + *pos + 1;
	*pos += 2u + (uint32_t)strlen(*value);
	return true;
}

int metrics_find(const char *name)
{
	for (int id = 0; id < M_COUNT; id++)
		if (strcmp(name, metrics_defs[id].name) == 0 || strcmp(name, metrics_defs[id].prom) == 0)
			return id;
	return -1;
}

int metrics_key_find(const char *name)
{
	for (int k = 0; k < MK_MAX; k++)
		if (strcmp(name, metrics_keys[k].name) == 0 || strcmp(name, metrics_keys[k].label) == 0)
			return k;
	return -1;
}
