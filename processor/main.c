/* sluice-processor: receives event batches from the loader, pairs HTTP/1.x
 * requests and responses, and writes them out. Runs unprivileged.
 * Life: parse flags and the config file -> set up (state, output, exporters,
 * socket) -> loop (receive, process, ack) -> stop (record the last processed
 * seq, flush exporters) -> exit. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "common/log.h"
#include "common/wire.h"
#include "processor/config.h"
#include "processor/export.h"
#include "processor/processor.h"

#define DEFAULT_SOCKET "/run/sluice/loader.sock"
#define DEFAULT_MAX_CONNS 65536
#define STATUS_EVERY_NS 1000000000ULL

struct opts {
	const char *socket;  /* loader's ipc socket path */
	const char *jsonl;   /* JSON lines destination, "-" = stdout */
	const char *status;  /* status file, rewritten every second */
	const char *state;   /* where the last processed seq survives a restart */
	uint32_t max_conns;
	int quiet;           /* no human lines on stdout */
	const char *config;  /* config file named by --config; NULL: the default */
	const char *metrics_listen, *otlp_endpoint; /* override the file's [export] */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-processor [options]\n"
		"  --socket PATH     loader socket (default " DEFAULT_SOCKET ")\n"
		"  --jsonl PATH      write one JSON object per pair to PATH ('-' = stdout)\n"
		"  --quiet           no human-readable lines on stdout\n"
		"  --status PATH     rewrite a JSON status file every second\n"
		"  --state PATH      keep the last processed batch seq here across restarts\n"
		"  --max-conns N     connections tracked at once (default %d)\n"
		"  --config PATH     config file (default " CONFIG_DEFAULT_PATH "; flags win)\n"
		"  --metrics-listen HOST:PORT  Prometheus /metrics (default 127.0.0.1:9464, 'none': off)\n"
		"  --otlp-endpoint URL  send OTLP/HTTP traces and metrics to URL/v1/... (default: off)\n"
		"  --verbose         debug logging\n"
		"  --version, --help\n",
		DEFAULT_MAX_CONNS);
}

static uint32_t parse_count(const char *flag, const char *s, uint32_t min, uint32_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		fatal("%s: '%s' is not a number from %u to %u", flag, s, min, max);
	return (uint32_t)v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, 0, 's' }, { "jsonl", required_argument, 0, 'j' },
		{ "quiet", no_argument, 0, 'q' },        { "status", required_argument, 0, 'S' },
		{ "state", required_argument, 0, 't' },  { "max-conns", required_argument, 0, 'm' },
		{ "verbose", no_argument, 0, 'v' },      { "version", no_argument, 0, 'V' },
		{ "help", no_argument, 0, 'h' },         { "config", required_argument, 0, 'c' },
		{ "metrics-listen", required_argument, 0, 'M' },
		{ "otlp-endpoint", required_argument, 0, 'O' }, { 0, 0, 0, 0 },
	};
	int c;

	*o = (struct opts){ 0 }; /* unset: the config file or the defaults decide */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'j': o->jsonl = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'S': o->status = optarg; break;
		case 't': o->state = optarg; break;
		case 'm': o->max_conns = parse_count("--max-conns", optarg, 16, 1u << 24); break;
		case 'v': log_verbose = 1; break;
		case 'c': o->config = optarg; break;
		case 'M': o->metrics_listen = optarg; break;
		case 'O': o->otlp_endpoint = optarg; break;
		case 'V': puts("sluice-processor " SLUICE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc)
		fatal("unexpected argument '%s' (see --help)", argv[optind]);
}

/* The config file, flags over it, defaults under both. Any error in either
 * and the processor does not start: a guess could export the wrong thing. */
