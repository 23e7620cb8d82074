/* What the loader keeps in bpffs so that probes outlive it: <dir>/meta (which
 * object and config is pinned, and the loader's own loss totals), every map
 * at <dir>/maps/<name> and every link at <dir>/links/<program>. A flock on
 * <dir> keeps a second loader, or --unload, out while one runs. */
#ifndef SLUICE_PIN_H
#define SLUICE_PIN_H

#include <stdbool.h>
#include <stdint.h>

#define PIN_VERSION 1 /* layout of struct pin_meta */

struct bpf_object;

struct pin_meta {
	uint64_t version;  /* PIN_VERSION */
	uint64_t hash;     /* of the BPF object and its config; 0 until all is pinned */
	uint64_t epoch_ns; /* CLOCK_REALTIME when the loss totals started from 0 */
	uint64_t loss[3];  /* loader-side totals, SLUICE_LOSS_SPOOL_FULL.. _BAD_RECORD */
};

struct pin {
	const char *dir; /* NULL: nothing pinned (--no-pin) */
	int dir_fd;      /* holds the flock */
	int meta_fd;
	struct pin_meta meta; /* as found (version 0 if none), then as last written */
};

/* Creates dir (and maps/, links/) if needed, locks it, reads the meta. */
int pin_open(struct pin *pin, const char *dir);
/* adopt: every map of obj takes its pinned fd (obj is never loaded).
 * Otherwise, before a load: pinned maps of obj's layout will be reused,
 * others are unpinned (a replaced ring's fd goes to *old_rb, to be drained).
 * Returns <0 on error, 1 when the pinned loss counters are kept, else 0. */
int pin_maps(struct pin *pin, struct bpf_object *obj, bool adopt, int *old_rb);
/* Unpins the maps and links obj does not have. */
void pin_sweep(struct pin *pin, struct bpf_object *obj);
int pin_write_meta(struct pin *pin);
void pin_close(struct pin *pin);
/* --unload: detaches and removes what a loader pinned in dir, nothing else. */
int pin_unload(const char *dir);

#endif
