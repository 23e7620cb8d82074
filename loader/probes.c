/* Owns the BPF objects' life in the loader: filesystems they need, the
 * load-time tunables, adopting or replacing pinned probes, the cgroup and
 * ignore filters, attaching each tracepoint with an error that names it, and
 * the one-shot snapshot iterators. */
#include "loader/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/events.h"
#include "common/log.h"
#include "sluice.skel.h"
#include "snapshot.skel.h"

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN && !log_verbose)
		return 0;
	fputs("sluice-loader: ", stderr); /* libbpf adds "libbpf: " */
	return vfprintf(stderr, fmt, ap);
}

/* Syscall tracepoints are attached by id, read from tracefs; pins need bpffs. */
static int mount_fs(void)
{
	static const char *const fs[2][3] = { { "nodev", "/sys/kernel/tracing", "tracefs" },
					      { "bpf", "/sys/fs/bpf", "bpf" } };
	static const long magic[2] = { TRACEFS_MAGIC, BPF_FS_MAGIC };
	struct statfs st;

	for (int i = 0; i < 2; i++) {
		if (!statfs(fs[i][1], &st) && st.f_type == magic[i])
			continue;
		if (!mount(fs[i][0], fs[i][1], fs[i][2], 0, NULL)) {
			log_info("mounted %s on %s", fs[i][2], fs[i][1]);
			continue;
		}
		log_warn("cannot mount %s on %s: %s", fs[i][2], fs[i][1], strerror(errno));
		if (!i)
			return -EIO; /* without bpffs, only --no-pin works: pin_open says so */
	}
	return 0;
}

/* The load-time tunables, and a FNV-1a hash of the object's bytes and of
 * them: pins are adopted only when both are what this loader would load. */
static uint64_t configure(struct sluice_bpf *skel, const struct loader_cfg *cfg, int ncpus)
{
	uint64_t h = 14695981039346656037ull, cfgv[4] = { cfg->capture_bytes, !!cfg->cgroup_path,
							   cfg->ringbuf_bytes, (uint64_t)ncpus };
	size_t n;
	const uint8_t *b = sluice_bpf__elf_bytes(&n);

	skel->rodata->capture_bytes = cfg->capture_bytes;
	skel->rodata->filter_cgroup = cfg->cgroup_path != NULL;
	/* Wake the reader at 1/16 full: well before loss, far from per-event. */
	skel->rodata->wakeup_bytes = cfg->ringbuf_bytes / 16;
	bpf_map__set_max_entries(skel->maps.rb, (uint32_t)cfg->ringbuf_bytes);
	bpf_map__set_max_entries(skel->maps.scratch, (uint32_t)ncpus);
	for (size_t i = 0; i < n + sizeof(cfgv); i++)
		h = (h ^ (i < n ? b[i] : ((const uint8_t *)cfgv)[i - n])) * 1099511628211ull;
	return h;
}

/* Set on every start: the map holds a reference to a cgroup that may since
 * have been removed and created again. */
static int set_cgroup(struct sluice_bpf *skel, const char *path)
{
	uint32_t key = 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = fd < 0 ? -errno : 0;

	if (!err && bpf_map__update_elem(skel->maps.cgroup_filter, &key, sizeof(key), &fd,
					 sizeof(fd), BPF_ANY))
		err = -errno;
	if (err)
		log_warn("--cgroup %s: %s (need a cgroup v2 directory, e.g. under "
			 "/sys/fs/cgroup/unified on hybrid hosts)", path, strerror(-err));
	if (fd >= 0)
		close(fd); /* the map holds its own reference */
	return err;
}

/* Our pid in, and out the pids of loaders and processors that are gone. */
static int set_ignored(struct probes *p)
{
	uint32_t key, next, *prev = NULL;

	while (!bpf_map__get_next_key(p->skel->maps.ignore_tgids, prev, &next, sizeof(next))) {
		key = next;
		prev = &key;
		if (kill((pid_t)key, 0) && errno == ESRCH && !probes_ignore(p, key, false))
			prev = NULL; /* deleted: restart the walk */
	}
	return probes_ignore(p, (uint32_t)getpid(), true);
}

