/* frame-gen: a synthetic sluice-loader for benchmarks. Listens on an ipc
 * socket with nng pair1 as the loader does (SENDBUF 0, non-blocking sends, a
 * byte-bounded spool of unacked frames that drops and counts when full) and
 * sends valid batch frames (common/wire.h, built by tests/bench/evgen.c) at a
 * controlled event rate, so the real processor can be measured alone:
 *   --rate R --seconds D        one fixed rate
 *   --ramp FROM:TO:FACTOR       rates FROM, FROM*FACTOR, ... until the first
 *                               step that drops or lags (later steps would
 *                               measure a processor still digesting the
 *                               damage: scripts/bench.sh runs each step
 *                               against a fresh processor instead)
 *   --hold                      open --conns connections with one request/
 *                               response each, wait for the acks, print
 *                               "ready", keep them (RSS measurements)
 *   --write FILE --events N     frames to FILE (u32 length + frame each)
 *                               instead of a socket, for tests/bench/proc_bench
 * A step passes when no frame was dropped, the generator kept its schedule
 * (else the step says "gen": the measurement, not the processor, fell short),
 * the unacked backlog at its end is under half the spool and everything is
 * acked within --drain-seconds after it. Dropped frames are reported to the
 * processor in LOSS events, as the loader does. Output: key=value lines. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "common/records.h"
#include "common/wire.h"
#include "tests/tools/wire_pack.h"
#include "tests/bench/evgen.h"

#define FLUSH_AGE_NS 20000000ull /* the loader's BATCH_MAX_AGE_NS */

struct opts {
	const char *socket, *write;
	uint32_t conns, pairs_per_conn;
	uint64_t spool_bytes, events;
	double rate, seconds, step_seconds, drain_seconds, wait_connect;
	double ramp_from, ramp_to, ramp_factor;
	int hold, ramp;
};

struct sframe {
	struct sframe *next;
	uint64_t seq, pairs;
	uint32_t events;
	size_t len;
	uint8_t *buf;
};

/* Everything one run tracks; step counters are reset per step. */
struct gen {
	nng_socket sock;
	atomic_uint generation;   /* bumped by nng's thread per new processor */
	atomic_int connected;
	unsigned seen_generation;
	struct sframe *head, *tail, *cursor;
	size_t bytes, limit;
	uint64_t next_seq;
	struct evgen eg;
	struct evframe fr;
	uint64_t fr_first_ns;
	uint64_t epoch_ns;        /* CLOCK_REALTIME at start: the LOSS epoch */
	nng_msg *held;            /* the next frame as a message, kept across refused sends */
	uint64_t held_seq;
	bool loss_due;            /* a drop not yet reported in a LOSS event */
	uint64_t t_dropped_frames;
	/* step counters */
	uint64_t gen_events, sent_events, dropped_events, dropped_frames;
	uint64_t acked_events, acked_pairs, max_backlog;
	/* totals */
	uint64_t t_acked_events, t_acked_pairs, t_dropped_events;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rv)
{
	fprintf(stderr, "frame-gen: %s: %s\n", what, rv ? nng_strerror(rv) : strerror(errno));
	exit(1);
}

/* ---- spool: the loader's, in short ---- */

static void spool_push(struct gen *g)
{
	struct sframe *f;

	evframe_finish(&g->fr, g->next_seq);
	if (g->bytes + g->fr.sb.size > g->limit) {
		g->dropped_frames++;
		g->dropped_events += g->fr.events;
		g->t_dropped_frames++;
		g->t_dropped_events += g->fr.events;
		g->loss_due = true;
		evframe_reset(&g->fr);
		return;
	}
	if (!(f = malloc(sizeof(*f))) || !(f->buf = malloc(g->fr.sb.size)))
		die("out of memory", 0);
	memcpy(f->buf, g->fr.sb.data, g->fr.sb.size);
	f->len = g->fr.sb.size;
	f->seq = g->next_seq++;
	f->events = g->fr.events;
	f->pairs = g->fr.pairs;
	f->next = NULL;
	if (g->tail)
		g->tail->next = f;
	else
		g->head = f;
	g->tail = f;
	if (!g->cursor)
		g->cursor = f;
	g->bytes += f->len;
	g->sent_events += f->events;
	if (g->bytes > g->max_backlog)
		g->max_backlog = g->bytes;
	evframe_reset(&g->fr);
}

