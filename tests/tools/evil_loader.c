/* evil-loader: a hostile or broken sluice-loader for the processor's tests
 * (tests/integration/test_hostile_ipc.sh). Listens where the processor
 * dials and misbehaves:
 *   evil-loader garbage PATH   over nng pair1: random bytes, wrong versions,
 *	wrong shapes, truncated frames, deep nesting, huge declared lengths,
 *	replayed seqs, bad events among good ones, a message over the size
 *	limit; then a valid frame pair (open + request, then the response) that
 *	must still come out as one HTTP pair. Prints what it sent, "acked SEQ"
 *	once the processor acknowledged the last frame.
 *   evil-loader raw PATH N     a plain unix socket, no nng: N connections
 *	that each get junk instead of a handshake.
 *   evil-loader listen PATH SECS  pair1, sends one valid frame when a peer
 *	connects; prints "no peer" if none stayed connected for SECS (run as
 *	another uid: the processor must refuse it).
 * Exits 0 when it did what it was asked; the test judges the processor. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/util/platform.h>

#include "common/records.h"
#include "common/wire.h"
#include "tests/tools/wire_pack.h"

#define CONN_ID 4242

static int connects; /* pipes added, counted by the nng thread */

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	if (ev == NNG_PIPE_EV_ADD_POST)
		__atomic_add_fetch(&connects, 1, __ATOMIC_SEQ_CST);
}

static int connected(void)
{
	return __atomic_load_n(&connects, __ATOMIC_SEQ_CST);
}

static void die(const char *what, int rv)
{
	fprintf(stderr, "evil-loader: %s: %s\n", what, rv ? nng_strerror(rv) : strerror(errno));
	exit(1);
}

static void send_raw(nng_socket s, const void *buf, size_t len)
{
	int rv = nng_send(s, (void *)buf, len, 0);

	if (rv)
		die("send", rv);
}

static void send_sb(nng_socket s, msgpack_sbuffer *sb, size_t cut)
{
	send_raw(s, sb->data, cut && cut < sb->size ? cut : sb->size);
	msgpack_sbuffer_clear(sb);
}

static void frame_head(msgpack_packer *pk, uint64_t version, uint64_t seq, uint32_t n)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, version);
	msgpack_pack_uint64(pk, seq);
	msgpack_pack_array(pk, n);
}

static void ev_open(msgpack_packer *pk)
{
	struct sluice_ev_conn_open o = { .h = { SLUICE_EV_CONN_OPEN, 0, sizeof(o), 1000, 77, 77 } };

	o.conn_id = CONN_ID;
	o.role = SLUICE_ROLE_SERVER;
	o.family = AF_INET;
	o.lport = 8080;
	o.rport = 40000;
	o.laddr[0] = o.raddr[0] = 127;
	o.laddr[3] = o.raddr[3] = 1;
	memcpy(o.comm, "evil", 4);
	wire_pack_record(pk, &o, sizeof(o));
}

