/* Process names by tgid, learned from exec events, so pairs can carry the
 * executable's name rather than the 15-character comm. A bounded cache:
 * a colliding entry replaces the older one, and a miss falls back to comm. */
#ifndef SLUICE_PROCS_H
#define SLUICE_PROCS_H

#include <stddef.h>
#include <stdint.h>

#define PROCS_SLOTS 16384 /* power of two */
#define PROCS_NAME_MAX 64

void procs_exec(uint32_t tgid, const uint8_t *exe, uint32_t exe_len);
/* The name to show for tgid whose comm is `fallback`; fallback when unknown. */
const char *procs_name(uint32_t tgid, const char *fallback);

#endif
