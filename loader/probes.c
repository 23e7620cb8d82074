/* Owns the BPF objects' life in the loader: filesystems they need, the
 * load-time tunables, adopting or replacing pinned probes, the cgroup and
 * ignore filters, attaching each tracepoint with an error that names it, and
 * the one-shot snapshot iterators. */
#include "loader/probes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

static int ensure_fs(const char *src, const char *dir, const char *type, long magic)
{
	struct statfs st;

	if (statfs(dir, &st) == 0 && st.f_type == magic)
		return 0;
	if (mount(src, dir, type, 0, NULL)) {
		int err = -errno;

		log_warn("cannot mount %s on %s: %s", type, dir, strerror(-err));
		return err;
	}
	log_info("mounted %s on %s", type, dir);
	return 0;
}

int probes_mount_fs(void)
{
	/* Syscall tracepoints are attached by id, read from tracefs. */
	int err = ensure_fs("nodev", "/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC);

	if (err) {
		log_warn("tracefs is required to attach syscall tracepoints");
		return err;
	}
	/* Without it --pin-dir fails with its own message. */
	ensure_fs("bpf", "/sys/fs/bpf", "bpf", BPF_FS_MAGIC);
	return 0;
}

static void configure(struct sluice_bpf *skel, const struct loader_cfg *cfg, int ncpus)
{
	skel->rodata->capture_bytes = cfg->capture_bytes;
	skel->rodata->filter_cgroup = cfg->cgroup_path != NULL;
	/* Wake the reader at 1/16 full: well before loss, far from per-event. */
	skel->rodata->wakeup_bytes = cfg->ringbuf_bytes / 16;
	bpf_map__set_max_entries(skel->maps.rb, (uint32_t)cfg->ringbuf_bytes);
	bpf_map__set_max_entries(skel->maps.scratch, (uint32_t)ncpus);
}

/* FNV-1a over the object's bytes and everything configure() sets: pins are
 * adopted only when both are what this loader would load. */
static uint64_t object_hash(const struct loader_cfg *cfg, int ncpus)
{
	uint64_t cfgv[4] = { cfg->capture_bytes, cfg->cgroup_path != NULL, cfg->ringbuf_bytes,
			     (uint64_t)ncpus };
	uint64_t h = 14695981039346656037ull;
	size_t n, i;
	const uint8_t *b = sluice_bpf__elf_bytes(&n);

	for (i = 0; i < n + sizeof(cfgv); i++)
		h = (h ^ (i < n ? b[i] : ((const uint8_t *)cfgv)[i - n])) * 1099511628211ull;
	return h;
}

static int set_cgroup(struct sluice_bpf *skel, const char *path)
{
	uint32_t key = 0;
	struct statfs st;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_warn("cannot open cgroup %s: %s", path, strerror(-err));
		return err;
	}
	if (fstatfs(fd, &st) || st.f_type != CGROUP2_SUPER_MAGIC) {
		log_warn("--cgroup %s is not a cgroup v2 directory (try /sys/fs/cgroup/unified/...)",
			 path);
		err = -EINVAL;
	} else if (bpf_map__update_elem(skel->maps.cgroup_filter, &key, sizeof(key), &fd,
					sizeof(fd), BPF_ANY)) {
		err = -errno;
		log_warn("cannot set cgroup filter %s: %s", path, strerror(-err));
	}
	close(fd); /* the map holds its own reference */
	return err;
}

/* A pinned ignore set may name loaders and processors that are gone. */
static void prune_ignored(struct probes *p)
{
	uint32_t key, next, *prev = NULL;

	while (!bpf_map__get_next_key(p->skel->maps.ignore_tgids, prev, &next, sizeof(next))) {
		key = next;
		prev = &key;
		if (kill((pid_t)key, 0) && errno == ESRCH && !probes_ignore(p, key, false))
			prev = NULL; /* deleted: restart the walk */
	}
}

/* A fresh conn_ids map starts at CLOCK_BOOTTIME ns, above any id an earlier
 * instance handed out since boot; a reused one just continues. */
static int seed_conn_ids(struct sluice_bpf *skel)
{
	uint32_t key = 0;
	uint64_t v = 0;

	if (bpf_map__lookup_elem(skel->maps.conn_ids, &key, sizeof(key), &v, sizeof(v), 0))
		return -errno;
	if (v)
		return 0;
	v = clock_ns(CLOCK_BOOTTIME);
	return bpf_map__update_elem(skel->maps.conn_ids, &key, sizeof(key), &v, sizeof(v), 0);
}

