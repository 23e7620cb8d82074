/* Pinned objects in bpffs: the lock, the meta map, map reuse by layout,
 * stale pins, and --unload. Maps are never left to libbpf's own pin reuse
 * unchecked: a layout change would fail the load ("couldn't reuse pinned
 * map"); here the old map is unpinned and the log says so. */
#include "loader/loader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"

static int fail(const char *what, const char *path, int err)
{
	log_warn("%s %s: %s", what, path, strerror(-err));
	return err;
}

/* The dir must be on bpffs, and not a mount's root: --unload empties it. */
static int lock_dir(struct pin *pin, const char *dir)
{
	struct stat st, up;
	struct statfs fs;

	*pin = (struct pin){ .dir = dir, .meta_fd = -1 };
	if ((pin->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstatfs(pin->dir_fd, &fs) || fs.f_type != BPF_FS_MAGIC || fstat(pin->dir_fd, &st) ||
	    fstatat(pin->dir_fd, "..", &up, 0) || st.st_dev != up.st_dev)
		return fail("need a directory below a bpffs mount, not", dir, -EINVAL);
	if (flock(pin->dir_fd, LOCK_EX | LOCK_NB))
		return fail("in use by another sluice-loader (or --unload):", dir, -EBUSY);
	return 0;
}

static void read_meta(struct pin *pin)
{
	char path[PATH_MAX];
	uint32_t key = 0;

	snprintf(path, sizeof(path), "%s/meta", pin->dir);
	if ((pin->meta_fd = bpf_obj_get(path)) < 0)
		return;
	if (bpf_map_lookup_elem(pin->meta_fd, &key, &pin->meta) ||
	    pin->meta.version != PIN_VERSION) { /* another version's: start over */
		memset(&pin->meta, 0, sizeof(pin->meta));
		close(pin->meta_fd);
		pin->meta_fd = -1;
		unlink(path);
	}
}

int pin_open(struct pin *pin, const char *dir)
{
	int err;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail("cannot create", dir, -errno);
	if ((err = lock_dir(pin, dir)))
		return err == -EINVAL || err == -EBUSY ? err : fail("cannot open", dir, err);
	if ((mkdirat(pin->dir_fd, "maps", 0700) && errno != EEXIST) ||
	    (mkdirat(pin->dir_fd, "links", 0700) && errno != EEXIST))
		return fail("cannot create maps/ and links/ in", dir, -errno);
	read_meta(pin);
	return 0;
}

static bool same_layout(const struct bpf_map *m, int fd)
{
	struct bpf_map_info i = { 0 };
	uint32_t len = sizeof(i);

	return !bpf_obj_get_info_by_fd(fd, &i, &len) && i.type == bpf_map__type(m) &&
	       i.key_size == bpf_map__key_size(m) && i.value_size == bpf_map__value_size(m) &&
	       i.max_entries == bpf_map__max_entries(m) && i.map_flags == bpf_map__map_flags(m) &&
	       i.map_extra == bpf_map__map_extra(m);
}

/* Replaces an unusable pin of m: says so, keeps a ring to drain. */
static void unpin_old(struct bpf_map *m, const char *path, int fd, int *old_rb)
{
	bool ring = !strcmp(bpf_map__name(m), "rb");

	log_warn("pinned map %s has another layout: replacing it (%s)", bpf_map__name(m),
		 ring ? "what it holds is still read" : "contents not kept");
	unlink(path);
	if (ring)
		*old_rb = fd;
	else
		close(fd);
}

int pin_maps(struct pin *pin, struct bpf_object *obj, bool adopt, int *old_rb)
{
	char path[PATH_MAX];
	struct bpf_map *m;
	int fd, err, kept = 0;

	bpf_object__for_each_map(m, obj) {
		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", pin->dir, bpf_map__name(m));
		fd = bpf_obj_get(path);
		if (adopt) {
			err = fd < 0 ? -errno : bpf_map__reuse_fd(m, fd);
			if (err)
				return fail("pins are incomplete (try --unload):", path, err);
		} else if (fd >= 0 && !same_layout(m, fd)) {
			unpin_old(m, path, fd, old_rb);
			fd = -1;
		} else if (fd >= 0) {
			kept |= !strcmp(bpf_map__name(m), "loss_counters");
		}
		if (fd >= 0) /* reuse_fd took a dup */
			close(fd);
		if (!adopt) /* libbpf reuses what is still pinned there, pins what it creates */
			bpf_map__set_pin_path(m, path);
	}
	return kept;
}

/* Unpins the entries of sub/ that obj does not have (all without obj);
 * returns how many. */
static int sweep(struct pin *pin, const char *sub, struct bpf_object *obj)
{
	int n = 0, fd = openat(pin->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		bool ours = obj && (*sub == 'm' ? !!bpf_object__find_map_by_name(obj, e->d_name) :
				    !!bpf_object__find_program_by_name(obj, e->d_name));

		if (e->d_name[0] != '.' && !ours && !unlinkat(fd, e->d_name, 0) && ++n && obj)
			log_info("unpinned %s/%s/%s: not in this object", pin->dir, sub, e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

void pin_sweep(struct pin *pin, struct bpf_object *obj)
{
	sweep(pin, "links", obj);
	sweep(pin, "maps", obj);
}

int pin_write_meta(struct pin *pin)
{
	char path[PATH_MAX];
	uint32_t key = 0;

	pin->meta.version = PIN_VERSION;
	if (pin->meta_fd < 0) {
		snprintf(path, sizeof(path), "%s/meta", pin->dir);
		pin->meta_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_meta", sizeof(key),
					      sizeof(pin->meta), 1, NULL);
		if (pin->meta_fd < 0 || bpf_obj_pin(pin->meta_fd, path))
			return fail("cannot create", path, -errno);
	}
	return bpf_map_update_elem(pin->meta_fd, &key, &pin->meta, BPF_ANY) ? -errno : 0;
}

void pin_close(struct pin *pin)
{
	if (pin->meta_fd >= 0)
		close(pin->meta_fd);
	if (pin->dir_fd >= 0)
		close(pin->dir_fd); /* releases the flock */
	pin->meta_fd = pin->dir_fd = -1;
}

int pin_unload(const char *dir)
{
	struct pin pin;
	int links, maps, err = lock_dir(&pin, dir);

	if (err == -ENOENT)
		log_info("nothing pinned at %s", dir);
	if (err)
		return err == -ENOENT ? 0 : err;
	read_meta(&pin);
	if (pin.meta_fd < 0) {
		pin_close(&pin);
		return fail("no sluice meta, not touching", dir, -ENOENT);
	}
	/* a link's pin is its last reference: unpinning detaches the program */
	links = sweep(&pin, "links", NULL);
	maps = sweep(&pin, "maps", NULL);
	unlinkat(pin.dir_fd, "meta", 0);
	unlinkat(pin.dir_fd, "links", AT_REMOVEDIR);
	unlinkat(pin.dir_fd, "maps", AT_REMOVEDIR);
	pin_close(&pin);
	if (rmdir(dir))
		return fail("unpinned sluice's objects but left (not ours?)", dir, -errno);
	log_info("unloaded: detached %d links, removed %d maps and %s", links, maps, dir);
	return 0;
}