/* A fresh conn_ids map starts at CLOCK_BOOTTIME ns, above any id an earlier
 * instance handed out since boot; a reused one just goes on. */
static int seed_conn_ids(struct sluice_bpf *skel)
{
	uint32_t key = 0;
	uint64_t v = 0;

	if (bpf_map__lookup_elem(skel->maps.conn_ids, &key, sizeof(key), &v, sizeof(v), 0))
		return -errno;
	v = v ? v : clock_ns(CLOCK_BOOTTIME);
	return bpf_map__update_elem(skel->maps.conn_ids, &key, sizeof(key), &v, sizeof(v), 0);
}

/* Packet and socket-creation hooks attach to a cgroup: --cgroup, else the
 * cgroup v2 root, below which every process's sockets live. */
static struct bpf_link *attach_prog(struct bpf_program *prog, const char *cgroup)
{
	enum bpf_prog_type t = bpf_program__type(prog);
	struct bpf_link *link;
	int fd;

	if (t != BPF_PROG_TYPE_CGROUP_SKB && t != BPF_PROG_TYPE_CGROUP_SOCK)
		return bpf_program__attach(prog);
	if (!cgroup)
		cgroup = access("/sys/fs/cgroup/cgroup.controllers", F_OK) ? "/sys/fs/cgroup/unified"
									    : "/sys/fs/cgroup";
	if ((fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return NULL;
	link = bpf_program__attach_cgroup(prog, fd); /* the link holds the cgroup */
	close(fd);
	return link;
}

/* Tracepoint links cannot be updated in place (EINVAL for perf links on
 * this kernel), so an upgrade unpins each old link, which detaches it, just
 * before attaching and pinning its successor: microseconds per probe. */
static int attach_all(struct probes *p, const char *cgroup)
{
	const struct bpf_object_skeleton *s = p->skel->skeleton;
	char path[PATH_MAX];

	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *prog = *s->progs[i].prog;
		struct bpf_link **link = s->progs[i].link;

		if (p->pin.dir) {
			snprintf(path, sizeof(path), "%s/links/%s", p->pin.dir,
				 bpf_program__name(prog));
			unlink(path);
		}
		if (!(*link = attach_prog(prog, cgroup)) || (p->pin.dir && bpf_link__pin(*link, path))) {
			log_warn("cannot attach %s: %s", bpf_program__section_name(prog), strerror(errno));
			return -errno;
		}
	}
	log_info("attached %d programs%s", s->prog_cnt, p->pin.dir ? ", pinned" : "");
	return 0;
}

/* New object, pinned or not: load (reusing pinned maps), filters, attach.
 * The meta's hash is written last: until then the pins are not adoptable. */
static int load(struct probes *p, const struct loader_cfg *cfg, uint64_t hash)
{
	int err = p->pin.dir ? pin_maps(&p->pin, p->skel->obj, false, &p->old_rb_fd) : 0;

	if (err < 0)
		return err;
	if (p->pin.dir && p->pin.meta.version)
		log_info("pins in %s are from another object or config: replacing the programs",
			 p->pin.dir);
	if (!err) /* the kernel totals restart from 0: a new epoch says so */
		p->pin.meta = (struct pin_meta){ .epoch_ns = clock_ns(CLOCK_REALTIME) };
	p->pin.meta.hash = 0;
	if ((p->pin.dir && (err = pin_write_meta(&p->pin))) || (err = sluice_bpf__load(p->skel))) {
		log_warn("cannot load BPF object: %s (--verbose shows the verifier log)",
			 strerror(-err));
		return err;
	}
	/* Filters go in before anything is attached: no event escapes them. */
	if ((err = seed_conn_ids(p->skel)) || (err = set_ignored(p)) ||
	    (cfg->cgroup_path && (err = set_cgroup(p->skel, cfg->cgroup_path))) ||
	    (err = attach_all(p, cfg->cgroup_path)) || !p->pin.dir)
		return err;
	pin_sweep(&p->pin, p->skel->obj);
	p->pin.meta.hash = hash;
	return pin_write_meta(&p->pin);
}

static int adopt(struct probes *p, const struct loader_cfg *cfg)
{
	int err = pin_maps(&p->pin, p->skel->obj, true, NULL);

	if (err || (err = set_ignored(p)) ||
	    (cfg->cgroup_path && (err = set_cgroup(p->skel, cfg->cgroup_path))))
		return err;
	log_info("reusing the probes pinned in %s: they stayed attached; what the ring buffer "
		 "could hold meanwhile comes next", p->pin.dir);
	return 0;
}

/* The iterators write into the probes' maps (same names, same fds). */
static int snapshot_load(struct probes *p, const struct loader_cfg *cfg)
{
	struct snapshot_bpf *s = p->snap = snapshot_bpf__open();
	struct bpf_map *m;
	struct stat st;

	if (!s)
		return -errno;
	if (cfg->cgroup_path && !stat(cfg->cgroup_path, &st))
		s->rodata->snapshot_cgroup = st.st_ino; /* the cgroup id on cgroup2 */
	bpf_object__for_each_map(m, s->obj)
		if (!bpf_map__is_internal(m) &&
		    bpf_map__reuse_fd(m, bpf_object__find_map_fd_by_name(p->skel->obj,
									  bpf_map__name(m))))
			return -errno;
	if (snapshot_bpf__load(s) || snapshot_bpf__attach(s) ||
	    (p->snap_fd[0] = bpf_iter_create(bpf_link__fd(s->links.snapshot_procs))) < 0 ||
	    (p->snap_fd[1] = bpf_iter_create(bpf_link__fd(s->links.snapshot_listen))) < 0)
		return -errno;
	return 0;
}

int probes_start(struct probes *p, const struct loader_cfg *cfg)
{
	uint64_t hash;
	int err;

	libbpf_set_print(libbpf_log);
	*p = (struct probes){ .old_rb_fd = -1, .snap_fd = { -1, -1 }, .pin.dir_fd = -1,
			      .pin.meta_fd = -1 };
	if ((p->ncpus = libbpf_num_possible_cpus()) < 0 || (err = mount_fs()))
		return p->ncpus < 0 ? p->ncpus : err;
	if (!(p->skel = sluice_bpf__open())) {
		log_warn("cannot open BPF object: %s", strerror(errno));
		return -EINVAL;
	}
	hash = configure(p->skel, cfg, p->ncpus);
	if (cfg->pin_dir && (err = pin_open(&p->pin, cfg->pin_dir)))
		return err;
	if (cfg->pin_dir && p->pin.meta.hash == hash)
		err = adopt(p, cfg);
	else
		err = load(p, cfg, hash);
	if (err)
		return err;
	memcpy(p->loss_base, p->pin.meta.loss, sizeof(p->loss_base));
	if ((err = snapshot_load(p, cfg))) {
		log_warn("no snapshot of running processes and listening sockets: %s "
			 "(--verbose says why)", strerror(-err));
		probes_snapshot(p, NULL, NULL);
	}
	return 0;
}

/* A few records per read(): the ring is drained between reads. */
void probes_snapshot(struct probes *p, void (*drain)(void *), void *ctx)
{
	char buf[4096];

	for (int i = 0; i < 2; i++) {
		while (drain && p->snap_fd[i] >= 0 && read(p->snap_fd[i], buf, sizeof(buf)) > 0)
			drain(ctx);
		if (p->snap_fd[i] >= 0)
			close(p->snap_fd[i]);
	}
	snapshot_bpf__destroy(p->snap);
	p->snap = NULL;
	if (drain)
		drain(ctx);
}

#define FLOW_BATCH 256

/* Points `flows` at the other flow map, then empties the one it left. The
 * map-in-map update returns after an RCU grace period, so no program still
 * counts into that one: totals are exact. Entries go to fn unread. */
int probes_flows(struct probes *p, int (*fn)(void *ctx, void *rec, size_t len), void *ctx)
{
	struct bpf_map *m[2] = { p->skel->maps.flows_a, p->skel->maps.flows_b };
	struct sluice_flow_key k[FLOW_BATCH];
	struct sluice_flow_counts v[FLOW_BATCH];
	struct sluice_ev_flow e = { .h = { .type = SLUICE_EV_FLOW, .size = sizeof(e) } };
	uint32_t zero = 0, n, token, *in = NULL;
	int next = bpf_map__fd(m[p->flow_next]), old = bpf_map__fd(m[!p->flow_next]), err;

	if (bpf_map__update_elem(p->skel->maps.flows, &zero, sizeof(zero), &next, sizeof(next), 0))
		return -errno;
	p->flow_next ^= 1;
	e.h.ts_ns = clock_ns(CLOCK_BOOTTIME);
	do {
		n = FLOW_BATCH;
		err = bpf_map_lookup_and_delete_batch(old, in, &token, k, v, &n, NULL);
		for (uint32_t i = 0; i < n && (!err || err == -ENOENT); i++) {
			e.k = k[i];
			e.v = v[i];
			e.h.tgid = v[i].tgid;
			fn(ctx, &e, sizeof(e));
		}
		in = &token;
	} while (!err);
	return err == -ENOENT ? 0 : err; /* else what stays is read after the next swap */
}

int probes_ringbuf_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.rb);
}

