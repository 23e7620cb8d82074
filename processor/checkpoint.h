/* The processor's restart story: a checkpoint file holding the last
 * processed batch seq, the loss totals and every live connection with its
 * HTTP pairing state. The processor acks a seq to the loader only once a
 * checkpoint covers it, so after any stop, clean or kill -9, the loader
 * still holds every batch the checkpoint lacks and resends it: nothing is
 * lost, and a crash repeats at most the batches since the last checkpoint. */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include "processor/processor.h"

/* Writes p's state to path atomically. 0 or -errno. */
int checkpoint_save(const struct processor *p, const char *path);
/* Loads a checkpoint into a freshly initialised p. 0 when loaded, -ENOENT
 * when there is none; other errors are logged and p is left empty, apart
 * from done_seq where the file still gave it. */
int checkpoint_load(struct processor *p, const char *path);

#endif
