/* The loader's end of the nng pair1 connection to the processor: listen on
 * the ipc socket, admit only the configured processor user, track the one
 * connected peer (whose pid is kept out of tracing), send frames without
 * blocking, and receive acks. */
#ifndef SLUICE_IPC_H
#define SLUICE_IPC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "loader/probes.h"

struct ipc {
	nng_socket sock;
	struct probes *probes;
	uid_t uid;           /* the processor user's uid and group; any_peer: no check */
	gid_t gid;
	bool any_peer;
	int recv_fd, send_fd; /* pollable: an ack waits / a send would go through */
	pthread_mutex_t mu;  /* guards what follows: nng's threads set it */
	nng_pipe pipe;       /* the connected processor, id 0 when none */
	nng_pipe adding;     /* admitted, not yet started: sends wait for it */
	uint32_t peer_pid;
	unsigned generation; /* bumped per new connection */
	bool closing;        /* shutting down: the processor stays ignored */
	uint64_t bad_acks, rejected_peers;
};

/* Listens on path; only root or user (NULL: sluice, or anyone if there is
 * no such user) may connect. */
int ipc_listen(struct ipc *ipc, const char *path, const char *user, struct probes *probes);
/* Whether a processor is connected, and which connection it is. */
bool ipc_connected(struct ipc *ipc, unsigned *generation);
/* 0 sent; -EAGAIN not now (not connected, or the last frame is still being
 * written); -ESTALE: a new connection since *generation (updated), rewind. */
int ipc_send(struct ipc *ipc, unsigned *generation, const void *buf, size_t len);
/* 0 and *seq for an ack; -EAGAIN when none is waiting; -EPROTO for a bad
 * message (counted, logged, its connection closed). */
int ipc_recv_ack(struct ipc *ipc, uint64_t *seq);
void ipc_close(struct ipc *ipc);

#endif
