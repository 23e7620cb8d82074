/* sd_notify for sluice-processor.service (Type=notify, WatchdogSec=) and the
 * sandbox self-check. READY=1 comes once the processor is set up and dialing,
 * not when a loader answers: the processor's job while the loader is away is
 * to wait for it, and a loader restart must not make it look unready. The
 * watchdog is fed from the main loop only, so a stuck loop is a dead one. */
#include "processor/service.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "processor/processor.h"

#define STATUS_EVERY_NS 1000000000ULL

static atomic_int loader_pipes;   /* nng pipes up: 0 or 1 (pair1) */
static uint64_t watchdog_half_ns; /* 0: no watchdog */
static uint64_t last_ping_ns, last_status_ns;
static const char *dialed;

/* "Seccomp:" and "CapEff:" from /proc/self/status, for the log line. */
static void own_status(char *seccomp, char *capeff, size_t n)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	snprintf(seccomp, n, "?");
	snprintf(capeff, n, "?");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Seccomp:", 8))
			sscanf(line + 8, "%15s", seccomp);
		else if (!strncmp(line, "CapEff:", 7))
			sscanf(line + 7, "%31s", capeff);
	}
	if (f)
		fclose(f);
}

void service_check_no_bpf(void)
{
	/* r0 = 0; exit: the smallest program there is */
	struct bpf_insn insns[2] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
				     { .code = BPF_JMP | BPF_EXIT } };
	union bpf_attr attr = { .prog_type = BPF_PROG_TYPE_SOCKET_FILTER, .insn_cnt = 2,
				.insns = (uint64_t)(uintptr_t)insns,
				.license = (uint64_t)(uintptr_t)"GPL" };
	char seccomp[16], capeff[32];
	long fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	int err = errno;

	own_status(seccomp, capeff, sizeof(capeff));
	if (fd >= 0) {
		close((int)fd);
		log_warn("sandbox check: bpf() works in this process (uid %u, CapEff %s): it has "
			 "more privilege than it needs; sluice-processor.service runs it without",
			 getuid(), capeff);
		return;
	}
	log_info("sandbox check: bpf() refused: %s (uid %u, CapEff %s, seccomp mode %s)",
		 strerror(err), getuid(), capeff, seccomp);
}

static void on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void)pipe;
	(void)arg;
	atomic_fetch_add(&loader_pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

int service_watch(nng_socket s)
{
	int rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);

	return rv ? rv : nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
}

void service_ready(const char *socket_path)
{
	uint64_t usec = 0;

	dialed = socket_path;
	if (sd_watchdog_enabled(0, &usec) > 0)
		watchdog_half_ns = usec * 1000 / 2;
	sd_notifyf(0, "READY=1\nSTATUS=set up, waiting for the loader at %s", socket_path);
}

void service_tick(const struct processor *p, uint64_t now_ns)
{
	if (watchdog_half_ns && now_ns - last_ping_ns >= watchdog_half_ns) {
		sd_notify(0, "WATCHDOG=1");
		last_ping_ns = now_ns;
	}
	if (now_ns - last_status_ns < STATUS_EVERY_NS)
		return;
	last_status_ns = now_ns;
	if (atomic_load(&loader_pipes) > 0)
		sd_notifyf(0, "STATUS=loader connected; seq %" PRIu64 ", %" PRIu64 " events, %" PRIu64
			      " pairs", p->done_seq, p->dec.events, p->out.pairs);
	else
		sd_notifyf(0, "STATUS=waiting for the loader at %s; %" PRIu64 " pairs so far",
			   dialed ? dialed : "?", p->out.pairs);
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: checkpoint, last ack, export flush");
}
