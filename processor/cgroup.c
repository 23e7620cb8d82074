/* cgroup path parsing (pure, bounded) and the id -> path cache. The shapes
 * recognised, one path component at a time:
 *   docker-<64hex>.scope | /docker/<64hex>          docker (systemd | cgroupfs)
 *   cri-containerd-<64hex>.scope                    containerd via CRI
 *   crio-<64hex>.scope                              CRI-O (crio-conmon-* is not)
 *   libpod-<64hex>.scope | libpod-<64hex>           podman (libpod-conmon-* is not)
 *   lxc.payload.<name>                              LXC
 *   *kubepods*-pod<uid_with_underscores>.slice      a pod (systemd driver)
 *   /kubepods/[burstable|besteffort/]pod<uid>/<id>  a pod and container (cgroupfs)
 *   *.service, *.scope                              the systemd unit */
#include "processor/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_COMP_MAX 255        /* longest path component looked at */
#define CG_WALK_DEPTH 64       /* deeper cgroups are not learned */
#define CG_MAX_ENTRIES (1u << 20)

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_container_id(const char *s, size_t n)
{
	return n == CGROUP_CONTAINER_ID_MAX && all_hex(s, n);
}

static void set_container(struct cgroup_info *out, enum cgroup_runtime rt, const char *id,
			  size_t n)
{
	out->runtime = rt;
	memcpy(out->container_id, id, n);
	out->container_id[n] = 0;
}

/* <prefix><64hex>[.scope] for the runtimes that name their scopes. */
static bool parse_runtime_scope(const char *c, size_t n, struct cgroup_info *out)
{
	static const struct {
		const char *prefix;
		enum cgroup_runtime rt;
	} scopes[] = {
		{ "docker-", CGROUP_RT_DOCKER },
		{ "cri-containerd-", CGROUP_RT_CONTAINERD },
		{ "crio-", CGROUP_RT_CRIO },
		{ "libpod-", CGROUP_RT_PODMAN },
	};

	if (ends_with(c, n, ".scope"))
		n -= strlen(".scope");
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t k = strlen(scopes[i].prefix);

		if (n > k && memcmp(c, scopes[i].prefix, k) == 0 && is_container_id(c + k, n - k)) {
			set_container(out, scopes[i].rt, c + k, n - k);
			return true;
		}
	}
	return false;
}

static bool parse_lxc(const char *c, size_t n, struct cgroup_info *out)
{
	static const char prefix[] = "lxc.payload.";
	size_t k = sizeof(prefix) - 1;

	if (n <= k || n - k > CGROUP_CONTAINER_ID_MAX || memcmp(c, prefix, k) != 0)
		return false;
	for (size_t i = k; i < n; i++)
		if (!(c[i] == '-' || c[i] == '_' || c[i] == '.' || (c[i] >= '0' && c[i] <= '9') ||
		      (c[i] >= 'a' && c[i] <= 'z') || (c[i] >= 'A' && c[i] <= 'Z')))
			return false;
	set_container(out, CGROUP_RT_LXC, c + k, n - k);
	return true;
}

/* A pod uid as it appears in a path: dashed (cgroupfs) or with underscores
 * (systemd escapes '-'), 8-4-4-4-12 hex, or 32 hex for static pods. */
static bool set_pod_uid(struct cgroup_info *out, const char *s, size_t n)
{
	char u[CGROUP_POD_UID_MAX + 1];

	if (n != 36 && n != 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash_pos = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);

		u[i] = s[i] == '_' ? '-' : s[i];
		if (dash_pos ? u[i] != '-' : !all_hex(&u[i], 1))
			return false;
	}
	u[n] = 0;
	memcpy(out->pod_uid, u, n + 1);
	return true;
}

/* Kubernetes levels: kubepods[.slice], the QoS level, the pod level. */
static void parse_kube(const char *c, size_t n, struct cgroup_info *out)
{
	const char *p;

	if (memmem(c, n, "besteffort", 10))
		out->qos = CGROUP_QOS_BESTEFFORT;
	else if (memmem(c, n, "burstable", 9))
		out->qos = CGROUP_QOS_BURSTABLE;
	if (ends_with(c, n, ".slice")) {
		/* ...-pod<uid>.slice: the last "-pod" begins the uid */
		for (p = c + n - 6; p > c + 3; p--)
			if (memcmp(p - 4, "-pod", 4) == 0 && set_pod_uid(out, p, (size_t)(c + n - 6 - p)))
				return;
	} else if (n > 3 && memcmp(c, "pod", 3) == 0) {
		set_pod_uid(out, c + 3, n - 3);
	}
}

static void parse_component(const char *c, size_t n, const char *prev, size_t prevn,
			    bool *kube, struct cgroup_info *out)
{
	if (memmem(c, n, "kubepods", 8))
		*kube = true;
	if (*kube)
		parse_kube(c, n, out);
	if ((ends_with(c, n, ".service") || ends_with(c, n, ".scope")) && n <= CGROUP_UNIT_MAX) {
		memcpy(out->unit, c, n);
		out->unit[n] = 0;
	}
	if (parse_runtime_scope(c, n, out) || parse_lxc(c, n, out))
		return;
	if (is_container_id(c, n)) {
		if (prevn == 6 && memcmp(prev, "docker", 6) == 0)
			set_container(out, CGROUP_RT_DOCKER, c, n);
		else if (out->pod_uid[0])
			set_container(out, CGROUP_RT_CRI, c, n);
	}
}

