/* tgid -> executable basename cache (see procs.h). */
#include "processor/procs.h"

#include <string.h>

struct proc_slot {
	uint32_t tgid; /* 0: empty */
	char name[PROCS_NAME_MAX];
};

static struct proc_slot procs[PROCS_SLOTS];

static struct proc_slot *procs_slot(uint32_t tgid)
{
	return &procs[(tgid * 2654435761u) & (PROCS_SLOTS - 1)];
}

void procs_exec(uint32_t tgid, const uint8_t *exe, uint32_t exe_len)
{
	struct proc_slot *s = procs_slot(tgid);
	const uint8_t *base = exe;
	uint32_t n;

	for (uint32_t i = 0; i < exe_len; i++)
		if (exe[i] == '/')
			base = exe + i + 1;
	n = (uint32_t)(exe + exe_len - base);
	if (n == 0)
		return;
	if (n >= PROCS_NAME_MAX)
		n = PROCS_NAME_MAX - 1;
	s->tgid = tgid;
	memcpy(s->name, base, n);
	s->name[n] = 0;
}

const char *procs_name(uint32_t tgid, const char *fallback)
{
	struct proc_slot *s = procs_slot(tgid);

	/* The kernel sets comm from the exe's basename at exec, so a name that
	 * does not start with comm belongs to an earlier holder of this pid
	 * (exit events come before the process's sockets close, so entries are
	 * not dropped at exit) or to a process that renamed itself. */
	if (tgid && s->tgid == tgid && strncmp(s->name, fallback, 15) == 0)
		return s->name;
	return fallback;
}
