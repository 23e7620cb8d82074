/* Fuzzes processor/http1.c alone: the input scripts one connection's life
 * (role, chunks in both directions with cuts, gaps and replays, close) and
 * every emitted pair is checked against the interface's promises. Crashes,
 * overflows, UB and broken promises all abort.
 *
 * Two modes, by bit 7 of byte 0. Script mode (clear): byte 0 picks the role
 * (% 3), whether close knows the totals (bit 6) and whether the connection
 * uses a shared pool of 1 + (bits 3-4) slots instead of its own (bit 5),
 * then records: ctl, len, len bytes.
 * ctl bit 0: egress; bits 1-2: 0 plain chunk, 1 tail not captured (full_len
 * = len + amount * 37), 2 gap of amount * 11 + 1 bytes before it, 3 replay
 * from amount + 1 bytes back (amount 31: close now; 30: checkpoint and
 * restore elsewhere first; 29: the same, with the saved bytes XORed with
 * the chunk's first bytes at positions its next bytes pick, so the restore
 * may refuse them and must never run on unsafe state); bits 3-7: amount.
 * tests/fuzz/gen_http1_seeds.py writes seeds in this format.
 * Generator mode (set): bytes 1-3 pick exchanges, pipelining depth and
 * fault rate, bit 2 of byte 0 a shared pool of 1 + (bits 3-5) slots (so
 * requests are evicted), the rest drives tests/fuzz/http1_gen.h, which
 * builds a well-formed conversation with known answers, feeds it with
 * random splits and faults and checks that no pair is wrong. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor/http1.h"
#include "tests/fuzz/http1_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	uint64_t emitted;
	uint8_t role;
	bool damaged; /* state from damaged bytes was accepted: its role may differ */
};

/* A broken promise aborts, naming its line. */
#define check(ok) check_at(ok, __LINE__)
static void check_at(bool ok, int line)
{
	if (!ok) {
		fprintf(stderr, "http1_fuzz.c:%d: check failed\n", line);
		abort();
	}
}

static void on_pair(void *ctx, const struct http1_pair *p)
{
	struct run *r = ctx;

	r->emitted++;
	check(memchr(p->method, 0, sizeof(p->method)) != NULL);
	check(memchr(p->path, 0, sizeof(p->path)) != NULL);
	check(memchr(p->query, 0, sizeof(p->query)) != NULL);
	check(p->has_query || p->query[0] == 0);
	check(p->status == 0 || (p->status >= 100 && p->status <= 999));
	/* a complete pair has a final status: 1xx other than 101 are interim */
	check(!p->complete || p->status >= 200 || p->status == 101);
	check(p->end_ns >= p->start_ns); /* the script's clock only goes forward */
	check(r->role == HTTP1_ROLE_UNKNOWN || r->damaged ? p->role != HTTP1_ROLE_UNKNOWN
							   : p->role == r->role);
}

/* Randomness for the generator: the input's bytes, then a PRNG seeded
 * with them, so short inputs still make whole conversations. */
struct gen_rand {
	const uint8_t *p;
	size_t n, i;
	uint64_t x;
};

static unsigned gen_rand(void *st, unsigned n)
{
	struct gen_rand *r = st;

	if (r->i < r->n) {
		r->x = r->x * 31 + r->p[r->i];
		return r->p[r->i++] % n;
	}
	r->x ^= r->x << 13;
	r->x ^= r->x >> 7;
	r->x ^= r->x << 17;
	return (unsigned)(r->x >> 32) % n;
}

static int fuzz_generated(const uint8_t *data, size_t size)
{
	static struct h1g g;
	struct gen_rand r = { data + 4, size - 4, 0, 0x9e3779b97f4a7c15ull };
	struct http1_conn *c = malloc(http1_conn_size());

	if (!c)
		return 0;
	memset(&g, 0, sizeof(g));
	g.rnd = gen_rand;
	g.rst = &r;
	g.true_role = data[0] & 1 ? HTTP1_ROLE_CLIENT : HTTP1_ROLE_SERVER;
	g.role = data[0] & 2 ? HTTP1_ROLE_UNKNOWN : g.true_role;
	if (data[0] & 4)
		g.pool_slots = 1 + ((data[0] >> 3) & 7);
	h1g_build(&g, 1 + data[1] % H1G_MAX);
	h1g_run(&g, c, data[3] % 30, 1 + data[2] % 8);
	free(c);
	if (g.bad) {
		fprintf(stderr, "http1_gen: %s\n", g.why);
		abort();
	}
	return 0;
}

