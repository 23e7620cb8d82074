/* Pair formatting: JSON lines and human lines. */
#include "processor/output.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/records.h"

/* A line is formatted here and handed to stdio in one call: fprintf's
 * format parsing and a locked stdio call per field were most of the cost
 * of a pair. Flushes to f whenever a write would not fit, so any length of
 * input is fine. */
struct lbuf {
	FILE *f;
	char *p;
	char buf[4096];
};

static void lb_flush(struct lbuf *b)
{
	fwrite_unlocked(b->buf, 1, (size_t)(b->p - b->buf), b->f);
	b->p = b->buf;
}

static inline void lb_room(struct lbuf *b, size_t n)
{
	if ((size_t)(b->buf + sizeof(b->buf) - b->p) < n)
		lb_flush(b);
}

static void lb_put(struct lbuf *b, const char *s, size_t n)
{
	if (n > sizeof(b->buf)) {
		lb_flush(b);
		fwrite_unlocked(s, 1, n, b->f);
		return;
	}
	lb_room(b, n);
	memcpy(b->p, s, n);
	b->p += n;
}

#define LB_LIT(b, s) lb_put((b), (s), sizeof(s) - 1)

static void lb_u64(struct lbuf *b, uint64_t v)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[20];
	size_t i = sizeof(tmp);

	while (v >= 100) { /* two digits per division: half the dependent steps */
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		i -= 2;
		memcpy(tmp + i, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		i -= 2;
		memcpy(tmp + i, pairs + 2 * v, 2);
	} else {
		tmp[--i] = (char)('0' + v);
	}
	lb_put(b, tmp + i, sizeof(tmp) - i);
}

static void lb_str(struct lbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run = p;

	lb_room(b, 1);
	*b->p++ = '"';
	for (;; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			continue;
		lb_put(b, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		lb_room(b, 6);
		if (*p == '"' || *p == '\\') {
			*b->p++ = '\\';
			*b->p++ = (char)*p;
		} else {
			memcpy(b->p, "\\u00", 4);
			b->p[4] = hex[*p >> 4];
			b->p[5] = hex[*p & 15];
			b->p += 6;
		}
		run = p + 1;
	}
	lb_room(b, 1);
	*b->p++ = '"';
}

void output_json_str(FILE *f, const char *s)
{
	struct lbuf b = { .f = f };

	b.p = b.buf;
	lb_str(&b, s);
	lb_flush(&b);
}

/* "a.b.c.d" without inet_ntop's sprintf; returns the length. */
static size_t fmt_v4(char *out, const uint8_t *a)
{
	char *p = out;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : 0;
	}
	return (size_t)(p - out - 1);
}

void output_addr(char *buf, size_t n, uint8_t family, const uint8_t *addr)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *v4 = family == AF_INET ? addr
			    : family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0 ? addr + 12
										 : NULL;

	if (v4 && n >= INET_ADDRSTRLEN)
		fmt_v4(buf, v4);
	else if (v4)
		inet_ntop(AF_INET, v4, buf, (socklen_t)n);
	else if (family == AF_INET6)
		inet_ntop(family, addr, buf, (socklen_t)n);
	else
		snprintf(buf, n, "unknown");
}

/* The two ends of the pair, in client/server terms. */
struct ends {
	char caddr[INET6_ADDRSTRLEN], saddr[INET6_ADDRSTRLEN];
	uint16_t cport, sport;
	bool server_side;
	const char *server_name; /* DNS name of the server end, or NULL */
	const char *peer;        /* the remote end's address: caddr or saddr */
	uint16_t peer_port;
};

static void pair_ends(const struct conn *c, const struct http1_pair *p, struct ends *e)
{
	uint8_t role = p->role ? p->role : c->role;

	e->server_side = role == SLUICE_ROLE_SERVER;
	output_addr(e->server_side ? e->saddr : e->caddr, INET6_ADDRSTRLEN, c->family, c->laddr);
	output_addr(e->server_side ? e->caddr : e->saddr, INET6_ADDRSTRLEN, c->family, c->raddr);
	e->sport = e->server_side ? c->lport : c->rport;
	e->cport = e->server_side ? c->rport : c->lport;
	e->peer = e->server_side ? e->caddr : e->saddr;
	e->peer_port = c->rport;
}

