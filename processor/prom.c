/* The Prometheus endpoint (processor/prom.h). libmicrohttpd rather than a
 * hand-written server: HTTP parsing of whatever a scraper (or anyone on the
 * listen address) sends, keep-alive, timeouts and connection limits are its
 * job, and it runs the endpoint in its own thread so scrapes never touch
 * the pairing loop. Each scrape renders a snapshot, outside the lock. */
#include "processor/prom.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_MAX_CONNS 32
#define PROM_TIMEOUT_S 10

struct prom {
	struct MHD_Daemon *d;
	struct metrics *m;
	int fd; /* the listening socket; MHD closes it on stop */
};

/* ---- rendering ---- */

/* Shortest text that reads back as v: "0.005", "1", "1048576", "+Inf". */
static const char *fmt_double(char *buf, size_t n, double v)
{
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	if (isnan(v))
		return "NaN";
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, n, "%.0f", v); /* "10", not "1e+01" */
		return buf;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

static void put_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* {a="x",b="y"[,le="..."]}, or nothing when there are no labels. */
static void put_labels(FILE *f, const struct metrics_series *s, enum metrics_id id,
		       const char *le)
{
	enum metrics_key k;
	const char *v;
	uint32_t pos = 0;
	bool first = true;

	while (metrics_attr_next(s, id, &pos, &k, &v)) {
		fprintf(f, "%s%s=\"", first ? "{" : ",", metrics_keys[k].label);
		put_value(f, v);
		fputc('"', f);
		first = false;
	}
	if (le)
		fprintf(f, "%sle=\"%s\"", first ? "{" : ",", le);
	if (!first || le)
		fputc('}', f);
}

static void put_histogram(FILE *f, const struct metrics_series *s, enum metrics_id id)
{
	const struct metrics_def *d = &metrics_defs[id];
	const uint64_t *b = metrics_buckets(s);
	uint64_t cum = 0;
	char num[32];

	for (int i = 0; i <= d->nbounds; i++) {
		cum += b[i];
		fprintf(f, "%s_bucket", d->prom);
		put_labels(f, s, id, i < d->nbounds ? fmt_double(num, sizeof(num), d->bounds[i]) : "+Inf");
		fprintf(f, " %" PRIu64 "\n", cum);
	}
	fprintf(f, "%s_sum", d->prom);
	put_labels(f, s, id, NULL);
	fprintf(f, " %s\n%s_count", fmt_double(num, sizeof(num), s->sum), d->prom);
	put_labels(f, s, id, NULL);
	fprintf(f, " %" PRIu64 "\n", s->count);
}

void prom_render(const struct metrics_snapshot *snap, FILE *f)
{
	static const char *const types[] = {
		[MKIND_HISTOGRAM] = "histogram", [MKIND_COUNTER] = "counter", [MKIND_GAUGE] = "gauge",
	};

	for (int id = 0; id < M_COUNT; id++) {
		const struct metrics_def *d = &metrics_defs[id];

		if (snap->m[id].n == 0)
			continue;
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", d->prom, d->help, d->prom, types[d->kind]);
		for (size_t i = 0; i < snap->m[id].n; i++) {
			const struct metrics_series *s = snap->m[id].series[i];

			if (d->kind == MKIND_HISTOGRAM) {
				put_histogram(f, s, id);
				continue;
			}
			fputs(d->prom, f);
			put_labels(f, s, id, NULL);
			fprintf(f, " %" PRIu64 "\n", s->value);
		}
	}
}

/* ---- serving ---- */

int prom_parse_listen(const char *s, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = s;
	size_t hl;

	if (s[0] == '[') { /* [v6]:port */
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		if (!(colon = strrchr(s, ':')) || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* an unbracketed v6 address is ambiguous */
		hl = (size_t)(colon - s);
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	strcpy(port, colon + 1);
	return 0;
}

/* Binds ourselves rather than letting MHD do it: its errors say only
 * "failed", ours say why (address in use, not local, ...). */
static int listen_socket(const char *listen_s, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	char host[256], port[8];
	struct addrinfo *ai;
	int fd, one = 1, rv;

	if (prom_parse_listen(listen_s, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "'%s' is not HOST:PORT", listen_s);
		return -1;
	}
	if ((rv = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rv));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen_s, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result rv;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rv = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rv;
}

static enum MHD_Result serve_metrics(struct prom *p, struct MHD_Connection *c)
{
	struct metrics_snapshot *snap = metrics_snapshot(p->m);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!snap || !(f = open_memstream(&buf, &len))) {
		metrics_snapshot_free(snap);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", 14,
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	}
	prom_render(snap, f);
	fclose(f);
	metrics_snapshot_free(snap);
	return reply(c, MHD_HTTP_OK, buf, len, MHD_RESPMEM_MUST_FREE, PROM_CONTENT_TYPE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_len, void **req)
{
	static const char not_found[] = "not found: sluice serves metrics at /metrics\n";
	static const char not_allowed[] = "method not allowed\n";

	(void)version;
	(void)upload;
	/* the first call for a request only announces it; answering then
	 * would race a request body still arriving */
	if (!*req) {
		*req = cls;
		return MHD_YES;
	}
	*upload_len = 0; /* a body sent to us is read and ignored */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, (char *)not_allowed,
			     sizeof(not_allowed) - 1, MHD_RESPMEM_PERSISTENT, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, (char *)not_found, sizeof(not_found) - 1,
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	return serve_metrics(cls, c);
}

struct prom *prom_start(const char *listen_s, struct metrics *m, char *err, size_t errlen)
{
	struct prom *p = calloc(1, sizeof(*p));

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->m = m;
	if ((p->fd = listen_socket(listen_s, err, errlen)) < 0) {
		free(p);
		return NULL;
	}
	p->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
				on_request, p, MHD_OPTION_LISTEN_SOCKET, p->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)PROM_MAX_CONNS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)PROM_TIMEOUT_S,
				MHD_OPTION_END);
	if (!p->d) {
		/* not closing fd: MHD may have closed it already, and a second
		 * close could hit another thread's descriptor; startup fails anyway */
		snprintf(err, errlen, "cannot start the HTTP server on %s", listen_s);
		free(p);
		return NULL;
	}
	return p;
}

void prom_stop(struct prom *p)
{
	if (!p)
		return;
	MHD_stop_daemon(p->d); /* joins its thread, closes the socket */
	free(p);
}
