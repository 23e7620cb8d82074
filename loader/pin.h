/* What the loader keeps in bpffs so that probes outlive it: <dir>/meta (which
 * object and config is pinned, and the loader's own loss totals), every map
 * at <dir>/maps/<name> and every link at <dir>/links/<program>. A flock on
 * <dir> keeps a second loader, or --unload, out while one runs. */
#ifndef SLUICE_PIN_H
#define SLUICE_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIN_VERSION 1 /* layout of struct pin_meta */

struct bpf_object;

struct pin_meta {
	uint64_t version;  /* PIN_VERSION */
	uint64_t hash;     /* of the BPF object and its load-time config; 0: setup unfinished */
	uint64_t epoch_ns; /* CLOCK_REALTIME when the loss totals started from 0 */
	uint64_t loss[3];  /* loader-side totals, SLUICE_LOSS_SPOOL_FULL.. _BAD_RECORD */
};

struct pin {
	const char *dir;
	int dir_fd;           /* holds the flock */
	int meta_fd;          /* the pinned meta map */
	struct pin_meta meta; /* as read at start, then as last written */
	bool had_meta;        /* a valid meta was found */
};

/* Creates dir (and maps/, links/) if needed, locks it and reads the meta. */
int pin_open(struct pin *pin, const char *dir);
/* Whether everything obj would pin is there, from an object with `hash`. */
bool pin_adoptable(const struct pin *pin, struct bpf_object *obj, uint64_t hash);
/* Adopting: every map of obj takes the pinned one's fd; obj is not loaded. */
int pin_adopt_maps(const struct pin *pin, struct bpf_object *obj);
/* Before a load: pinned maps with obj's layout are reused (contents kept),
 * others are unpinned and replaced; a replaced ring buffer's fd goes to
 * *old_rb (to be drained), or -1. Returns whether loss_counters is reused. */
bool pin_prepare_maps(const struct pin *pin, struct bpf_object *obj, int *old_rb);
/* <dir>/links/<name> into buf; removes the old link there (which detaches it). */
const char *pin_link_path(const struct pin *pin, const char *prog, char *buf, size_t len);
/* Unpins maps and links obj no longer has. */
void pin_remove_stale(const struct pin *pin, struct bpf_object *obj);
int pin_write_meta(struct pin *pin);
void pin_close(struct pin *pin);
/* --unload: detaches and removes what a loader pinned in dir, nothing else. */
int pin_unload(const char *dir);

#endif