/* Tracepoint links cannot be updated in place on this kernel (EINVAL for
 * perf links), so an upgrade detaches each old link just before attaching
 * its successor: a window of microseconds per probe, reported. */
static int attach_all(struct probes *p)
{
	const struct bpf_object_skeleton *s = p->skel->skeleton;
	uint64_t worst = 0;
	char path[PATH_MAX];

	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *prog = *s->progs[i].prog;
		uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
		const char *pin = p->pin.dir ? pin_link_path(&p->pin, bpf_program__name(prog),
							      path, sizeof(path)) : NULL;

		*s->progs[i].link = bpf_program__attach(prog);
		if (!*s->progs[i].link || (pin && bpf_link__pin(*s->progs[i].link, pin))) {
			int err = -errno;

			log_warn("cannot attach %s: %s", bpf_program__section_name(prog),
				 strerror(-err));
			return err;
		}
		if (clock_ns(CLOCK_MONOTONIC) - t0 > worst)
			worst = clock_ns(CLOCK_MONOTONIC) - t0;
	}
	log_info("attached %d tracepoint programs%s (longest switch-over %" PRIu64 " us)",
		 s->prog_cnt, p->pin.dir ? ", pinned" : "", worst / 1000);
	return 0;
}

/* New object, pinned or not: load (reusing pinned maps), filters, attach. */
static int load_and_attach(struct probes *p, const struct loader_cfg *cfg, uint64_t hash)
{
	bool loss_kept = p->pin.dir && pin_prepare_maps(&p->pin, p->skel->obj, &p->old_rb_fd);
	int err;

	if (p->pin.dir && p->pin.had_meta)
		log_info("pins in %s are from another object or config: replacing the programs",
			 p->pin.dir);
	if (!loss_kept) { /* totals restart from 0: a new epoch says so */
		memset(&p->pin.meta, 0, sizeof(p->pin.meta));
		p->pin.meta.epoch_ns = clock_ns(CLOCK_REALTIME);
	}
	p->pin.meta.hash = 0; /* unfinished until everything is pinned */
	if (p->pin.dir && (err = pin_write_meta(&p->pin)))
		return err;
	if ((err = sluice_bpf__load(p->skel))) {
		log_warn("cannot load BPF object: %s (--verbose shows the verifier log)",
			 strerror(-err));
		return err;
	}
	/* Filters go in before anything is attached: no event escapes them. */
	if ((err = seed_conn_ids(p->skel)) ||
	    (cfg->cgroup_path && (err = set_cgroup(p->skel, cfg->cgroup_path))) ||
	    (err = probes_ignore(p, (uint32_t)getpid(), true)) || (err = attach_all(p)))
		return err;
	if (!p->pin.dir)
		return 0;
	pin_remove_stale(&p->pin, p->skel->obj);
	p->pin.meta.hash = hash;
	return pin_write_meta(&p->pin);
}

static int adopt(struct probes *p, const struct loader_cfg *cfg)
{
	int err = pin_adopt_maps(&p->pin, p->skel->obj);

	if (err || (cfg->cgroup_path && (err = set_cgroup(p->skel, cfg->cgroup_path))) ||
	    (err = probes_ignore(p, (uint32_t)getpid(), true)))
		return err;
	log_info("reusing the probes pinned in %s: still attached, no event lost meanwhile "
		 "beyond what the ring buffer could hold", p->pin.dir);
	return 0;
}

int probes_start(struct probes *p, const struct loader_cfg *cfg)
{
	uint64_t hash;
	int err;

	libbpf_set_print(libbpf_log);
	*p = (struct probes){ .old_rb_fd = -1, .snap_fd = { -1, -1 },
			      .pin = { .dir_fd = -1, .meta_fd = -1 } };
	if ((p->ncpus = libbpf_num_possible_cpus()) < 0)
		return p->ncpus;
	if (!(p->skel = sluice_bpf__open())) {
		err = -errno;
		log_warn("cannot open BPF object: %s", strerror(-err));
		return err;
	}
	configure(p->skel, cfg, p->ncpus);
	hash = object_hash(cfg, p->ncpus);
	if (cfg->pin_dir && (err = pin_open(&p->pin, cfg->pin_dir)))
		return err;
	if (cfg->pin_dir && pin_adoptable(&p->pin, p->skel->obj, hash))
		err = adopt(p, cfg);
	else
		err = load_and_attach(p, cfg, hash);
	if (err)
		return err;
	memcpy(p->loss_base, p->pin.meta.loss, sizeof(p->loss_base));
	prune_ignored(p);
	return 0;
}

