/* The DNS message parser (processor/dns.h). Every read is checked against
 * the bytes there are, whatever the counts in the header claim; a record
 * that does not fit ends the parse with what came before it kept. */
#include "processor/dns.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define DNS_CLASS_IN 1
#define DNS_WIRE_NAME_MAX 255 /* octets of a name on the wire, length bytes included */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends one label in presentation form; false when it would not fit. */
static bool put_label(char *out, size_t *n, const uint8_t *label, uint8_t len)
{
	for (uint8_t i = 0; i < len; i++) {
		uint8_t c = label[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 'a' - 'A'); /* names compare case-insensitively (0x20 bits) */
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '*') {
			if (*n + 1 > DNS_NAME_MAX)
				return false;
			out[(*n)++] = (char)c;
			continue;
		}
		if (*n + 4 > DNS_NAME_MAX)
			return false;
		out[(*n)++] = '\\';
		out[(*n)++] = (char)('0' + c / 100);
		out[(*n)++] = (char)('0' + c / 10 % 10);
		out[(*n)++] = (char)('0' + c % 10);
	}
	return true;
}

/* Where the name continues after a pointer. The target must lie before
 * `floor`, the offset the current run of labels started at: targets then
 * strictly decrease, so a hostile message can neither loop nor point
 * forward into bytes that were not a name. */
static int follow(const uint8_t *msg, size_t len, size_t pos, size_t *floor, int *jumps)
{
	size_t target;

	if (pos + 1 >= len || ++*jumps > DNS_MAX_JUMPS)
		return -EBADMSG;
	target = (size_t)(msg[pos] & 0x3f) << 8 | msg[pos + 1];
	if (target >= *floor)
		return -EBADMSG;
	*floor = target;
	return (int)target;
}

int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out)
{
	size_t pos = *off, floor = *off, n = 0, wire = 1, end = 0;
	int jumps = 0, t;

	out[0] = 0;
	for (;;) {
		if (pos >= len)
			return -EBADMSG;
		uint8_t b = msg[pos];

		if ((b & 0xc0) == 0xc0) {
			if (!end)
				end = pos + 2; /* the name's own bytes end at its first pointer */
			if ((t = follow(msg, len, pos, &floor, &jumps)) < 0)
				return t;
			pos = (size_t)t;
			continue;
		}
		if (b & 0xc0)
			return -EBADMSG; /* 0x40/0x80: extended label types, never deployed */
		if (b == 0)
			break;
		wire += 1u + b;
		if (wire > DNS_WIRE_NAME_MAX || pos + 1 + b > len)
			return -EBADMSG;
		if (n && n + 1 <= DNS_NAME_MAX)
			out[n++] = '.';
		else if (n)
			return -EBADMSG;
		if (!put_label(out, &n, msg + pos + 1, b))
			return -EBADMSG;
		out[n] = 0;
		pos += 1u + b;
	}
	*off = end ? end : pos + 1;
	return 0;
}

/* The index of name in m->names, added if new; -1 when the table is full. */
static int intern(struct dns_msg *m, const char *name)
{
	for (uint32_t i = 0; i < m->nnames; i++)
		if (!strcmp(m->names[i], name))
			return (int)i;
	if (m->nnames >= DNS_MAX_NAMES)
		return -1;
	memcpy(m->names[m->nnames], name, strlen(name) + 1);
	return (int)m->nnames++;
}

static int parse_header(const uint8_t *msg, size_t len, struct dns_msg *m, uint16_t count[2])
{
	uint16_t flags;

	if (len < DNS_HEADER_LEN)
		return -EBADMSG;
	flags = be16(msg + 2);
	m->id = be16(msg);
	m->response = flags >> 15;
	m->opcode = (uint8_t)(flags >> 11 & 15);
	m->tc = flags >> 9 & 1;
	m->rcode = (uint8_t)(flags & 15);
	count[0] = be16(msg + 4); /* questions */
	count[1] = be16(msg + 6); /* answers; authority and additional are not read */
	return 0;
}

