/* sluice-processor: receives event batches from the loader, pairs HTTP/1.x
 * requests and responses, and writes them out. Runs unprivileged.
 * Life: parse flags and the config file -> set up (state, output, exporters,
 * socket) -> loop (receive, process, ack) -> stop (record the last processed
 * seq, flush exporters) -> exit. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep */

#include "common/log.h"
#include "common/wire.h"
#include "processor/checkpoint.h"
#include "processor/config.h"
#include "processor/export.h"
#include "processor/flows.h"
#include "processor/k8s.h"
#include "processor/names.h"
#include "processor/processor.h"
#include "processor/rdns.h"
#include "processor/service.h"
#include "processor/store.h"

#define DEFAULT_SOCKET "/run/sluice/loader.sock"
#define DEFAULT_MAX_CONNS 65536
#define STATUS_EVERY_NS 1000000000ULL
/* A checkpoint (and the ack it allows) at least this often while frames
 * arrive, or sooner once this many frame bytes wait for one: the loader's
 * spool holds everything unacked, so this bounds its use and how much a
 * kill -9 can make the processor repeat. */
#define CHECKPOINT_EVERY_NS 500000000ULL
#define CHECKPOINT_EVERY_BYTES (4u << 20)

struct opts {
	const char *socket;  /* loader's ipc socket path */
	const char *jsonl;   /* JSON lines destination, "-" = stdout */
	const char *status;  /* status file, rewritten every second */
	const char *state;   /* checkpoint file: seq + connections survive restarts */
	uint32_t max_conns;
	uint32_t max_pending; /* requests awaiting a response, all connections; 0: default */
	uint32_t loader_uid;  /* a loader may run as this uid too (not only root) */
	int loader_uid_set;
	int quiet;           /* no human lines on stdout */
	const char *config;  /* config file named by --config; NULL: the default */
	const char *metrics_listen, *otlp_endpoint; /* override the file's [export] */
	const char *db;      /* metadata store; NULL: STORE_DEFAULT_PATH, "none": off */
	const char *pods_file; /* kubectl get pods -o json output, for pod names */
	uint32_t db_max_conns; /* 0: STORE_DEFAULT_MAX_CONNS */
	uint32_t db_max_age; /* seconds, when db_max_age_set */
	int db_max_age_set;
	const char *rdns;    /* --rdns: "active" looks up PTRs; NULL or "off": passive only */
	const char *k8s;     /* --k8s auto|on|off; NULL: auto */
	int k8s_on;          /* what that decides (k8s_mode) */
	struct k8s_opts k8s_o; /* --k8s-api, --k8s-sa-dir, --node-name */
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
		"  --state PATH      checkpoint file: restarts lose and repeat nothing\n"
		"  --max-conns N     connections tracked at once (default %d)\n"
		"  --max-pending N   requests awaiting a response, all connections together\n"
		"                    (default %d; when full, the oldest are emitted incomplete)\n"
		"  --loader-uid UID  accept a loader socket served by UID as well as by root\n"
		"  --config PATH     config file (default " CONFIG_DEFAULT_PATH "; flags win)\n"
		"  --metrics-listen HOST:PORT  Prometheus /metrics (default 127.0.0.1:9464, 'none': off)\n"
		"  --otlp-endpoint URL  send OTLP/HTTP traces and metrics to URL/v1/... (default: off)\n"
		"  --db PATH         metadata store (default " STORE_DEFAULT_PATH ", 'none': off)\n"
		"  --db-max-conns N  newest connections kept in it (default %d)\n"
		"  --db-max-age SECS closed connections and exited processes older go (default %d, 0: never)\n"
		"  --pods-file PATH  pod names from `kubectl get pods -o json` output, re-read on change\n"
		"  --k8s MODE        pod names from the Kubernetes API (list+watch this node's pods):\n"
		"                    auto (default: on with --k8s-api, or in a cluster, i.e.\n"
		"                    KUBERNETES_SERVICE_HOST/_PORT set, unless --pods-file is given),\n"
		"                    on, off\n"
		"  --k8s-api URL     API server (default https://$KUBERNETES_SERVICE_HOST:$..._PORT)\n"
		"  --k8s-sa-dir DIR  service account token and ca.crt\n"
		"                    (default " K8S_SA_DIR_DEFAULT ")\n"
		"  --node-name NAME  this node (default $NODE_NAME, else the hostname)\n"
		"  --rdns MODE       active: PTR lookups (c-ares) for addresses no DNS answer named;\n"
		"                    off (default): names only from the DNS answers sluice sees\n"
		"  --verbose         debug logging\n"
		"  --version, --help\n",
		DEFAULT_MAX_CONNS, CONNTRACK_DEFAULT_PENDING, STORE_DEFAULT_MAX_CONNS,
		STORE_DEFAULT_MAX_AGE_S);
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
		{ "max-pending", required_argument, 0, 'p' }, { "loader-uid", required_argument, 0, 'L' },
		{ "verbose", no_argument, 0, 'v' },      { "version", no_argument, 0, 'V' },
		{ "help", no_argument, 0, 'h' },         { "config", required_argument, 0, 'c' },
		{ "metrics-listen", required_argument, 0, 'M' },
		{ "otlp-endpoint", required_argument, 0, 'O' },
		{ "db", required_argument, 0, 'd' },     { "db-max-conns", required_argument, 0, 'D' },
		{ "db-max-age", required_argument, 0, 'A' }, { "pods-file", required_argument, 0, 'P' },
		{ "rdns", required_argument, 0, 'R' },
		{ "k8s", required_argument, 0, 'K' },   { "k8s-api", required_argument, 0, 'U' },
		{ "k8s-sa-dir", required_argument, 0, 'a' }, { "node-name", required_argument, 0, 'N' },
		{ 0, 0, 0, 0 },
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
		case 'p': o->max_pending = parse_count("--max-pending", optarg, 1, HTTP1_POOL_MAX); break;
		case 'L':
			o->loader_uid = parse_count("--loader-uid", optarg, 0, UINT32_MAX - 1);
			o->loader_uid_set = 1;
			break;
		case 'v': log_verbose = 1; break;
		case 'c': o->config = optarg; break;
		case 'M': o->metrics_listen = optarg; break;
		case 'O': o->otlp_endpoint = optarg; break;
		case 'd': o->db = optarg; break;
		case 'D': o->db_max_conns = parse_count("--db-max-conns", optarg, 1, 1u << 30); break;
		case 'A':
			o->db_max_age = parse_count("--db-max-age", optarg, 0, 10u * 366 * 86400);
			o->db_max_age_set = 1;
			break;
		case 'P': o->pods_file = optarg; break;
		case 'R': o->rdns = optarg; break;
		case 'K': o->k8s = optarg; break;
		case 'U': o->k8s_o.api = optarg; break;
		case 'a': o->k8s_o.sa_dir = optarg; break;
		case 'N': o->k8s_o.node = optarg; break;
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
	char err[512];

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
	o->k8s_on = k8s_mode(o->k8s, o->k8s_o.api, o->pods_file != NULL, err, sizeof(err));
	if (o->k8s_on < 0)
		fatal("%s", err);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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

