/* Data: the read/write family of syscalls on tracked TCP sockets. sys_enter
 * saves where the bytes are (buffer or iovecs) for TCP sockets only;
 * sys_exit, knowing how many bytes moved, assigns them a stream position
 * and emits one DATA record with a bounded copy of the payload. */
#ifndef SLUICE_DATA_BPF_H
#define SLUICE_DATA_BPF_H

#define SL_MAX_IOV 4
#define SL_CAP SLUICE_CAPTURE_MAX
#define SL_MSG_PEEK 2

/* read/write/recvfrom/sendto: (fd, buf, len, ...); sendfile: (out_fd, ...). */
static __always_inline int enter_buf(struct trace_event_raw_sys_enter *ctx, __u8 kind,
				     __u8 sys, __u8 dir)
{
	struct call_args a = { .buf = ctx->args[1], .kind = kind, .syscall = sys, .dir = dir };

	a.sk = (__u64)enter_gate((int)ctx->args[0]);
	if (a.sk)
		save_call(&a);
	return 0;
}

/* readv/writev: (fd, iov, iovcnt). */
static __always_inline int enter_iov(struct trace_event_raw_sys_enter *ctx, __u8 sys, __u8 dir)
{
	struct call_args a = { .buf = ctx->args[1], .iovcnt = ctx->args[2], .kind = CALL_IOV,
			       .syscall = sys, .dir = dir };

	a.sk = (__u64)enter_gate((int)ctx->args[0]);
	if (a.sk)
		save_call(&a);
	return 0;
}

/* recvmsg/sendmsg: (fd, msghdr, flags). The msghdr is read only once the fd
 * is known to be a TCP socket; if unreadable, bytes are still accounted. */
static __always_inline int enter_msg(struct trace_event_raw_sys_enter *ctx, __u8 sys, __u8 dir)
{
	struct call_args a = { .kind = CALL_IOV, .syscall = sys, .dir = dir };
	struct user_msghdr m = {};

	a.sk = (__u64)enter_gate((int)ctx->args[0]);
	if (!a.sk)
		return 0;
	if (bpf_probe_read_user(&m, sizeof(m), (void *)ctx->args[1])) {
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
		a.kind = CALL_NOCOPY;
	}
	a.buf = (__u64)m.msg_iov;
	a.iovcnt = m.msg_iovlen;
	save_call(&a);
	return 0;
}

static __always_inline __u8 *payload(struct data_scratch *s)
{
	return s->raw + sizeof(struct sluice_ev_data);
}

/* Copies up to `want` (<= SL_CAP) bytes from a user buffer into the scratch
 * payload; returns the bytes copied. */
static __always_inline __u64 copy_buf(struct data_scratch *s, __u64 buf, __u64 want)
{
	barrier_var(want);
	if (want > SL_CAP)
		return 0;
	if (bpf_probe_read_user(payload(s), want, (void *)buf)) {
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
		return 0;
	}
	return want;
}

/* Same from the first SL_MAX_IOV iovecs, in order: that is the order in which
 * the kernel filled (or drained) them. */
static __always_inline __u64 copy_iov(struct data_scratch *s, __u64 iovp, __u32 iovcnt,
				      __u64 want)
{
	struct iovec iov;
	__u64 off = 0, n;

	for (__u32 i = 0; i < SL_MAX_IOV; i++) {
		if (i >= iovcnt || off >= want || off >= SL_CAP)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(iovp + i * sizeof(iov)))) {
			count_loss(SLUICE_LOSS_READ_FAIL, 1);
			break;
		}
		n = iov.iov_len;
		if (n > want - off)
			n = want - off;
		/* Bounds the compiler already knows, restated for the
		 * verifier: off < SL_CAP and n <= SL_CAP. */
		barrier_var(n);
		barrier_var(off);
		if (n > SL_CAP)
			break;
		if (bpf_probe_read_user(payload(s) + (off & (SL_CAP - 1)), n, iov.iov_base)) {
			count_loss(SLUICE_LOSS_READ_FAIL, 1);
			break;
		}
		off += n;
	}
	return off;
}

