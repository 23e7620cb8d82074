/* wire-dump: a debugging stand-in for the processor. Dials the loader's
 * socket, decodes batch frames with the processor's own decoder
 * (processor/decode.c: what it rejects is counted, not printed), prints one
 * line per event with the version 3 field names and acks every frame. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "common/records.h"
#include "common/wire.h"
#include "processor/decode.h"

static const char *const names[SLUICE_EV_MAX + 1] = { "?", "EXEC", "EXIT", "CONN_OPEN",
						      "CONN_CLOSE", "DATA", "LOSS", "LISTEN",
						      "DNS", "FLOW" };

static volatile sig_atomic_t stop;
static int show_bytes = 64;
static int quiet; /* -q: per frame one line with its counts, and LOSS events only */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void u(const char *name, unsigned long long v)
{
	printf(" %s=%llu", name, v);
}

static void str(const char *name, const uint8_t *p, uint32_t n)
{
	printf(" %s=\"%.*s\"", name, (int)n, (const char *)p);
}

static void addr(const char *name, uint8_t family, const uint8_t *p)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, p, ip, sizeof(ip));
	printf(" %s=%s", name, ip);
}

static void payload(const uint8_t *p, uint32_t n)
{
	printf(" cap=%u \"", n);
	for (uint32_t i = 0; i < n && (int)i < show_bytes; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			printf("\\%c", p[i] == '\r' ? 'r' : 'n');
		else
			putchar(isprint(p[i]) ? p[i] : '.');
	}
	printf("\"");
}

static void print_event(void *ctx, const struct wire_event *e)
{
	(void)ctx;
	if (quiet && e->type != SLUICE_EV_LOSS)
		return;
	printf("%-10s ts=%llu tgid=%u tid=%u", names[e->type], (unsigned long long)e->ts_ns, e->tgid,
	       e->tid);
	switch (e->type) {
	case SLUICE_EV_EXEC:
		u("ppid", e->exec.ppid), u("uid", e->exec.uid), u("cgroup", e->exec.cgroup_id);
		u("pidns", e->exec.pidns_ino), u("nspid", e->exec.ns_pid), u("start", e->exec.start_ns);
		str("comm", e->exec.comm, e->exec.comm_len), str("exe", e->exec.exe, e->exec.exe_len);
		printf(" cmdline=\""); /* argv is NUL-separated: show spaces */
		for (uint32_t i = 0; i < e->exec.cmdline_len; i++)
			putchar(e->exec.cmdline[i] ? (isprint(e->exec.cmdline[i]) ? e->exec.cmdline[i] : '.')
						   : ' ');
		printf("\"");
		u("flags", e->flags);
		break;
	case SLUICE_EV_EXIT:
		printf(" code=%d", e->exit.code), u("start", e->exit.start_ns);
		break;
	case SLUICE_EV_CONN_OPEN:
		u("conn", e->open.conn_id), u("role", e->open.role), u("family", e->open.family);
		addr("laddr", e->open.family, e->open.laddr), u("lport", e->open.lport);
		addr("raddr", e->open.family, e->open.raddr), u("rport", e->open.rport);
		u("netns", e->open.netns), str("comm", e->open.comm, e->open.comm_len);
		break;
	case SLUICE_EV_CONN_CLOSE:
		u("conn", e->close.conn_id), u("sent", e->close.bytes_sent), u("recv", e->close.bytes_recv);
		break;
	case SLUICE_EV_DATA:
		u("conn", e->data.conn_id), u("dir", e->data.direction), u("sys", e->data.syscall);
		u("pos", e->data.pos), u("full", e->data.full_len);
		payload(e->data.payload, e->data.cap_len);
		break;
	case SLUICE_EV_LOSS:
		u("kind", e->loss.kind), u("total", e->loss.total), u("epoch", e->loss.epoch);
		break;
	case SLUICE_EV_LISTEN:
		u("family", e->listen.family), addr("addr", e->listen.family, e->listen.addr);
		u("port", e->listen.port), u("netns", e->listen.netns);
		u("listening", e->listen.listening), u("flags", e->flags);
		break;
	case SLUICE_EV_DNS:
		u("family", e->dns.family), u("proto", e->dns.proto), u("dir", e->dns.direction);
		addr("saddr", e->dns.family, e->dns.saddr), u("sport", e->dns.sport);
		addr("daddr", e->dns.family, e->dns.daddr), u("dport", e->dns.dport);
		u("cgroup", e->dns.cgroup_id), u("full", e->dns.full_len);
		payload(e->dns.payload, e->dns.cap_len);
		break;
	case SLUICE_EV_FLOW:
		u("family", e->flow.family), u("proto", e->flow.proto);
		addr("laddr", e->flow.family, e->flow.laddr), u("lport", e->flow.lport);
		addr("raddr", e->flow.family, e->flow.raddr), u("rport", e->flow.rport);
		u("cgroup", e->flow.cgroup_id), u("conn", e->flow.conn_id);
		u("bytes_out", e->flow.bytes_out), u("bytes_in", e->flow.bytes_in);
		u("pkts_out", e->flow.pkts_out), u("pkts_in", e->flow.pkts_in);
		str("comm", e->flow.comm, e->flow.comm_len);
		break;
	}
	putchar('\n');
}

