/* bad-peer: a misbehaving processor for the loader's tests. Dials the
 * loader's socket and sends one kind of wrong input, then hangs up:
 *   short    a 10-byte ack            long     a 12-byte ack
 *   version  an ack with version 2    type     a map header instead of array
 *   huge     a 64 KiB message         burst    200 random messages, no waiting
 *   hold     nothing: stays connected for -t ms (a second processor)
 * Prints "connected" once nng has a pipe, "done" at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "common/wire.h"
#include "processor/decode.h"

static void send_one(nng_socket s, const void *buf, size_t len)
{
	int rv = nng_send(s, (void *)buf, len, 0);

	if (rv)
		fprintf(stderr, "bad-peer: send: %s\n", nng_strerror(rv));
}

int main(int argc, char **argv)
{
	const char *path = NULL, *mode = NULL;
	uint8_t ack[WIRE_ACK_LEN + 1] = { 0 }, *big;
	int opt, ms = 500, rv;
	char url[256];
	nng_socket s;

	while ((opt = getopt(argc, argv, "s:t:")) != -1)
		if (opt == 's')
			path = optarg;
		else if (opt == 't')
			ms = atoi(optarg);
	mode = optind < argc ? argv[optind] : NULL;
	if (!path || !mode) {
		fprintf(stderr, "usage: bad-peer -s SOCKET [-t MS] short|long|version|type|huge|burst|hold\n");
		return 2;
	}
	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_pair1_open(&s)) || (rv = nng_dial(s, url, NULL, 0))) {
		fprintf(stderr, "bad-peer: %s: %s\n", url, nng_strerror(rv));
		return 1;
	}
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1000);
	printf("connected\n");
	fflush(stdout);
	wire_ack_encode(ack, 1);
	if (!strcmp(mode, "short")) {
		send_one(s, ack, WIRE_ACK_LEN - 1);
	} else if (!strcmp(mode, "long")) {
		send_one(s, ack, WIRE_ACK_LEN + 1);
	} else if (!strcmp(mode, "version")) {
		ack[1] = 2;
		send_one(s, ack, WIRE_ACK_LEN);
	} else if (!strcmp(mode, "type")) {
		ack[0] = 0x82;
		send_one(s, ack, WIRE_ACK_LEN);
	} else if (!strcmp(mode, "huge")) {
		big = calloc(1, 65536);
		send_one(s, big, 65536);
		free(big);
	} else if (!strcmp(mode, "burst")) {
		for (int i = 0; i < 200; i++) {
			uint8_t junk[32];

			for (size_t j = 0; j < sizeof(junk); j++)
				junk[j] = (uint8_t)rand();
			nng_send(s, junk, 1 + (size_t)(rand() % 32), NNG_FLAG_NONBLOCK);
		}
	} else if (strcmp(mode, "hold")) {
		fprintf(stderr, "bad-peer: unknown mode %s\n", mode);
		return 2;
	}
	usleep((useconds_t)ms * 1000);
	nng_close(s);
	printf("done\n");
	return 0;
}