static __always_inline void emit_data(const struct call_args *c, __u64 conn_id, __u64 pos,
				      __u32 len)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 want = len < capture_bytes ? len : capture_bytes, cap = 0, size;
	struct data_scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sluice_ev_data *ev;

	if (!s)
		return;
	ev = (void *)s->raw;
	if (c->kind == CALL_BUF)
		cap = copy_buf(s, c->buf, want);
	else if (c->kind == CALL_IOV)
		cap = copy_iov(s, c->buf, c->iovcnt, want);
	barrier_var(cap);
	if (cap > SL_CAP)
		return;
	if (len > cap)
		count_loss(SLUICE_LOSS_TRUNC_BYTES, len - cap);
	fill_header(&ev->h, SLUICE_EV_DATA, sizeof(*ev) + cap, pid_tgid >> 32, (__u32)pid_tgid);
	ev->conn_id = conn_id;
	ev->pos = pos;
	ev->full_len = len;
	ev->cap_len = cap;
	ev->direction = c->dir;
	ev->syscall = c->syscall;
	ev->pad = 0;
	ev->pad2 = 0;
	size = sizeof(*ev) + cap;
	barrier_var(size); /* restate the bound next to its use, for the verifier */
	if (size > sizeof(*s))
		return;
	if (bpf_ringbuf_output(&rb, s, size, rb_flags()))
		count_loss(SLUICE_LOSS_RB_DATA, 1);
}

/* The per-call slot is the filter here: it is live only if sys_enter passed
 * the ignore and cgroup checks for a TCP socket. Cleared on every path. */
static __always_inline int exit_data(struct trace_event_raw_sys_exit *ctx)
{
	struct sock_state *st;
	struct call_args c;
	long ret = ctx->ret;
	__u64 pos;

	if (!call_take(&c))
		return 0;
	/* ret <= 0 (EAGAIN, EOF, errors) moved no bytes; a connect entry can
	 * only be here if the thread died between enter and exit. */
	if (ret <= 0 || ret > 0xffffffffL || c.kind == CALL_CONNECT)
		return 0;
	st = conn_lookup_or_start((struct sock *)c.sk);
	if (!st)
		return 0;
	if (c.dir == SLUICE_DIR_EGRESS)
		pos = __sync_fetch_and_add(&st->bytes_sent, ret);
	else
		pos = __sync_fetch_and_add(&st->bytes_recv, ret);
	emit_data(&c, st->conn_id, pos, ret);
	return 0;
}

#define DATA_EXIT(name)                                                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                        \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)         \
	{                                                                 \
		return exit_data(ctx);                                    \
	}

#define ENTER(name, call)                                                 \
	SEC("tracepoint/syscalls/sys_enter_" #name)                       \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)       \
	{                                                                 \
		return call;                                              \
	}

ENTER(read, enter_buf(ctx, CALL_BUF, SLUICE_SYS_READ, SLUICE_DIR_INGRESS))
ENTER(write, enter_buf(ctx, CALL_BUF, SLUICE_SYS_WRITE, SLUICE_DIR_EGRESS))
/* MSG_PEEK leaves the bytes queued: they will be read (and counted) again. */
ENTER(recvfrom, ctx->args[3] & SL_MSG_PEEK ? 0 :
		enter_buf(ctx, CALL_BUF, SLUICE_SYS_RECVFROM, SLUICE_DIR_INGRESS))
ENTER(sendto, enter_buf(ctx, CALL_BUF, SLUICE_SYS_SENDTO, SLUICE_DIR_EGRESS))
ENTER(readv, enter_iov(ctx, SLUICE_SYS_READV, SLUICE_DIR_INGRESS))
ENTER(writev, enter_iov(ctx, SLUICE_SYS_WRITEV, SLUICE_DIR_EGRESS))
ENTER(recvmsg, ctx->args[2] & SL_MSG_PEEK ? 0 :
		enter_msg(ctx, SLUICE_SYS_RECVMSG, SLUICE_DIR_INGRESS))
ENTER(sendmsg, enter_msg(ctx, SLUICE_SYS_SENDMSG, SLUICE_DIR_EGRESS))
/* sendfile bytes come from a file, not user memory: accounted, not captured. */
ENTER(sendfile64, enter_buf(ctx, CALL_NOCOPY, SLUICE_SYS_SENDFILE, SLUICE_DIR_EGRESS))

DATA_EXIT(read)
DATA_EXIT(write)
DATA_EXIT(recvfrom)
DATA_EXIT(sendto)
DATA_EXIT(readv)
DATA_EXIT(writev)
DATA_EXIT(recvmsg)
DATA_EXIT(sendmsg)
DATA_EXIT(sendfile64)

#endif