static void status_write(FILE *f, const void *arg)
{
	processor_status_json(arg, f);
}

/* A kill -9 can leave the last line half-written. Everything a checkpoint
 * covers was flushed before it was written, so that line comes from after
 * the checkpoint and is about to be produced again: cut it off rather than
 * append to it. */
static void jsonl_cut_torn_line(FILE *f, const char *path)
{
	char buf[4096];
	off_t end = ftello(f), pos = end;
	ssize_t n;

	while (pos > 0) {
		size_t want = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);

		n = pread(fileno(f), buf, want, pos - (off_t)want);
		if (n != (ssize_t)want)
			return;
		for (ssize_t i = n - 1; i >= 0; i--)
			if (buf[i] == '\n') {
				off_t keep = pos - (off_t)want + i + 1;

				if (keep != end && ftruncate(fileno(f), keep) == 0)
					log_warn("%s: cut a torn last line (%lld bytes) left by a crash",
						 path, (long long)(end - keep));
				return;
			}
		pos -= (off_t)want;
	}
	if (end > 0 && ftruncate(fileno(f), 0) == 0)
		log_warn("%s: cut a torn line (%lld bytes) left by a crash", path, (long long)end);
}

static FILE *open_jsonl(const char *path)
{
	FILE *f;

	if (!path)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	/* a+: appends, and can be read to find a torn last line */
	if (!(f = fopen(path, "a+")))
		fatal("--jsonl: cannot open %s: %s", path, strerror(errno));
	/* one write per 64 KiB of lines, not per 4 KiB; every checkpoint
	 * flushes it (ack_if_due) and the status tick each second */
	setvbuf(f, NULL, _IOFBF, 64u << 10);
	fseeko(f, 0, SEEK_END);
	jsonl_cut_torn_line(f, path);
	return f;
}

/* The processor dials, so whoever listens on the socket path is its peer:
 * only a listener running as root or as --loader-uid may feed it. Any other
 * is closed before a byte of it is read (nng thread, before the pipe
 * starts) and counted; nng dials again, so one is logged a minute. */
static uint64_t loader_uid;
static atomic_uint_fast64_t peers_refused;

