/* Pair formatting: JSON lines and human lines. */
#include "processor/output.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/records.h"

void output_json_str(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run = p;
	char esc[6] = { '\\', 'u', '0', '0' };

	/* Writes runs of plain bytes in one call: a byte-at-a-time fputc takes
	 * the stdio lock per byte and was most of the processor's output cost. */
	fputc_unlocked('"', f);
	for (;; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			continue;
		fwrite_unlocked(run, 1, (size_t)(p - run), f);
		if (!*p)
			break;
		if (*p == '"' || *p == '\\') {
			fputc_unlocked('\\', f);
			fputc_unlocked(*p, f);
		} else {
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			fwrite_unlocked(esc, 1, sizeof(esc), f);
		}
		run = p + 1;
	}
	fputc_unlocked('"', f);
}

void output_addr(char *buf, size_t n, uint8_t family, const uint8_t *addr)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0)
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)n);
	else if (family == AF_INET || family == AF_INET6)
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
	FILE *f = o->jsonl;

	fprintf(f, "{\"time_unix_nano\":%" PRIu64 ",\"duration_ns\":%" PRIu64
		   ",\"span.kind\":\"%s\",\"process.pid\":%u,\"process.executable.name\":",
		(uint64_t)((int64_t)p->start_ns + o->boot_to_unix_ns),
		p->end_ns > p->start_ns ? p->end_ns - p->start_ns : 0,
		e->server_side ? "server" : "client", c->tgid);
	output_json_str(f, name);
	fputs(",\"client.address\":", f);
	output_json_str(f, e->caddr);
	fprintf(f, ",\"client.port\":%u,\"server.address\":", e->cport);
	output_json_str(f, e->server_name ? e->server_name : e->saddr);
	fprintf(f, ",\"server.port\":%u,\"network.peer.address\":", e->sport);
	output_json_str(f, e->peer);
	fprintf(f, ",\"network.peer.port\":%u,\"http.request.method\":", e->peer_port);
	output_json_str(f, p->method);
	fputs(",\"url.path\":", f);
	output_json_str(f, p->path);
	if (p->has_query) {
		fputs(",\"url.query\":", f);
		output_json_str(f, p->query);
	}
	if (p->status)
		fprintf(f, ",\"http.response.status_code\":%d", p->status);
	fprintf(f, ",\"http.request.body.size\":%" PRIu64 ",\"http.response.body.size\":%" PRIu64
		   ",\"sluice.complete\":%s,\"sluice.conn_id\":%" PRIu64 "}\n",
		p->req_body, p->resp_body, p->complete ? "true" : "false", c->conn_id);
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
