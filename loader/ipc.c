/* nng transport for the loader: the socket file, peer admission and
 * bookkeeping from nng's pipe callbacks, and strict ack intake: the ack is
 * the only input this privileged process accepts. */
#include "loader/loader.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

/* nng thread, ADD_PRE, under ipc->mu: the one connection there may be,
 * from root (who could do anything the loader can anyway), the processor
 * user or its group; any other peer is closed before nng starts its pipe.
 * Deciding here, not in pair1 (which would refuse a second peer only after
 * this callback), keeps every pipe but ours away from the send path. */
static void admit(struct ipc *ipc, nng_pipe p)
{
	static const char *const why[2] = { "not the processor user",
					    "another processor is connected" };
	uint64_t uid = UINT64_MAX, gid = UINT64_MAX, n;
	int busy = 0;

	nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid);
	nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &gid);
	if (ipc->any_peer || uid == 0 || uid == ipc->uid || gid == ipc->gid) {
		if (nng_pipe_id(ipc->pipe) <= 0) {
			ipc->pipe = p;
			ipc->started = false;
			return;
		}
		busy = 1;
	}
	/* a refused peer redials: log the 1st, 2nd, 4th, 8th... of each kind */
	ipc->rejected_peers++;
	n = ++ipc->refused[busy];
	if (!(n & (n - 1)))
		log_warn("rejected a peer running as uid %lld gid %lld: %s (%" PRIu64 " times)",
			 (long long)uid, (long long)gid, why[busy], n);
	nng_pipe_close(p); /* safe here: nng has not started the pipe */
}

/* Under ipc->mu: forgets our pipe; the processor's pid, to trace again. */
static uint32_t forget_pipe(struct ipc *ipc)
{
	uint32_t pid = ipc->closing ? 0 : ipc->peer_pid;

	if (ipc->started)
		log_info("processor disconnected (pid %u)", ipc->peer_pid);
	ipc->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
	ipc->started = false;
	ipc->peer_pid = 0;
	return pid;
}

/* nng thread. Our pipe counts from ADD_POST, when pair1 has started it:
 * sends wait from ADD_PRE to then, so that no frame reaches the new peer
 * before the spool has rewound. The processor is not traced. A peer that
 * hangs up at once can have REM_POST run before ADD_PRE or ADD_POST get
 * the lock: see forget_stale(). */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc *ipc = arg;
	uint64_t pid = 0;
	bool ours, add = ev == NNG_PIPE_EV_ADD_POST;

	pthread_mutex_lock(&ipc->mu);
	ours = nng_pipe_id(p) == nng_pipe_id(ipc->pipe);
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		admit(ipc, p);
	} else if (add && ours) {
		nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid);
		ipc->peer_pid = (uint32_t)pid;
		ipc->started = true;
		ipc->generation++;
		log_info("processor connected (pid %u)", ipc->peer_pid);
	} else if (ev == NNG_PIPE_EV_REM_POST && ours) {
		pid = forget_pipe(ipc);
	}
	pthread_mutex_unlock(&ipc->mu);
	if (pid)
		probes_ignore(ipc->probes, (uint32_t)pid, add);
}

/* Under ipc->mu, from the main thread: a pipe whose REM_POST came first is
 * left here dead, and is stale once nng no longer finds it. */
static uint32_t forget_stale(struct ipc *ipc)
{
	nng_sockaddr sa; /* a lookup without a syscall */

	if (nng_pipe_id(ipc->pipe) > 0 && nng_pipe_get_addr(ipc->pipe, NNG_OPT_REMADDR, &sa))
		return forget_pipe(ipc);
	return 0;
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

	*ipc = (struct ipc){ .probes = probes, .pipe = NNG_PIPE_INITIALIZER };
	snprintf(ipc->path, sizeof(ipc->path), "%s", path);
	pthread_mutex_init(&ipc->mu, NULL);
	if ((err = set_peer(ipc, user)))
		return err;
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST) {
		err = -errno;
		log_warn("cannot create directory for %s: %s", path, strerror(-err));
		return err;
	}
	if ((err = setup_socket(ipc)))
		return err;
	/* a socket file a killed loader left behind: nng removes it, once
	 * nothing accepts connections on it */
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

	uint32_t pid;

	pthread_mutex_lock(&ipc->mu);
	pid = forget_stale(ipc);
	up = ipc->started;
	*generation = ipc->generation;
	pthread_mutex_unlock(&ipc->mu);
	if (pid)
		probes_ignore(ipc->probes, pid, false);
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
	} else if (ipc->started) {
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
	bool ours;

	if (rv)
		return rv == NNG_EAGAIN ? -EAGAIN : nng_fail("cannot receive ack", rv);
	/* queued before its pipe went: never an ack for the new processor */
	pthread_mutex_lock(&ipc->mu);
	ours = ipc->started && nng_pipe_id(nng_msg_get_pipe(msg)) == nng_pipe_id(ipc->pipe);
	pthread_mutex_unlock(&ipc->mu);
	if (!ours) {
		ipc->stale_acks++;
		rv = -EPROTO;
	} else if (wire_ack_decode(nng_msg_body(msg), nng_msg_len(msg), seq)) {
		/* dropped, not answered by closing the pipe: nng 1.5.2 can hang
		 * for good tearing down a pipe closed while it receives */
		ipc->bad_acks++;
		if (!(ipc->bad_acks & (ipc->bad_acks - 1)))
			log_warn("malformed ack (%zu bytes) from the processor, dropped (%" PRIu64
				 " so far)", nng_msg_len(msg), ipc->bad_acks);
		rv = -EPROTO;
	}
	nng_msg_free(msg);
	return rv;
}

/* No nng_close(): it waits for nng to tear every pipe down, which is not
 * bounded (see ipc_recv_ack); exiting closes the connection. The socket
 * file goes as nng's listener would remove it. */
void ipc_close(struct ipc *ipc)
{
	pthread_mutex_lock(&ipc->mu);
	ipc->closing = true;
	pthread_mutex_unlock(&ipc->mu);
	unlink(ipc->path);
}