/* Questions: the first is kept, the rest skipped (nobody sends more). */
static int parse_questions(const uint8_t *msg, size_t len, size_t *off, uint16_t n,
			   struct dns_msg *m)
{
	char name[DNS_NAME_MAX + 1];

	for (uint16_t i = 0; i < n; i++) {
		if (dns_read_name(msg, len, off, name) < 0)
			return i ? 1 : -EBADMSG;
		if (*off + 4 > len)
			return 1;
		if (i == 0) {
			m->qtype = be16(msg + *off);
			m->qname = intern(m, name);
		}
		*off += 4;
	}
	return 0;
}

static uint32_t clamp_ttl(uint32_t ttl)
{
	if (ttl & 0x80000000u)
		return 0; /* RFC 2181 8: a TTL with the top bit set means zero */
	return ttl > DNS_TTL_MAX ? DNS_TTL_MAX : ttl;
}

/* Keeps one answer if it is IN A/AAAA/CNAME with well-formed data. */
static void keep_rr(const uint8_t *msg, size_t rdend, size_t rdata, const char *owner,
		    uint16_t type, uint32_t ttl, struct dns_msg *m)
{
	char target[DNS_NAME_MAX + 1];
	struct dns_rr *rr = &m->rr[m->nrr];
	size_t rdlen = rdend - rdata, toff = rdata;
	int o, t = 0;

	bool named = type == DNS_T_CNAME || type == DNS_T_PTR; /* rdata is a name */

	if (m->nrr >= DNS_MAX_RRS || (type == DNS_T_A && rdlen != 4) ||
	    (type == DNS_T_AAAA && rdlen != 16) ||
	    (named && (dns_read_name(msg, rdend, &toff, target) < 0 || toff != rdend ||
		       (t = intern(m, target)) < 0)) ||
	    (o = intern(m, owner)) < 0) {
		m->skipped++;
		return;
	}
	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	rr->owner = (uint8_t)o;
	rr->target = (uint8_t)t;
	rr->ttl = clamp_ttl(ttl);
	if (!named)
		memcpy(rr->addr, msg + rdata, rdlen);
	m->nrr++;
}

/* One resource record at *off; 1 when the bytes end inside it. */
static int parse_rr(const uint8_t *msg, size_t len, size_t *off, struct dns_msg *m)
{
	char owner[DNS_NAME_MAX + 1];
	uint16_t type, klass, rdlen;
	uint32_t ttl;

	if (dns_read_name(msg, len, off, owner) < 0 || *off + 10 > len)
		return 1;
	type = be16(msg + *off);
	klass = be16(msg + *off + 2);
	ttl = be32(msg + *off + 4);
	rdlen = be16(msg + *off + 8);
	*off += 10;
	if (*off + rdlen > len)
		return 1;
	if (klass == DNS_CLASS_IN && (type == DNS_T_A || type == DNS_T_AAAA ||
				      type == DNS_T_CNAME || type == DNS_T_PTR))
		keep_rr(msg, *off + rdlen, *off, owner, type, ttl, m);
	else
		m->skipped++;
	*off += rdlen;
	return 0;
}

int dns_parse(const uint8_t *msg, size_t len, struct dns_msg *m)
{
	uint16_t count[2];
	size_t off = DNS_HEADER_LEN;
	int rv;

	m->nrr = m->nnames = m->skipped = 0;
	m->qtype = 0;
	m->qname = -1;
	m->cut = false;
	if (parse_header(msg, len, m, count) < 0)
		return -EBADMSG;
	if ((rv = parse_questions(msg, len, &off, count[0], m)) != 0) {
		m->cut = true;
		return rv < 0 ? rv : 0;
	}
	/* each record needs at least 11 bytes: the loop ends with the bytes */
	for (uint32_t i = 0; i < count[1]; i++) {
		if (parse_rr(msg, len, &off, m)) {
			m->cut = true;
			break;
		}
	}
	return 0;
}