static void load_config(struct opts *o, struct config *cfg)
{
	const char *path = o->config ? o->config : CONFIG_DEFAULT_PATH;

	config_load(cfg, path, o->config != NULL);
	if (o->metrics_listen)
		config_set(cfg, "export", "metrics_listen", o->metrics_listen, "--metrics-listen");
	if (o->otlp_endpoint)
		config_set(cfg, "export", "otlp_endpoint", o->otlp_endpoint, "--otlp-endpoint");
	if (cfg->nerrors) {
		fputs(cfg->errors, stderr);
		fatal("invalid configuration (%d error%s above): not starting", cfg->nerrors,
		      cfg->nerrors > 1 ? "s" : "");
	}
	o->socket = o->socket ? o->socket : cfg->socket ? cfg->socket : DEFAULT_SOCKET;
	o->jsonl = o->jsonl ? o->jsonl : cfg->jsonl;
	o->status = o->status ? o->status : cfg->status;
	o->state = o->state ? o->state : cfg->state;
	o->max_conns = o->max_conns ? o->max_conns : cfg->max_conns ? cfg->max_conns : DEFAULT_MAX_CONNS;
	o->quiet = o->quiet || cfg->quiet;
	log_verbose = log_verbose || cfg->verbose;
	if (strlen(o->socket) > 100)
		fatal("--socket: path longer than 100 bytes");
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The last seq a previous run processed; 0 when there was none. */
static uint64_t state_load(const char *path)
{
	uint64_t seq = 0;
	FILE *f;

	if (!path || !(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "last_seq %" SCNu64, &seq) != 1) {
		log_warn("%s: not a state file, starting without it", path);
		seq = 0;
	}
	fclose(f);
	return seq;
}

/* Writes path atomically: a reader or a crash sees the old or the new file. */
static void write_atomic(const char *path, void (*fn)(FILE *, const void *), const void *arg)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "w"))) {
		log_warn("cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	fn(f, arg);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		log_warn("cannot replace %s: %s", path, strerror(errno));
}

static void state_write(FILE *f, const void *arg)
{
	fprintf(f, "last_seq %" PRIu64 "\n", *(const uint64_t *)arg);
}

static void status_write(FILE *f, const void *arg)
{
	processor_status_json(arg, f);
}

static FILE *open_jsonl(const char *path)
{
	FILE *f;

	if (!path)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	if (!(f = fopen(path, "a")))
		fatal("--jsonl: cannot open %s: %s", path, strerror(errno));
	return f;
}

static nng_socket dial_loader(const char *path)
{
	char url[128];
	nng_socket s;
	int rv;

	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_pair1_open(&s)) != 0)
		fatal("cannot open nng pair socket: %s", nng_strerror(rv));
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, WIRE_MAX_FRAME);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 100);
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 1000);
	/* non-blocking dial: nng keeps retrying until the loader is there */
	if ((rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		fatal("cannot dial %s: %s", url, nng_strerror(rv));
	log_info("connecting to loader at %s", url);
	return s;
}

static void send_ack(nng_socket s, uint64_t seq)
{
	uint8_t ack[WIRE_ACK_LEN];
	int rv;

	wire_ack_encode(ack, seq);
	if ((rv = nng_send(s, ack, sizeof(ack), 0)) != 0)
		log_debug("ack %" PRIu64 " not sent: %s", seq, nng_strerror(rv));
}

static void handle_msg(struct processor *p, nng_socket s, nng_msg *m)
{
	int n = processor_frame(p, nng_msg_body(m), nng_msg_len(m));

	if (n == -EPROTO)
		log_warn("malformed frame of %zu bytes skipped", nng_msg_len(m));
	/* replays are acked too, so the loader can free them */
	if (n >= 0 || n == -EALREADY)
		send_ack(s, p->done_seq);
	nng_msg_free(m);
}

static void run_loop(struct processor *p, nng_socket s, const struct opts *o)
{
	uint64_t next_status = 0;
	nng_msg *m;
	int rv;

	while (!stop_requested) {
		rv = nng_recvmsg(s, &m, 0);
		if (rv == 0)
			handle_msg(p, s, m);
		else if (rv != NNG_ETIMEDOUT)
			log_warn("receive failed: %s", nng_strerror(rv));
		if (now_ns(CLOCK_MONOTONIC) >= next_status) {
			fflush(NULL);
			if (o->status)
				write_atomic(o->status, status_write, p);
			export_health(p->exp, p);
			next_status = now_ns(CLOCK_MONOTONIC) + STATUS_EVERY_NS;
		}
	}
}

int main(int argc, char **argv)
{
	struct processor p;
	struct opts o;
	struct config cfg;
	char err[512];
	nng_socket s;

	log_init("sluice-processor");
	parse_opts(argc, argv, &o);
	load_config(&o, &cfg);
	if (processor_init(&p, o.max_conns) < 0)
		fatal("cannot allocate a table for %u connections", o.max_conns);
	p.done_seq = state_load(o.state);
	p.out.jsonl = open_jsonl(o.jsonl);
	p.out.human = (o.quiet || (o.jsonl && strcmp(o.jsonl, "-") == 0)) ? NULL : stdout;
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0); /* live view: a line as it happens */
	p.out.boot_to_unix_ns = (int64_t)(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_BOOTTIME));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (!(p.exp = export_start(&cfg, err, sizeof(err))))
		fatal("%s", err);
	s = dial_loader(o.socket);

	run_loop(&p, s, &o);

	if (o.state)
		write_atomic(o.state, state_write, &p.done_seq);
	if (o.status)
		write_atomic(o.status, status_write, &p);
	export_stop(p.exp, &p);
	p.exp = NULL;
	log_info("stopped after seq %" PRIu64 ": %" PRIu64 " frames, %" PRIu64 " events, %" PRIu64
		 " pairs", p.done_seq, p.dec.frames, p.dec.events, p.out.pairs);
	nng_close(s);
	if (p.out.jsonl && p.out.jsonl != stdout)
		fclose(p.out.jsonl);
	processor_fini(&p);
	config_free(&cfg);
	return 0;
}
