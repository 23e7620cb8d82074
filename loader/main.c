/* sluice-loader: the privileged half of sluice. Loads (or adopts) the
 * pinned probes, reads their ring buffer, batches records into msgpack
 * frames, spools them until the processor acks them. Reads top to bottom as
 * its life: flags -> set up (probes, snapshot, privileges, socket) -> run ->
 * drain -> exit. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>

#include "common/events.h"
#include "common/log.h"
#include "loader/loader.h"

#define POLL_MS 10
#define SEC_NS 1000000000ull
#define DRAIN_NS (5 * SEC_NS)
#define FLOWS_NS SEC_NS /* flow counts are read and sent this often */

struct loader {
	struct loader_cfg cfg;
	struct probes probes;
	struct ring_buffer *rb;
	struct ipc ipc;
	struct batch batch;
	struct spool spool;
	unsigned generation;  /* connection the spool cursor belongs to */
	bool send_blocked;    /* a frame waits for nng: poll its send fd */
	uint64_t events, bad_records;
	uint64_t now;         /* CLOCK_BOOTTIME, read once per poll: the records' batch time */
	uint64_t loss_sent_ns;
	uint64_t flows_ns;    /* last flow-map drain */
	uint64_t watchdog_ns, watchdog_last; /* systemd's WatchdogSec / 2; 0: off */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Takes in acks, then sends what nng takes. Never blocks. */
static void pump(struct loader *L)
{
	struct frame *f;
	unsigned gen;
	uint64_t seq;
	int rv;

	while ((rv = ipc_recv_ack(&L->ipc, &seq)) != -EAGAIN)
		if (rv == 0)
			spool_ack(&L->spool, seq);
		else if (rv != -EPROTO)
			break;
	if (ipc_connected(&L->ipc, &gen), gen != L->generation) {
		L->generation = gen; /* a new processor: everything unacked again */
		L->spool.cursor = L->spool.head;
	}
	while ((f = L->spool.cursor)) {
		if ((rv = ipc_send(&L->ipc, &L->generation, f->buf, f->len)) == -ESTALE)
			L->spool.cursor = L->spool.head;
		else if (rv)
			break;
		else
			L->spool.cursor = f->next;
	}
	L->send_blocked = f != NULL;
}

static void flush(struct loader *L)
{
	uint32_t records = L->batch.events - L->batch.reports;

	if (!L->batch.events)
		return;
	if (spool_push(&L->spool, &L->batch) == -ENOSPC)
		log_debug("spool full: dropped a batch of %u records", records);
	pump(L);
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct loader *L = ctx;

	if (batch_add_record(&L->batch, data, len, L->now))
		L->bad_records++;
	else
		L->events++;
	if (batch_full(&L->batch))
		flush(L);
	return 0;
}

/* Kernel counters, plus the loader's own on top of what earlier loaders
 * counted since the same epoch. */
static int loss_totals(struct loader *L, uint64_t *tot)
{
	const uint64_t *base = L->probes.loss_base;

	tot[SLUICE_LOSS_SPOOL_FULL] = base[0] + L->spool.dropped_frames;
	tot[SLUICE_LOSS_SPOOL_EVENTS] = base[1] + L->spool.dropped_events;
	tot[SLUICE_LOSS_BAD_RECORD] = base[2] + L->bad_records;
	return probes_losses(&L->probes, tot);
}

/* Once a second, the totals of every loss kind go into the current batch:
 * totals, not increments, so a lost or replayed report costs nothing. */
static void report_losses(struct loader *L, uint64_t now)
{
	uint64_t tot[SLUICE_LOSS_MAX] = { 0 };
	unsigned gen;

	if (loss_totals(L, tot))
		return;
	for (uint32_t k = 0; k < SLUICE_LOSS_MAX; k++)
		batch_add_loss(&L->batch, k, tot[k], L->probes.pin.meta.epoch_ns, now);
	probes_save_losses(&L->probes, tot);
	L->loss_sent_ns = now;
	sd_notifyf(0, "STATUS=%s; %" PRIu64 " events, %zu bytes unacked, %" PRIu64
		      " events dropped, %" PRIu64 " peers rejected",
		   ipc_connected(&L->ipc, &gen) ? "processor connected" : "no processor", L->events,
		   L->spool.bytes, tot[SLUICE_LOSS_SPOOL_EVENTS], L->ipc.rejected_peers);
}

/* After each poll: read the ring, then everything periodic. */
static void catch_up(void *ctx)
{
	struct loader *L = ctx;
	uint64_t now = L->now = clock_ns(CLOCK_BOOTTIME);

	ring_buffer__consume(L->rb);
	if (now - L->flows_ns >= FLOWS_NS) {
		probes_flows(&L->probes, on_record, L);
		L->flows_ns = now;
	}
	if (now - L->loss_sent_ns >= SEC_NS)
		report_losses(L, now);
	if (batch_due(&L->batch, now))
		flush(L);
	pump(L);
	if (L->watchdog_ns && now - L->watchdog_last >= L->watchdog_ns) {
		sd_notify(0, "WATCHDOG=1");
		L->watchdog_last = now;
	}
}

static int setup(struct loader *L)
{
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t usec = 0;
	int err;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (batch_init(&L->batch))
		return -ENOMEM;
	/* Wall-clock microseconds: a restarted loader's seqs stay above the
	 * previous instance's, which the processor may have recorded. */
	spool_init(&L->spool, L->cfg.spool_bytes, clock_ns(CLOCK_REALTIME) / 1000);
	L->loss_sent_ns = L->watchdog_last = clock_ns(CLOCK_BOOTTIME);
	if (sd_watchdog_enabled(0, &usec) > 0)
		L->watchdog_ns = usec * 1000 / 2;
	if ((err = probes_start(&L->probes, &L->cfg)))
		return err;
	/* a ring an upgrade replaced: what it still holds is read too */
	L->rb = ring_buffer__new(probes_ringbuf_fd(&L->probes), on_record, L, NULL);
	if (!L->rb || (L->probes.old_rb_fd >= 0 &&
		       ring_buffer__add(L->rb, L->probes.old_rb_fd, on_record, L))) {
		log_warn("cannot read the ring buffer: %s", strerror(errno));
		return -EIO;
	}
	privs_drop_caps();
	if ((err = ipc_listen(&L->ipc, L->cfg.socket_path, L->cfg.processor_user, &L->probes)))
		return err;
	privs_socket_done();
	catch_up(L); /* what waited in a pinned ring goes before the snapshot */
	probes_snapshot(&L->probes, catch_up, L);
	privs_seccomp();
	log_info("capturing up to %" PRIu64 " bytes per syscall, ring buffer %" PRIu64 " bytes, spool %" PRIu64
		 " bytes", L->cfg.capture_bytes, L->cfg.ringbuf_bytes, L->cfg.spool_bytes);
	sd_notify(0, "READY=1\nSTATUS=probes attached, waiting for the processor");
	return 0;
}

/* The kernel wakes us only when much data waits (wakeup_bytes), so after
 * every poll timeout consume explicitly. */
static void run(struct loader *L)
{
	while (!stopping) {
		struct pollfd fds[3] = {
			{ .fd = ring_buffer__epoll_fd(L->rb), .events = POLLIN },
			{ .fd = L->ipc.recv_fd, .events = POLLIN },
			{ .fd = L->send_blocked ? L->ipc.send_fd : -1, .events = POLLIN },
		};

		poll(fds, 3, POLL_MS);
		catch_up(L);
	}
}

/* Stop reading new work and hand over what is batched; give a connected
 * processor up to 5 s to acknowledge it. Pinned, the ring keeps the rest
 * for the next loader; unpinned, it goes out with this one. */
static void drain(struct loader *L)
{
	uint64_t deadline = clock_ns(CLOCK_BOOTTIME) + DRAIN_NS;
	unsigned gen;

	sd_notify(0, "STOPPING=1");
	L->now = clock_ns(CLOCK_BOOTTIME);
	if (!L->cfg.pin_dir)
		ring_buffer__consume(L->rb);
	probes_flows(&L->probes, on_record, L); /* counts since the last drain */
	report_losses(L, clock_ns(CLOCK_BOOTTIME));
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
	uint64_t tot[SLUICE_LOSS_MAX] = { 0 }, unacked = s->frames - s->acked;

	/* nng first: its pipe callbacks use the BPF maps. */
	ipc_close(&L->ipc);
	spool_free(s); /* unacked frames are lost: counted for the next loader */
	if (!loss_totals(L, tot))
		probes_save_losses(&L->probes, tot);
	log_info("exiting: %" PRIu64 " events, %" PRIu64 " batches, %" PRIu64 " acked, %" PRIu64
		 " dropped (%" PRIu64 " events; %" PRIu64 " batches unacked at exit), %" PRIu64
		 " bad records, %" PRIu64 " bad acks, %" PRIu64 " peers rejected, %" PRIu64
		 " stale acks%s",
		 L->events, s->frames, s->acked, s->dropped_frames, s->dropped_events, unacked,
		 L->bad_records, L->ipc.bad_acks, L->ipc.rejected_peers, L->ipc.stale_acks,
		 L->cfg.pin_dir ? "; probes stay attached (--unload removes them)" : "");
	ring_buffer__free(L->rb);
	probes_stop(&L->probes);
	batch_free(&L->batch);
}

int main(int argc, char **argv)
{
	static struct loader L;

	log_init("sluice-loader");
	if (flags_parse(argc, argv, &L.cfg))
		return 2;
	log_verbose = L.cfg.verbose;
	if (L.cfg.unload)
		return pin_unload(L.cfg.pin_dir) ? 1 : 0;
	if (setup(&L))
		fatal("setup failed, see above");
	run(&L);
	drain(&L);
	finish(&L);
	return 0;
}
