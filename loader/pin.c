/* Pinned objects in bpffs: the lock, the meta map, map reuse by layout, link
 * paths, stale pins, and --unload. Maps are never handed to libbpf's own
 * pin_path reuse: a layout change would fail the load ("couldn't reuse
 * pinned map"); here it unpins the old map and says so instead. */
#include "loader/pin.h"

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

static const char *path_of(const struct pin *pin, const char *sub, const char *name, char *buf,
			   size_t len)
{
	snprintf(buf, len, "%s/%s/%s", pin->dir, sub, name);
	return buf;
}

static int fail(const char *what, const char *path)
{
	int err = -errno;

	log_warn("%s %s: %s", what, path, strerror(-err));
	return err;
}

static int lock_dir(struct pin *pin, const char *dir)
{
	struct statfs st;

	*pin = (struct pin){ .dir = dir, .dir_fd = -1, .meta_fd = -1 };
	pin->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pin->dir_fd < 0)
		return -errno;
	if (fstatfs(pin->dir_fd, &st) || st.f_type != BPF_FS_MAGIC) {
		log_warn("--pin-dir %s is not on a bpf filesystem", dir);
		return -EINVAL;
	}
	if (flock(pin->dir_fd, LOCK_EX | LOCK_NB)) {
		log_warn("%s is in use by another sluice-loader (or --unload)", dir);
		return -EBUSY;
	}
	return 0;
}

static void read_meta(struct pin *pin)
{
	char path[PATH_MAX];
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info), key = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/meta", pin->dir);
	if ((fd = bpf_obj_get(path)) < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != sizeof(pin->meta) ||
	    bpf_map_lookup_elem(fd, &key, &pin->meta) || pin->meta.version != PIN_VERSION) {
		log_warn("%s is not this version's meta: replacing it", path);
		memset(&pin->meta, 0, sizeof(pin->meta));
		close(fd);
		unlink(path);
		return;
	}
	pin->meta_fd = fd;
	pin->had_meta = true;
}

int pin_open(struct pin *pin, const char *dir)
{
	int err;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail("cannot create", dir);
	if ((err = lock_dir(pin, dir)))
		return err == -EBUSY || err == -EINVAL ? err : fail("cannot open", dir);
	if ((mkdirat(pin->dir_fd, "maps", 0700) && errno != EEXIST) ||
	    (mkdirat(pin->dir_fd, "links", 0700) && errno != EEXIST))
		return fail("cannot create maps/ and links/ in", dir);
	read_meta(pin);
	return 0;
}

static bool same_layout(const struct bpf_map *m, int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == bpf_map__type(m) &&
	       info.key_size == bpf_map__key_size(m) && info.value_size == bpf_map__value_size(m) &&
	       info.max_entries == bpf_map__max_entries(m) &&
	       info.map_flags == bpf_map__map_flags(m) && info.map_extra == bpf_map__map_extra(m);
}

/* The pinned map with m's name, if its layout is m's; -1 otherwise. */
static int pinned_map(const struct pin *pin, const struct bpf_map *m, int *other)
{
	char path[PATH_MAX];
	int fd = bpf_obj_get(path_of(pin, "maps", bpf_map__name(m), path, sizeof(path)));

	if (fd < 0 || same_layout(m, fd))
		return fd;
	if (other)
		*other = fd;
	else
		close(fd);
	return -1;
}

bool pin_adoptable(const struct pin *pin, struct bpf_object *obj, uint64_t hash)
{
	char path[PATH_MAX];
	struct bpf_program *prog;
	struct bpf_map *m;
	int fd;

	if (!pin->had_meta || pin->meta.hash != hash)
		return false;
	bpf_object__for_each_program(prog, obj)
		if (access(path_of(pin, "links", bpf_program__name(prog), path, sizeof(path)), F_OK))
			return false;
	bpf_object__for_each_map(m, obj) {
		if (bpf_map__is_internal(m))
			continue;
		if ((fd = pinned_map(pin, m, NULL)) < 0)
			return false;
		close(fd);
	}
	return true;
}

