/* Processes: EXEC (who runs what, in which pid namespace and cgroup) and
 * EXIT of a thread-group leader, so the processor can attribute
 * connections and know when a pid is gone. */
#ifndef SLUICE_PROC_BPF_H
#define SLUICE_PROC_BPF_H

/* The first SLUICE_CMDLINE_LEN bytes of argv, NUL-separated as the process
 * sees them: at sched_process_exec the new image's stack is in place. */
static __always_inline void read_cmdline(struct task_struct *task, struct sluice_ev_exec *e)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
	__u64 n = end > start ? end - start : 0;

	if (n > SLUICE_CMDLINE_LEN)
		n = SLUICE_CMDLINE_LEN;
	barrier_var(n);
	if (n > SLUICE_CMDLINE_LEN || !n)
		return;
	if (bpf_probe_read_user(e->cmdline, n, (void *)start))
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
	else
		e->cmdline_len = n;
}

SEC("tracepoint/sched/sched_process_exec")
int sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task = (void *)bpf_get_current_task();
	unsigned int fname = ctx->__data_loc_filename & 0xffff;
	struct sluice_ev_exec *e;

	if (!task_traced(pid_tgid >> 32))
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		count_loss(SLUICE_LOSS_RB_PROC, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, SLUICE_EV_EXEC, sizeof(*e), pid_tgid >> 32, (__u32)pid_tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->start_ns = BPF_CORE_READ(task, start_boottime);
	if (read_ns_pid(task, &e->ns_pid, &e->pidns_ino))
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), (void *)ctx + fname) < 0)
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
	read_cmdline(task, e);
	bpf_ringbuf_submit(e, rb_flags());
	return 0;
}

/* Only the thread-group leader's exit ends the process for our purposes. */
SEC("tracepoint/sched/sched_process_exit")
int sched_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task = (void *)bpf_get_current_task();
	struct sluice_ev_exit *e;

	(void)ctx; /* its layout changed across kernels; current is the exiting task */
	if ((__u32)pid_tgid != pid_tgid >> 32 || !task_traced(pid_tgid >> 32))
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		count_loss(SLUICE_LOSS_RB_PROC, 1);
		return 0;
	}
	fill_header(&e->h, SLUICE_EV_EXIT, sizeof(*e), pid_tgid >> 32, (__u32)pid_tgid);
	e->exit_code = BPF_CORE_READ(task, exit_code);
	e->pad = 0;
	e->start_ns = BPF_CORE_READ(task, start_boottime);
	bpf_ringbuf_submit(e, rb_flags());
	return 0;
}

#endif
