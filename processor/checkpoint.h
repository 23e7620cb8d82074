/* The processor's restart story: a checkpoint holding the last processed
 * batch seq, the loss totals and every live connection with its HTTP
 * pairing state. The processor acks a seq to the loader only once a
 * checkpoint covers it, so after any stop, clean or kill -9, the loader
 * still holds every batch the checkpoint lacks and resends it: nothing is
 * lost, and a crash repeats at most the batches since the last checkpoint.
 *
 * On disk: PATH, a base snapshot of every connection, and PATH.log, the
 * connections that changed or went since, appended at each checkpoint and
 * closed by a commit record. A checkpoint costs what changed, not the
 * table's size; the log is folded into a new base once it outgrows twice
 * the live state. Both files are input when read: every length, index and
 * checksum is checked, and a torn or uncommitted tail is ignored. */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include <stdio.h>

#include "processor/processor.h"

struct checkpoint; /* the writer: open log, generation, counters */

/* Writes what changed in p since its last checkpoint (the first one, and
 * one whose log grew too big, writes a new base). p->ckpt is created on
 * first use. 0 or -errno; after an error the next one writes a new base. */
int checkpoint_save(struct processor *p, const char *path);
/* Loads a checkpoint into a freshly initialised p and sets p->ckpt up to
 * continue its log. 0 when loaded, -ENOENT when there is none; other
 * errors are logged and p keeps what could be read (done_seq at least,
 * when the file gave it). */
int checkpoint_load(struct processor *p, const char *path);
void checkpoint_free(struct checkpoint *ck);
/* checkpoint_save in two halves, for a writer thread. checkpoint_prepare
 * (the thread that owns p) records what changed since the last checkpoint
 * into memory, as of p->done_seq now; checkpoint_write_prepared(p->ckpt)
 * appends it to the log, on any one thread, while nothing else touches
 * p->ckpt; checkpoint_finish (the owner again, after the write) returns
 * its result (0 or -errno) and updates the counters. prepare returns
 * -EAGAIN, changing nothing, when this checkpoint must be a whole new base:
 * then call checkpoint_save. */
int checkpoint_prepare(struct processor *p, const char *path);
void checkpoint_write_prepared(void *ck);
int checkpoint_finish(struct processor *p);
/* Counters (saves, bases, bytes, time) as a JSON object member ",\"checkpoint\":{...}";
 * nothing when ck is NULL. */
void checkpoint_status_json(const struct checkpoint *ck, FILE *f);

#endif
