/* Containers, pods and systemd units from cgroup v2 paths: a pure parser
 * for the path shapes container runtimes and the kubelet create, and a
 * cache that turns the cgroup id the probes report (the cgroup directory's
 * inode number) into its path by walking the hierarchy. */
#ifndef SLUICE_CGROUP_H
#define SLUICE_CGROUP_H

#include <stddef.h>
#include <stdint.h>

enum cgroup_runtime {
	CGROUP_RT_NONE = 0,
	CGROUP_RT_DOCKER,     /* docker-<id>.scope, /docker/<id> */
	CGROUP_RT_CONTAINERD, /* cri-containerd-<id>.scope */
	CGROUP_RT_CRIO,       /* crio-<id>.scope */
	CGROUP_RT_PODMAN,     /* libpod-<id>.scope, /libpod_parent/libpod-<id> */
	CGROUP_RT_CRI,        /* a bare <id> under a kubepods pod: runtime not named */
	CGROUP_RT_LXC,        /* lxc.payload.<name> */
};

enum cgroup_qos {
	CGROUP_QOS_NONE = 0, /* not a Kubernetes pod */
	CGROUP_QOS_GUARANTEED,
	CGROUP_QOS_BURSTABLE,
	CGROUP_QOS_BESTEFFORT,
};

#define CGROUP_CONTAINER_ID_MAX 64
#define CGROUP_POD_UID_MAX 36
#define CGROUP_UNIT_MAX 128

struct cgroup_info {
	enum cgroup_runtime runtime;
	enum cgroup_qos qos;
	char container_id[CGROUP_CONTAINER_ID_MAX + 1]; /* "" when none */
	char pod_uid[CGROUP_POD_UID_MAX + 1];           /* dashed form; "" when none */
	char unit[CGROUP_UNIT_MAX + 1];  /* innermost *.service / *.scope; "" when none */
};

/* Parses any string as a cgroup path ("/kubepods.slice/..."); never fails:
 * what it does not recognise stays empty. */
void cgroup_parse(const char *path, struct cgroup_info *out);
const char *cgroup_runtime_name(enum cgroup_runtime rt); /* NULL for NONE */
const char *cgroup_qos_name(enum cgroup_qos q);          /* NULL for NONE */

/* The cgroup v2 mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid
 * hosts. NULL when neither is mounted. */
const char *cgroup_root_detect(void);

struct cgroup_cache;

/* root: a cgroup v2 mount (NULL: detect). Never fails for a missing root:
 * lookups then simply miss. NULL only when out of memory. */
struct cgroup_cache *cgroup_cache_new(const char *root);
void cgroup_cache_free(struct cgroup_cache *c);
/* The path of cgroup `id` relative to the root ("/a/b"), or NULL when not
 * (yet) known. The string stays valid until cgroup_cache_scan() is called. */
const char *cgroup_cache_get(const struct cgroup_cache *c, uint64_t id);
/* Walks the hierarchy and learns every cgroup in it. Misses are rescanned at
 * most once per CGROUP_RESCAN_NS: a walk costs a syscall per cgroup.
 * Returns the number of cgroups seen, -EAGAIN when it is too soon. */
#define CGROUP_RESCAN_NS 1000000000ULL
int cgroup_cache_scan(struct cgroup_cache *c, uint64_t now_ns);

struct cgroup_cache_stats {
	uint64_t scans;     /* hierarchy walks */
	uint64_t entries;   /* cgroups known */
	uint64_t truncated; /* walks cut short by the depth or size bound */
};
const struct cgroup_cache_stats *cgroup_cache_stats(const struct cgroup_cache *c);

#endif
