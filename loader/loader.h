/* What the loader's parts share: the validated command-line configuration
 * (parsed in flags.c) and a clock helper. */
#ifndef SLUICE_LOADER_H
#define SLUICE_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#ifndef SLUICE_VERSION /* the Makefile passes it */
#define SLUICE_VERSION "dev"
#endif

struct loader_cfg {
	const char *socket_path;
	const char *cgroup_path;    /* NULL: trace every cgroup */
	const char *pin_dir;        /* NULL (--no-pin): probes detach when the loader exits */
	const char *processor_user; /* NULL: "sluice" if that user exists, else anyone */
	uint64_t capture_bytes;
	uint64_t spool_bytes;
	uint64_t ringbuf_bytes;
	bool no_pin;
	bool unload; /* --unload: remove what is pinned in pin_dir, exit */
	bool verbose;
};

/* Fills cfg from argv. Exits (0) for --help/--version; returns -EINVAL
 * after printing why on bad input. */
int flags_parse(int argc, char **argv, struct loader_cfg *cfg);

static inline uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
