/* nng transport for the loader: the socket file, peer admission and
 * bookkeeping from nng's pipe callbacks, and strict ack intake: the ack is
 * the only input this privileged process accepts. */
#include "loader/loader.h"

#include <errno.h>
#include <libgen.h>
#include <pwd.h>
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

/* Anything longer than an ack (plus pair1's 4-byte header) is garbage; nng
 * closes the pipe of an oversized message before we see it. */
#define IPC_RECV_MAX 64

static int nng_fail(const char *what, int rv)
{
	log_warn("%s: %s", what, nng_strerror(rv));
	return rv == NNG_ENOMEM ? -ENOMEM : -EIO;
}

/* nng thread, before the pipe is started: root (who could do anything the
 * loader can anyway), the processor user, or its group; else closed. */
static bool admit(struct ipc *ipc, nng_pipe p)
{
	uint64_t uid = UINT64_MAX, gid = UINT64_MAX;

	nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid);
	nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &gid);
	if (ipc->any_peer || uid == 0 || uid == ipc->uid || gid == ipc->gid)
		return true;
	ipc->rejected_peers++;
	log_warn("rejected a peer running as uid %lld gid %lld: not the processor user",
		 (long long)uid, (long long)gid);
	nng_pipe_close(p);
	return false;
}

/* nng thread. A connection counts from ADD_POST (pair1 refuses a second
 * peer in between); sends pause from ADD_PRE so that no frame reaches the new
 * peer before the spool has rewound. The processor is not traced. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc *ipc = arg;
	uint64_t pid = 0;
	bool add = ev == NNG_PIPE_EV_ADD_POST;

	pthread_mutex_lock(&ipc->mu);
	if (ev == NNG_PIPE_EV_ADD_PRE && admit(ipc, p)) {
		ipc->adding = p;
	} else if (add) {
		nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid);
		ipc->pipe = p;
		ipc->peer_pid = (uint32_t)pid;
		ipc->generation++;
		log_info("processor connected (pid %u)", ipc->peer_pid);
	} else if (ev == NNG_PIPE_EV_REM_POST && nng_pipe_id(p) == nng_pipe_id(ipc->pipe)) {
		pid = ipc->closing ? 0 : ipc->peer_pid;
		ipc->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
		log_info("processor disconnected (pid %u)", ipc->peer_pid);
		ipc->peer_pid = 0;
	}
	if (ev != NNG_PIPE_EV_ADD_PRE && nng_pipe_id(p) == nng_pipe_id(ipc->adding))
		ipc->adding = (nng_pipe)NNG_PIPE_INITIALIZER;
	pthread_mutex_unlock(&ipc->mu);
	if (pid)
		probes_ignore(ipc->probes, (uint32_t)pid, add);
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

/* SENDBUF 0: a frame is handed to nng only when the pipe can take it, so
 * nothing queued in nng survives a reconnect to overtake the resent frames.
 * The spool is the buffer; the kernel socket buffer is the back-pressure. */
static int setup_socket(struct ipc *ipc)
{
	static const nng_pipe_ev evs[] = { NNG_PIPE_EV_ADD_PRE, NNG_PIPE_EV_ADD_POST,
					   NNG_PIPE_EV_REM_POST };
	int rv;

	if ((rv = nng_pair1_open(&ipc->sock)))
		return nng_fail("cannot open nng pair1 socket", rv);
	if ((rv = nng_socket_set_int(ipc->sock, NNG_OPT_SENDBUF, 0)) ||
	    (rv = nng_socket_set_size(ipc->sock, NNG_OPT_RECVMAXSZ, IPC_RECV_MAX)))
		return nng_fail("cannot set up nng socket", rv);
	for (int i = 0; i < 3; i++)
		if ((rv = nng_pipe_notify(ipc->sock, evs[i], on_pipe, ipc)))
			return nng_fail("cannot set up nng socket", rv);
	return 0;
}

/* root, or --processor-user (default sluice): resolved before seccomp. */
static int set_peer(struct ipc *ipc, const char *user)
{
	struct passwd *pw = getpwnam(user ? user : "sluice");

	if (pw) {
		ipc->uid = pw->pw_uid;
		ipc->gid = pw->pw_gid;
	} else if (user) {
		log_warn("--processor-user %s: no such user", user);
		return -ENOENT;
	} else {
		ipc->any_peer = true;
		log_warn("no user 'sluice': a processor of any uid may connect (see --processor-user)");
	}
	return 0;
}

/* The socket file takes the process's group, which setup has set to
 * sluice (see privs.c), and nng gives it mode 0660. */
int ipc_listen(struct ipc *ipc, const char *path, const char *user, struct probes *probes)
{
	char url[PATH_MAX + 8], dir[PATH_MAX];
	nng_listener l;
	int rv, err;

	*ipc = (struct ipc){ .probes = probes, .pipe = NNG_PIPE_INITIALIZER,
			     .adding = NNG_PIPE_INITIALIZER };
	pthread_mutex_init(&ipc->mu, NULL);
	if ((err = set_peer(ipc, user)))
		return err;
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
	    (rv = nng_listener_start(l, 0)) ||
	    (rv = nng_socket_get_int(ipc->sock, NNG_OPT_RECVFD, &ipc->recv_fd)) ||
	    (rv = nng_socket_get_int(ipc->sock, NNG_OPT_SENDFD, &ipc->send_fd))) {
		log_warn("cannot listen on %s: %s%s", url, nng_strerror(rv),
			 rv == NNG_EADDRINUSE ? " (is another sluice-loader running?)" : "");
		return rv == NNG_EADDRINUSE ? -EADDRINUSE : -EIO;
	}
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

int ipc_send(struct ipc *ipc, unsigned *generation, const void *buf, size_t len)
{
	int rv = NNG_EAGAIN;

	/* under the lock, so that a new peer cannot start between the check
	 * and the send; nng copies the frame: the spool keeps it for resends */
	pthread_mutex_lock(&ipc->mu);
	if (ipc->generation != *generation) {
		*generation = ipc->generation;
		rv = -ESTALE;
	} else if (nng_pipe_id(ipc->pipe) > 0 && nng_pipe_id(ipc->adding) <= 0) {
		rv = nng_send(ipc->sock, (void *)buf, len, NNG_FLAG_NONBLOCK);
	}
	pthread_mutex_unlock(&ipc->mu);
	if (rv > 0 && rv != NNG_EAGAIN) /* nng's errors are positive */
		return nng_fail("cannot send batch", rv);
	return rv == NNG_EAGAIN ? -EAGAIN : rv;
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
	pthread_mutex_lock(&ipc->mu);
	ipc->closing = true;
	pthread_mutex_unlock(&ipc->mu);
	nng_close(ipc->sock);
	pthread_mutex_destroy(&ipc->mu);
}
