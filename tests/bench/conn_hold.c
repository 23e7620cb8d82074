/* conn-hold: opens N keep-alive connections to an HTTP server on loopback,
 * does one GET on each, and keeps them all open and idle until SIGTERM:
 * the load for measuring memory per tracked connection. Source addresses
 * rotate over 127.0.0.2.. so N can exceed one address's ephemeral ports.
 *   conn-hold PORT N PATH [SRC_BASE]   (sources from 127.0.0.(2 + SRC_BASE))
 * Prints "ready conns=N seconds=S" once every response has been read. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAVE 500            /* connections set up at once */
#define PER_SRC 25000       /* connections per source address */

static int src_base;        /* first source address: 127.0.0.(2 + src_base) */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_one(int port, int idx)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(src_base + idx / PER_SRC));
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)port);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one whole response (headers + Content-Length body). */
static int read_response(int fd)
{
	char buf[8192];
	size_t got = 0;
	const char *end, *cl;

	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = 0;
		if (!(end = strstr(buf, "\r\n\r\n")))
			continue;
		cl = strcasestr(buf, "content-length:");
		if (!cl || got >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
			return 0;
	}
}

/* One wave: connect, request, read, all blocking but on loopback. */
static int wave(int *fds, int from, int n, int port, const char *req, size_t rlen)
{
	for (int i = from; i < from + n; i++)
		if ((fds[i] = open_one(port, i)) < 0 || write(fds[i], req, rlen) != (ssize_t)rlen)
			return -1;
	for (int i = from; i < from + n; i++)
		if (read_response(fds[i]))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	char req[512];
	int port, n, *fds;
	double t0 = now_s();
	size_t rlen;

	if (argc < 4 || argc > 5 || (port = atoi(argv[1])) <= 0 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: conn-hold PORT N PATH [SRC_BASE]\n");
		return 2;
	}
	src_base = argc == 5 ? atoi(argv[4]) : 0;
	rl.rlim_cur = rl.rlim_max = (rlim_t)n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		perror("conn-hold: RLIMIT_NOFILE");
		return 1;
	}
	rlen = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", argv[3]);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!(fds = calloc((size_t)n, sizeof(*fds))))
		return 1;
	for (int i = 0; i < n && !stop; i += WAVE)
		if (wave(fds, i, i + WAVE > n ? n - i : WAVE, port, req, rlen)) {
			fprintf(stderr, "conn-hold: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
	printf("ready conns=%d seconds=%.2f\n", n, now_s() - t0);
	fflush(stdout);
	while (!stop)
		pause();
	return 0;
}
