/* Reading kernel objects, shared by the probes and the snapshot iterators:
 * the TCP sock behind a file, a sock's local endpoint, a task's pid as its
 * own pid namespace sees it. No programs and no maps live here. */
#ifndef SLUICE_KREAD_BPF_H
#define SLUICE_KREAD_BPF_H

#define SL_AF_INET 2
#define SL_AF_INET6 10
#define SL_SOCK_STREAM 1
#define SL_IPPROTO_TCP 6
#define SL_TCP_CLOSE 7
#define SL_TCP_LISTEN 10
#define SL_EINPROGRESS 115
#define SL_EEXIST 17
#define SL_S_IFMT 00170000
#define SL_S_IFSOCK 0140000

/* The struct sock of a file, or NULL unless it is a TCP socket over IPv4 or
 * IPv6. Everything else (files, pipes, ttys, unix sockets) stops here. */
static __always_inline struct sock *file_tcp_sock(struct file *file)
{
	struct socket *sock;
	struct sock *sk;

	if ((BPF_CORE_READ(file, f_inode, i_mode) & SL_S_IFMT) != SL_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (BPF_CORE_READ(sock, type) != SL_SOCK_STREAM)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != SL_AF_INET && family != SL_AF_INET6)
		return NULL;
	/* sk_protocol was a bitfield before 5.6: read it the portable way. */
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != SL_IPPROTO_TCP)
		return NULL;
	return sk;
}

/* Local address (16 bytes, v4 in the first 4), port and netns of a sock;
 * returns its family. */
static __always_inline __u8 read_local(struct sock_common *c, __u8 *addr, __u16 *port,
				       __u32 *netns)
{
	__u8 family = BPF_CORE_READ(c, skc_family);

	*port = BPF_CORE_READ(c, skc_num);
	*netns = BPF_CORE_READ(c, skc_net.net, ns.inum);
	if (family == SL_AF_INET)
		bpf_core_read(addr, 4, &c->skc_rcv_saddr);
	else
		bpf_core_read(addr, 16, &c->skc_v6_rcv_saddr);
	return family;
}

/* The pid as the task's own pid namespace sees it, and that namespace's
 * inode: thread_pid->numbers[level] is the innermost level. */
static __always_inline int read_ns_pid(struct task_struct *task, __u32 *ns_pid, __u32 *ino)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	if (bpf_probe_read_kernel(&up, sizeof(up),
				  (void *)pid + bpf_core_field_offset(struct pid, numbers) +
					  (__u64)level * sizeof(struct upid)))
		return -1;
	*ns_pid = up.nr;
	*ino = BPF_CORE_READ(up.ns, ns.inum);
	return 0;
}

#endif
