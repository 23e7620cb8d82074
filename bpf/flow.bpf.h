/* Flows: every IPv4/IPv6 TCP or UDP packet a socket in the attached cgroup
 * sends or receives is counted (L4 payload bytes and GSO segments) into a
 * hash map keyed by the socket's view of the flow. The loader drains the
 * map periodically; the packet hooks that call flow_count() live in
 * dns.bpf.h. Also here: parsing a packet's headers and finding the
 * socket's owner, which dns.bpf.h shares. */
#ifndef SLUICE_FLOW_BPF_H
#define SLUICE_FLOW_BPF_H

#define SL_IPPROTO_UDP 17
#define SL_ETH_P_IP 0x0800
#define SL_ETH_P_IPV6 0x86DD
#define SL_IP_OFFSET 0x1fff
#define SLUICE_FLOWS_MAX 16384 /* flows per drain period; more are counted as lost */

/* Two maps, swapped by the loader through the one-slot `flows`: after it
 * points `flows` at one, the kernel has finished every program that could
 * still write the other (a map-in-map update waits for an RCU grace
 * period), so the drain reads exact totals and deletes nothing in use. */
struct flow_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_FLOWS_MAX);
	__type(key, struct sluice_flow_key);
	__type(value, struct sluice_flow_counts);
};

struct flow_map flows_a SEC(".maps");
struct flow_map flows_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_map);
} flows SEC(".maps") = {
	.values = { &flows_a },
};

/* The process that created a socket (cgroup/sock_create runs in its
 * context). Cloned to accepted sockets, which then name the listener's
 * creator until the accept tracepoint's entry in `socks` is there. The
 * comm travels with the counts: the processor names a process that may
 * have exited before its flow was read. */
struct sk_creator {
	__u32 tgid;
	char comm[SLUICE_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct sk_creator);
} sk_owner SEC(".maps");

/* A packet's headers as this host's socket sees them. */
struct skb_pkt {
	struct sluice_flow_key k; /* local = this host's end */
	__u16 sport, dport;       /* as on the wire */
	__u32 l4_off;             /* offset of the L4 payload from the IP header */
	__u32 payload;            /* L4 payload bytes */
	__u64 segs;               /* GSO segments, at least 1 */
};

struct skb_owner {
	__u32 tgid;
	__u64 conn_id;
	const struct sk_creator *creator; /* NULL: not recorded */
	struct bpf_sock *sk;              /* the full sock, NULL if none */
	bool tracked;                     /* socks was consulted */
};

static __always_inline int parse_l3(struct __sk_buff *skb, struct skb_pkt *p, __u8 *saddr,
				    __u8 *daddr, __u8 *proto)
{
	if (skb->protocol == bpf_htons(SL_ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) ||
		    (ip.frag_off & bpf_htons(SL_IP_OFFSET)))
			return -1; /* a later fragment: no L4 header to read */
		p->k.family = SL_AF_INET;
		p->l4_off = ip.ihl * 4u;
		*proto = ip.protocol;
		__builtin_memcpy(saddr, &ip.saddr, 4);
		__builtin_memcpy(daddr, &ip.daddr, 4);
		return 0;
	}
	if (skb->protocol == bpf_htons(SL_ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return -1;
		p->k.family = SL_AF_INET6;
		p->l4_off = sizeof(ip6); /* extension headers are not followed */
		*proto = ip6.nexthdr;
		__builtin_memcpy(saddr, &ip6.saddr, 16);
		__builtin_memcpy(daddr, &ip6.daddr, 16);
		return 0;
	}
	return -1;
}

/* Fills p from the packet; -1 for anything but a first (or only) IPv4/IPv6
 * fragment of TCP or UDP. */
