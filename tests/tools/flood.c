/* flood: the load for tests/integration/test_flood.sh.
 *   flood serve NPORTS
 *	listens on NPORTS consecutive loopback ports (it picks the first),
 *	accepts everything, reads and discards every byte, never answers:
 *	requests sent to it wait for a response forever. Prints "ready PORT".
 *   flood connect PORT NPORTS N NREQ
 *	opens N connections round-robin over the ports and sends one request
 *	("GET /flood/I HTTP/1.1") on the first NREQ of them, keeping every one
 *	open; prints "held N" and waits for SIGTERM, then exits (the kernel
 *	closes them all).
 * Several ports so that N can exceed one destination's ephemeral ports;
 * several processes (a server per port, a client per PER_WORKER
 * connections) because a process may not raise its descriptor limit
 * without CAP_SYS_RESOURCE. Workers die with their parent. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORTS_MAX 64
#define PER_WORKER 18000 /* connections a client process holds (fd limit 20000) */
#define LISTENER (1ull << 32) /* epoll data: a listening socket's fd | LISTENER */

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* A child that dies with its parent (the test kills only the parent). */
static pid_t worker(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent))
		_exit(1);
	return pid;
}

static struct sockaddr_in lo_addr(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int listen_on(int port)
{
	struct sockaddr_in a = lo_addr(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s, 65535) != 0) {
		close(s);
		return -1;
	}
	return s;
}

/* nports consecutive ports from some base under the ephemeral range. */
static int listen_all(int nports, int *ls)
{
	for (int base = 20000 + (getpid() % 100) * 100; base < 32000; base += 97) {
		int i;

		for (i = 0; i < nports && (ls[i] = listen_on(base + i)) >= 0; i++)
			;
		if (i == nports)
			return base;
		while (i-- > 0)
			close(ls[i]);
	}
	fprintf(stderr, "no %d free consecutive ports\n", nports);
	exit(1);
}

static void accept_all(int ep, int l)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int c;

	while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		ev.data.u64 = (uint64_t)c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) != 0)
			die("epoll_ctl");
	}
}

static void drain(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN))
		close(fd); /* the peer went: so do we */
}

/* One listener's connections, forever. */
static _Noreturn void serve_port(int l)
{
	int ep = epoll_create1(0);
	struct epoll_event evs[256], ev = { .events = EPOLLIN, .data.u64 = LISTENER | (uint64_t)l };

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) != 0)
		die("epoll");
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = (int)(evs[i].data.u64 & 0xffffffffu);

			if (evs[i].data.u64 & LISTENER)
				accept_all(ep, fd);
			else
				drain(fd);
		}
	}
}

static _Noreturn void serve(int nports)
{
	int ls[PORTS_MAX], base = listen_all(nports, ls);

	for (int i = 0; i < nports; i++)
		if (worker() == 0)
			serve_port(ls[i]);
	printf("ready %d\n", base);
	fflush(stdout);
	for (;;)
		pause();
}

static int connect_one(int port, int i, int with_request)
{
	struct sockaddr_in a = lo_addr(port);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char req[96];
	int n;

	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("connect");
	if (with_request) {
		n = snprintf(req, sizeof(req), "GET /flood/%d HTTP/1.1\r\nHost: flood\r\n\r\n", i);
		if (write(s, req, (size_t)n) != n)
			die("write");
	}
	return s;
}

/* Worker w of nw: connections w, w + nw, ...; one byte on done when held. */
static _Noreturn void flood_part(int port, int nports, int n, int nreq, int w, int nw, int done)
{
	for (int i = w; i < n; i += nw)
		connect_one(port + i % nports, i, i < nreq);
	if (write(done, "x", 1) != 1)
		die("write");
	for (;;)
		pause();
}

static int flood(int port, int nports, int n, int nreq)
{
	int nw = (n + PER_WORKER - 1) / PER_WORKER, done[2], sig;
	sigset_t set;
	char c;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (pipe(done) != 0)
		die("pipe");
	for (int w = 0; w < nw; w++)
		if (worker() == 0)
			flood_part(port, nports, n, nreq, w, nw, done[1]);
	close(done[1]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (int w = 0; w < nw; w++)
		if (read(done[0], &c, 1) != 1)
			die("a worker failed");
	printf("held %d\n", n);
	fflush(stdout);
	sigwait(&set, &sig);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		serve(atoi(argv[2]) < PORTS_MAX ? atoi(argv[2]) : PORTS_MAX);
	if (argc == 6 && strcmp(argv[1], "connect") == 0)
		return flood(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: flood serve NPORTS | flood connect PORT NPORTS N NREQ\n");
	return 2;
}