static void count_loss(void *ctx, const struct wire_event *e)
{
	*(uint32_t *)ctx += e->type == SLUICE_EV_LOSS;
}

/* Prints a frame's line, then its events; returns its seq, or 0 when the
 * frame was rejected. */
static uint64_t dump_frame(const char *buf, size_t len, uint64_t *nevents)
{
	struct decode_stats st = { 0 }, again = { 0 };
	uint32_t loss = 0;
	uint64_t seq = 0;
	int n = decode_frame(buf, len, 0, &seq, count_loss, &loss, &st);

	if (n < 0) {
		printf("# malformed frame of %zu bytes\n", len);
		return 0;
	}
	printf("# frame seq=%llu events=%llu bytes=%zu loss=%u", (unsigned long long)seq,
	       (unsigned long long)(st.events + st.bad_events), len, loss);
	if (st.bad_events)
		printf(" bad=%llu", (unsigned long long)st.bad_events);
	putchar('\n');
	decode_frame(buf, len, 0, &seq, print_event, NULL, &again);
	*nevents += st.events + st.bad_events;
	return seq;
}

int main(int argc, char **argv)
{
	const char *path = "/run/sluice/loader.sock";
	uint64_t frames = 0, events = 0;
	int opt, rv, ack = 1, garbage = 0;
	char url[256];
	nng_socket s;

	while ((opt = getopt(argc, argv, "s:b:ngqh")) != -1) {
		if (opt == 's')
			path = optarg;
		else if (opt == 'b')
			show_bytes = atoi(optarg);
		else if (opt == 'n')
			ack = 0;
		else if (opt == 'g')
			garbage = 1;
		else if (opt == 'q')
			quiet = 1;
		else {
			fprintf(stderr, "usage: wire-dump [-s SOCKET] [-b PAYLOAD_BYTES_SHOWN] [-n (no acks)]\n"
					"                 [-g (answer the first frame with a malformed ack)]\n"
					"                 [-q (frame lines with counts and LOSS events only)]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_pair1_open(&s)) || (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 200)) ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, WIRE_MAX_FRAME)) ||
	    (rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK))) {
		fprintf(stderr, "wire-dump: %s: %s\n", url, nng_strerror(rv));
		return 1;
	}
	while (!stop) {
		char *buf;
		size_t len;
		uint8_t a[WIRE_ACK_LEN];
		uint64_t seq;

		if ((rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC)) == NNG_ETIMEDOUT)
			continue;
		if (rv) {
			fprintf(stderr, "wire-dump: recv: %s\n", nng_strerror(rv));
			break;
		}
		frames++;
		seq = dump_frame(buf, len, &events);
		nng_free(buf, len);
		wire_ack_encode(a, seq);
		if (garbage-- == 1) /* tests the loader's ack validation */
			a[0] = 0x93;
		if (ack && seq && (rv = nng_send(s, a, sizeof(a), 0)))
			fprintf(stderr, "wire-dump: ack: %s\n", nng_strerror(rv));
	}
	fprintf(stderr, "wire-dump: %llu frames, %llu events\n", (unsigned long long)frames,
		(unsigned long long)events);
	nng_close(s);
	return 0;
}
