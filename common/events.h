/* Contract 1: the fixed-layout records the BPF programs write into the ring
 * buffer and the loader reads. Included by bpf/ (after vmlinux.h) and by
 * userspace. Fields are only ever appended; bump SLUICE_EVENT_VERSION when a
 * layout changes. The loader turns these into msgpack (common/wire.h): this
 * struct layout never crosses the IPC boundary. */
#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SLUICE_EVENT_VERSION 3 /* 2: EXEC cmdline, LISTEN, SLUICE_FLAG_SNAPSHOT; 3: DNS, FLOW */

#define SLUICE_COMM_LEN 16
#define SLUICE_EXE_LEN 256
#define SLUICE_CMDLINE_LEN 256 /* first bytes of argv, NUL-separated as in memory */
/* Largest payload one data record can carry; the run-time cap
 * (--capture-bytes) is at most this. A power of two: BPF masks with it. */
#define SLUICE_CAPTURE_MAX 16384
#define SLUICE_CAPTURE_DEFAULT 4096
/* Bytes of a DNS packet's L4 payload one DNS record carries: the whole
 * message of any classic UDP answer; longer (EDNS) answers are parsed as
 * far as this goes. */
#define SLUICE_DNS_CAP 512
_Static_assert((SLUICE_DNS_CAP & (SLUICE_DNS_CAP - 1)) == 0, "DNS cap is a power of 2");

enum sluice_event_type {
	SLUICE_EV_EXEC = 1,
	SLUICE_EV_EXIT = 2,
	SLUICE_EV_CONN_OPEN = 3,
	SLUICE_EV_CONN_CLOSE = 4,
	SLUICE_EV_DATA = 5,
	SLUICE_EV_LOSS = 6, /* built by the loader, never by BPF */
	SLUICE_EV_LISTEN = 7, /* a TCP socket started or stopped listening */
	SLUICE_EV_DNS = 8,    /* a packet to or from port 53 (UDP or TCP), any process */
	SLUICE_EV_FLOW = 9,   /* a flow's byte/packet counts since the last report (loader-built) */
	SLUICE_EV_MAX = 9,
};

/* sluice_ev_header.flags */
#define SLUICE_FLAG_SNAPSHOT 1 /* EXEC/LISTEN describing state found at loader start */

enum sluice_role {
	SLUICE_ROLE_UNKNOWN = 0, /* socket first seen mid-life (existed before sluice) */
	SLUICE_ROLE_CLIENT = 1,  /* connect()ed by this process */
	SLUICE_ROLE_SERVER = 2,  /* accept()ed by this process */
};

enum sluice_direction {
	SLUICE_DIR_EGRESS = 0,  /* the process wrote these bytes */
	SLUICE_DIR_INGRESS = 1, /* the process read these bytes */
};

enum sluice_syscall {
	SLUICE_SYS_READ = 1, SLUICE_SYS_WRITE, SLUICE_SYS_READV, SLUICE_SYS_WRITEV,
	SLUICE_SYS_RECVFROM, SLUICE_SYS_SENDTO, SLUICE_SYS_RECVMSG, SLUICE_SYS_SENDMSG,
	SLUICE_SYS_SENDFILE, SLUICE_SYS_MAX = SLUICE_SYS_SENDFILE,
};

/* Where an event could not be delivered or was cut. Index of the per-CPU
 * counter array `loss_counters` in BPF; the loader adds its own kinds after
 * SLUICE_LOSS_KERNEL_MAX. Every value reaches the processor as a total. */
enum sluice_loss_kind {
	SLUICE_LOSS_RB_DATA = 0,   /* ring buffer full: data or DNS record dropped */
	SLUICE_LOSS_RB_CONN = 1,   /* ring buffer full: conn open/close dropped */
	SLUICE_LOSS_RB_PROC = 2,   /* ring buffer full: exec/exit dropped */
	SLUICE_LOSS_MAP_FULL = 3,  /* per-socket/per-call map insert failed; flows: a
				    * packet not counted because its flow map was full */
	SLUICE_LOSS_READ_FAIL = 4, /* bpf_probe_read_* of user/kernel memory failed */
	SLUICE_LOSS_TRUNC_BYTES = 5, /* bytes beyond the capture cap (not a loss of events) */
	SLUICE_LOSS_KERNEL_MAX = 6,
	SLUICE_LOSS_SPOOL_FULL = 6, /* loader: batches dropped (spool full, or unacked at exit) */
	SLUICE_LOSS_SPOOL_EVENTS = 7, /* loader: records in them (not its own LOSS reports) */
	SLUICE_LOSS_BAD_RECORD = 8, /* loader: ring-buffer record with wrong size/type */
	SLUICE_LOSS_MAX = 9,
};

/* Common header of every record. `size` is the whole record including any
 * payload; the loader checks it against the type before reading further. */
struct sluice_ev_header {
	__u16 type;
	__u16 flags;
	__u32 size;
	__u64 ts_ns; /* CLOCK_BOOTTIME-based bpf_ktime_get_boot_ns() */
	__u32 tgid;
	__u32 tid;
};

struct sluice_ev_exec {
	struct sluice_ev_header h;
	__u32 ppid;
	__u32 uid;
	__u64 cgroup_id;
	__u32 pidns_ino;
	__u32 ns_pid;
	__u64 start_ns; /* task start_boottime: pid + start_ns is a process's identity */
	char comm[SLUICE_COMM_LEN];
	char exe[SLUICE_EXE_LEN];
	__u32 cmdline_len; /* bytes of cmdline[] that are valid */
	__u32 pad;
	char cmdline[SLUICE_CMDLINE_LEN];
};

