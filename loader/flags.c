/* Command-line flags of sluice-loader: every value is checked here, so the
 * rest of the loader can trust struct loader_cfg. */
#include "loader/loader.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/events.h"
#include "common/log.h"

static const char usage[] =
	"usage: sluice-loader [options]\n"
	"Loads sluice's BPF probes and forwards their events to sluice-processor.\n\n"
	"  --socket PATH         listen on ipc://PATH (default /run/sluice/loader.sock)\n"
	"  --capture-bytes N     payload bytes kept per syscall, 1..16384 (default 4096)\n"
	"  --cgroup PATH         trace only tasks under this cgroup v2 directory\n"
	"  --spool-bytes N[KMG]  memory for unacknowledged batches (default 64M)\n"
	"  --ringbuf-bytes N[KMG] kernel ring buffer, a power of two (default 16M)\n"
	"  --pin-dir DIR         keep probes attached across restarts, pinned in DIR\n"
	"                        (default /sys/fs/bpf/sluice)\n"
	"  --no-pin              nothing pinned: probes detach when the loader exits\n"
	"  --unload              detach and remove what is pinned in --pin-dir, exit\n"
	"  --processor-user NAME accept a processor running as NAME (or root) only\n"
	"                        (default sluice if that user exists, else any)\n"
	"  --verbose             debug logging (includes libbpf's)\n"
	"  --help, --version\n";

/* Strict unsigned parse with an optional K/M/G (binary) suffix. */
static int parse_size(const char *s, bool suffix_ok, uint64_t *out)
{
	static const char units[] = "KMG";
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (suffix_ok && *end && !end[1]) {
		const char *p = strchr(units, *end);

		if (!p)
			return -EINVAL;
		shift = 10 * (unsigned)(p - units + 1);
		end++;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int bad(const char *flag, const char *val, const char *why)
{
	fprintf(stderr, "sluice-loader: invalid %s '%s': %s (see --help)\n", flag, val, why);
	return -EINVAL;
}

static int set_flag(struct loader_cfg *cfg, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case 's':
		if (arg[0] != '/' || strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return bad("--socket", arg, "need an absolute path under 108 bytes");
		cfg->socket_path = arg;
		return 0;
	case 'c':
		if (parse_size(arg, false, &v) || v < 1 || v > SLUICE_CAPTURE_MAX)
			return bad("--capture-bytes", arg, "need an integer in 1..16384");
		cfg->capture_bytes = (uint32_t)v;
		return 0;
	case 'g':
		if (arg[0] != '/')
			return bad("--cgroup", arg, "need an absolute cgroup v2 directory");
		cfg->cgroup_path = arg;
		return 0;
	case 'S':
		if (parse_size(arg, true, &v) || v < (1u << 20) || v > (16ull << 30))
			return bad("--spool-bytes", arg, "need 1M..16G");
		cfg->spool_bytes = v;
		return 0;
	case 'r':
		if (parse_size(arg, true, &v) || v < 4096 || v > (1u << 30) || (v & (v - 1)))
			return bad("--ringbuf-bytes", arg, "need a power of two in 4K..1G");
		cfg->ringbuf_bytes = v;
		return 0;
	case 'p':
		if (arg[0] != '/' || strlen(arg) > 200 || !strcmp(arg, "/sys/fs/bpf") ||
		    !strcmp(arg, "/sys/fs/bpf/"))
			return bad("--pin-dir", arg, "need an absolute directory below a bpffs mount");
		cfg->pin_dir = arg;
		return 0;
	case 'u':
		if (!arg[0] || strlen(arg) > 64)
			return bad("--processor-user", arg, "need a user name");
		cfg->processor_user = arg;
		return 0;
	}
	return -EINVAL;
}

int flags_parse(int argc, char **argv, struct loader_cfg *cfg)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "capture-bytes", required_argument, NULL, 'c' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "spool-bytes", required_argument, NULL, 'S' },
		{ "ringbuf-bytes", required_argument, NULL, 'r' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "no-pin", no_argument, NULL, 'n' },
		{ "unload", no_argument, NULL, 'U' },
		{ "processor-user", required_argument, NULL, 'u' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	bool no_pin = false;
	int opt;

	*cfg = (struct loader_cfg){ .socket_path = "/run/sluice/loader.sock",
				    .pin_dir = "/sys/fs/bpf/sluice",
				    .capture_bytes = SLUICE_CAPTURE_DEFAULT,
				    .spool_bytes = 64u << 20,
				    .ringbuf_bytes = 16u << 20 };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'h' || opt == 'V') {
			fputs(opt == 'h' ? usage : "sluice-loader " SLUICE_VERSION "\n", stdout);
			exit(0);
		}
		if (opt == 'v' || opt == 'n' || opt == 'U')
			*(opt == 'v' ? &cfg->verbose : opt == 'n' ? &no_pin : &cfg->unload) = true;
		else if (opt == '?')
			return bad("option", argv[optind - 1], "unknown or missing its value");
		else if (set_flag(cfg, opt, optarg))
			return -EINVAL;
	}
	if (optind < argc)
		return bad("argument", argv[optind], "sluice-loader takes no arguments");
	if (no_pin && cfg->unload)
		return bad("option", "--unload", "needs pinning (drop --no-pin)");
	if (no_pin)
		cfg->pin_dir = NULL;
	return 0;
}