static void on_pipe_add(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	uint64_t uid = UINT64_MAX;

	(void)ev;
	(void)arg;
	nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &uid);
	if (uid == 0 || uid == loader_uid)
		return;
	if (atomic_fetch_add(&peers_refused, 1) % 60 == 0)
		log_warn("refused the loader socket: it is served by uid %lld, not by root or "
			 "--loader-uid", (long long)uid);
	nng_pipe_close(pipe);
}

static nng_socket dial_loader(const char *path)
{
	char url[128];
	nng_socket s;
	int rv;

	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_pair1_open(&s)) != 0)
		fatal("cannot open nng pair socket: %s", nng_strerror(rv));
	if ((rv = service_watch(s)) != 0) /* before dialing: no connection goes unseen */
		fatal("cannot watch nng pipes: %s", nng_strerror(rv));
	if ((rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, on_pipe_add, NULL)) != 0)
		fatal("cannot check the loader's uid: %s", nng_strerror(rv));
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

/* What the processor owes the loader: the seq it may acknowledge. */
struct acker {
	uint64_t acked;        /* last seq acked */
	uint64_t pending_bytes; /* frame bytes processed since the last checkpoint */
	uint64_t last_ckpt_ns;
	const char *state;     /* NULL: no checkpoints, ack at once */
	bool writing;          /* a checkpoint is on the store's commit thread */
	uint64_t writing_seq;  /* ...covering this seq */
};

/* The checkpoint on the commit thread is written: ack what it covers. */
static void ack_written(struct processor *p, nng_socket s, struct acker *a)
{
	int err = checkpoint_finish(p);

	a->writing = false;
	if (err < 0) {
		log_warn("cannot write checkpoint %s: %s (not acking)", a->state, strerror(-err));
		return;
	}
	send_ack(s, a->writing_seq);
	a->acked = a->writing_seq;
}

/* Acks everything processed, after a checkpoint when there is a state file
 * (an ack lets the loader forget: only what a checkpoint holds may go).
 * The order that makes an ack safe, for seq N = done_seq: the JSON lines of
 * batches up to N are flushed, the store commits their rows (recording N),
 * the checkpoint of N is written, then N is acked. Usually the first step
 * runs here and the rest on the store's commit thread (one job: commit,
 * then the checkpoint's bytes, prepared here as of N), and a later call
 * sees it done and acks; a checkpoint of more than 1 MiB, rows of names
 * or flows waiting, or force (a clean stop) do it all here. */
static void ack_if_due(struct processor *p, nng_socket s, struct acker *a, bool force)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	int err;

	if (a->writing) {
		if (force)
			store_wait(p->store);
		else if (!store_idle(p->store))
			return;
		ack_written(p, s, a);
	}
	if (p->done_seq == a->acked)
		return;
	if (a->state) {
		if (!force && a->pending_bytes < CHECKPOINT_EVERY_BYTES &&
		    now - a->last_ckpt_ns < CHECKPOINT_EVERY_NS)
			return;
		if (!force && !store_idle(p->store))
			return; /* a store commit is running: the next frame tries again */
		/* what a checkpoint covers must be out of our buffers: after a
		 * kill -9 the loader resends only what comes after it */
		if (p->out.jsonl)
			fflush(p->out.jsonl);
		a->last_ckpt_ns = now;
		if (!force && checkpoint_prepare(p, a->state) == 0) {
			a->pending_bytes = 0;
			a->writing = true;
			a->writing_seq = p->done_seq;
			/* store rows first: once acked, the loader cannot resend their batches */
			store_commit_async(p->store, p->done_seq, checkpoint_write_prepared, p->ckpt);
			if (store_idle(p->store)) /* written already (or inline) */
				ack_written(p, s, a);
			return;
		}
		/* store rows first: once acked, the loader cannot resend their batches */
		store_flush(p->store, p->done_seq);
		if ((err = checkpoint_save(p, a->state)) < 0) {
			log_warn("cannot write checkpoint %s: %s (not acking)", a->state,
				 strerror(-err));
			return;
		}
		a->pending_bytes = 0;
	}
	send_ack(s, p->done_seq);
	a->acked = p->done_seq;
}

static void handle_msg(struct processor *p, nng_socket s, nng_msg *m, struct acker *a)
{
	int n = processor_frame(p, nng_msg_body(m), nng_msg_len(m));

	if (n == -EPROTO)
		log_warn("malformed frame of %zu bytes skipped", nng_msg_len(m));
	if (n >= 0)
		a->pending_bytes += nng_msg_len(m);
	else if (n == -EALREADY && p->done_seq == a->acked)
		send_ack(s, p->done_seq); /* a replay of what is already safe: let it go */
	nng_msg_free(m);
	ack_if_due(p, s, a, false);
}

/* Names and flows go into the store and the metrics; --rdns=active adds
 * PTR lookups. A resolver that cannot start is fatal: it was asked for. */
