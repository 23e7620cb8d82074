/* Connections: finding the TCP socket behind an fd, the per-socket state
 * (conn_id, role, stream positions), and the connect/accept/close hooks
 * that emit CONN_OPEN and CONN_CLOSE. */
#ifndef SLUICE_CONN_BPF_H
#define SLUICE_CONN_BPF_H

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* fd -> struct sock of the current task, or NULL unless it is a TCP socket
 * over IPv4/IPv6, which keeps the per-call slot and the ring buffer for TCP.
 * Runs on every traced read/write-family syscall, so it walks the kernel's
 * structures with plain loads through BTF-typed pointers (faults read as 0)
 * rather than a helper call per field: the fd array slot is the one read
 * that needs bpf_probe_read_kernel (a variable index). */
static __always_inline struct sock *fd_tcp_sock(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;
	struct socket *sock;
	struct sock *sk;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return NULL;
	file = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	if ((file->f_inode->i_mode & SL_S_IFMT) != SL_S_IFSOCK)
		return NULL;
	sock = bpf_rdonly_cast(file->private_data, bpf_core_type_id_kernel(struct socket));
	if (sock->type != SL_SOCK_STREAM)
		return NULL;
	if (!(sk = sock->sk))
		return NULL;
	if (sk->__sk_common.skc_family != SL_AF_INET && sk->__sk_common.skc_family != SL_AF_INET6)
		return NULL;
	return sk->sk_protocol == SL_IPPROTO_TCP ? sk : NULL;
}

static __always_inline void read_addrs(struct sluice_ev_conn_open *e, struct sock *sk)
{
	struct sock_common *c = &sk->__sk_common;

	e->family = read_local(c, e->laddr, &e->lport, &e->netns);
	e->rport = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
	if (e->family == SL_AF_INET)
		bpf_core_read(e->raddr, 4, &c->skc_daddr);
	else
		bpf_core_read(e->raddr, 16, &c->skc_v6_daddr);
}

static __always_inline void emit_conn_open(struct sock *sk, const struct sock_state *st,
					   __u64 pid_tgid)
{
	struct sluice_ev_conn_open *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		count_loss(SLUICE_LOSS_RB_CONN, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, SLUICE_EV_CONN_OPEN, sizeof(*e), pid_tgid >> 32, (__u32)pid_tgid);
	e->conn_id = st->conn_id;
	e->role = st->role;
	read_addrs(e, sk);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, rb_flags());
}

/* Starts tracking sk as a new connection and announces it. A stale entry
 * for a recycled sock pointer is overwritten: connect/accept always mean a
 * new connection. */
static __always_inline struct sock_state *conn_start(struct sock *sk, __u8 role, __u64 flags)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 key = (__u64)sk;
	__u32 zero = 0;
	__u64 *next = bpf_map_lookup_elem(&conn_ids, &zero);
	struct sock_state st = { .tgid = pid_tgid >> 32, .role = role };
	long err;

	if (!next)
		return NULL;
	st.conn_id = __sync_fetch_and_add(next, 1);
	err = bpf_map_update_elem(&socks, &key, &st, flags);

	if (err) {
		if (err != -SL_EEXIST)
			count_loss(SLUICE_LOSS_MAP_FULL, 1);
		return bpf_map_lookup_elem(&socks, &key); /* lost a race: use theirs */
	}
	emit_conn_open(sk, &st, pid_tgid);
	return bpf_map_lookup_elem(&socks, &key);
}

/* State for a socket seen in a data syscall; sockets that predate sluice get
 * role UNKNOWN. A socket already in TCP_CLOSE (reset while data was still
 * queued) is not started: its close has passed, so the entry would leak. */
static __always_inline struct sock_state *conn_lookup_or_start(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct sock_state *st = bpf_map_lookup_elem(&socks, &key);

	if (st)
		return st;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == SL_TCP_CLOSE)
		return NULL;
	return conn_start(sk, SLUICE_ROLE_UNKNOWN, BPF_NOEXIST);
}

/* The enter half of every call slot user (connect here, the data family in
 * data.bpf.h): the calling thread's slot takes the call's arguments. */
