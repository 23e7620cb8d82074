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
	pthread_mutex_t mu;  /* guards what follows: nng's threads set it */
	nng_pipe pipe;       /* the connected processor, id 0 when none */
	nng_pipe adding;     /* admitted, not yet started: sends wait for it */
	uint32_t peer_pid;
	unsigned generation; /* bumped per new connection */
	bool closing;        /* shutting down: the processor stays ignored */
	uint64_t bad_acks, rejected_peers;
};

/* Resolves who may connect (--processor-user); before privileges go. */
int ipc_init(struct ipc *ipc, const char *user, struct probes *probes);
int ipc_listen(struct ipc *ipc, const char *path);
/* Whether a processor is connected, and which connection it is. */
bool ipc_connected(struct ipc *ipc, unsigned *generation);
/* 0 sent; -EAGAIN not now (not connected, or the last frame is still being
 * written); -ESTALE: a new connection since *generation (updated), rewind. */
int ipc_send(struct ipc *ipc, unsigned *generation, const void *buf, size_t len);
/* 0 and *seq for an ack; -EAGAIN when none is waiting; -EPROTO for a bad
 * message (counted, logged, its connection closed). */
int ipc_recv_ack(struct ipc *ipc, uint64_t *seq);
/* Pollable fds: readable when an ack waits / when a send would go through. */
int ipc_fds(struct ipc *ipc, int *recv_fd, int *send_fd);
void ipc_close(struct ipc *ipc);

#endif