static void setup_names(struct processor *p, const struct opts *o)
{
	char err[256];
	struct rdns *r;

	names_attach_store(p->names, p->store, (int64_t)now_ns(CLOCK_REALTIME));
	flows_attach_store(p->flows, p->store);
	flows_set_metrics(p->flows, export_metrics(p->exp));
	if (!o->rdns || !strcmp(o->rdns, "off"))
		return;
	if (strcmp(o->rdns, "active"))
		fatal("--rdns: '%s' is neither active nor off", o->rdns);
	if (!(r = rdns_new(0, err, sizeof(err))))
		fatal("--rdns active: %s", err);
	names_set_rdns(p->names, r);
	log_info("active reverse DNS: PTR lookups for unnamed addresses, at most %d a second",
		 RDNS_DEFAULT_RATE);
}

/* The metadata store, unless --db none. A file it cannot use is fatal:
 * running without the store the user asked for would only look healthy. */
static struct store *open_store(const struct opts *o, const struct processor *p)
{
	struct store_opts so = {
		.path = o->db ? o->db : STORE_DEFAULT_PATH,
		.max_conns = o->db_max_conns,
		.max_age_s = o->db_max_age_set ? o->db_max_age : STORE_DEFAULT_MAX_AGE_S,
		.pods_file = o->pods_file,
		.boot_to_unix_ns = p->out.boot_to_unix_ns,
		.done_seq = p->done_seq,
	};
	struct store *st;

	if (strcmp(so.path, "none") == 0)
		return NULL;
	if (!(st = store_open(&so)))
		fatal("cannot use the metadata store %s (see above; --db none runs without one)",
		      so.path);
	return st;
}

/* Pod names from the Kubernetes API, into the store (--k8s). A setting
 * that cannot work is fatal; an API that does not answer is not: its
 * thread retries and the status file says how it goes. */
static struct k8s *start_k8s(const struct opts *o, struct store *st)
{
	char err[512];
	struct k8s *k;

	if (!o->k8s_on)
		return NULL;
	if (!st) {
		log_warn("--k8s: no metadata store (--db none): not watching pods");
		return NULL;
	}
	if (!(k = k8s_start(&o->k8s_o, err, sizeof(err))))
		fatal("--k8s: %s", err);
	store_attach_k8s(st, k);
	return k;
}

static void run_loop(struct processor *p, nng_socket s, const struct opts *o, struct acker *a)
{
	uint64_t next_status = 0;
	nng_msg *m;
	int rv;

	while (!stop_requested) {
		rv = nng_recvmsg(s, &m, 0);
		if (rv == 0)
			handle_msg(p, s, m, a);
		else if (rv == NNG_ETIMEDOUT)
			ack_if_due(p, s, a, false);
		else
			log_warn("receive failed: %s", nng_strerror(rv));
		processor_tick(p, now_ns(CLOCK_MONOTONIC));
		service_tick(p, now_ns(CLOCK_MONOTONIC));
		if (now_ns(CLOCK_MONOTONIC) >= next_status) {
			fflush(NULL);
			p->peers_refused = atomic_load(&peers_refused);
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
	struct acker a = { 0 };
	struct k8s *k8s;
	char err[512];
	nng_socket s;

	log_init("sluice-processor");
	parse_opts(argc, argv, &o);
	load_config(&o, &cfg);
	loader_uid = o.loader_uid_set ? o.loader_uid : 0;
	if (processor_init_limits(&p, o.max_conns,
				  o.max_pending ? o.max_pending : CONNTRACK_DEFAULT_PENDING) < 0)
		fatal("cannot allocate a table for %u connections", o.max_conns);
	if (o.state && checkpoint_load(&p, o.state) == -ENOENT)
		log_info("no checkpoint at %s yet: starting fresh", o.state);
	a.acked = p.done_seq;
	a.state = o.state;
	p.out.jsonl = open_jsonl(o.jsonl);
	p.out.human = (o.quiet || (o.jsonl && strcmp(o.jsonl, "-") == 0)) ? NULL : stdout;
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0); /* live view: a line as it happens */
	p.out.boot_to_unix_ns = (int64_t)(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_BOOTTIME));
	p.store = open_store(&o, &p);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (!(p.exp = export_start(&cfg, err, sizeof(err))))
		fatal("%s", err);
	setup_names(&p, &o);
	k8s = start_k8s(&o, p.store);
	service_check_no_bpf();
	s = dial_loader(o.socket);
	service_ready(o.socket);

	run_loop(&p, s, &o, &a);
	service_stopping();
	store_attach_k8s(p.store, NULL); /* what it handed over is still committed below */
	k8s_stop(k8s);

	/* a clean stop checkpoints and acks everything: the next run repeats nothing */
	ack_if_due(&p, s, &a, true);
	nng_msleep(50); /* let the ack leave before the socket closes */
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
