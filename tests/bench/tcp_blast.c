/* tcp-blast: a load of small HTTP/1.1 exchanges on loopback TCP, for
 * measuring the real capture path (ring buffer -> loader -> processor).
 * Each thread owns one connected client/server socket pair and loops:
 * client writes a request, server reads it, server writes a response,
 * client reads it: 4 traced syscalls, 4 DATA events and 2 pairs (client
 * and server side) per exchange, with no other process involved.
 *   tcp-blast THREADS RATE SECONDS    (RATE: exchanges/s in all; 0: flat out)
 * Prints one key=value line with what it did. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char REQ[] = "GET /blast HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: tcp-blast\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nServer: tcp-blast\r\nContent-Length: 2\r\n"
			   "Content-Type: text/plain\r\n\r\nok";

struct worker {
	pthread_t th;
	int c, s;          /* client and accepted server socket */
	double rate;       /* exchanges/s for this thread; 0: flat out */
	double seconds;
	unsigned long long done;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_full(int fd, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int exchange(struct worker *w)
{
	char buf[256];

	if (write(w->c, REQ, sizeof(REQ) - 1) != sizeof(REQ) - 1 ||
	    read_full(w->s, buf, sizeof(REQ) - 1) ||
	    write(w->s, RESP, sizeof(RESP) - 1) != sizeof(RESP) - 1 ||
	    read_full(w->c, buf, sizeof(RESP) - 1))
		return -1;
	return 0;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	double t0 = now_s(), t;

	while ((t = now_s()) - t0 < w->seconds) {
		/* a burst, then sleep if ahead of the schedule */
		for (int i = 0; i < 32; i++, w->done++)
			if (exchange(w))
				return NULL;
		if (w->rate > 0) {
			double ahead = (double)w->done / w->rate - (now_s() - t0);

			if (ahead > 0.0002)
				usleep((useconds_t)(ahead * 1e6));
		}
	}
	return NULL;
}

static int connect_pair(int lfd, struct sockaddr_in *sa, struct worker *w)
{
	int one = 1;

	w->c = socket(AF_INET, SOCK_STREAM, 0);
	if (w->c < 0 || connect(w->c, (struct sockaddr *)sa, sizeof(*sa)) ||
	    (w->s = accept(lfd, NULL, NULL)) < 0)
		return -1;
	setsockopt(w->c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(w->s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int threads, lfd;
	double rate, secs, t0, el;
	unsigned long long total = 0;
	struct worker *w;

	if (argc != 4 || (threads = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: tcp-blast THREADS RATE SECONDS\n");
		return 2;
	}
	rate = atof(argv[2]);
	secs = atof(argv[3]);
	w = calloc((size_t)threads, sizeof(*w));
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (!w || lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		perror("tcp-blast: listen");
		return 1;
	}
	for (int i = 0; i < threads; i++) {
		if (connect_pair(lfd, &sa, &w[i])) {
			perror("tcp-blast: connect");
			return 1;
		}
		w[i].rate = rate / threads;
		w[i].seconds = secs;
	}
	t0 = now_s();
	for (int i = 0; i < threads; i++)
		pthread_create(&w[i].th, NULL, run, &w[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].done;
	}
	el = now_s() - t0;
	printf("tcp_blast threads=%d target=%.0f seconds=%.2f exchanges=%llu exchanges_per_s=%.0f"
	       " syscalls_per_s=%.0f\n", threads, rate, el, total, (double)total / el,
	       4.0 * (double)total / el);
	for (int i = 0; i < threads; i++) {
		close(w[i].c);
		close(w[i].s);
	}
	return 0;
}