int probes_ignore(struct probes *p, uint32_t tgid, bool on)
{
	uint8_t one = 1;
	struct bpf_map *m = p->skel->maps.ignore_tgids;
	int err = on ? bpf_map__update_elem(m, &tgid, sizeof(tgid), &one, sizeof(one), BPF_ANY)
		     : bpf_map__delete_elem(m, &tgid, sizeof(tgid), 0);

	if (err && (on || err != -ENOENT))
		log_warn("cannot %s pid %u in ignore_tgids: %s", on ? "add" : "remove", tgid,
			 strerror(-err));
	return on ? err : 0;
}

int probes_losses(const struct probes *p, uint64_t *totals)
{
	uint64_t per_cpu[p->ncpus];

	for (uint32_t k = 0; k < SLUICE_LOSS_KERNEL_MAX; k++) {
		if (bpf_map__lookup_elem(p->skel->maps.loss_counters, &k, sizeof(k), per_cpu,
					 sizeof(per_cpu), 0))
			return -errno;
		totals[k] = 0;
		for (int c = 0; c < p->ncpus; c++)
			totals[k] += per_cpu[c];
	}
	return 0;
}

void probes_save_losses(struct probes *p, const uint64_t *totals)
{
	memcpy(p->pin.meta.loss, totals + SLUICE_LOSS_KERNEL_MAX, sizeof(p->pin.meta.loss));
	if (p->pin.dir && pin_write_meta(&p->pin))
		log_warn("cannot record loss totals in %s/meta", p->pin.dir);
}

void probes_stop(struct probes *p)
{
	const struct bpf_object_skeleton *s = p->skel->skeleton;

	/* pinned links stay attached: only our fds go */
	for (int i = 0; p->pin.dir && i < s->prog_cnt; i++)
		if (*s->progs[i].link)
			bpf_link__disconnect(*s->progs[i].link);
	sluice_bpf__destroy(p->skel);
	if (p->old_rb_fd >= 0)
		close(p->old_rb_fd);
	pin_close(&p->pin);
}
