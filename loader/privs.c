/* Capabilities and seccomp. The run loop needs no capability on this kernel:
 * map reads/updates, ring buffer mmaps and iterator reads go through fds
 * that set-up opened. The allow-list below is what `strace -f` showed in
 * the steady state, reconnects and exit (see loader/README.md); anything
 * else kills the process (SIGSYS), which the kernel logs with the syscall's
 * number, whichever thread made it. */
#include "loader/loader.h"

#include <errno.h>
#include <grp.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "common/log.h"

/* Measured with `strace -f` (set-up excluded) over traffic, reconnects, a
 * bad ack, sd_notify with a watchdog, and exit, pinned and not; plus what a
 * thread runs as it starts (nng's last threads may still be starting) and
 * what malloc may need: mremap, madvise. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(sendmsg), SCMP_SYS(close),
	SCMP_SYS(poll), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl), SCMP_SYS(futex),
	SCMP_SYS(accept), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(fcntl),
	SCMP_SYS(shutdown), SCMP_SYS(unlink), SCMP_SYS(bpf), SCMP_SYS(getrandom),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(restart_syscall),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rseq),
	SCMP_SYS(set_robust_list), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

void privs_drop_caps(void)
{
	struct group *gr = getgrnam("sluice");

	if (gr && setegid(gr->gr_gid))
		fatal("cannot take group sluice for the socket file: %s", strerror(errno));
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_apply(CAPNG_SELECT_BOTH))
		fatal("cannot drop capabilities");
	log_info("dropped every capability%s", gr ? "" : " (no group sluice: socket stays root's)");
}

void privs_socket_done(void)
{
	if (getegid() != getgid() && setegid(getgid())) /* the real gid: allowed */
		fatal("cannot return to gid %u: %s", getgid(), strerror(errno));
}

void privs_seccomp(void)
{
	/* sd_notify opens a datagram unix socket per message; --no-pin exit:
	 * libbpf disables each perf event before closing it; memory, never
	 * executable; thread names */
	const struct { int nr; struct scmp_arg_cmp arg; } checked[] = {
		{ SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_UNIX) },
		{ SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_EQ, PERF_EVENT_IOC_DISABLE) },
		{ SCMP_SYS(mmap), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) },
		{ SCMP_SYS(mprotect), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) },
		{ SCMP_SYS(prctl), SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME) },
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i, j;
	int rv = ctx ? 0 : -ENOMEM;

	for (i = 0; !rv && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rv = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (j = 0; !rv && j < sizeof(checked) / sizeof(checked[0]); j++)
		rv = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, checked[j].nr, 1, checked[j].arg);
	if (!rv && !(rv = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)))
		rv = seccomp_load(ctx); /* every thread, nng's included */
	seccomp_release(ctx);
	if (rv)
		fatal("cannot install the seccomp filter: %s", strerror(-rv));
	log_info("seccomp: %zu syscalls allowed, %zu more with argument checks; any other kills "
		 "the process, and the kernel log names it (audit type=1326 ... syscall=N)", i, j);
}