static void spool_ack(struct gen *g, uint64_t seq)
{
	while (g->head && g->head->seq <= seq) {
		struct sframe *f = g->head;

		g->head = f->next;
		if (g->cursor == f)
			g->cursor = f->next;
		if (g->tail == f)
			g->tail = NULL;
		g->bytes -= f->len;
		g->acked_events += f->events;
		g->acked_pairs += f->pairs;
		g->t_acked_events += f->events;
		g->t_acked_pairs += f->pairs;
		free(f->buf);
		free(f);
	}
}

/* ---- transport ---- */

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct gen *g = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&g->generation, 1);
		atomic_store(&g->connected, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_store(&g->connected, 0);
	}
}

static void listen_on(struct gen *g, const char *path)
{
	char url[256];
	int rv;

	snprintf(url, sizeof(url), "ipc://%s", path);
	unlink(path);
	if ((rv = nng_pair1_open(&g->sock)))
		die("nng_pair1_open", rv);
	if ((rv = nng_socket_set_int(g->sock, NNG_OPT_SENDBUF, 0)) ||
	    (rv = nng_socket_set_size(g->sock, NNG_OPT_RECVMAXSZ, 64)) ||
	    (rv = nng_pipe_notify(g->sock, NNG_PIPE_EV_ADD_POST, on_pipe, g)) ||
	    (rv = nng_pipe_notify(g->sock, NNG_PIPE_EV_REM_POST, on_pipe, g)))
		die("nng socket options", rv);
	if ((rv = nng_listen(g->sock, url, NULL, 0)))
		die(url, rv);
}

/* Takes acks in and sends what nng takes; true if anything moved. */
static bool pump(struct gen *g)
{
	unsigned gen = atomic_load(&g->generation);
	bool moved = false;
	nng_msg *m;
	uint64_t seq;

	while (nng_recvmsg(g->sock, &m, NNG_FLAG_NONBLOCK) == 0) {
		if (wire_ack_decode(nng_msg_body(m), nng_msg_len(m), &seq) == 0)
			spool_ack(g, seq);
		nng_msg_free(m);
		moved = true;
	}
	if (gen != g->seen_generation) { /* a (re)connected processor: resend all */
		g->seen_generation = gen;
		g->cursor = g->head;
	}
	/* The message is built once per frame and kept while nng refuses it
	 * (peer busy): nng_send would allocate, clear and copy the whole
	 * frame (up to 512 KiB) on every refused try, which made frame-gen,
	 * not the processor, the limit at 1 M events/s. */
	while (g->cursor && atomic_load(&g->connected)) {
		if (g->held && g->held_seq != g->cursor->seq) {
			nng_msg_free(g->held);
			g->held = NULL;
		}
		if (!g->held) {
			int rv = nng_msg_alloc(&g->held, 0);

			if (rv || (rv = nng_msg_append(g->held, g->cursor->buf, g->cursor->len)))
				die("nng_msg_alloc", rv);
			g->held_seq = g->cursor->seq;
		}
		if (nng_sendmsg(g->sock, g->held, NNG_FLAG_NONBLOCK) != 0)
			break; /* still ours */
		g->held = NULL; /* nng's now */
		g->cursor = g->cursor->next;
		moved = true;
	}
	return moved;
}

static void nap(void)
{
	struct timespec ts = { 0, 100000 };

	nanosleep(&ts, NULL);
}

/* ---- steps ---- */

