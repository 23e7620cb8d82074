/* wire-record: stands in for the processor to record what a real loader
 * sends: dials its socket, appends every frame to a file (u32 length +
 * frame, the format tests/bench/proc_bench.c replays) and acks it at once.
 * Stops on SIGINT/SIGTERM and prints what it recorded. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "common/wire.h"
#include "processor/decode.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* seq of a batch frame: 0x93 version 0xcf <8 bytes BE> ... */
static uint64_t frame_seq(const uint8_t *b, size_t len)
{
	uint64_t v = 0;

	if (len < 11 || b[0] != 0x93 || b[2] != 0xcf)
		return 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[3 + i];
	return v;
}

int main(int argc, char **argv)
{
	unsigned long long frames = 0, bytes = 0;
	char url[256];
	nng_socket s;
	FILE *out;
	int rv;

	if (argc != 3) {
		fprintf(stderr, "usage: wire-record SOCKET FILE\n");
		return 2;
	}
	if (!(out = fopen(argv[2], "w"))) {
		perror(argv[2]);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	snprintf(url, sizeof(url), "ipc://%s", argv[1]);
	if ((rv = nng_pair1_open(&s)) || (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100)) ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, WIRE_MAX_FRAME)) ||
	    (rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK))) {
		fprintf(stderr, "wire-record: %s: %s\n", url, nng_strerror(rv));
		return 1;
	}
	while (!stop) {
		uint8_t ack[WIRE_ACK_LEN];
		uint32_t len32;
		uint64_t seq;
		size_t len;
		char *buf;

		if ((rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC)) == NNG_ETIMEDOUT)
			continue;
		if (rv)
			break;
		len32 = (uint32_t)len;
		fwrite(&len32, 4, 1, out);
		fwrite(buf, len, 1, out);
		frames++;
		bytes += len;
		if ((seq = frame_seq((const uint8_t *)buf, len))) {
			wire_ack_encode(ack, seq);
			nng_send(s, ack, sizeof(ack), 0);
		}
		nng_free(buf, len);
	}
	nng_close(s);
	fclose(out);
	fprintf(stderr, "wire-record: %llu frames, %llu bytes\n", frames, bytes);
	return 0;
}
