/* The state that predates the loader, read once at each start: one EXEC per
 * running process and one LISTEN per listening TCP socket per process that
 * holds it, both flagged SLUICE_FLAG_SNAPSHOT, written to the probes' ring
 * buffer (the loader hands this object the probes' maps). A separate object
 * so that a kernel without these iterators still runs the probes. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "common/records.h"

#include "bpf/kread.bpf.h"
#include "bpf/maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* --cgroup's id (its inode on cgroup2), 0 for all: the probes' cgroup map
 * only answers for the current task, which here is the loader. */
const volatile __u64 snapshot_cgroup = 0;

/* Each record also writes this much to the iterator's seq_file, so one
 * read() of the iterator emits a handful of records and the loader drains
 * the ring between reads: a big host cannot overflow it. */
static const char seq_pad[512];
static __u32 last_tgid; /* task_vma visits each mapping: one EXEC per process */

static __always_inline bool in_cgroup(struct task_struct *t)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);

	if (!snapshot_cgroup)
		return true;
	for (int i = 0; i < 64 && cg; i++) {
		if (BPF_CORE_READ(cg, kn, id) == snapshot_cgroup)
			return true;
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return false;
}

static __always_inline bool wanted(struct task_struct *t, __u32 tgid)
{
	return !bpf_map_lookup_elem(&ignore_tgids, &tgid) && in_cgroup(t);
}

static __always_inline void snap_cmdline(struct task_struct *t, struct mm_struct *mm,
					 struct sluice_ev_exec *e)
{
	__u64 start = mm->arg_start, n = mm->arg_end - start;

	if (n > SLUICE_CMDLINE_LEN)
		n = SLUICE_CMDLINE_LEN;
	barrier_var(n);
	if (n > SLUICE_CMDLINE_LEN || !n)
		return;
	if (bpf_copy_from_user_task(e->cmdline, n, (void *)start, t, 0))
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
	else
		e->cmdline_len = n;
}

static __always_inline void snap_exec(struct task_struct *t, struct vm_area_struct *vma)
{
	struct sluice_ev_exec *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	__u32 tgid = t->tgid;

	if (!e) {
		count_loss(SLUICE_LOSS_RB_PROC, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, SLUICE_EV_EXEC, sizeof(*e), tgid, tgid);
	e->h.flags = SLUICE_FLAG_SNAPSHOT;
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	e->start_ns = BPF_CORE_READ(t, start_boottime);
	if (read_ns_pid(t, &e->ns_pid, &e->pidns_ino))
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), t->comm);
	if (bpf_d_path((struct path *)&vma->vm_file->f_path, e->exe, sizeof(e->exe)) < 0)
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
	snap_cmdline(t, vma->vm_mm, e);
	bpf_ringbuf_submit(e, 0);
}

/* Sleepable: the command line lives in the other process's memory
 * (bpf_copy_from_user_task). The mapping of the executable gives its path
 * (a trusted vm_file for bpf_d_path); kernel threads have none. */
SEC("iter.s/task_vma")
int snapshot_procs(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *t = ctx->task;

	if (!t || !vma || !vma->vm_file || t->pid != t->tgid || (__u32)t->tgid == last_tgid ||
	    vma->vm_file != vma->vm_mm->exe_file || !wanted(t, t->tgid))
		return 0;
	last_tgid = t->tgid;
	snap_exec(t, vma);
	bpf_seq_write(ctx->meta->seq, seq_pad, sizeof(seq_pad));
	return 0;
}

SEC("iter/task_file")
int snapshot_listen(struct bpf_iter__task_file *ctx)
{
	struct task_struct *t = ctx->task;
	struct file *file = ctx->file;
	struct sluice_ev_listen *e;
	struct sock *sk;

	if (!t || !file || !(sk = file_tcp_sock(file)) ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != SL_TCP_LISTEN || !wanted(t, t->tgid))
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		count_loss(SLUICE_LOSS_RB_PROC, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, SLUICE_EV_LISTEN, sizeof(*e), t->tgid, t->pid);
	e->h.flags = SLUICE_FLAG_SNAPSHOT;
	e->listening = 1;
	e->family = read_local(&sk->__sk_common, e->addr, &e->port, &e->netns);
	bpf_ringbuf_submit(e, 0);
	bpf_seq_write(ctx->meta->seq, seq_pad, sizeof(seq_pad));
	return 0;
}