struct step {
	double rate, seconds;
	uint64_t gen_events, sent_events, dropped_events, acked_events, acked_pairs;
	uint64_t backlog_end, max_backlog;
	double behind_s, drain_s, elapsed_s;
	const char *result;
};

static void step_reset(struct gen *g)
{
	g->gen_events = g->sent_events = g->dropped_events = g->dropped_frames = 0;
	g->acked_events = g->acked_pairs = 0;
	g->max_backlog = g->bytes;
}

/* The loader's LOSS events: totals of dropped batches and their events. */
static void report_loss(struct gen *g)
{
	wire_pack_loss(&g->fr.pk, g->eg.ts_ns, SLUICE_LOSS_SPOOL_FULL, g->t_dropped_frames,
		       g->epoch_ns);
	wire_pack_loss(&g->fr.pk, g->eg.ts_ns, SLUICE_LOSS_SPOOL_EVENTS, g->t_dropped_events,
		       g->epoch_ns);
	g->fr.events += 2;
	g->loss_due = false;
}

/* Generates what the schedule says is due (at most a frame's worth per
 * call, so acks keep flowing); true if it completed a frame. (Not "if it
 * generated anything": at 1 M events/s something is always due, and the
 * loop never napped, polling nng, whose every call allocates an aio and
 * reads getrandom, on the CPU the processor's threads share.) */
static bool generate(struct gen *g, uint64_t due, uint64_t now)
{
	uint64_t n = 0;
	bool pushed = false;

	while (g->gen_events < due && !evframe_full(&g->fr)) {
		if (!g->fr.events)
			g->fr_first_ns = now;
		if (g->loss_due) {
			report_loss(g);
			continue;
		}
		if (!evframe_add(&g->fr, &g->eg))
			break;
		g->gen_events++;
		n++;
	}
	if (evframe_full(&g->fr) || (g->fr.events && now - g->fr_first_ns >= FLUSH_AGE_NS)) {
		spool_push(g);
		pushed = true;
	}
	return pushed && n > 0;
}

static bool drain(struct gen *g, double secs)
{
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9);

	if (g->fr.events)
		spool_push(g);
	while (g->head && now_ns() < end && !stop)
		if (!pump(g))
			nap();
	return g->head == NULL;
}

/* rate 0: as fast as the generator goes. */
static void run_step(struct gen *g, const struct opts *o, struct step *s)
{
	uint64_t t0 = now_ns(), dur = (uint64_t)(s->seconds * 1e9), now, t;

	step_reset(g);
	while (!stop && (now = now_ns()) - t0 < dur) {
		double el = (double)(now - t0) / 1e9;
		uint64_t due = s->rate > 0 ? (uint64_t)(s->rate * el) : UINT64_MAX;
		bool busy = generate(g, due, now);

		if (!pump(g) && !busy)
			nap();
	}
	t = now_ns();
	s->elapsed_s = (double)(t - t0) / 1e9;
	s->backlog_end = g->bytes;
	s->behind_s = s->rate > 0 ? (s->rate * s->elapsed_s - (double)g->gen_events) / s->rate : 0;
	drain(g, o->drain_seconds);
	s->drain_s = (double)(now_ns() - t) / 1e9;
	s->gen_events = g->gen_events;
	s->sent_events = g->sent_events;
	s->dropped_events = g->dropped_events;
	s->acked_events = g->acked_events;
	s->acked_pairs = g->acked_pairs;
	s->max_backlog = g->max_backlog;
	if (s->dropped_events)
		s->result = "drop";
	else if (g->head || s->backlog_end > g->limit / 2)
		s->result = "lag";
	else if (s->rate > 0 && s->behind_s > 0.02 * s->seconds)
		s->result = "gen";
	else
		s->result = "pass";
}

