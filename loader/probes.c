/* Owns the BPF object's life in the loader: filesystems it needs, the
 * load-time tunables, the cgroup filter and attaching each tracepoint with
 * an error that names it. */
#include "loader/probes.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "common/events.h"
#include "common/log.h"
#include "sluice.skel.h"

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
	/* Nothing is pinned yet, so a missing bpffs is only worth a warning. */
	ensure_fs("bpf", "/sys/fs/bpf", "bpf", BPF_FS_MAGIC);
	return 0;
}

static void configure(struct sluice_bpf *skel, const struct loader_cfg *cfg, int ncpus)
{
	skel->rodata->capture_bytes = cfg->capture_bytes;
	skel->rodata->filter_cgroup = cfg->cgroup_path != NULL;
	/* Wake the reader at 1/16 full: well before loss, far from per-event. */
	skel->rodata->wakeup_bytes = cfg->ringbuf_bytes / 16;
	/* conn_ids must never repeat across loader restarts within a boot. */
	skel->bss->next_conn_id = clock_ns(CLOCK_BOOTTIME);
	bpf_map__set_max_entries(skel->maps.rb, (uint32_t)cfg->ringbuf_bytes);
	bpf_map__set_max_entries(skel->maps.scratch, (uint32_t)ncpus);
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

static int attach_all(struct sluice_bpf *skel)
{
	const struct bpf_object_skeleton *s = skel->skeleton;

	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *prog = *s->progs[i].prog;

		*s->progs[i].link = bpf_program__attach(prog);
		if (!*s->progs[i].link) {
			int err = -errno;

			log_warn("cannot attach %s: %s", bpf_program__section_name(prog),
				 strerror(-err));
			return err;
		}
		log_debug("attached %s", bpf_program__section_name(prog));
	}
	log_info("attached %d tracepoint programs (--verbose lists them)", s->prog_cnt);
	return 0;
}

int probes_start(struct probes *p, const struct loader_cfg *cfg)
{
	int err;

	libbpf_set_print(libbpf_log);
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus < 0)
		return p->ncpus;
	p->skel = sluice_bpf__open();
	if (!p->skel) {
		err = -errno;
		log_warn("cannot open BPF object: %s", strerror(-err));
		return err;
	}
	configure(p->skel, cfg, p->ncpus);
	err = sluice_bpf__load(p->skel);
	if (err) {
		log_warn("cannot load BPF object: %s (--verbose shows the verifier log)",
			 strerror(-err));
		return err;
	}
	/* Filters go in before anything is attached: no event escapes them. */
	if (cfg->cgroup_path && (err = set_cgroup(p->skel, cfg->cgroup_path)))
		return err;
	if ((err = probes_ignore(p, (uint32_t)getpid(), true)))
		return err;
	return attach_all(p->skel);
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

void probes_stop(struct probes *p)
{
	sluice_bpf__destroy(p->skel); /* destroys links too: detaches everything */
	p->skel = NULL;
}
