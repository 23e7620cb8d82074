/* Maps, load-time tunables and the small helpers every program shares:
 * the "is this task traced" gate, loss counting and ring-buffer wakeup
 * policy. Included once, by sluice.bpf.c. */
#ifndef SLUICE_MAPS_BPF_H
#define SLUICE_MAPS_BPF_H

/* Set by the loader before load (rodata): the verifier sees them as
 * constants, so a disabled feature costs nothing at run time. */
const volatile __u32 capture_bytes = SLUICE_CAPTURE_DEFAULT;
const volatile bool filter_cgroup = false;
const volatile __u64 wakeup_bytes = 0;

/* The next conn_id, in a map of its own rather than .bss so that it is
 * pinned and survives a loader restart or a program upgrade: ids are never
 * reused. A new map is seeded by the loader with CLOCK_BOOTTIME ns. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} conn_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* the loader resizes it */
} rb SEC(".maps");

/* The loader and the processor: tracing them would feed sluice its own
 * traffic back. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} ignore_tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_LOSS_KERNEL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} loss_counters SEC(".maps");

static __always_inline void count_loss(__u32 kind, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&loss_counters, &kind);

	if (v)
		*v += n; /* per-CPU: no atomics needed */
}

/* What a data/connect syscall's enter handler leaves for its exit handler. */
enum call_kind { CALL_BUF = 0, CALL_IOV = 1, CALL_NOCOPY = 2, CALL_CONNECT = 3 };

struct call_args {
	__u64 sk;
	__u64 buf;    /* user buffer (CALL_BUF) or iovec array (CALL_IOV) */
	__u32 iovcnt; /* CALL_IOV only */
	__u8 kind;    /* enum call_kind */
	__u8 syscall; /* enum sluice_syscall */
	__u8 dir;     /* enum sluice_direction */
	__u8 live;    /* 1 from a traced sys_enter to its sys_exit */
};

/* Per thread (task local storage): a thread has at most one syscall in
 * flight, and the slot goes with the thread, so one killed mid-syscall
 * leaves nothing behind. Getting it is a pointer walk, not a hash lookup,
 * and it is never deleted: sys_exit only clears `live`. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call_args);
} calls SEC(".maps");

/* The calling thread's slot, created when `create`; NULL when it has none
 * (or, creating, when memory is short: counted). */
static __always_inline struct call_args *call_slot(bool create)
{
	struct call_args *a = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0,
						   create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);

	if (!a && create)
		count_loss(SLUICE_LOSS_MAP_FULL, 1);
	return a;
}

/* Takes what sys_enter left (false if nothing), and clears the slot. */
static __always_inline bool call_take(struct call_args *out)
{
	struct call_args *a = call_slot(false);

	if (!a || !a->live)
		return false;
	*out = *a;
	a->live = 0;
	return true;
}

/* Per TCP socket, keyed by the struct sock pointer: survives dup() and fd
 * reuse, and the close tracepoint only knows the sock. LRU so that sockets
 * whose close we miss cannot fill it. */
struct sock_state {
	__u64 conn_id;
	__u64 bytes_sent; /* next stream position, egress */
	__u64 bytes_recv; /* next stream position, ingress */
	__u32 tgid;
	__u8 role;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_state);
} socks SEC(".maps");

/* Scratch for variable-size data records. Twice the cap so that "offset <
 * CAP, length <= CAP" is provably in bounds for the verifier. That is over
 * the 32 KiB per-CPU value limit, so this is a plain array with one slot per
 * CPU (the loader sizes it to the possible CPUs), indexed by CPU id. */
struct data_scratch {
	__u8 raw[sizeof(struct sluice_ev_data) + 2 * SLUICE_CAPTURE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* the loader resizes it */
	__type(key, __u32);
	__type(value, struct data_scratch);
} scratch SEC(".maps");

/* Wake the reader only once a batch worth of data waits; it polls with a
 * short timeout anyway, so a wakeup per event would only burn CPU. */
static __always_inline __u64 rb_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* The gate at the top of every task-context program. */
static __always_inline bool task_traced(__u32 tgid)
{
	if (bpf_map_lookup_elem(&ignore_tgids, &tgid))
		return false;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	return true;
}

static __always_inline void fill_header(struct sluice_ev_header *h, __u16 type, __u32 size,
					__u32 tgid, __u32 tid)
{
	h->type = type;
	h->flags = 0;
	h->size = size;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->tgid = tgid;
	h->tid = tid;
}

#endif
