/* proc-bench: the processor's pipeline alone on one core (run it under
 * taskset): decode -> conntrack -> HTTP/1.x pairing -> JSON lines (to
 * /dev/null, so formatting counts and the disk does not), over a recorded
 * or generated stream of batch frames (u32 length + frame each, as
 * frame-gen --write and wire-record write them). The stream is run several
 * times, each time into a fresh processor, until --min-seconds have been
 * measured; prints the median pass. Output: one key=value line. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "processor/processor.h"

struct stream {
	uint8_t *buf;
	size_t len;
	uint32_t frames;
};

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *path, struct stream *s)
{
	FILE *f = fopen(path, "r");
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(s->buf = malloc((size_t)n + 1)) || fread(s->buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "proc-bench: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	fclose(f);
	s->len = (size_t)n;
	for (size_t off = 0; off + 4 <= s->len; s->frames++) {
		uint32_t l;

		memcpy(&l, s->buf + off, 4);
		if (off + 4 + l > s->len) {
			fprintf(stderr, "proc-bench: %s: truncated frame %u\n", path, s->frames);
			return -1;
		}
		off += 4 + l;
	}
	return 0;
}

struct pass {
	double secs, cpu_secs; /* wall clock, and CPU time of this thread */
	uint64_t events, pairs, bad_events, bad_frames, incomplete;
};

static int run_pass(const struct stream *s, FILE *out, struct pass *r)
{
	struct processor p;
	double t0, c0;

	if (processor_init(&p, 65536) < 0)
		return -1;
	p.out.jsonl = out;
	t0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	for (size_t off = 0; off + 4 <= s->len;) {
		uint32_t l;

		memcpy(&l, s->buf + off, 4);
		processor_frame(&p, s->buf + off + 4, l);
		off += 4 + l;
	}
	fflush(out);
	r->secs = now_s(CLOCK_MONOTONIC) - t0;
	r->cpu_secs = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	r->events = p.dec.events;
	r->pairs = p.out.pairs;
	r->bad_events = p.dec.bad_events;
	r->bad_frames = p.dec.bad_frames;
	r->incomplete = conntrack_http_stats(p.ct)->incomplete;
	processor_fini(&p);
	return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of one field over the passes. */
static double median(const struct pass *p, int n, size_t off)
{
	double v[64];

	for (int i = 0; i < n; i++)
		memcpy(&v[i], (const char *)&p[i] + off, sizeof(double));
	qsort(v, (size_t)n, sizeof(v[0]), cmp_dbl);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	double min_s = argc > 2 ? atof(argv[2]) : 2.0, total = 0;
	struct pass passes[64], *m;
	double wall, cpu;
	struct stream s = { 0 };
	FILE *out;
	int n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: proc-bench FRAMES_FILE [MIN_SECONDS]\n");
		return 2;
	}
	if (load(argv[1], &s) || !(out = fopen("/dev/null", "w")))
		return 1;
	while (n < 64 && (total < min_s || n < 3)) {
		if (run_pass(&s, out, &passes[n]) < 0) {
			fprintf(stderr, "proc-bench: cannot allocate the processor\n");
			return 1;
		}
		total += passes[n++].secs;
	}
	/* every pass does the same work: the counts are the same */
	m = &passes[0];
	wall = median(passes, n, offsetof(struct pass, secs));
	cpu = median(passes, n, offsetof(struct pass, cpu_secs));
	/* Rates per second of wall clock, and per CPU-second of the thread: on
	 * a machine others share, the second is what one core does. */
	printf("proc_bench frames=%u bytes=%zu passes=%d events=%" PRIu64 " pairs=%" PRIu64
	       " bad_events=%" PRIu64 " bad_frames=%" PRIu64 " incomplete=%" PRIu64
	       " median_s=%.4f median_cpu_s=%.4f events_per_s=%.0f pairs_per_s=%.0f"
	       " events_per_cpu_s=%.0f pairs_per_cpu_s=%.0f mb_per_s=%.1f\n",
	       s.frames, s.len, n, m->events, m->pairs, m->bad_events, m->bad_frames,
	       m->incomplete, wall, cpu, (double)m->events / wall, (double)m->pairs / wall,
	       (double)m->events / cpu, (double)m->pairs / cpu, (double)s.len / wall / 1e6);
	return m->bad_events || m->bad_frames ? 1 : 0;
}