/* The CNAME whose owner is name index `from`, or NULL. */
static const struct dns_rr *cname_of(const struct dns_msg *m, int from)
{
	for (uint32_t i = 0; i < m->nrr; i++)
		if (m->rr[i].type == DNS_T_CNAME && m->rr[i].owner == from)
			return &m->rr[i];
	return NULL;
}

/* The chain of names from the question: chain[0] = qname, each next one
 * the CNAME target of the previous; ttl[i] = smallest TTL of the links up
 * to chain[i]. Stops at a loop or after DNS_MAX_CHAIN links. */
static int build_chain(const struct dns_msg *m, int chain[DNS_MAX_CHAIN + 1],
		       uint32_t ttl[DNS_MAX_CHAIN + 1])
{
	const struct dns_rr *c;
	int n = 1;

	chain[0] = m->qname;
	ttl[0] = DNS_TTL_MAX;
	while (n <= DNS_MAX_CHAIN && (c = cname_of(m, chain[n - 1]))) {
		for (int i = 0; i < n; i++)
			if (chain[i] == c->target)
				return n; /* a loop: what was followed so far stands */
		chain[n] = c->target;
		ttl[n] = c->ttl < ttl[n - 1] ? c->ttl : ttl[n - 1];
		n++;
	}
	return n;
}

size_t dns_answers(const struct dns_msg *m, struct dns_answer *out, size_t max)
{
	int chain[DNS_MAX_CHAIN + 1];
	uint32_t ttl[DNS_MAX_CHAIN + 1];
	int nchain = m->qname >= 0 ? build_chain(m, chain, ttl) : 0;
	size_t n = 0;

	for (uint32_t i = 0; i < m->nrr && n < max; i++) {
		const struct dns_rr *rr = &m->rr[i];
		struct dns_answer *a = &out[n];
		int at = 0;

		if (rr->type != DNS_T_A && rr->type != DNS_T_AAAA)
			continue;
		while (at < nchain && chain[at] != rr->owner)
			at++;
		a->family = rr->type == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(a->addr, rr->addr, 16);
		if (at < nchain) {
			a->name = m->names[m->qname];
			a->alias = at ? m->names[rr->owner] : NULL;
			a->ttl = rr->ttl < ttl[at] ? rr->ttl : ttl[at];
		} else {
			a->name = m->names[rr->owner];
			a->alias = NULL;
			a->ttl = rr->ttl;
		}
		if (a->name[0])
			n++; /* the root owns no address worth naming */
	}
	return n;
}

int dns_ptr(const struct dns_msg *m, const char **name, uint32_t *ttl)
{
	int chain[DNS_MAX_CHAIN + 1];
	uint32_t chain_ttl[DNS_MAX_CHAIN + 1];
	int nchain;

	if (m->qname < 0)
		return -ENOENT;
	nchain = build_chain(m, chain, chain_ttl); /* RFC 2317 delegation goes by CNAME */
	for (uint32_t i = 0; i < m->nrr; i++) {
		const struct dns_rr *rr = &m->rr[i];

		for (int at = 0; rr->type == DNS_T_PTR && at < nchain; at++) {
			if (chain[at] != rr->owner || !m->names[rr->target][0])
				continue;
			*name = m->names[rr->target];
			*ttl = rr->ttl < chain_ttl[at] ? rr->ttl : chain_ttl[at];
			return 0;
		}
	}
	return -ENOENT;
}

int dns_tcp_unframe(const uint8_t *payload, size_t len, const uint8_t **msg, size_t *msglen)
{
	size_t want;

	if (len < 2 + DNS_HEADER_LEN)
		return -EBADMSG;
	want = be16(payload);
	if (want < DNS_HEADER_LEN)
		return -EBADMSG;
	*msg = payload + 2;
	*msglen = want < len - 2 ? want : len - 2;
	return 0;
}