static __always_inline int skb_parse(struct __sk_buff *skb, bool egress, struct skb_pkt *p)
{
	__u8 saddr[16] = {}, daddr[16] = {}, proto = 0;
	__u32 l4len;
	struct tcphdr th;
	struct udphdr uh;

	if (parse_l3(skb, p, saddr, daddr, &proto))
		return -1;
	if (proto == SL_IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, p->l4_off, &th, sizeof(th)))
			return -1;
		l4len = th.doff * 4u;
		p->sport = bpf_ntohs(th.source);
		p->dport = bpf_ntohs(th.dest);
	} else if (proto == SL_IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, p->l4_off, &uh, sizeof(uh)))
			return -1;
		l4len = sizeof(uh);
		p->sport = bpf_ntohs(uh.source);
		p->dport = bpf_ntohs(uh.dest);
	} else {
		return -1;
	}
	p->k.proto = proto;
	p->l4_off += l4len;
	p->payload = skb->len > p->l4_off ? skb->len - p->l4_off : 0;
	p->segs = skb->gso_segs ? skb->gso_segs : 1;
	p->k.lport = egress ? p->sport : p->dport;
	p->k.rport = egress ? p->dport : p->sport;
	__builtin_memcpy(p->k.laddr, egress ? saddr : daddr, 16);
	__builtin_memcpy(p->k.raddr, egress ? daddr : saddr, 16);
	return 0;
}

/* The socket's creator, as sock_create recorded it: enough to tell
 * sluice's own sockets (ignore_tgids) apart, and the owner of any socket
 * conn.bpf.h does not track. */
static __always_inline void skb_owner(struct __sk_buff *skb, struct skb_owner *o)
{
	struct bpf_sock *sk = skb->sk;

	o->tgid = 0;
	o->conn_id = 0;
	o->creator = NULL;
	o->tracked = false;
	o->sk = sk ? bpf_sk_fullsock(sk) : NULL;
	if (!o->sk)
		return; /* a request or time-wait sock: nobody owns it yet/any more */
	if ((o->creator = bpf_sk_storage_get(&sk_owner, o->sk, 0, 0)))
		o->tgid = o->creator->tgid;
}

/* A TCP connection conn.bpf.h tracks (keyed by the struct sock pointer,
 * which is what skb->sk holds) knows the accepting or connecting process
 * and the conn_id. Looked up only while the flow lacks a conn_id: once per
 * flow and drain period for a tracked connection. */
static __always_inline void skb_tracked(struct skb_owner *o)
{
	struct sock_state *st;
	__u64 key = (__u64)o->sk;

	o->tracked = true;
	if (o->sk && (st = bpf_map_lookup_elem(&socks, &key))) {
		o->tgid = st->tgid; /* the accepting process, not the listener's creator */
		o->conn_id = st->conn_id;
	}
}

static __always_inline void flow_add(struct sluice_flow_counts *v, const struct skb_pkt *p,
				     bool egress, struct skb_owner *o)
{
	if (egress) {
		__sync_fetch_and_add(&v->bytes_out, p->payload);
		__sync_fetch_and_add(&v->pkts_out, p->segs);
	} else {
		__sync_fetch_and_add(&v->bytes_in, p->payload);
		__sync_fetch_and_add(&v->pkts_in, p->segs);
	}
	/* the owner may be learnt after the first packets (a connect's SYN) */
	if (!v->conn_id)
		skb_tracked(o);
	if (!v->tgid && o->tgid)
		v->tgid = o->tgid;
	if (!v->conn_id && o->conn_id)
		v->conn_id = o->conn_id;
	if (!v->comm[0] && o->creator)
		__builtin_memcpy(v->comm, o->creator->comm, sizeof(v->comm));
}

static __always_inline void flow_count(const struct skb_pkt *p, bool egress,
				       struct skb_owner *o)
{
	struct sluice_flow_counts *v, fresh = {};
	__u32 zero = 0;
	void *map = bpf_map_lookup_elem(&flows, &zero);
	long err;

	if (!map)
		return;
	if (!(v = bpf_map_lookup_elem(map, &p->k))) {
		err = bpf_map_update_elem(map, &p->k, &fresh, BPF_NOEXIST);
		if (err && err != -SL_EEXIST) {
			count_loss(SLUICE_LOSS_MAP_FULL, 1);
			return;
		}
		if (!(v = bpf_map_lookup_elem(map, &p->k)))
			return;
	}
	flow_add(v, p, egress, o);
}

/* Runs in the creating task's context: the one place a UDP socket's owner
 * is known for sure. Always allows the socket. */
SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *sk)
{
	struct sk_creator *c = bpf_sk_storage_get(&sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (c) {
		c->tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(c->comm, sizeof(c->comm));
	}
	return 1;
}

#endif