int probes_snapshot_prepare(struct probes *p, const struct loader_cfg *cfg)
{
	struct snapshot_bpf *s = snapshot_bpf__open();
	struct bpf_map *m;
	struct stat st;

	if (!s)
		goto fail;
	p->snap = s;
	if (cfg->cgroup_path && !stat(cfg->cgroup_path, &st))
		s->rodata->snapshot_cgroup = st.st_ino; /* the cgroup id on cgroup2 */
	/* same names, same maps: the records land in the probes' ring buffer */
	bpf_object__for_each_map(m, s->obj)
		if (!bpf_map__is_internal(m) &&
		    bpf_map__reuse_fd(m, bpf_object__find_map_fd_by_name(p->skel->obj,
									  bpf_map__name(m))))
			goto fail;
	if (snapshot_bpf__load(s) || snapshot_bpf__attach(s))
		goto fail;
	if ((p->snap_fd[0] = bpf_iter_create(bpf_link__fd(s->links.snapshot_procs))) < 0 ||
	    (p->snap_fd[1] = bpf_iter_create(bpf_link__fd(s->links.snapshot_listen))) < 0)
		goto fail;
	return 0;
fail:
	log_warn("no snapshot of running processes and listening sockets: %s (--verbose for why)",
		 strerror(errno));
	for (int i = 0; i < 2; i++)
		if (p->snap_fd[i] >= 0)
			close(p->snap_fd[i]);
	p->snap_fd[0] = p->snap_fd[1] = -1;
	snapshot_bpf__destroy(s);
	p->snap = NULL;
	return 0;
}

void probes_snapshot_run(struct probes *p, void (*drain)(void *), void *ctx)
{
	char buf[4096];
	ssize_t n = 0;

	for (int i = 0; i < 2 && p->snap; i++) {
		while ((n = read(p->snap_fd[i], buf, sizeof(buf))) > 0)
			drain(ctx); /* a few records per read: the ring never fills */
		if (n < 0)
			log_warn("snapshot iterator %d: %s", i, strerror(errno));
		close(p->snap_fd[i]);
	}
	snapshot_bpf__destroy(p->snap);
	p->snap = NULL;
	drain(ctx);
}

int probes_ringbuf_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.rb);
}

int probes_ignore(struct probes *p, uint32_t tgid, bool on)
{
	uint8_t one = 1;
	int err;

	if (on)
		err = bpf_map__update_elem(p->skel->maps.ignore_tgids, &tgid, sizeof(tgid), &one,
					   sizeof(one), BPF_ANY);
	else
		err = bpf_map__delete_elem(p->skel->maps.ignore_tgids, &tgid, sizeof(tgid), 0);
	if (err && (on || err != -ENOENT)) {
		log_warn("cannot %s pid %u in ignore_tgids: %s", on ? "add" : "remove", tgid,
			 strerror(-err));
		return err;
	}
	return 0;
}

int probes_losses(const struct probes *p, uint64_t *totals)
{
	uint64_t per_cpu[p->ncpus];

	for (uint32_t k = 0; k < SLUICE_LOSS_KERNEL_MAX; k++) {
		int err = bpf_map__lookup_elem(p->skel->maps.loss_counters, &k, sizeof(k), per_cpu,
					       sizeof(per_cpu), 0);
		if (err)
			return err;
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
	const struct bpf_object_skeleton *s = p->skel ? p->skel->skeleton : NULL;

	/* pinned links stay attached: only our fds go */
	for (int i = 0; p->pin.dir && s && i < s->prog_cnt; i++)
		if (*s->progs[i].link)
			bpf_link__disconnect(*s->progs[i].link);
	sluice_bpf__destroy(p->skel);
	p->skel = NULL;
	if (p->old_rb_fd >= 0)
		close(p->old_rb_fd);
	pin_close(&p->pin);
}
