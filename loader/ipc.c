/* nng transport for the loader: the socket file (directory, mode, group),
 * peer bookkeeping from nng's pipe callbacks, and strict ack intake: the ack
 * is the only input this privileged process accepts. */
#include "loader/ipc.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nng/protocol/pair1/pair.h>

#include "common/log.h"
#include "common/wire.h"
#include "loader/spool.h"

/* Anything longer than an ack is garbage; nng closes the pipe of an
 * oversized message before we see it. */
#define IPC_RECV_MAX 4096

static int nng_fail(const char *what, int rv)
{
	log_warn("%s: %s", what, nng_strerror(rv));
	return rv == NNG_ENOMEM ? -ENOMEM : -EIO;
}

/* nng thread. The processor is kept out of tracing while connected. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc *ipc = arg;
	uint64_t pid = 0;
	int rv;

	pthread_mutex_lock(&ipc->mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if ((rv = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid)))
			log_warn("cannot read the processor's pid (%s): it will be traced",
				 nng_strerror(rv));
		ipc->pipe = p;
		ipc->peer_pid = (uint32_t)pid;
		ipc->generation++;
		log_info("processor connected (pid %u)", ipc->peer_pid);
	} else if (nng_pipe_id(p) == nng_pipe_id(ipc->pipe)) {
		pid = ipc->peer_pid;
		ipc->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
		ipc->peer_pid = 0;
		log_info("processor disconnected (pid %u)", (uint32_t)pid);
	}
	pthread_mutex_unlock(&ipc->mu);
	if (pid)
		probes_ignore(ipc->probes, (uint32_t)pid, ev == NNG_PIPE_EV_ADD_POST);
}

/* nng does not clear the socket file a killed loader left behind: remove it,
 * unless something still accepts connections on it. */
static void remove_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (lstat(path, &st) || !S_ISSOCK(st.st_mode))
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno == ECONNREFUSED &&
	    !unlink(path))
		log_info("removed stale socket %s", path);
	close(fd);
}

static int setup_socket(struct ipc *ipc)
{
	int rv;

	if ((rv = nng_pair1_open(&ipc->sock)))
		return nng_fail("cannot open nng pair1 socket", rv);
	/* Queue up to the in-flight window so that non-blocking sends are not
	 * limited to the one message nng's pipe is writing. */
	if ((rv = nng_socket_set_int(ipc->sock, NNG_OPT_SENDBUF, SPOOL_MAX_INFLIGHT)) ||
	    (rv = nng_socket_set_size(ipc->sock, NNG_OPT_RECVMAXSZ, IPC_RECV_MAX)) ||
	    (rv = nng_pipe_notify(ipc->sock, NNG_PIPE_EV_ADD_POST, on_pipe, ipc)) ||
	    (rv = nng_pipe_notify(ipc->sock, NNG_PIPE_EV_REM_POST, on_pipe, ipc)))
		return nng_fail("cannot set up nng socket", rv);
	return 0;
}

int ipc_listen(struct ipc *ipc, const char *path, struct probes *probes)
{
	char url[PATH_MAX + 8], dir[PATH_MAX];
	struct group *gr;
	nng_listener l;
	int rv, err;

	*ipc = (struct ipc){ .probes = probes, .pipe = NNG_PIPE_INITIALIZER };
	pthread_mutex_init(&ipc->mu, NULL);
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST) {
		err = -errno;
		log_warn("cannot create directory for %s: %s", path, strerror(-err));
		return err;
	}
	remove_stale(path);
	if ((err = setup_socket(ipc)))
		return err;
	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_listener_create(&l, ipc->sock, url)) ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0660)) ||
	    (rv = nng_listener_start(l, 0))) {
		log_warn("cannot listen on %s: %s%s", url, nng_strerror(rv),
			 rv == NNG_EADDRINUSE ? " (is another sluice-loader running?)" : "");
		return rv == NNG_EADDRINUSE ? -EADDRINUSE : -EIO;
	}
	/* Mode 0660 + group sluice: the unprivileged processor may connect. */
	if ((gr = getgrnam("sluice")) && chown(path, (uid_t)-1, gr->gr_gid))
		log_warn("cannot give %s to group sluice: %s", path, strerror(errno));
	log_info("waiting for processor on %s", url);
	return 0;
}

bool ipc_connected(struct ipc *ipc, unsigned *generation)
{
	bool up;

	pthread_mutex_lock(&ipc->mu);
	up = nng_pipe_id(ipc->pipe) > 0;
	*generation = ipc->generation;
	pthread_mutex_unlock(&ipc->mu);
	return up;
}

int ipc_send(struct ipc *ipc, const void *buf, size_t len)
{
	int rv = nng_send(ipc->sock, (void *)buf, len, NNG_FLAG_NONBLOCK);

	if (rv == 0 || rv == NNG_EAGAIN)
		return rv ? -EAGAIN : 0;
	return nng_fail("cannot send batch", rv);
}

int ipc_recv_ack(struct ipc *ipc, uint64_t *seq)
{
	nng_msg *msg;
	int rv = nng_recvmsg(ipc->sock, &msg, NNG_FLAG_NONBLOCK);

	if (rv)
		return rv == NNG_EAGAIN ? -EAGAIN : nng_fail("cannot receive ack", rv);
	if (wire_ack_decode(nng_msg_body(msg), nng_msg_len(msg), seq)) {
		ipc->bad_acks++;
		log_warn("malformed ack (%zu bytes) from the processor: closing its connection",
			 nng_msg_len(msg));
		nng_pipe_close(nng_msg_get_pipe(msg));
		rv = -EPROTO;
	}
	nng_msg_free(msg);
	return rv;
}

void ipc_close(struct ipc *ipc)
{
	nng_close(ipc->sock);
	pthread_mutex_destroy(&ipc->mu);
}