void cgroup_parse(const char *path, struct cgroup_info *out)
{
	const char *s = path, *prev = "";
	size_t prevn = 0;
	bool kube = false;

	memset(out, 0, sizeof(*out));
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n > 0 && n <= CG_COMP_MAX) {
			parse_component(s, n, prev, prevn, &kube, out);
			prev = s;
			prevn = n;
		}
		s += n;
		s += *s == '/';
	}
	/* a QoS level without a pod below it describes no workload */
	if (!out->pod_uid[0])
		out->qos = CGROUP_QOS_NONE;
	else if (out->qos == CGROUP_QOS_NONE)
		out->qos = CGROUP_QOS_GUARANTEED; /* guaranteed pods sit right under kubepods */
}

const char *cgroup_runtime_name(enum cgroup_runtime rt)
{
	static const char *const names[] = { NULL, "docker", "containerd", "crio", "podman",
					     "cri", "lxc" };

	return (unsigned)rt < sizeof(names) / sizeof(names[0]) ? names[rt] : NULL;
}

const char *cgroup_qos_name(enum cgroup_qos q)
{
	static const char *const names[] = { NULL, "guaranteed", "burstable", "besteffort" };

	return (unsigned)q < sizeof(names) / sizeof(names[0]) ? names[q] : NULL;
}

const char *cgroup_root_detect(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup";
	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup/unified";
	return NULL;
}

/* ---- the id -> path cache: open addressing, keyed by cgroup id ---- */

struct cg_entry {
	uint64_t id;
	char *path; /* NULL: empty slot */
};

struct cgroup_cache {
	char root[PATH_MAX];      /* "" when no cgroup v2 mount was found */
	struct cg_entry *tab;
	uint32_t cap;             /* power of two */
	uint32_t n;
	bool scanned;             /* at least one walk happened */
	uint64_t last_scan_ns;
	struct cgroup_cache_stats st;
};

static uint32_t cg_slot(uint64_t id, uint32_t cap)
{
	id *= 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(id >> 32) & (cap - 1);
}

struct cgroup_cache *cgroup_cache_new(const char *root)
{
	struct cgroup_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (!root)
		root = cgroup_root_detect();
	if (root && strlen(root) < sizeof(c->root))
		strcpy(c->root, root);
	c->cap = 1024;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return NULL;
	}
	return c;
}

static void cg_clear(struct cgroup_cache *c)
{
	for (uint32_t i = 0; i < c->cap; i++) {
		free(c->tab[i].path);
		c->tab[i].path = NULL;
	}
	c->n = 0;
}

void cgroup_cache_free(struct cgroup_cache *c)
{
	if (!c)
		return;
	cg_clear(c);
	free(c->tab);
	free(c);
}

const char *cgroup_cache_get(const struct cgroup_cache *c, uint64_t id)
{
	for (uint32_t i = cg_slot(id, c->cap);; i = (i + 1) & (c->cap - 1)) {
		if (!c->tab[i].path)
			return NULL;
		if (c->tab[i].id == id)
			return c->tab[i].path;
	}
}

static int cg_grow(struct cgroup_cache *c)
{
	uint32_t cap = c->cap * 2;
	struct cg_entry *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->cap; i++) {
		uint32_t j;

		if (!c->tab[i].path)
			continue;
		for (j = cg_slot(c->tab[i].id, cap); tab[j].path; j = (j + 1) & (cap - 1))
			;
		tab[j] = c->tab[i];
	}
	free(c->tab);
	c->tab = tab;
	c->cap = cap;
	return 0;
}

static int cg_put(struct cgroup_cache *c, uint64_t id, const char *path)
{
	uint32_t i;

	if ((c->n + 1) * 2 > c->cap && cg_grow(c) < 0)
		return -ENOMEM;
	for (i = cg_slot(id, c->cap); c->tab[i].path; i = (i + 1) & (c->cap - 1))
		if (c->tab[i].id == id)
			break;
	if (c->tab[i].path && strcmp(c->tab[i].path, path) == 0)
		return 0;
	char *dup = strdup(path);
	if (!dup)
		return -ENOMEM;
	if (!c->tab[i].path)
		c->n++;
	free(c->tab[i].path);
	c->tab[i] = (struct cg_entry){ .id = id, .path = dup };
	return 0;
}

/* Depth-first walk below dfd whose path relative to the root is
 * rel[0..len) (dfd is consumed). Directory entries carry the cgroup id as d_ino (kernfs), so
 * no stat per cgroup is needed. */
static void cg_walk(struct cgroup_cache *c, int dfd, char *rel, size_t len, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		size_t k = strlen(e->d_name);
		int fd;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (depth >= CG_WALK_DEPTH || len + 1 + k >= PATH_MAX || c->n >= CG_MAX_ENTRIES) {
			c->st.truncated++;
			continue;
		}
		rel[len] = '/';
		memcpy(rel + len + 1, e->d_name, k + 1);
		if (cg_put(c, e->d_ino, rel) < 0)
			break;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			cg_walk(c, fd, rel, len + 1 + k, depth + 1);
	}
	rel[len] = 0;
	closedir(d);
}

int cgroup_cache_scan(struct cgroup_cache *c, uint64_t now_ns)
{
	char rel[PATH_MAX] = "";
	struct stat st;
	int fd;

	if (c->scanned && now_ns - c->last_scan_ns < CGROUP_RESCAN_NS)
		return -EAGAIN;
	c->scanned = true;
	c->last_scan_ns = now_ns;
	c->st.scans++;
	if (!c->root[0])
		return -ENOENT;
	/* ids are never reused, so old entries stay right; only the size is bounded */
	if (c->n >= CG_MAX_ENTRIES / 2)
		cg_clear(c);
	fd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0)
		cg_put(c, st.st_ino, "/");
	cg_walk(c, fd, rel, 0, 0);
	c->st.entries = c->n;
	return (int)c->n;
}

const struct cgroup_cache_stats *cgroup_cache_stats(const struct cgroup_cache *c)
{
	return &c->st;
}
