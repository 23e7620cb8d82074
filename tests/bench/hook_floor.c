/* hook-floor: what sluice's hooks cost before its programs do anything.
 *
 * Reads the program list from sluice's own BPF object (so it cannot drift
 * from the probes), loads for each program one that does nothing ("return
 * 0", or "return 1" = allow for the cgroup hooks) with the same type and
 * attach type, and attaches it where the loader attaches the real one:
 * each tracepoint system-wide, each cgroup hook on CGROUP. Holds them until
 * SIGINT or SIGTERM. `make bench` runs nginx + wrk under it as the "floor"
 * row: the share of the overhead that the kernel's hooks take whatever a
 * program does (the syscall tracepoints switch every task to the slow
 * syscall path; a program runs per hit), next to sluice doing full capture.
 *
 * usage: hook-floor SLUICE_BPF_OBJECT CGROUP_DIR READY_FILE */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The tracepoint's id from tracefs ("syscalls/sys_enter_read"), -1 if none. */
static long tracepoint_id(const char *tp)
{
	static const char *const roots[] = { "/sys/kernel/tracing/events",
					     "/sys/kernel/debug/tracing/events" };
	char path[512];
	long id = -1;
	FILE *f;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && id < 0; i++) {
		snprintf(path, sizeof(path), "%s/%s/id", roots[i], tp);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%ld", &id) != 1)
			id = -1;
		fclose(f);
	}
	return id;
}

/* One program per hook, kept open (and so attached) until exit. */
static int attach_empty(const struct bpf_program *p, int cgroup_fd)
{
	enum bpf_prog_type type = bpf_program__type(p);
	enum bpf_attach_type at = bpf_program__expected_attach_type(p);
	const char *sec = bpf_program__section_name(p);
	bool is_cgroup = type == BPF_PROG_TYPE_CGROUP_SKB || type == BPF_PROG_TYPE_CGROUP_SOCK;
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = is_cgroup },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = at);
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(attr),
					.sample_period = 1, .wakeup_events = 1 };
	int fd, pfd;
	long id;

	if (type != BPF_PROG_TYPE_TRACEPOINT && !is_cgroup) {
		fprintf(stderr, "hook-floor: %s: program type %d not handled\n", sec, type);
		return -1;
	}
	fd = bpf_prog_load(type, "floor", "GPL", insns, 2, &opts);
	if (fd < 0) {
		fprintf(stderr, "hook-floor: %s: load: %s\n", sec, strerror(-fd));
		return -1;
	}
	if (is_cgroup) {
		if (bpf_link_create(fd, cgroup_fd, at, NULL) < 0) {
			fprintf(stderr, "hook-floor: %s: attach to the cgroup: %s\n", sec,
				strerror(errno));
			return -1;
		}
		return 0;
	}
	if (strncmp(sec, "tracepoint/", 11) || (id = tracepoint_id(sec + 11)) < 0) {
		fprintf(stderr, "hook-floor: %s: no such tracepoint\n", sec);
		return -1;
	}
	attr.config = (__u64)id;
	pfd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0 || bpf_link_create(fd, pfd, BPF_PERF_EVENT, NULL) < 0) {
		fprintf(stderr, "hook-floor: %s: attach: %s\n", sec, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	int cgroup_fd, n = 0, sig;
	sigset_t set;
	FILE *ready;

	if (argc != 4) {
		fprintf(stderr, "usage: hook-floor SLUICE_BPF_OBJECT CGROUP_DIR READY_FILE\n");
		return 2;
	}
	if (!(obj = bpf_object__open_file(argv[1], NULL))) {
		fprintf(stderr, "hook-floor: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if ((cgroup_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "hook-floor: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(p, obj) {
		if (attach_empty(p, cgroup_fd))
			return 1;
		n++;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (!(ready = fopen(argv[3], "w")) || fprintf(ready, "%d\n", n) < 0 || fclose(ready)) {
		fprintf(stderr, "hook-floor: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	fprintf(stderr, "hook-floor: %d empty programs attached\n", n);
	sigwait(&set, &sig);
	bpf_object__close(obj);
	return 0;
}
