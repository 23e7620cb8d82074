/* What the loader's parts share, one section per file: the validated
 * command-line configuration (flags.c) and a clock helper; bpffs pins
 * (pin.c); the probes (probes.c); frames and the spool (spool.c); the
 * processor connection (ipc.c); and shedding privilege (privs.c). */
#ifndef SLUICE_LOADER_H
#define SLUICE_LOADER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <nng/nng.h>

#ifndef SLUICE_VERSION /* the Makefile passes it */
#define SLUICE_VERSION "dev"
#endif

struct loader_cfg {
	const char *socket_path;
	const char *cgroup_path;    /* NULL: trace every cgroup */
	const char *pin_dir;        /* NULL (--no-pin): probes detach when the loader exits */
	const char *processor_user; /* NULL: "sluice" if that user exists, else anyone */
	uint64_t capture_bytes;
	uint64_t spool_bytes;
	uint64_t ringbuf_bytes;
	bool no_pin;
	bool unload; /* --unload: remove what is pinned in pin_dir, exit */
	bool verbose;
};

/* Fills cfg from argv. Exits (0) for --help/--version; returns -EINVAL
 * after printing why on bad input. */
int flags_parse(int argc, char **argv, struct loader_cfg *cfg);

static inline uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* pin.c: what the loader keeps in bpffs so that probes outlive it: <dir>/meta
 * (which object and config is pinned, and the loader's own loss totals),
 * every map at <dir>/maps/<name> and every link at <dir>/links/<program>. A
 * flock on <dir> keeps a second loader, or --unload, out while one runs. */
#define PIN_VERSION 1 /* layout of struct pin_meta */

struct bpf_object;

struct pin_meta {
	uint64_t version;  /* PIN_VERSION */
	uint64_t hash;     /* of the BPF object and its config; 0 until all is pinned */
	uint64_t epoch_ns; /* CLOCK_REALTIME when the loss totals started from 0 */
	uint64_t loss[3];  /* loader-side totals, SLUICE_LOSS_SPOOL_FULL.. _BAD_RECORD */
};

struct pin {
	const char *dir; /* NULL: nothing pinned (--no-pin) */
	int dir_fd;      /* holds the flock */
	int meta_fd;
	struct pin_meta meta; /* as found (version 0 if none), then as last written */
};

/* Creates dir (and maps/, links/) if needed, locks it, reads the meta. */
int pin_open(struct pin *pin, const char *dir);
/* adopt: every map of obj takes its pinned fd (obj is never loaded).
 * Otherwise, before a load: pinned maps of obj's layout will be reused,
 * others are unpinned (a replaced ring's fd goes to *old_rb, to be drained).
 * Returns <0 on error, 1 when the pinned loss counters are kept, else 0. */
int pin_maps(struct pin *pin, struct bpf_object *obj, bool adopt, int *old_rb);
/* Unpins the maps and links obj does not have. */
void pin_sweep(struct pin *pin, struct bpf_object *obj);
int pin_write_meta(struct pin *pin);
void pin_close(struct pin *pin);
/* --unload: detaches and removes what a loader pinned in dir, nothing else. */
int pin_unload(const char *dir);

/* probes.c: the BPF side as the loader sees it: mounting tracefs/bpffs,
 * opening, configuring, loading and attaching the probes (or adopting the
 * ones a previous loader pinned), the start-up snapshot, and the few map
 * accesses the loader needs at run time. */
struct probes {
	struct sluice_bpf *skel;
	struct snapshot_bpf *snap; /* until the snapshot has run */
	int snap_fd[2];            /* its iterators: processes, listening sockets */
	struct pin pin;            /* pin.dir NULL with --no-pin; its meta is used either way */
	uint64_t loss_base[3];     /* loader-side totals of earlier loaders, same epoch */
	int old_rb_fd;             /* a replaced ring buffer still to drain, or -1 */
	int flow_next;             /* flows_a (0) or flows_b (1): the next drain's active map */
	int ncpus;
};

/* Mounts tracefs and bpffs if missing; adopts valid pins, or loads (reusing
 * pinned maps of the same layout), sets the filters and attaches (replacing
 * pinned links); then prepares the snapshot iterators (a failure there only
 * costs the snapshot). */
int probes_start(struct probes *p, const struct loader_cfg *cfg);
/* Runs the snapshot: records land in the ring, drain() empties it. */
void probes_snapshot(struct probes *p, void (*drain)(void *), void *ctx);
int probes_ringbuf_fd(const struct probes *p);
/* Swaps the flow maps and hands each entry of the old one to fn as a FLOW
 * record; 0 or a negative errno. */
int probes_flows(struct probes *p, int (*fn)(void *ctx, void *rec, size_t len), void *ctx);
/* Adds (on) or removes a tgid from the never-traced set. */
int probes_ignore(struct probes *p, uint32_t tgid, bool on);
/* Kernel loss counters summed over CPUs, indexed by sluice_loss_kind. */
int probes_losses(const struct probes *p, uint64_t *totals);
/* Records the loader-side totals (SLUICE_LOSS_SPOOL_FULL..) in the meta. */
void probes_save_losses(struct probes *p, const uint64_t *totals);
/* Pinned: closes fds, probes stay attached. --no-pin: detaches everything. */
void probes_stop(struct probes *p);

/* spool.c: frames on their way to the processor. A batch is the frame being
 * built: records are appended, as msgpack bins, straight into its body behind
 * the fixed frame head (common/wire.h), whose seq and event count are filled
 * in at the end. The spool keeps built frames, in seq order, until the
 * processor acks them, with a cursor marking what has been sent on the
 * current connection; seqs in the spool are contiguous and only bytes bound
 * it: the processor acks in bursts, after a checkpoint. */
#define BATCH_MAX_EVENTS 4096
#define BATCH_MAX_BYTES (512u << 10)
#define BATCH_MAX_AGE_NS (20u * 1000000u)
/* Fullness is checked after every record and every round of LOSS reports, so
 * a batch ends at most one record (<= 17 KiB) past BATCH_MAX_BYTES: its
 * buffer is allocated once at this size and never grows. */
#define BATCH_BUF_BYTES (BATCH_MAX_BYTES + (64u << 10))

struct batch {
	uint8_t *buf;      /* BATCH_BUF_BYTES, reused for every frame */
	size_t len;
	uint32_t events;   /* in the frame: records and LOSS reports */
	uint32_t reports;  /* LOSS reports among them */
	uint64_t first_ns; /* CLOCK_BOOTTIME when the first event went in */
};

int batch_init(struct batch *b);
/* 0, or -EINVAL for a malformed record (nothing was appended). */
int batch_add_record(struct batch *b, const void *rec, size_t len, uint64_t now_ns);
void batch_add_loss(struct batch *b, uint32_t kind, uint64_t total, uint64_t epoch,
		    uint64_t now_ns);
bool batch_full(const struct batch *b);
bool batch_due(const struct batch *b, uint64_t now_ns);
void batch_free(struct batch *b);

struct frame {
	struct frame *next;
	uint64_t seq;
	uint32_t events; /* records (LOSS reports are not counted: they repeat) */
	size_t len;
	uint8_t buf[];   /* the frame as sent, len bytes */
};

struct spool {
	struct frame *head, *tail; /* oldest, newest */
	struct frame *cursor;      /* next frame to send; NULL: all sent. A new
				    * connection rewinds it to head */
	size_t bytes, limit;
	uint64_t next_seq;
	/* totals for the summary and LOSS events */
	uint64_t frames, acked, dropped_frames, dropped_events;
};

void spool_init(struct spool *s, size_t limit, uint64_t first_seq);
/* Copies the batch's frame into the spool (exact size: the byte bound is a
 * bound on memory) under the next seq, or, if the spool is full, drops (and
 * counts) it without consuming a seq: -ENOSPC. Empties the batch either way. */
int spool_push(struct spool *s, struct batch *b);
/* Frees every frame with seq <= seq. */
void spool_ack(struct spool *s, uint64_t seq);
/* Frees what is left, counting it as dropped: it was never acknowledged. */
void spool_free(struct spool *s);

/* ipc.c: the loader's end of the nng pair1 connection to the processor:
 * listen on the ipc socket, admit only the configured processor user, track
 * the one connected peer (whose pid is kept out of tracing), send frames
 * without blocking, and receive acks. */
struct ipc {
	nng_socket sock;
	struct probes *probes;
	char path[108];      /* the socket file (sun_path's size) */
	uid_t uid;           /* the processor user's uid and group; any_peer: no check */
	gid_t gid;
	bool any_peer;
	int recv_fd, send_fd; /* pollable: an ack waits / a send would go through */
	pthread_mutex_t mu;  /* guards what follows: nng's threads set it */
	nng_pipe pipe;       /* the admitted processor, id 0 when none */
	bool started;        /* pair1 has started it: sends may go */
	uint32_t peer_pid;
	unsigned generation; /* bumped per new connection */
	bool closing;        /* shutting down: the processor stays ignored */
	uint64_t bad_acks, rejected_peers;
	uint64_t stale_acks;  /* queued by a connection that had gone: dropped */
	uint64_t refused[2];  /* rejections: not the processor user, busy */
};

/* Listens on path; only root or user (NULL: sluice, or anyone if there is
 * no such user) may connect. */
int ipc_listen(struct ipc *ipc, const char *path, const char *user, struct probes *probes);
/* Whether a processor is connected, and which connection it is. */
bool ipc_connected(struct ipc *ipc, unsigned *generation);
/* 0 sent; -EAGAIN not now (not connected, or the last frame is still being
 * written); -ESTALE: a new connection since *generation (updated), rewind. */
int ipc_send(struct ipc *ipc, unsigned *generation, const void *buf, size_t len);
/* 0 and *seq for an ack; -EAGAIN when none is waiting; -EPROTO for a bad
 * message (counted, logged, its connection closed). */
int ipc_recv_ack(struct ipc *ipc, uint64_t *seq);
void ipc_close(struct ipc *ipc);

/* privs.c: shedding privilege once set-up is done, in a fixed order, fatal
 * on failure: (1) every capability and the bounding set, before nng starts
 * its threads (they inherit the empty set); (2) after the socket exists, a
 * seccomp allow-list of the syscalls the run loop and the exit path make.
 * privs_drop_caps keeps the group "sluice" (if it exists) as effective gid
 * until privs_socket_done(), so the socket file nng creates belongs to it. */
void privs_drop_caps(void);
void privs_socket_done(void);
void privs_seccomp(void);

#endif