static void output_jsonl(struct output *o, const struct conn *c, const struct http1_pair *p,
			 const struct ends *e, const char *name)
{
	struct lbuf b = { .f = o->jsonl };

	b.p = b.buf;
	LB_LIT(&b, "{\"time_unix_nano\":");
	lb_u64(&b, (uint64_t)((int64_t)p->start_ns + o->boot_to_unix_ns));
	LB_LIT(&b, ",\"duration_ns\":");
	lb_u64(&b, p->end_ns > p->start_ns ? p->end_ns - p->start_ns : 0);
	if (e->server_side)
		LB_LIT(&b, ",\"span.kind\":\"server\",\"process.pid\":");
	else
		LB_LIT(&b, ",\"span.kind\":\"client\",\"process.pid\":");
	lb_u64(&b, c->tgid);
	LB_LIT(&b, ",\"process.executable.name\":");
	lb_str(&b, name);
	LB_LIT(&b, ",\"client.address\":");
	lb_str(&b, e->caddr);
	LB_LIT(&b, ",\"client.port\":");
	lb_u64(&b, e->cport);
	LB_LIT(&b, ",\"server.address\":");
	lb_str(&b, e->server_name ? e->server_name : e->saddr);
	LB_LIT(&b, ",\"server.port\":");
	lb_u64(&b, e->sport);
	LB_LIT(&b, ",\"network.peer.address\":");
	lb_str(&b, e->peer);
	LB_LIT(&b, ",\"network.peer.port\":");
	lb_u64(&b, e->peer_port);
	LB_LIT(&b, ",\"http.request.method\":");
	lb_str(&b, p->method);
	LB_LIT(&b, ",\"url.path\":");
	lb_str(&b, p->path);
	if (p->has_query) {
		LB_LIT(&b, ",\"url.query\":");
		lb_str(&b, p->query);
	}
	if (p->status) {
		LB_LIT(&b, ",\"http.response.status_code\":");
		if (p->status < 0)
			LB_LIT(&b, "-");
		lb_u64(&b, p->status < 0 ? -(uint64_t)p->status : (uint64_t)p->status);
	}
	LB_LIT(&b, ",\"http.request.body.size\":");
	lb_u64(&b, p->req_body);
	LB_LIT(&b, ",\"http.response.body.size\":");
	lb_u64(&b, p->resp_body);
	if (p->complete)
		LB_LIT(&b, ",\"sluice.complete\":true,\"sluice.conn_id\":");
	else
		LB_LIT(&b, ",\"sluice.complete\":false,\"sluice.conn_id\":");
	lb_u64(&b, c->conn_id);
	LB_LIT(&b, "}\n");
	lb_flush(&b);
}

/* Copies s for a terminal: traffic must not be able to send escape codes. */
static const char *printable(char *buf, size_t n, const char *s)
{
	size_t i = 0;

	for (; s[i] && i + 1 < n; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '.';
	buf[i] = 0;
	return buf;
}

/* "name[ip]" when the server has a DNS name, else the ip. */
static const char *server_shown(char *buf, size_t n, const struct ends *e)
{
	char name[256];

	if (!e->server_name)
		return e->saddr;
	snprintf(buf, n, "%s[%s]", printable(name, sizeof(name), e->server_name), e->saddr);
	return buf;
}

static void output_human(struct output *o, const struct conn *c, const struct http1_pair *p,
			 const struct ends *e, const char *name)
{
	char m[HTTP1_METHOD_MAX], path[HTTP1_TARGET_MAX], q[HTTP1_TARGET_MAX], nm[64];
	char srv[INET6_ADDRSTRLEN + 260];
	time_t secs = (time_t)(((int64_t)p->start_ns + o->boot_to_unix_ns) / 1000000000);
	uint64_t dur = p->end_ns > p->start_ns ? p->end_ns - p->start_ns : 0;
	char when[16], status[8];
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (p->status)
		snprintf(status, sizeof(status), "%d", p->status);
	else
		snprintf(status, sizeof(status), "---");
	fprintf(o->human, "%s %-6s %s[%u] %s:%u -> %s:%u %s %s%s%s %s %.3fms req=%" PRIu64
			  "B resp=%" PRIu64 "B%s\n",
		when, e->server_side ? "server" : "client", printable(nm, sizeof(nm), name), c->tgid, e->caddr, e->cport,
		server_shown(srv, sizeof(srv), e), e->sport,
		p->method[0] ? printable(m, sizeof(m), p->method) : "?",
		printable(path, sizeof(path), p->path), p->has_query ? "?" : "",
		printable(q, sizeof(q), p->query), status, (double)dur / 1e6, p->req_body,
		p->resp_body, p->complete ? "" : " (incomplete)");
}

void output_pair(struct output *o, const struct conn *c, const struct http1_pair *p,
		 const char *process_name, const char *server_name)
{
	struct ends e;

	pair_ends(c, p, &e);
	e.server_name = server_name;
	if (o->jsonl)
		output_jsonl(o, c, p, &e, process_name);
	if (o->human)
		output_human(o, c, p, &e, process_name);
	o->pairs++;
}
