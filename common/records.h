/* Contract 1, the records the BPF programs write: their layouts, shared by
 * bpf/ and the processor, which validates every field (processor/decode.c).
 * The loader never reads past their header (common/events.h): it checks
 * type and size and forwards the bytes as they are. Fields are only ever
 * appended; bump SLUICE_EVENT_VERSION when a layout changes. */
#ifndef SLUICE_RECORDS_H
#define SLUICE_RECORDS_H

#include "common/events.h"

#define SLUICE_EXE_LEN 256
#define SLUICE_CMDLINE_LEN 256 /* first bytes of argv, NUL-separated as in memory */
/* Bytes of a DNS packet's L4 payload one DNS record carries: the whole
 * message of any classic UDP answer; longer (EDNS) answers are parsed as
 * far as this goes. */
#define SLUICE_DNS_CAP 512
_Static_assert((SLUICE_DNS_CAP & (SLUICE_DNS_CAP - 1)) == 0, "DNS cap is a power of 2");

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

_Static_assert(sizeof(struct sluice_ev_dns) == 80 + SLUICE_DNS_CAP, "dns layout");
_Static_assert(sizeof(struct sluice_ev_exec) == 24 + 32 + 16 + 256 + 8 + 256, "exec layout");
_Static_assert(sizeof(struct sluice_ev_listen) == 48, "listen layout");
_Static_assert(sizeof(struct sluice_ev_exit) == 40, "exit layout");
_Static_assert(sizeof(struct sluice_ev_conn_open) == 24 + 24 + 32 + 16, "conn_open layout");
_Static_assert(sizeof(struct sluice_ev_conn_close) == 48, "conn_close layout");
_Static_assert(sizeof(struct sluice_ev_data) == 56, "data layout");
_Static_assert(__builtin_offsetof(struct sluice_ev_data, payload) == 56, "payload offset");
_Static_assert(sizeof(struct sluice_ev_data) + SLUICE_CAPTURE_MAX == SLUICE_RECORD_MAX &&
		       sizeof(struct sluice_ev_exec) <= SLUICE_RECORD_MAX &&
		       sizeof(struct sluice_ev_dns) <= SLUICE_RECORD_MAX,
	       "every record fits SLUICE_RECORD_MAX");

#endif
