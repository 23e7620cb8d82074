/* What the processor tells the service manager that started it (systemd's
 * sd_notify: READY, WATCHDOG, STATUS, STOPPING), and a start-up check that
 * its sandbox holds. Outside systemd every call but the check does nothing. */
#ifndef SLUICE_SERVICE_H
#define SLUICE_SERVICE_H

#include <stdint.h>

#include <nng/nng.h>

struct processor;

/* Tries bpf(BPF_PROG_LOAD) and logs the outcome with uid, CapEff and seccomp
 * mode: under sluice-processor.service it must fail with EPERM. */
void service_check_no_bpf(void);
/* Tracks whether socket s has a loader connected (nng pipe events). */
int service_watch(nng_socket s);
/* Set up and dialing: READY=1. The loader need not be there yet. */
void service_ready(const char *socket_path);
/* From the main loop, as often as it likes: WATCHDOG=1 every half watchdog
 * interval, STATUS= at most once a second. now_ns: CLOCK_MONOTONIC. */
void service_tick(const struct processor *p, uint64_t now_ns);
void service_stopping(void);

#endif