static void print_step(const struct step *s)
{
	printf("step rate=%.0f seconds=%.2f gen_events=%" PRIu64 " events_per_s=%.0f dropped_events=%"
	       PRIu64 " acked_events=%" PRIu64 " acked_pairs=%" PRIu64 " pairs_per_s=%.0f"
	       " backlog_end=%" PRIu64 " max_backlog=%" PRIu64 " behind_s=%.3f drain_s=%.3f result=%s\n",
	       s->rate, s->elapsed_s, s->gen_events, (double)s->gen_events / s->elapsed_s,
	       s->dropped_events, s->acked_events, s->acked_pairs,
	       (double)s->acked_pairs / s->elapsed_s, s->backlog_end, s->max_backlog, s->behind_s,
	       s->drain_s, s->result);
	fflush(stdout);
}

static bool one_step(struct gen *g, const struct opts *o, double rate, double *pairs_ps)
{
	struct step s = { .rate = rate, .seconds = o->step_seconds };

	run_step(g, o, &s);
	print_step(&s);
	*pairs_ps = (double)s.acked_pairs / s.elapsed_s;
	return strcmp(s.result, "pass") == 0;
}

static void ramp(struct gen *g, const struct opts *o)
{
	double rate = o->ramp_from, best = 0, best_pairs = 0, fail = 0, pairs;

	for (; rate <= o->ramp_to && !stop; rate *= o->ramp_factor) {
		if (!one_step(g, o, rate, &pairs)) {
			fail = rate;
			break;
		}
		best = rate;
		best_pairs = pairs;
	}
	printf("ramp max_rate=%.0f max_pairs_per_s=%.0f first_fail=%.0f total_acked_events=%" PRIu64
	       " total_acked_pairs=%" PRIu64 " total_dropped_events=%" PRIu64 "\n",
	       best, best_pairs, fail, g->t_acked_events, g->t_acked_pairs, g->t_dropped_events);
}

static void hold(struct gen *g, const struct opts *o)
{
	uint64_t t0 = now_ns();

	step_reset(g);
	/* with back-pressure: this measures memory, not a rate */
	while (!stop && g->eg.idle < g->eg.nconns) {
		if (g->bytes < g->limit / 2)
			generate(g, UINT64_MAX, now_ns());
		if (!pump(g))
			nap();
	}
	if (!drain(g, 60)) {
		printf("hold result=lag unacked_bytes=%zu\n", g->bytes);
		return;
	}
	printf("ready conns=%u events=%" PRIu64 " pairs=%" PRIu64 " dropped_events=%" PRIu64
	       " seconds=%.2f\n", o->conns, g->eg.events, g->eg.pairs, g->t_dropped_events,
	       (double)(now_ns() - t0) / 1e9);
	fflush(stdout);
	while (!stop)
		if (!pump(g))
			usleep(10000);
}

static void wait_connect(struct gen *g, double secs)
{
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9);

	while (!atomic_load(&g->connected) && now_ns() < end && !stop)
		usleep(10000);
	if (!atomic_load(&g->connected)) {
		fprintf(stderr, "frame-gen: no processor connected within %.0f s\n", secs);
		exit(1);
	}
}

