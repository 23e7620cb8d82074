/* The packet hooks: cgroup_skb egress and ingress, attached by the loader
 * to the cgroup v2 root (or to --cgroup), so they see every process's
 * packets whatever syscall moved them (sendmmsg/recvmmsg resolvers, io_uring
 * too). Each TCP/UDP packet is counted to its flow (flow.bpf.h); a packet
 * to or from port 53 is also copied, up to SLUICE_DNS_CAP payload bytes,
 * into a DNS record. No parsing of DNS here: the processor does that.
 * The hooks only observe: they always let the packet through. */
#ifndef SLUICE_DNS_BPF_H
#define SLUICE_DNS_BPF_H

#define SL_DNS_PORT 53

/* Copies the first min(payload, SLUICE_DNS_CAP) payload bytes. */
static __always_inline void dns_emit(struct __sk_buff *skb, const struct skb_pkt *p, bool egress,
				     const struct skb_owner *o)
{
	struct sluice_ev_dns *e;
	__u32 n = p->payload;

	if (!n)
		return; /* a bare TCP ACK/SYN/FIN to port 53 carries no message */
	if (!(e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0))) {
		count_loss(SLUICE_LOSS_RB_DATA, 1);
		return;
	}
	fill_header(&e->h, SLUICE_EV_DNS, sizeof(*e), o->tgid, 0);
	e->cgroup_id = p->k.cgroup_id;
	e->family = p->k.family;
	e->proto = p->k.proto;
	e->direction = egress ? SLUICE_DIR_EGRESS : SLUICE_DIR_INGRESS;
	e->pad = 0;
	e->sport = p->sport;
	e->dport = p->dport;
	e->full_len = n;
	__builtin_memcpy(e->saddr, egress ? p->k.laddr : p->k.raddr, 16);
	__builtin_memcpy(e->daddr, egress ? p->k.raddr : p->k.laddr, 16);
	if (n > SLUICE_DNS_CAP)
		n = SLUICE_DNS_CAP;
	/* the same 1..SLUICE_DNS_CAP, in a form the verifier can bound (a power of 2) */
	n = ((n - 1) & (SLUICE_DNS_CAP - 1)) + 1;
	if (bpf_skb_load_bytes(skb, p->l4_off, e->payload, n)) {
		count_loss(SLUICE_LOSS_READ_FAIL, 1);
		bpf_ringbuf_discard(e, 0);
		return;
	}
	e->cap_len = n;
	bpf_ringbuf_submit(e, rb_flags());
}

static __always_inline int on_skb(struct __sk_buff *skb, bool egress)
{
	struct skb_pkt p = {};
	struct skb_owner o;

	if (skb_parse(skb, egress, &p))
		return 1;
	skb_owner(skb, &o);
	/* sluice's own traffic (the processor's exporters, --rdns lookups) is
	 * not traced: its sockets are created by the processor (accepted ones
	 * inherit the listener's creator) */
	if (o.tgid && bpf_map_lookup_elem(&ignore_tgids, &o.tgid))
		return 1;
	p.k.cgroup_id = bpf_skb_cgroup_id(skb);
	flow_count(&p, egress, &o);
	if (p.sport != SL_DNS_PORT && p.dport != SL_DNS_PORT)
		return 1;
	if (!o.tracked)
		skb_tracked(&o); /* a DNS record names the connection's process */
	dns_emit(skb, &p, egress, &o);
	return 1;
}

SEC("cgroup_skb/egress")
int skb_egress(struct __sk_buff *skb)
{
	return on_skb(skb, true);
}

SEC("cgroup_skb/ingress")
int skb_ingress(struct __sk_buff *skb)
{
	return on_skb(skb, false);
}

#endif
