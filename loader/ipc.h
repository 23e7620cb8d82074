/* The loader's end of the nng pair1 connection to the processor: listen on
 * the ipc socket, track the one connected peer (whose pid is kept out of
 * tracing), send frames without blocking, and receive acks. */
#ifndef SLUICE_IPC_H
#define SLUICE_IPC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "loader/probes.h"

struct ipc {
	nng_socket sock;
	struct probes *probes;
	pthread_mutex_t mu;   /* guards the three fields below: nng's threads set them */
	nng_pipe pipe;        /* the connected processor, id 0 when none */
	uint32_t peer_pid;
	unsigned generation;  /* bumped per new connection */
	uint64_t bad_acks;
};

int ipc_listen(struct ipc *ipc, const char *path, struct probes *probes);
/* Whether a processor is connected, and which connection it is. */
bool ipc_connected(struct ipc *ipc, unsigned *generation);
/* 0 sent, -EAGAIN not now, other negative errno on failure. */
int ipc_send(struct ipc *ipc, const void *buf, size_t len);
/* 0 and *seq for an ack; -EAGAIN when none is waiting; -EPROTO for a bad
 * message (counted, logged, its connection closed). */
int ipc_recv_ack(struct ipc *ipc, uint64_t *seq);
void ipc_close(struct ipc *ipc);

#endif
