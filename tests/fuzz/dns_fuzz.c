/* Fuzzes processor/dns.c, and the cache behind it: byte 0 picks UDP (even)
 * or TCP framing (odd), the rest is the packet payload as the probes would
 * capture it. Every answer goes into a small dnscache, so hostile names
 * meet the LRU and the dirty list too; PTR answers go through dns_ptr()
 * as --rdns=active's replies do. Checked promises: names are
 * NUL-terminated, at most DNS_NAME_MAX, in presentation form; no answer
 * outlives the bounds; the cache stays within its size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "processor/dns.h"
#include "processor/dnscache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_name(const char *n)
{
	size_t len = strnlen(n, DNS_NAME_MAX + 1);

	check(len <= DNS_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = n[i];

		check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '*' || c == '.' || c == '\\');
	}
}

/* The --rdns=active path: a PTR answer names one address. */
static void check_ptr(const struct dns_msg *m)
{
	const char *ptr;
	uint32_t ttl;

	if (dns_ptr(m, &ptr, &ttl) == 0) {
		check_name(ptr);
		check(ptr[0] && ttl <= DNS_TTL_MAX);
	}
}

static void drain(void *ctx, const struct dnscache_entry *e)
{
	(void)ctx;
	check_name(e->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_msg m;
	static struct dns_answer ans[DNS_MAX_RRS];
	static struct dnscache *cache;
	const uint8_t *msg = data + 1;
	size_t len = size ? size - 1 : 0, n;

	if (!cache && !(cache = dnscache_new(16)))
		abort();
	if (!size || ((data[0] & 1) && dns_tcp_unframe(data + 1, len, &msg, &len) < 0))
		return 0;
	if (dns_parse(msg, len, &m) < 0)
		return 0;
	check(m.nrr <= DNS_MAX_RRS && m.nnames <= DNS_MAX_NAMES);
	for (uint32_t i = 0; i < m.nnames; i++)
		check_name(m.names[i]);
	check_ptr(&m);
	n = dns_answers(&m, ans, DNS_MAX_RRS);
	check(n <= m.nrr);
	for (size_t i = 0; i < n; i++) {
		struct dnscache_entry e = { .family = ans[i].family, .name = ans[i].name,
					    .alias = ans[i].alias, .source = DNSCACHE_SRC_DNS,
					    .expires_ns = 1 + (int64_t)ans[i].ttl };

		check(ans[i].ttl <= DNS_TTL_MAX);
		check(ans[i].family == AF_INET || ans[i].family == AF_INET6);
		check_name(ans[i].name);
		if (ans[i].alias)
			check_name(ans[i].alias);
		memcpy(e.addr, ans[i].addr, 16);
		dnscache_put(cache, &e, 0);
		check(dnscache_get(cache, e.family, e.addr, 0) != NULL);
	}
	check(dnscache_stats(cache)->entries <= 16);
	dnscache_take_dirty(cache, drain, NULL);
	dnscache_expire(cache, data[0] >> 1);
	return 0;
}