/* Where a connection's pairs go and its slots come from. */
struct env {
	struct run *r;
	struct http1_stats *st;
	struct http1_pool *pool; /* NULL: the connection's own */
};

static void env_init(struct env *env, struct http1_conn *c, enum http1_role role)
{
	if (env->pool)
		http1_init_pool(c, role, env->r, env->pool);
	else
		http1_init(c, role, on_pair, env->r, env->st);
}

/* Saves the state and continues from the copy in other memory, as across
 * a processor restart; the old memory is scribbled on and freed. With
 * `mess`, the saved bytes are damaged first: refusing them is fine,
 * running on them must be safe. */
static struct http1_conn *checkpoint(struct http1_conn *c, struct env *env,
				     const uint8_t *mess, size_t mess_len)
{
	static _Alignas(16) uint8_t saved[64 * 1024];
	struct http1_conn *n = malloc(http1_conn_size());
	size_t len = http1_save(c, saved, sizeof(saved));
	bool ok;

	check(len <= sizeof(saved) && len <= http1_save_max());
	if (!n)
		return c;
	for (size_t i = 0; i + 1 < mess_len; i += 2)
		saved[(mess[i + 1] * 131u + i * 7u) % len] ^= mess[i];
	http1_drop(c); /* its slots go back to a shared pool */
	memset(c, 0xa5, http1_conn_size());
	free(c);
	env_init(env, n, (enum http1_role)env->r->role); /* as conntrack knows it */
	ok = http1_restore(n, saved, len);
	check(ok || mess_len > 1);
	env->r->damaged |= ok && mess_len > 1;
	return n;
}

/* Script mode: runs the records on c, returns c (a checkpoint moves it). */
static struct http1_conn *fuzz_script(struct http1_conn *c, const uint8_t *data, size_t size,
				      uint64_t pos[2], uint64_t *ts, struct env *env)
{
	for (size_t i = 1; i + 2 <= size;) {
		uint8_t ctl = data[i], kind = (ctl >> 1) & 3, amount = ctl >> 3;
		bool egress = ctl & 1;
		size_t len = data[i + 1];
		uint32_t full;

		i += 2;
		if (len > size - i)
			len = size - i;
		full = (uint32_t)len;
		if (kind == 1)
			full += amount * 37u;
		else if (kind == 2)
			pos[egress] += amount * 11u + 1;
		else if (kind == 3 && amount == 31)
			http1_close(c, *ts);
		else if (kind == 3 && amount == 30)
			c = checkpoint(c, env, NULL, 0);
		else if (kind == 3 && amount == 29)
			c = checkpoint(c, env, data + i, len < 16 ? len : 16);
		else if (kind == 3)
			pos[egress] -= pos[egress] < amount + 1u ? pos[egress] : amount + 1u;
		http1_data(c, egress, (*ts)++, pos[egress], full, data + i, (uint32_t)len);
		pos[egress] += full;
		i += len;
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_stats st = { 0 };
	struct run r = { 0 };
	struct env env = { &r, &st, NULL };
	uint64_t pos[2] = { 0, 0 }, ts = 1;
	struct http1_conn *c;

	if (size < 1)
		return 0;
	if ((data[0] & 0x80) && size >= 4)
		return fuzz_generated(data, size);
	c = malloc(http1_conn_size());
	if (!c)
		return 0;
	if ((data[0] & 0x20) && !(env.pool = http1_pool_new(1 + ((data[0] >> 3) & 3), on_pair, &st))) {
		free(c);
		return 0;
	}
	r.role = data[0] % 3;
	env_init(&env, c, (enum http1_role)r.role);
	c = fuzz_script(c, data, size, pos, &ts, &env);
	if (data[0] & 0x40) /* the close event's totals: maybe more than seen */
		http1_close_totals(c, ts, pos[1] + (data[0] & 8), pos[0] + (data[0] & 16));
	else
		http1_close(c, ts);
	check(st.pairs + st.incomplete == r.emitted);
	http1_close(c, ts + 1); /* a second close adds nothing */
	http1_data(c, false, ts + 2, pos[0], 19, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 19);
	check(st.pairs + st.incomplete == r.emitted);
	check(!env.pool || http1_pool_used(env.pool) == 0); /* a close gives every slot back */
	http1_pool_free(env.pool);
	free(c);
	return 0;
}