static void ev_data(msgpack_packer *pk, int egress, uint64_t pos, const char *payload)
{
	size_t cap = strlen(payload);
	struct sluice_ev_data *d = calloc(1, sizeof(*d) + cap);

	if (!d)
		die("calloc", 0);
	*d = (struct sluice_ev_data){ .h = { SLUICE_EV_DATA, 0, (uint32_t)(sizeof(*d) + cap),
					     2000 + pos, 77, 77 },
				      .conn_id = CONN_ID, .pos = pos, .full_len = (uint32_t)cap,
				      .cap_len = (uint32_t)cap,
				      .direction = egress ? SLUICE_DIR_EGRESS : SLUICE_DIR_INGRESS,
				      .syscall = SLUICE_SYS_READ };
	memcpy(d->payload, payload, cap);
	wire_pack_record(pk, d, d->h.size);
	free(d);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* 20 messages of noise, then frames whose header is wrong. */
static int send_bad_frames(nng_socket s, msgpack_sbuffer *sb, msgpack_packer *pk)
{
	static const uint8_t huge_events[] = { 0x93, 0x01, 0x05, 0xdd, 0x00, 0x10, 0x00, 0x00 };
	static uint8_t noise[3000];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int n = 0;

	for (int i = 0; i < 20; i++, n++) {
		size_t len = 1 + rnd(&x) % sizeof(noise);

		for (size_t j = 0; j < len; j++)
			noise[j] = (uint8_t)rnd(&x);
		noise[0] |= 0x80; /* never a fixint: not a frame's array either */
		send_raw(s, noise, len);
	}
	frame_head(pk, 0, 1, 0), send_sb(s, sb, 0), n++;              /* version 0 */
	frame_head(pk, WIRE_VERSION + 1, 1, 0), send_sb(s, sb, 0), n++; /* from the future */
	frame_head(pk, 255, 1, 0), send_sb(s, sb, 0), n++;
	msgpack_pack_array(pk, 2), msgpack_pack_uint64(pk, 1), msgpack_pack_uint64(pk, 1);
	send_sb(s, sb, 0), n++;                                        /* 2 items */
	msgpack_pack_map(pk, 0), send_sb(s, sb, 0), n++;               /* not an array */
	msgpack_pack_array(pk, 3), msgpack_pack_uint64(pk, 1), msgpack_pack_str_with_body(pk, "seq", 3);
	msgpack_pack_array(pk, 0), send_sb(s, sb, 0), n++;             /* seq a string */
	msgpack_pack_array(pk, 3), msgpack_pack_uint64(pk, 1), msgpack_pack_uint64(pk, 2);
	msgpack_pack_uint64(pk, 7), send_sb(s, sb, 0), n++;            /* events not an array */
	send_raw(s, huge_events, sizeof(huge_events)), n++;            /* 2^20 events declared */
	ev_open(pk), send_sb(s, sb, 0), n++;                           /* an event, not a frame */
	frame_head(pk, WIRE_VERSION, 3, 1), ev_open(pk), send_sb(s, sb, 2), n++; /* cut in header */
	printf("sent %d bad frames\n", n);
	return n;
}

/* Frames with a good header whose events are bad: each event is skipped. */
static int send_bad_events(nng_socket s, msgpack_sbuffer *sb, msgpack_packer *pk)
{
	static const uint8_t huge_bin[] = { 0xc6, 0xff, 0xff, 0xff, 0xf0, 'x' };
	int n = 0;

	frame_head(pk, WIRE_VERSION, 100, 2), ev_open(pk), ev_open(pk);
	send_sb(s, sb, 12), n += 2; /* cut in the first event (the header is 4 bytes): both lost */
	frame_head(pk, WIRE_VERSION, 101, 1);
	for (int i = 0; i < 10000; i++)                                /* nested 10000 deep */
		msgpack_pack_array(pk, 1);
	msgpack_pack_nil(pk), send_sb(s, sb, 0), n++;
	frame_head(pk, WIRE_VERSION, 102, 1);
	msgpack_pack_array(pk, 10), msgpack_pack_uint64(pk, SLUICE_EV_DATA);
	for (int i = 0; i < 7; i++)
		msgpack_pack_uint64(pk, 1);
	msgpack_sbuffer_write(sb, (const char *)huge_bin, sizeof(huge_bin)); /* 4 GB payload */
	send_sb(s, sb, 0), n++;
	/* version 4 records whose header is fine but whose fields are not */
	struct sluice_ev_conn_open o = { .h = { SLUICE_EV_CONN_OPEN, 0, sizeof(o), 1, 77, 77 },
					 .conn_id = CONN_ID + 1, .family = 99 };
	struct sluice_ev_data d = { .h = { SLUICE_EV_DATA, 0, sizeof(d), 1, 77, 77 },
				    .conn_id = CONN_ID, .full_len = 1, .cap_len = 1, .syscall = 1 };
	frame_head(pk, WIRE_VERSION, 103, 3);
	wire_pack_record(pk, &o, sizeof(o)), n++;                        /* no such family */
	wire_pack_record(pk, &d, sizeof(d)), n++;                        /* 1 byte claimed, 0 there */
	msgpack_pack_bin(pk, sizeof(o) - 8), msgpack_pack_bin_body(pk, &o, sizeof(o) - 8), n++;
	send_sb(s, sb, 0);                                               /* shorter than its type */
	printf("sent %d bad events\n", n);
	return n;
}

/* Frame 120 twice, then 119: both are replays. */
static void send_replays(nng_socket s, msgpack_sbuffer *sb, msgpack_packer *pk)
{
	for (int i = 0; i < 3; i++) {
		frame_head(pk, WIRE_VERSION, i < 2 ? 120 : 119, 1);
		wire_pack_loss(pk, 3000, 0, 0, 1);
		send_sb(s, sb, 0);
	}
	printf("sent 2 replays\n");
}

/* The open and the request among two bad events, then (after a message
 * over the size limit, which drops the connection) the response. */
static void send_pair(nng_socket s, msgpack_sbuffer *sb, msgpack_packer *pk)
{
	static const char req[] = "GET /hostile/ok HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t *big = calloc(1, WIRE_MAX_FRAME + 4096);
	int before;

	frame_head(pk, WIRE_VERSION, 130, 4);
	ev_open(pk);
	msgpack_pack_array(pk, 4), msgpack_pack_uint64(pk, 99);        /* no such type */
	msgpack_pack_uint64(pk, 1), msgpack_pack_uint64(pk, 1), msgpack_pack_uint64(pk, 1);
	msgpack_pack_array(pk, 5), msgpack_pack_uint64(pk, SLUICE_EV_DATA); /* too few items */
	for (int i = 0; i < 4; i++)
		msgpack_pack_uint64(pk, 1);
	ev_data(pk, 0, 0, req);
	send_sb(s, sb, 0);
	printf("sent the request among 2 bad events\n");
	if (!big)
		die("calloc", 0);
	before = connected();
	send_raw(s, big, WIRE_MAX_FRAME + 4096);
	free(big);
	for (int i = 0; i < 100 && connected() == before; i++)
		nng_msleep(100);
	printf("sent an oversized message: %s\n",
	       connected() > before ? "the processor dialled again" : "still connected");
	frame_head(pk, WIRE_VERSION, 131, 1);
	ev_data(pk, 1, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	send_sb(s, sb, 0);
	printf("sent the response\n");
}

/* Acks until one covers seq, for at most 10 s. */
static int wait_ack(nng_socket s, uint64_t seq)
{
	for (int i = 0; i < 100; i++) {
		void *buf;
		size_t len;
		uint64_t got;

		if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
			continue;
		if (wire_ack_decode(buf, len, &got) == 0 && got >= seq) {
			nng_free(buf, len);
			printf("acked %llu\n", (unsigned long long)got);
			return 0;
		}
		nng_free(buf, len);
	}
	printf("no ack for %llu\n", (unsigned long long)seq);
	return 1;
}

static nng_socket listen_at(const char *path)
{
	char url[256];
	nng_socket s;
	int rv;

	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_pair1_open(&s)) || (rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, NULL)))
		die("pair1", rv);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 64);
	if ((rv = nng_listen(s, url, NULL, 0)))
		die(url, rv);
	return s;
}

