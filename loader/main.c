/* sluice-loader: the privileged half of sluice. Loads the probes, reads
 * their ring buffer, batches records into msgpack frames, spools them until
 * the processor acks them. Reads top to bottom as its life: flags -> set up
 * -> run -> drain -> exit. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "common/events.h"
#include "common/log.h"
#include "loader/batch.h"
#include "loader/ipc.h"
#include "loader/loader.h"
#include "loader/probes.h"
#include "loader/spool.h"

#define POLL_MS 10
#define LOSS_EVERY_NS 1000000000ull
#define LOSS_REFRESH_NS (10 * LOSS_EVERY_NS)
#define DRAIN_NS (2 * LOSS_EVERY_NS)

struct loader {
	struct loader_cfg cfg;
	struct probes probes;
	struct ring_buffer *rb;
	struct ipc ipc;
	struct batch batch;
	struct spool spool;
	unsigned generation; /* connection the spool cursor belongs to */
	uint64_t events, bad_records;
	uint64_t loss_sent[SLUICE_LOSS_MAX], loss_checked_ns, loss_sent_ns;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Sends what the window allows, after taking in acks. Never blocks. */
static void pump(struct loader *L)
{
	const struct frame *f;
	unsigned gen;
	uint64_t seq;
	int rv;

	while ((rv = ipc_recv_ack(&L->ipc, &seq)) != -EAGAIN)
		if (rv == 0)
			spool_ack(&L->spool, seq);
		else if (rv != -EPROTO)
			break;
	if (!ipc_connected(&L->ipc, &gen))
		return;
	if (gen != L->generation) {
		L->generation = gen;
		spool_rewind(&L->spool);
	}
	while ((f = spool_next(&L->spool)) && ipc_send(&L->ipc, f->buf, f->len) == 0)
		spool_sent(&L->spool);
}

static void flush(struct loader *L)
{
	uint32_t events;
	size_t len;
	uint8_t *frame;

	if (!L->batch.events)
		return;
	frame = batch_take(&L->batch, &len, &events);
	if (spool_push(&L->spool, frame, len, events) == -ENOSPC)
		log_debug("spool full: dropped a batch of %u events", events);
	pump(L);
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct loader *L = ctx;

	if (batch_add_record(&L->batch, data, len, clock_ns(CLOCK_BOOTTIME)))
		L->bad_records++;
	else
		L->events++;
	if (batch_full(&L->batch))
		flush(L);
	return 0;
}

/* About once a second: when any loss total moved (or every 10 s anyway),
 * append the totals of every kind to the current batch. */
static void report_losses(struct loader *L, uint64_t now, bool force)
{
	uint64_t tot[SLUICE_LOSS_MAX] = { 0 };

	if (!force && now - L->loss_checked_ns < LOSS_EVERY_NS)
		return;
	L->loss_checked_ns = now;
	if (probes_losses(&L->probes, tot))
		return;
	tot[SLUICE_LOSS_SPOOL_FULL] = L->spool.dropped_frames;
	tot[SLUICE_LOSS_SPOOL_EVENTS] = L->spool.dropped_events;
	tot[SLUICE_LOSS_BAD_RECORD] = L->bad_records;
	if (!force && !memcmp(tot, L->loss_sent, sizeof(tot)) &&
	    now - L->loss_sent_ns < LOSS_REFRESH_NS)
		return;
	for (uint32_t k = 0; k < SLUICE_LOSS_MAX; k++)
		batch_add_loss(&L->batch, k, tot[k], now);
	memcpy(L->loss_sent, tot, sizeof(tot));
	L->loss_sent_ns = now;
}

static int setup(struct loader *L)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	batch_init(&L->batch);
	/* Wall-clock microseconds: a restarted loader's seqs stay above the
	 * previous instance's, which the processor may have recorded. */
	spool_init(&L->spool, L->cfg.spool_bytes, clock_ns(CLOCK_REALTIME) / 1000);
	L->loss_checked_ns = L->loss_sent_ns = clock_ns(CLOCK_BOOTTIME);
	if ((err = probes_mount_fs()) || (err = probes_start(&L->probes, &L->cfg)))
		return err;
	L->rb = ring_buffer__new(probes_ringbuf_fd(&L->probes), on_record, L, NULL);
	if (!L->rb) {
		err = -errno;
		log_warn("cannot open ring buffer: %s", strerror(-err));
		return err;
	}
	log_info("capturing up to %u bytes per syscall, ring buffer %" PRIu64 " bytes, spool %" PRIu64
		 " bytes", L->cfg.capture_bytes, L->cfg.ringbuf_bytes, L->cfg.spool_bytes);
	return ipc_listen(&L->ipc, L->cfg.socket_path, &L->probes);
}

/* The kernel wakes us only when much data waits (wakeup_bytes), so after
 * every poll timeout consume explicitly. */
static void run(struct loader *L)
{
	while (!stopping) {
		uint64_t now;

		ring_buffer__poll(L->rb, POLL_MS);
		ring_buffer__consume(L->rb);
		now = clock_ns(CLOCK_BOOTTIME);
		report_losses(L, now, false);
		if (batch_due(&L->batch, now))
			flush(L);
		pump(L);
	}
}

/* Stop reading new work, hand over what is left, give a connected processor
 * up to 2 s to acknowledge it. */
static void drain(struct loader *L)
{
	uint64_t deadline = clock_ns(CLOCK_BOOTTIME) + DRAIN_NS;
	unsigned gen;

	ring_buffer__consume(L->rb);
	report_losses(L, clock_ns(CLOCK_BOOTTIME), true);
	flush(L);
	while (L->spool.head && ipc_connected(&L->ipc, &gen) &&
	       clock_ns(CLOCK_BOOTTIME) < deadline) {
		pump(L);
		usleep(POLL_MS * 1000);
	}
}

static void finish(struct loader *L)
{
	struct spool *s = &L->spool;

	log_info("exiting: %" PRIu64 " events, %" PRIu64 " batches, %" PRIu64 " acked, %" PRIu64
		 " dropped (%" PRIu64 " events), %" PRIu64 " bad records, %" PRIu64 " bad acks",
		 L->events, s->frames, s->acked, s->dropped_frames, s->dropped_events,
		 L->bad_records, L->ipc.bad_acks);
	/* nng first: its pipe callbacks use the BPF maps. */
	ipc_close(&L->ipc);
	ring_buffer__free(L->rb);
	probes_stop(&L->probes);
	spool_free(s);
	batch_free(&L->batch);
}

int main(int argc, char **argv)
{
	static struct loader L;

	log_init("sluice-loader");
	if (flags_parse(argc, argv, &L.cfg))
		return 2;
	log_verbose = L.cfg.verbose;
	if (setup(&L))
		fatal("setup failed, see above");
	run(&L);
	drain(&L);
	finish(&L);
	return 0;
}
