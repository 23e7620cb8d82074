/* The BPF side as the loader sees it: mounting tracefs/bpffs, opening,
 * configuring, loading and attaching the probes (or adopting the ones a
 * previous loader pinned), the start-up snapshot, and the few map accesses
 * the loader needs at run time. */
#ifndef SLUICE_PROBES_H
#define SLUICE_PROBES_H

#include <stdbool.h>
#include <stdint.h>

#include "loader/loader.h"
#include "loader/pin.h"

struct probes {
	struct sluice_bpf *skel;
	struct snapshot_bpf *snap; /* until the snapshot has run */
	int snap_fd[2];            /* its iterators: processes, listening sockets */
	struct pin pin;            /* pin.dir NULL with --no-pin; its meta is used either way */
	uint64_t loss_base[3];     /* loader-side totals of earlier loaders, same epoch */
	int old_rb_fd;             /* a replaced ring buffer still to drain, or -1 */
	int flow_next;             /* flows_a (0) or flows_b (1): the next drain's active map */
	int ncpus;
};

/* Mounts tracefs and bpffs if missing; adopts valid pins, or loads (reusing
 * pinned maps of the same layout), sets the filters and attaches (replacing
 * pinned links); then prepares the snapshot iterators (a failure there only
 * costs the snapshot). */
int probes_start(struct probes *p, const struct loader_cfg *cfg);
/* Runs the snapshot: records land in the ring, drain() empties it. */
void probes_snapshot(struct probes *p, void (*drain)(void *), void *ctx);
int probes_ringbuf_fd(const struct probes *p);
/* Swaps the flow maps and hands each entry of the old one to fn as a FLOW
 * record; 0 or a negative errno. */
int probes_flows(struct probes *p, int (*fn)(void *ctx, void *rec, size_t len), void *ctx);
/* Adds (on) or removes a tgid from the never-traced set. */
int probes_ignore(struct probes *p, uint32_t tgid, bool on);
/* Kernel loss counters summed over CPUs, indexed by sluice_loss_kind. */
int probes_losses(const struct probes *p, uint64_t *totals);
/* Records the loader-side totals (SLUICE_LOSS_SPOOL_FULL..) in the meta. */
void probes_save_losses(struct probes *p, const uint64_t *totals);
/* Pinned: closes fds, probes stay attached. --no-pin: detaches everything. */
void probes_stop(struct probes *p);

#endif