static int wait_peer(int secs)
{
	for (int i = 0; i < secs * 10 && !connected(); i++)
		nng_msleep(100);
	return connected();
}

static int garbage(const char *path)
{
	nng_socket s = listen_at(path);
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (!wait_peer(20))
		return printf("no peer\n"), 1;
	send_bad_frames(s, &sb, &pk);
	send_bad_events(s, &sb, &pk);
	send_replays(s, &sb, &pk);
	send_pair(s, &sb, &pk);
	msgpack_sbuffer_destroy(&sb);
	return wait_ack(s, 131);
}

/* One valid frame to whoever stays connected; "no peer" if nobody does. */
static int listen_only(const char *path, int secs)
{
	nng_socket s = listen_at(path);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	void *buf;
	size_t len;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	frame_head(&pk, WIRE_VERSION, 1, 1), ev_open(&pk);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 100);
	for (int i = 0; i < secs * 10; i++) {
		nng_send(s, sb.data, sb.size, NNG_FLAG_NONBLOCK);
		if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) == 0) {
			nng_free(buf, len);
			printf("peer acked\n");
			return 0;
		}
	}
	printf("no peer (%d connections came and went)\n", connected());
	return 0;
}

static int raw(const char *path, int n)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	static const char junk[] = "\x00SP\x00\x00\xff\xff\x00 this is not nng, nor msgpack";

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 8) != 0)
		die(path, 0);
	for (int i = 0; i < n; i++) {
		int c = accept(l, NULL, NULL);

		if (c < 0)
			die("accept", 0);
		if (write(c, junk, sizeof(junk)) < 0)
			perror("write");
		usleep(50000);
		close(c);
	}
	close(l);
	unlink(path);
	printf("junked %d connections\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "garbage") == 0)
		return garbage(argv[2]);
	if (argc == 4 && strcmp(argv[1], "raw") == 0)
		return raw(argv[2], atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "listen") == 0)
		return listen_only(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: evil-loader garbage PATH | raw PATH N | listen PATH SECS\n");
	return 2;
}