/* Frames to a file; also how fast the generator itself goes. */
static void write_file(struct gen *g, const struct opts *o)
{
	FILE *f = strcmp(o->write, "-") ? fopen(o->write, "w") : stdout;
	uint64_t t0 = now_ns(), frames = 0;
	double s;

	if (!f)
		die(o->write, 0);
	while (g->eg.events < o->events) {
		if (!evframe_add(&g->fr, &g->eg))
			break;
		if (evframe_full(&g->fr) || g->eg.events == o->events) {
			uint32_t len = (uint32_t)g->fr.sb.size;

			evframe_finish(&g->fr, g->next_seq++);
			if (fwrite(&len, 4, 1, f) != 1 || fwrite(g->fr.sb.data, len, 1, f) != 1)
				die(o->write, 0);
			evframe_reset(&g->fr);
			frames++;
		}
	}
	if (fclose(f))
		die(o->write, 0);
	s = (double)(now_ns() - t0) / 1e9;
	fprintf(stderr, "wrote frames=%" PRIu64 " events=%" PRIu64 " pairs=%" PRIu64
		" gen_events_per_s=%.0f\n", frames, g->eg.events, g->eg.pairs, (double)g->eg.events / s);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: frame-gen --socket PATH (--rate R --seconds D | --ramp FROM:TO:FACTOR | --hold)\n"
		   "       frame-gen --write FILE --events N\n"
		   "  --conns N (256)  --pairs-per-conn K (32; 0: never close)  --spool-bytes N (32M)\n"
		   "  --step-seconds D (4)  --drain-seconds S (3)  --wait-connect S (10)\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", 1, 0, 's' }, { "conns", 1, 0, 'c' }, { "pairs-per-conn", 1, 0, 'k' },
		{ "spool-bytes", 1, 0, 'B' }, { "rate", 1, 0, 'r' }, { "seconds", 1, 0, 'd' },
		{ "ramp", 1, 0, 'R' }, { "step-seconds", 1, 0, 'D' },
		{ "drain-seconds", 1, 0, 'x' }, { "wait-connect", 1, 0, 'w' }, { "hold", 0, 0, 'H' },
		{ "write", 1, 0, 'W' }, { "events", 1, 0, 'n' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;

	*o = (struct opts){ .conns = 256, .pairs_per_conn = 32, .spool_bytes = 32u << 20,
			    .seconds = 5, .step_seconds = 4, .drain_seconds = 3, .wait_connect = 10,
			    .events = 1000000, .rate = -1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'c': o->conns = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'k': o->pairs_per_conn = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'B': o->spool_bytes = strtoull(optarg, NULL, 10); break;
		case 'r': o->rate = atof(optarg); break;
		case 'd': o->seconds = atof(optarg); break;
		case 'D': o->step_seconds = atof(optarg); break;
		case 'x': o->drain_seconds = atof(optarg); break;
		case 'w': o->wait_connect = atof(optarg); break;
		case 'H': o->hold = 1; break;
		case 'W': o->write = optarg; break;
		case 'n': o->events = strtoull(optarg, NULL, 10); break;
		case 'R':
			o->ramp = sscanf(optarg, "%lf:%lf:%lf", &o->ramp_from, &o->ramp_to,
					 &o->ramp_factor) == 3;
			if (!o->ramp || o->ramp_from <= 0 || o->ramp_factor <= 1) {
				fprintf(stderr, "frame-gen: --ramp FROM:TO:FACTOR, FROM > 0, FACTOR > 1\n");
				exit(2);
			}
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (!o->conns || (!o->write && !o->socket) ||
	    (!o->write && !o->ramp && !o->hold && o->rate < 0)) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static struct gen g;
	struct opts o;
	struct timespec ts;

	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	clock_gettime(CLOCK_REALTIME, &ts);
	/* like the loader: seqs start at wall-clock µs */
	g.next_seq = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
	g.epoch_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	g.limit = o.spool_bytes;
	if (evgen_init(&g.eg, o.conns, o.hold ? 1 : o.pairs_per_conn, o.hold, 1ull << 40))
		die("out of memory", 0);
	evframe_init(&g.fr);
	if (o.write) {
		write_file(&g, &o);
		return 0;
	}
	listen_on(&g, o.socket);
	wait_connect(&g, o.wait_connect);
	printf("connected\n");
	if (o.hold) {
		hold(&g, &o);
	} else if (o.ramp) {
		ramp(&g, &o);
	} else {
		double pairs;

		one_step(&g, &(struct opts){ .step_seconds = o.seconds, .drain_seconds = o.drain_seconds },
			 o.rate, &pairs);
	}
	if (g.held)
		nng_msg_free(g.held);
	nng_close(g.sock);
	unlink(o.socket);
	evframe_free(&g.fr);
	evgen_free(&g.eg);
	return 0;
}
