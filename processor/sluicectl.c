/* sluicectl: the unprivileged command-line client. For now it reads the
 * processor's status file; queries of the metadata store come with it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define DEFAULT_STATUS "/run/sluice/processor/status.json"
#define STATUS_MAX 65536

static void usage(FILE *f)
{
	fprintf(f, "usage: sluicectl [--status PATH] status | --version | --help\n"
		   "  status   the processor's counters (events, pairs, drops by stage)\n"
		   "  --status PATH  status file the processor writes (default " DEFAULT_STATUS ")\n");
}

/* Prints a flat JSON object of numbers and nested objects as aligned
 * "a.b  value" lines. Anything else in the file is reported, not guessed. */
static int print_flat(const char *s)
{
	char prefix[256] = "", key[128];
	size_t plen[16];
	int depth = 0;

	while (*s) {
		if (*s == '{') {
			if (depth >= 15)
				return -1;
			plen[depth++] = strlen(prefix);
			s++;
		} else if (*s == '}') {
			if (depth == 0)
				return -1;
			prefix[plen[--depth]] = 0;
			s++;
		} else if (*s == '"') {
			const char *e = strchr(s + 1, '"');
			size_t n = e ? (size_t)(e - s - 1) : 0;

			if (!e || n >= sizeof(key) || e[1] != ':')
				return -1;
			memcpy(key, s + 1, n);
			key[n] = 0;
			s = e + 2;
			if (*s == '{') {
				size_t l = strlen(prefix);

				snprintf(prefix + l, sizeof(prefix) - l, "%s.", key);
				continue;
			}
			printf("%s%-*s %.*s\n", prefix, (int)(30 - strlen(prefix)), key,
			       (int)strspn(s, "0123456789-.truefals"), s);
			s += strspn(s, "0123456789-.truefals");
		} else if (*s == ',' || isspace((unsigned char)*s)) {
			s++;
		} else {
			return -1;
		}
	}
	return depth == 0 ? 0 : -1;
}

static int cmd_status(const char *path)
{
	static char buf[STATUS_MAX + 1];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "sluicectl: cannot read %s: is sluice-processor running with "
				"--status %s?\n", path, path);
		return 1;
	}
	n = fread(buf, 1, STATUS_MAX, f);
	fclose(f);
	buf[n] = 0;
	if (print_flat(buf) < 0) {
		fprintf(stderr, "sluicectl: %s is not a processor status file\n", path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *status = DEFAULT_STATUS;
	int i = 1;

	log_init("sluicectl");
	if (i < argc && strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
		status = argv[i + 1];
		i += 2;
	}
	if (i < argc && strcmp(argv[i], "--version") == 0) {
		puts("sluicectl " SLUICE_VERSION);
		return 0;
	}
	if (i < argc && strcmp(argv[i], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (i + 1 == argc && strcmp(argv[i], "status") == 0)
		return cmd_status(status);
	usage(stderr);
	return 2;
}