static __always_inline void save_call(const struct call_args *a)
{
	struct call_args *slot = call_slot(true);

	if (!slot)
		return;
	/* Field by field: clang 14 lowered `*slot = *a` for connect's
	 * mostly-constant struct as a copy of bytes 8..23 and dropped the store
	 * of sk, so every client connection came out with role UNKNOWN. */
	slot->sk = a->sk;
	slot->buf = a->buf;
	slot->iovcnt = a->iovcnt;
	slot->kind = a->kind;
	slot->syscall = a->syscall;
	slot->dir = a->dir;
	slot->live = 1;
}

static __always_inline struct sock *enter_gate(int fd)
{
	if (!task_traced(bpf_get_current_pid_tgid() >> 32))
		return NULL;
	return fd_tcp_sock(fd);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	struct call_args a = { .kind = CALL_CONNECT };

	a.sk = (__u64)enter_gate((int)ctx->args[0]);
	if (a.sk)
		save_call(&a);
	return 0;
}

/* The per-call slot is the filter here: it is live only if sys_enter passed
 * the ignore and cgroup checks for a TCP socket. */
SEC("tracepoint/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct call_args c;

	if (!call_take(&c))
		return 0;
	if (c.kind != CALL_CONNECT || (ctx->ret != 0 && ctx->ret != -SL_EINPROGRESS))
		return 0;
	conn_start((struct sock *)c.sk, SLUICE_ROLE_CLIENT, BPF_ANY);
	return 0;
}

static __always_inline int on_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct sock *sk;

	if (ctx->ret < 0 || !task_traced(bpf_get_current_pid_tgid() >> 32))
		return 0;
	sk = fd_tcp_sock((int)ctx->ret); /* the new fd is installed by now */
	if (sk)
		conn_start(sk, SLUICE_ROLE_SERVER, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

/* CLOSE -> LISTEN (listen()) and LISTEN -> CLOSE (close() of the listening
 * socket) both run in the owning task's context, so the usual gate applies.
 * The endpoint comes from the tracepoint's copy: at LISTEN -> CLOSE the sock
 * has already given its port back. */
static __always_inline int on_listen(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sock_common *c = (void *)ctx->skaddr;
	struct sluice_ev_listen *e;

	if (!task_traced(pid_tgid >> 32))
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		count_loss(SLUICE_LOSS_RB_PROC, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, SLUICE_EV_LISTEN, sizeof(*e), pid_tgid >> 32, (__u32)pid_tgid);
	e->listening = ctx->newstate == SL_TCP_LISTEN;
	e->family = ctx->family;
	e->port = ctx->sport;
	e->netns = BPF_CORE_READ(c, skc_net.net, ns.inum);
	if (bpf_probe_read_kernel(e->addr, e->family == SL_AF_INET ? 4 : 16,
				  e->family == SL_AF_INET ? (void *)ctx->saddr : (void *)ctx->saddr_v6))
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
	bpf_ringbuf_submit(e, rb_flags());
	return 0;
}

/* A connection's close runs in whatever context moves the socket to CLOSE,
 * often softirq, so the current task means nothing there: no ignore/cgroup
 * check, the socket being tracked is the filter, and the event carries the
 * owner's tgid. */
SEC("tracepoint/sock/inet_sock_set_state")
int sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)ctx->skaddr;
	struct sluice_ev_conn_close *e;
	struct sock_state *st;

	if (ctx->protocol != SL_IPPROTO_TCP)
		return 0;
	if (ctx->newstate == SL_TCP_LISTEN || ctx->oldstate == SL_TCP_LISTEN)
		return on_listen(ctx);
	if (ctx->newstate != SL_TCP_CLOSE)
		return 0;
	st = bpf_map_lookup_elem(&socks, &key);
	if (!st)
		return 0;
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (e) {
		fill_header(&e->h, SLUICE_EV_CONN_CLOSE, sizeof(*e), st->tgid, 0);
		e->conn_id = st->conn_id;
		e->bytes_sent = st->bytes_sent;
		e->bytes_recv = st->bytes_recv;
		bpf_ringbuf_submit(e, rb_flags());
	} else {
		count_loss(SLUICE_LOSS_RB_CONN, 1);
	}
	bpf_map_delete_elem(&socks, &key);
	return 0;
}

#endif
