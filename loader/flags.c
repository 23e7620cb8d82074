/* Command-line flags of sluice-loader: one table says how each is spelled,
 * where it goes and what it accepts; --help is printed from it. Every value
 * is checked here, so the rest of the loader can trust struct loader_cfg. */
#include "loader/loader.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/events.h"

#define F(field) offsetof(struct loader_cfg, field)

static const struct flag {
	const char *name, *arg, *help;
	size_t off;        /* the field in struct loader_cfg */
	char type;         /* '/' absolute path, 'w' word, 'n' number, 'k' N[KMG], '2' power of 2, 'b' switch */
	uint64_t min, max; /* numbers: the range; paths and words: the longest */
} flags[] = {
	{ "socket", "PATH", "listen on ipc://PATH (/run/sluice/loader.sock)", F(socket_path), '/', 1, 107 },
	{ "capture-bytes", "N", "payload bytes kept per syscall, 1..16384 (4096)", F(capture_bytes),
	  'n', 1, SLUICE_CAPTURE_MAX },
	{ "cgroup", "PATH", "trace only tasks under this cgroup v2 directory", F(cgroup_path), '/', 1,
	  4095 },
	{ "spool-bytes", "N[KMG]", "memory for unacked batches, 1M..16G (64M)", F(spool_bytes), 'k',
	  1 << 20, 16ull << 30 },
	{ "ringbuf-bytes", "N[KMG]", "kernel ring buffer, a power of 2 in 4K..1G (16M)",
	  F(ringbuf_bytes), '2', 4096, 1 << 30 },
	{ "pin-dir", "DIR", "pin probes here: they outlive the loader (/sys/fs/bpf/sluice)",
	  F(pin_dir), '/', 1, 200 },
	{ "no-pin", NULL, "pin nothing: probes detach when the loader exits", F(no_pin), 'b', 0, 0 },
	{ "unload", NULL, "detach and remove what is pinned in --pin-dir, then exit", F(unload), 'b',
	  0, 0 },
	{ "processor-user", "NAME", "only root or NAME may connect (sluice, if it exists)",
	  F(processor_user), 'w', 1, 64 },
	{ "verbose", NULL, "debug logging, libbpf's too", F(verbose), 'b', 0, 0 },
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static void usage(void)
{
	printf("usage: sluice-loader [options]\n"
	       "Loads sluice's BPF probes and forwards their events to sluice-processor.\n\n");
	for (size_t i = 0; i < NFLAGS; i++) {
		char spelled[64];

		snprintf(spelled, sizeof(spelled), "--%s %s", flags[i].name,
			 flags[i].arg ? flags[i].arg : "");
		printf("  %-22s %s\n", spelled, flags[i].help);
	}
	printf("  --help, --version\n");
	exit(0);
}

/* Strict unsigned parse with an optional K/M/G (binary) suffix. */
static int parse_size(const char *s, bool suffix_ok, uint64_t *out)
{
	const char *unit;
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno)
		return -EINVAL;
	if (suffix_ok && *end && !end[1] && (unit = strchr("KMG", *end))) {
		shift = 10 * (unsigned)(unit - "KMG" + 1);
		end++;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "sluice-loader: invalid %s '%s' (see --help)\n", what, val);
	return -EINVAL;
}

static int set_flag(struct loader_cfg *cfg, const struct flag *f, const char *arg)
{
	char *field = (char *)cfg + f->off;
	char name[32];
	uint64_t v;

	snprintf(name, sizeof(name), "--%s", f->name);
	if (f->type == 'b') {
		*(bool *)field = true;
	} else if (strchr("/w", f->type)) {
		if (!arg[0] || strlen(arg) > f->max || (f->type == '/' && arg[0] != '/'))
			return bad(name, arg);
		*(const char **)field = arg;
	} else {
		if (parse_size(arg, f->type != 'n', &v) || v < f->min || v > f->max ||
		    (f->type == '2' && (v & (v - 1))))
			return bad(name, arg);
		*(uint64_t *)field = v;
	}
	return 0;
}

int flags_parse(int argc, char **argv, struct loader_cfg *cfg)
{
	struct option opts[NFLAGS + 3] = { [NFLAGS] = { "help", no_argument, NULL, 'h' },
					   [NFLAGS + 1] = { "version", no_argument, NULL, 'V' } };
	int opt;

	for (size_t i = 0; i < NFLAGS; i++)
		opts[i] = (struct option){ flags[i].name, flags[i].arg ? required_argument : no_argument,
					   NULL, (int)i + 1 };
	*cfg = (struct loader_cfg){ .socket_path = "/run/sluice/loader.sock",
				    .pin_dir = "/sys/fs/bpf/sluice",
				    .capture_bytes = SLUICE_CAPTURE_DEFAULT,
				    .spool_bytes = 64u << 20,
				    .ringbuf_bytes = 16u << 20 };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'h')
			usage();
		if (opt == 'V') {
			puts("sluice-loader " SLUICE_VERSION);
			exit(0);
		}
		if (opt == '?' || opt > (int)NFLAGS)
			return bad("option", argv[optind - 1]);
		if (set_flag(cfg, &flags[opt - 1], optarg))
			return -EINVAL;
	}
	if (optind < argc)
		return bad("argument (it takes none)", argv[optind]);
	if (cfg->no_pin && cfg->unload)
		return bad("option with --no-pin", "--unload");
	if (cfg->no_pin)
		cfg->pin_dir = NULL;
	return 0;
}
