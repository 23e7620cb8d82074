/* Contract 1, the part the loader reads: the header every ring-buffer
 * record starts with, the event types, the loss kinds, and the two records
 * the loader builds itself (FLOW from the flow maps, LOSS from the
 * counters). The layouts of the records the BPF programs write are in
 * common/records.h: the loader forwards those unread (common/wire.h), so it
 * does not include them. Fields are only ever appended; bump
 * SLUICE_EVENT_VERSION when a layout changes. Included by bpf/ (after
 * vmlinux.h) and by userspace. */
#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SLUICE_EVENT_VERSION 3 /* 2: EXEC cmdline, LISTEN, SLUICE_FLAG_SNAPSHOT; 3: DNS, FLOW */

#define SLUICE_COMM_LEN 16
/* Largest payload one data record can carry; the run-time cap
 * (--capture-bytes) is at most this. A power of two: BPF masks with it. */
#define SLUICE_CAPTURE_MAX 16384
#define SLUICE_CAPTURE_DEFAULT 4096
/* The largest record of any type: a DATA record's 56-byte head plus the
 * largest payload (records.h checks every layout against it). */
#define SLUICE_RECORD_MAX (56 + SLUICE_CAPTURE_MAX)

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
	SLUICE_LOSS_BAD_RECORD = 8, /* loader: ring-buffer record with a bad header */
	SLUICE_LOSS_MAX = 9,
};

/* Common header of every record. `size` is the whole record including any
 * payload: the loader checks it against what the ring buffer says. */
struct sluice_ev_header {
	__u16 type;
	__u16 flags;
	__u32 size;
	__u64 ts_ns; /* CLOCK_BOOTTIME-based bpf_ktime_get_boot_ns() */
	__u32 tgid;
	__u32 tid;
};

/* The total of one loss kind since `epoch` (the CLOCK_REALTIME ns its
 * counters started from 0): a replayed report is harmless, a new epoch says
 * the counters restarted. tgid = tid = 0. */
struct sluice_ev_loss {
	struct sluice_ev_header h;
	__u32 kind; /* enum sluice_loss_kind */
	__u32 pad;
	__u64 total;
	__u64 epoch;
};

/* One flow as the socket on this host sees it. The kernel counts into a
 * hash map keyed by this; the loader drains it periodically and sends each
 * entry, unread, as a FLOW record. */
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
_Static_assert(sizeof(struct sluice_ev_loss) == 48, "loss layout");
_Static_assert(sizeof(struct sluice_ev_flow) == 24 + 48 + 64, "flow layout");
_Static_assert((SLUICE_CAPTURE_MAX & (SLUICE_CAPTURE_MAX - 1)) == 0, "cap is a power of 2");

#endif
