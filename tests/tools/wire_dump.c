/* wire-dump: a debugging stand-in for the processor. Dials the loader's
 * socket, decodes batch frames generically with msgpack, prints one line per
 * event and acks every frame. Not a validator: processor/decode.c is. */
#include <arpa/inet.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "common/events.h"
#include "common/wire.h"

static const char *const names[SLUICE_EV_MAX + 1] = { "?", "EXEC", "EXIT", "CONN_OPEN",
						      "CONN_CLOSE", "DATA", "LOSS", "LISTEN",
						      "DNS", "FLOW" };
/* Field names after the 4 header items, per type. */
static const char *const fields[SLUICE_EV_MAX + 1][13] = {
	[SLUICE_EV_EXEC] = { "ppid", "uid", "cgroup", "pidns", "nspid", "start", "comm", "exe",
			     "cmdline", "flags" },
	[SLUICE_EV_EXIT] = { "code", "start" },
	[SLUICE_EV_CONN_OPEN] = { "conn", "role", "family", "laddr", "lport", "raddr", "rport",
				  "netns", "comm" },
	[SLUICE_EV_CONN_CLOSE] = { "conn", "sent", "recv" },
	[SLUICE_EV_DATA] = { "conn", "dir", "sys", "pos", "full", "payload" },
	[SLUICE_EV_LOSS] = { "kind", "total", "epoch" },
	[SLUICE_EV_LISTEN] = { "family", "addr", "port", "netns", "listening", "flags" },
	[SLUICE_EV_DNS] = { "family", "proto", "dir", "saddr", "sport", "daddr", "dport", "cgroup",
			    "full", "payload" },
	[SLUICE_EV_FLOW] = { "family", "proto", "laddr", "lport", "raddr", "rport", "cgroup", "conn",
			     "bytes_out", "bytes_in", "pkts_out", "pkts_in", "comm" },
};

static volatile sig_atomic_t stop;
static int show_bytes = 64;
static int quiet; /* -q: per frame one line with its counts, and LOSS events only */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_bin(const char *name, const msgpack_object_bin *b)
{
	char ip[INET6_ADDRSTRLEN];

	if (!strcmp(name, "cmdline")) { /* argv is NUL-separated: show spaces */
		printf(" cmdline=\"");
		for (uint32_t i = 0; i < b->size; i++)
			putchar(b->ptr[i] ? (isprint((unsigned char)b->ptr[i]) ? b->ptr[i] : '.') : ' ');
		printf("\"");
		return;
	}
	if (strcmp(name, "payload")) {
		inet_ntop(b->size == 4 ? AF_INET : AF_INET6, b->ptr, ip, sizeof(ip));
		printf(" %s=%s", name, b->size == 4 || b->size == 16 ? ip : "?");
		return;
	}
	printf(" cap=%u \"", b->size);
	for (uint32_t i = 0; i < b->size && (int)i < show_bytes; i++) {
		unsigned char c = (unsigned char)b->ptr[i];

		if (c == '\r' || c == '\n')
			printf("\\%c", c == '\r' ? 'r' : 'n');
		else
			putchar(isprint(c) ? c : '.');
	}
	printf("\"");
}

static void print_item(const char *name, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: printf(" %s=%llu", name, (unsigned long long)o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: printf(" %s=%lld", name, (long long)o->via.i64); break;
	case MSGPACK_OBJECT_STR: printf(" %s=\"%.*s\"", name, (int)o->via.str.size, o->via.str.ptr); break;
	case MSGPACK_OBJECT_BIN: print_bin(name, &o->via.bin); break;
	default: printf(" %s=<type %d>", name, o->type);
	}
}

static void print_event(uint64_t seq, const msgpack_object *ev)
{
	const msgpack_object *it = ev->via.array.ptr;
	uint64_t type;

	if (ev->type != MSGPACK_OBJECT_ARRAY || ev->via.array.size < 4 ||
	    it[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || (type = it[0].via.u64) > SLUICE_EV_MAX || !type) {
		printf("seq=%llu malformed event\n", (unsigned long long)seq);
		return;
	}
	printf("%-10s ts=%llu tgid=%llu tid=%llu", names[type], (unsigned long long)it[1].via.u64,
	       (unsigned long long)it[2].via.u64, (unsigned long long)it[3].via.u64);
	for (uint32_t i = 4; i < ev->via.array.size && i < 17; i++)
		print_item(fields[type][i - 4] ? fields[type][i - 4] : "?", &it[i]);
	if (ev->via.array.size != wire_event_items[type])
		printf(" [expected %u items]", wire_event_items[type]);
	putchar('\n');
}

/* Prints a frame's events; returns its seq, or 0 when malformed. */
static uint64_t dump_frame(const char *buf, size_t len, uint64_t *nevents)
{
	msgpack_unpacked u;
	size_t off = 0;
	uint64_t seq = 0;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 3 &&
	    u.data.via.array.ptr[2].type == MSGPACK_OBJECT_ARRAY && off == len) {
		const msgpack_object_array *evs = &u.data.via.array.ptr[2].via.array;

		uint32_t loss = 0;

		seq = u.data.via.array.ptr[1].via.u64;
		for (uint32_t i = 0; i < evs->size; i++)
			loss += evs->ptr[i].type == MSGPACK_OBJECT_ARRAY && evs->ptr[i].via.array.size &&
				evs->ptr[i].via.array.ptr[0].via.u64 == SLUICE_EV_LOSS;
		printf("# frame seq=%llu events=%u bytes=%zu loss=%u\n", (unsigned long long)seq,
		       evs->size, len, loss);
		for (uint32_t i = 0; i < evs->size; i++)
			if (!quiet || (evs->ptr[i].type == MSGPACK_OBJECT_ARRAY &&
				       evs->ptr[i].via.array.size &&
				       evs->ptr[i].via.array.ptr[0].via.u64 == SLUICE_EV_LOSS))
				print_event(seq, &evs->ptr[i]);
		*nevents += evs->size;
	} else {
		printf("# malformed frame of %zu bytes\n", len);
	}
	msgpack_unpacked_destroy(&u);
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
