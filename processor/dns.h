/* DNS messages (RFC 1035) as the probes capture them: untrusted bytes, often
 * cut short (the probes keep the first SLUICE_DNS_CAP bytes of a packet).
 * dns_parse() reads the header, the first question and the answer section
 * into a bounded, self-contained struct; dns_answers() turns that into
 * "address -> name the client asked for", following CNAME chains.
 * No allocation; every count in the message is a claim, never a size. */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 253   /* presentation form, no trailing dot (RFC 1035 2.3.4) */
#define DNS_MAX_RRS 64     /* A/AAAA/CNAME/PTR answers kept from one message */
#define DNS_MAX_NAMES 64   /* distinct names among them */
#define DNS_MAX_CHAIN 16   /* CNAME links followed from the question */
#define DNS_MAX_JUMPS 32   /* compression pointers followed in one name */
#define DNS_TTL_MAX (7u * 86400) /* longer TTLs are held to a week */
#define DNS_HEADER_LEN 12

enum dns_type { DNS_T_A = 1, DNS_T_CNAME = 5, DNS_T_PTR = 12, DNS_T_AAAA = 28 };

/* One answer record the cache can use. Names are indexes into names[]. */
struct dns_rr {
	uint16_t type;   /* DNS_T_A, DNS_T_AAAA, DNS_T_CNAME or DNS_T_PTR */
	uint8_t owner;   /* name index */
	uint8_t target;  /* CNAME, PTR: name index of the name in the data */
	uint32_t ttl;    /* seconds, <= DNS_TTL_MAX */
	uint8_t addr[16]; /* A: first 4 bytes */
};

struct dns_msg {
	uint16_t id;
	bool response;   /* QR */
	bool tc;         /* the server set TC: the answer is incomplete */
	bool cut;        /* the bytes ended before the counted records did */
	uint8_t opcode, rcode;
	uint16_t qtype;  /* of the first question; 0 when none */
	int qname;       /* name index of the first question, -1 when none */
	uint32_t nrr;
	struct dns_rr rr[DNS_MAX_RRS];
	uint32_t skipped; /* answers not kept: other types/classes, bounds */
	uint32_t nnames;
	char names[DNS_MAX_NAMES][DNS_NAME_MAX + 1]; /* lower case, escaped */
};

/* Parses msg (len bytes, no TCP length prefix). Returns 0 when the header
 * and as much as fits of the question and answers were read (m->cut tells
 * whether the bytes ended early); -EBADMSG when not even a header, or a
 * question that is not a name, is there. */
int dns_parse(const uint8_t *msg, size_t len, struct dns_msg *m);

/* An address the message maps to a name. */
struct dns_answer {
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t ttl;      /* the smallest TTL on the way from the name to it */
	const char *name;  /* the name asked for (or the record's owner when the
			    * record is not on the question's CNAME chain) */
	const char *alias; /* the canonical name that held the address when it
			    * differs from name (end of the CNAME chain), else NULL */
};

/* Fills up to max answers from a parsed response; returns how many. A
 * record whose owner is on the CNAME chain that starts at the question
 * belongs to the question's name with the chain's smallest TTL up to it. */
size_t dns_answers(const struct dns_msg *m, struct dns_answer *out, size_t max);

/* The answer to a PTR question: the name its PTR record (reached through
 * CNAMEs, as RFC 2317 delegation does) gives, with the smallest TTL on the
 * way. 0, or -ENOENT when the message holds none. */
int dns_ptr(const struct dns_msg *m, const char **name, uint32_t *ttl);

/* Reads one name at *off (compression allowed) into out (DNS_NAME_MAX + 1
 * bytes) in presentation form: lower case, no trailing dot, "" for the
 * root, bytes other than [a-z0-9-_*] as \DDD. Each compression pointer must
 * point before the place the name continued from (so no loops, and at most
 * DNS_MAX_JUMPS). *off moves past the name's bytes in place. 0 or
 * -EBADMSG; exposed for the tests and the fuzz target. */
int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out);

/* The message inside a TCP segment's payload: a 2-byte length, then the
 * message. Sets *msg and *msglen to what of it this payload holds; -EBADMSG
 * when the payload cannot start a message. */
int dns_tcp_unframe(const uint8_t *payload, size_t len, const uint8_t **msg, size_t *msglen);

#endif
