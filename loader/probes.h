/* The BPF side as the loader sees it: mounting tracefs/bpffs, opening,
 * configuring, loading and attaching the object, and the few map accesses
 * the loader needs. Pinning (persistent mode) will be added here. */
#ifndef SLUICE_PROBES_H
#define SLUICE_PROBES_H

#include <stdbool.h>
#include <stdint.h>

#include "loader/loader.h"

struct sluice_bpf;

struct probes {
	struct sluice_bpf *skel;
	int ncpus;
};

/* Mounts tracefs (required) and bpffs (warned about) when missing. */
int probes_mount_fs(void);
/* Open, configure from cfg, load, set filters, attach every program. */
int probes_start(struct probes *p, const struct loader_cfg *cfg);
int probes_ringbuf_fd(const struct probes *p);
/* Adds (on) or removes a tgid from the never-traced set. */
int probes_ignore(struct probes *p, uint32_t tgid, bool on);
/* Kernel loss counters summed over CPUs, indexed by sluice_loss_kind. */
int probes_losses(const struct probes *p, uint64_t *totals);
/* Detaches and unloads everything. */
void probes_stop(struct probes *p);

#endif