struct sluice_ev_exit {
	struct sluice_ev_header h;
	__s32 exit_code; /* raw wait status (code << 8 | signal) */
	__u32 pad;
	__u64 start_ns;
};

struct sluice_ev_conn_open {
	struct sluice_ev_header h;
	__u64 conn_id; /* unique for the host's lifetime; never reused */
	__u8 role;     /* enum sluice_role */
	__u8 family;   /* AF_INET or AF_INET6 */
	__u16 lport;   /* host byte order */
	__u16 rport;   /* host byte order */
	__u16 pad;
	__u32 netns;
	__u32 pad2;
	__u8 laddr[16]; /* v4 in the first 4 bytes */
	__u8 raddr[16];
	char comm[SLUICE_COMM_LEN];
};

struct sluice_ev_conn_close {
	struct sluice_ev_header h;
	__u64 conn_id;
	__u64 bytes_sent; /* totals over the connection's life as seen by sluice */
	__u64 bytes_recv;
};

struct sluice_ev_data {
	struct sluice_ev_header h;
	__u64 conn_id;
	__u64 pos;      /* byte offset of this chunk in its direction's stream */
	__u32 full_len; /* bytes the syscall moved */
	__u32 cap_len;  /* bytes of payload[] that follow (<= full_len, <= cap) */
	__u8 direction; /* enum sluice_direction */
	__u8 syscall;   /* enum sluice_syscall */
	__u16 pad;
	__u32 pad2;
	__u8 payload[]; /* cap_len bytes */
};

struct sluice_ev_listen {
	struct sluice_ev_header h;
	__u8 family;    /* AF_INET or AF_INET6 */
	__u8 listening; /* 1: listen() started, 0: the listening socket closed */
	__u16 port;     /* host byte order */
	__u32 netns;
	__u8 addr[16];  /* local address; v4 in the first 4 bytes */
};

/* A packet to or from port 53, seen by the cgroup_skb probes (any process,
 * any syscall: sendmmsg/recvmmsg resolvers too). h.tgid is the socket's
 * owner when known (0 otherwise: the hook often runs in softirq); tid 0. */
struct sluice_ev_dns {
	struct sluice_ev_header h;
	__u64 cgroup_id;  /* cgroup v2 id of the socket, 0 if none */
	__u8 family;      /* AF_INET or AF_INET6 */
	__u8 proto;       /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 direction;   /* enum sluice_direction: egress = this host sent it */
	__u8 pad;
	__u16 sport, dport; /* host byte order */
	__u32 full_len;   /* L4 payload bytes of the packet (TCP: of the segment) */
	__u32 cap_len;    /* bytes of payload[] that are valid: <= full_len, SLUICE_DNS_CAP */
	__u8 saddr[16];   /* v4 in the first 4 bytes */
	__u8 daddr[16];
	__u8 payload[SLUICE_DNS_CAP];
};

/* One flow as the socket on this host sees it. The kernel counts into a
 * hash map keyed by this; the loader drains it periodically and sends each
 * entry, unread, as a FLOW event. */
struct sluice_flow_key {
	__u64 cgroup_id; /* the socket's cgroup v2 id: keeps containers' flows apart */
	__u8 family;     /* AF_INET or AF_INET6 */
	__u8 proto;      /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 lport, rport; /* host byte order */
	__u16 pad;
	__u8 laddr[16];  /* this host's end; v4 in the first 4 bytes */
	__u8 raddr[16];
};

/* Bytes are L4 payload (TCP segment data, UDP datagram data), never IP or
 * L4 headers: what the applications wrote and read, plus retransmissions.
 * Packets count GSO segments: a 64 KiB TSO send of 1448-byte segments is 46. */
struct sluice_flow_counts {
	__u64 bytes_out, bytes_in;
	__u64 pkts_out, pkts_in;
	__u64 conn_id;   /* the TCP connection's id (CONN_OPEN) when tracked, else 0 */
	__u32 tgid;      /* owner: the process that created or accepted the socket; 0 unknown */
	__u32 pad;
	char comm[SLUICE_COMM_LEN]; /* the creating process's comm; "" unknown */
};

struct sluice_ev_flow {
	struct sluice_ev_header h; /* ts: when the loader read it; tgid = v.tgid; tid 0 */
	struct sluice_flow_key k;
	struct sluice_flow_counts v;
};

_Static_assert(sizeof(struct sluice_ev_header) == 24, "header layout");
_Static_assert(sizeof(struct sluice_ev_dns) == 80 + SLUICE_DNS_CAP, "dns layout");
_Static_assert(sizeof(struct sluice_flow_key) == 48, "flow key layout");
_Static_assert(sizeof(struct sluice_flow_counts) == 64, "flow counts layout");
_Static_assert(sizeof(struct sluice_ev_flow) == 136, "flow layout");
_Static_assert(sizeof(struct sluice_ev_exec) == 24 + 32 + 16 + 256 + 8 + 256, "exec layout");
_Static_assert(sizeof(struct sluice_ev_listen) == 48, "listen layout");
_Static_assert(sizeof(struct sluice_ev_exit) == 40, "exit layout");
_Static_assert(sizeof(struct sluice_ev_conn_open) == 24 + 24 + 32 + 16, "conn_open layout");
_Static_assert(sizeof(struct sluice_ev_conn_close) == 48, "conn_close layout");
_Static_assert(sizeof(struct sluice_ev_data) == 56, "data layout");
_Static_assert(__builtin_offsetof(struct sluice_ev_data, payload) == 56, "payload offset");
_Static_assert((SLUICE_CAPTURE_MAX & (SLUICE_CAPTURE_MAX - 1)) == 0, "cap is a power of 2");

#endif