int pin_adopt_maps(const struct pin *pin, struct bpf_object *obj)
{
	struct bpf_map *m;
	int fd, err;

	bpf_object__for_each_map(m, obj) {
		if (bpf_map__is_internal(m))
			continue;
		if ((fd = pinned_map(pin, m, NULL)) < 0)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

bool pin_prepare_maps(const struct pin *pin, struct bpf_object *obj, int *old_rb)
{
	bool loss_kept = false;
	char path[PATH_MAX];
	struct bpf_map *m;
	int fd, other;

	*old_rb = -1;
	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);

		if (bpf_map__is_internal(m))
			continue;
		other = -1;
		path_of(pin, "maps", name, path, sizeof(path));
		if ((fd = pinned_map(pin, m, &other)) >= 0) {
			loss_kept |= !strcmp(name, "loss_counters");
			close(fd);
		} else if (other >= 0) {
			log_warn("pinned map %s has another layout: replacing it (%s)", name,
				 strcmp(name, "rb") ? "contents not kept" : "what it holds is still read");
			unlink(path);
			if (!strcmp(name, "rb"))
				*old_rb = other; /* still holds records: drained after the switch */
			else
				close(other);
		}
		/* libbpf reuses what is still pinned here, and pins what it creates */
		bpf_map__set_pin_path(m, path);
	}
	return loss_kept;
}

const char *pin_link_path(const struct pin *pin, const char *prog, char *buf, size_t len)
{
	path_of(pin, "links", prog, buf, len);
	if (unlink(buf) == 0)
		log_debug("replacing pinned link %s", buf);
	return buf;
}

/* Unpins the entries of sub/ that `keep` says obj does not have (all of
 * them without obj); returns how many. */
static int remove_stale_in(const struct pin *pin, const char *sub, struct bpf_object *obj,
			   bool (*keep)(struct bpf_object *, const char *))
{
	int n = 0, dfd = openat(pin->dir_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && (!obj || !keep(obj, e->d_name)) &&
		    !unlinkat(dfd, e->d_name, 0) && ++n && obj)
			log_info("unpinned %s/%s/%s: not in this object", pin->dir, sub, e->d_name);
	if (d)
		closedir(d);
	else if (dfd >= 0)
		close(dfd);
	return n;
}

static bool has_map(struct bpf_object *obj, const char *name)
{
	return bpf_object__find_map_by_name(obj, name) != NULL;
}

static bool has_prog(struct bpf_object *obj, const char *name)
{
	return bpf_object__find_program_by_name(obj, name) != NULL;
}

void pin_remove_stale(const struct pin *pin, struct bpf_object *obj)
{
	remove_stale_in(pin, "links", obj, has_prog);
	remove_stale_in(pin, "maps", obj, has_map);
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
			return fail("cannot create", path);
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
	char path[PATH_MAX];
	int links, maps, err = lock_dir(&pin, dir);

	if (err == -ENOENT) {
		log_info("nothing pinned at %s", dir);
		return 0;
	}
	if (!err)
		read_meta(&pin);
	if (err || !pin.had_meta) {
		if (err != -EBUSY && err != -EINVAL)
			log_warn("%s: %s", dir, err ? strerror(-err) : "no sluice meta, not touching it");
		pin_close(&pin);
		return err ? err : -ENOENT;
	}
	/* a link's pin is its last reference: unpinning detaches the program */
	links = remove_stale_in(&pin, "links", NULL, NULL);
	maps = remove_stale_in(&pin, "maps", NULL, NULL);
	snprintf(path, sizeof(path), "%s/meta", dir);
	unlink(path);
	unlinkat(pin.dir_fd, "links", AT_REMOVEDIR);
	unlinkat(pin.dir_fd, "maps", AT_REMOVEDIR);
	pin_close(&pin);
	if (rmdir(dir))
		return fail("unpinned sluice's objects but left (not ours?)", dir);
	log_info("unloaded: detached %d links, removed %d maps and %s", links, maps, dir);
	return 0;
}
