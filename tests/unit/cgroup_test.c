/* cgroup path parsing: every runtime and kubepods shape, the systemd unit,
 * lookalikes that must not match; and the id -> path cache over a real
 * directory tree (ids are inode numbers there too). */
#include "processor/cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "5f3c9a2e-1b4d-4c8e-9f00-123456789abc"
#define UID_ "5f3c9a2e_1b4d_4c8e_9f00_123456789abc"

static struct cgroup_info parse(const char *path)
{
	struct cgroup_info ci;

	cgroup_parse(path, &ci);
	return ci;
}

static void docker_systemd_and_cgroupfs(void)
{
	struct cgroup_info a = parse("/system.slice/docker-" ID ".scope");
	struct cgroup_info b = parse("/docker/" ID);

	CHECK_EQ_U(a.runtime, CGROUP_RT_DOCKER);
	CHECK_STR(a.container_id, ID);
	CHECK_STR(a.unit, "docker-" ID ".scope");
	CHECK_STR(a.pod_uid, "");
	CHECK_EQ_U(a.qos, CGROUP_QOS_NONE);
	CHECK_EQ_U(b.runtime, CGROUP_RT_DOCKER);
	CHECK_STR(b.container_id, ID);
	CHECK_STR(b.unit, "");
}

static void containerd_crio_podman_lxc(void)
{
	struct cgroup_info c = parse("/system.slice/cri-containerd-" ID ".scope");
	struct cgroup_info o = parse("/machine.slice/crio-" ID ".scope");
	struct cgroup_info p = parse("/machine.slice/libpod-" ID ".scope/container");
	struct cgroup_info pf = parse("/libpod_parent/libpod-" ID);
	struct cgroup_info l = parse("/lxc.payload.web-1/init.scope");

	CHECK_EQ_U(c.runtime, CGROUP_RT_CONTAINERD);
	CHECK_STR(c.container_id, ID);
	CHECK_EQ_U(o.runtime, CGROUP_RT_CRIO);
	CHECK_STR(o.container_id, ID);
	CHECK_EQ_U(p.runtime, CGROUP_RT_PODMAN);
	CHECK_STR(p.container_id, ID);
	CHECK_EQ_U(pf.runtime, CGROUP_RT_PODMAN);
	CHECK_EQ_U(l.runtime, CGROUP_RT_LXC);
	CHECK_STR(l.container_id, "web-1");
	CHECK_STR(l.unit, "init.scope");
}

static void conmon_is_not_a_container(void)
{
	struct cgroup_info a = parse("/machine.slice/crio-conmon-" ID ".scope");
	struct cgroup_info b = parse("/machine.slice/libpod-conmon-" ID ".scope");

	CHECK_EQ_U(a.runtime, CGROUP_RT_NONE);
	CHECK_STR(a.container_id, "");
	CHECK_EQ_U(b.runtime, CGROUP_RT_NONE);
	CHECK_STR(b.unit, "libpod-conmon-" ID ".scope");
}

static void kubepods_systemd_driver(void)
{
	struct cgroup_info b = parse("/kubepods.slice/kubepods-burstable.slice/"
				     "kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID
				     ".scope");
	struct cgroup_info e = parse("/kubepods.slice/kubepods-besteffort.slice/"
				     "kubepods-besteffort-pod" UID_ ".slice/crio-" ID ".scope");
	struct cgroup_info g = parse("/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" ID
				     ".scope");

	CHECK_EQ_U(b.qos, CGROUP_QOS_BURSTABLE);
	CHECK_STR(b.pod_uid, UID);
	CHECK_EQ_U(b.runtime, CGROUP_RT_CONTAINERD);
	CHECK_STR(b.container_id, ID);
	CHECK_EQ_U(e.qos, CGROUP_QOS_BESTEFFORT);
	CHECK_EQ_U(e.runtime, CGROUP_RT_CRIO);
	CHECK_STR(e.pod_uid, UID);
	CHECK_EQ_U(g.qos, CGROUP_QOS_GUARANTEED);
	CHECK_STR(g.pod_uid, UID);
}

static void kubepods_cgroupfs_driver(void)
{
	struct cgroup_info b = parse("/kubepods/burstable/pod" UID "/" ID);
	struct cgroup_info e = parse("/kubepods/besteffort/pod" UID "/" ID);
	struct cgroup_info g = parse("/kubepods/pod" UID "/" ID);

	CHECK_EQ_U(b.qos, CGROUP_QOS_BURSTABLE);
	CHECK_STR(b.pod_uid, UID);
	CHECK_EQ_U(b.runtime, CGROUP_RT_CRI);
	CHECK_STR(b.container_id, ID);
	CHECK_EQ_U(e.qos, CGROUP_QOS_BESTEFFORT);
	CHECK_EQ_U(g.qos, CGROUP_QOS_GUARANTEED);
	CHECK_EQ_U(g.runtime, CGROUP_RT_CRI);
}

/* kind/k3s nest the kubelet's tree; a test's own cgroup may sit above it */
static void kubepods_nested(void)
{
	struct cgroup_info k = parse("/kubelet.slice/kubelet-kubepods.slice/"
				     "kubelet-kubepods-besteffort.slice/"
				     "kubelet-kubepods-besteffort-pod" UID_ ".slice/"
				     "cri-containerd-" ID ".scope");
	struct cgroup_info t = parse("/sluice-test-1/kubepods-burstable-pod" UID_
				     ".slice/cri-containerd-" ID ".scope");

	CHECK_EQ_U(k.qos, CGROUP_QOS_BESTEFFORT);
	CHECK_STR(k.pod_uid, UID);
	CHECK_STR(k.container_id, ID);
	CHECK_EQ_U(t.qos, CGROUP_QOS_BURSTABLE);
	CHECK_STR(t.pod_uid, UID);
	CHECK_EQ_U(t.runtime, CGROUP_RT_CONTAINERD);
}

static void static_pod_uid_is_a_hash(void)
{
	struct cgroup_info s = parse("/kubepods.slice/kubepods-burstable.slice/"
				     "kubepods-burstable-pod0123456789abcdef0123456789abcdef.slice");

	CHECK_STR(s.pod_uid, "0123456789abcdef0123456789abcdef");
	CHECK_EQ_U(s.qos, CGROUP_QOS_BURSTABLE);
	CHECK_EQ_U(s.runtime, CGROUP_RT_NONE);
}

static void systemd_units(void)
{
	CHECK_STR(parse("/system.slice/nginx.service").unit, "nginx.service");
	CHECK_STR(parse("/user.slice/user-1000.slice/user@1000.service/app.slice/"
			"app-gnome-firefox-1234.scope").unit,
		  "app-gnome-firefox-1234.scope");
	CHECK_STR(parse("/user.slice/user-1000.slice/session-3.scope").unit, "session-3.scope");
	CHECK_STR(parse("/").unit, "");
	CHECK_EQ_U(parse("/system.slice/nginx.service").runtime, CGROUP_RT_NONE);
}

static void lookalikes_do_not_match(void)
{
	/* short ids, upper case, wrong prefixes, pod levels without kubepods */
	CHECK_EQ_U(parse("/docker-0123abc.scope").runtime, CGROUP_RT_NONE);
	CHECK_EQ_U(parse("/docker/" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")
			   .runtime, CGROUP_RT_NONE);
	CHECK_EQ_U(parse("/notdocker/" ID).runtime, CGROUP_RT_NONE);
	CHECK_STR(parse("/pod" UID "/" ID).pod_uid, "");
	CHECK_EQ_U(parse("/pod" UID "/" ID).runtime, CGROUP_RT_NONE);
	CHECK_STR(parse("/kubepods/burstable/podnot-a-uid/" ID).pod_uid, "");
	CHECK_STR(parse("/kubepods.slice/kubepods-pod" UID_ "x.slice").pod_uid, "");
	/* a QoS level alone names no pod */
	CHECK_EQ_U(parse("/kubepods.slice/kubepods-burstable.slice").qos, CGROUP_QOS_NONE);
	CHECK_EQ_U(parse("").runtime, CGROUP_RT_NONE);
	CHECK_EQ_U(parse("////").runtime, CGROUP_RT_NONE);
}

static void names(void)
{
	CHECK_STR(cgroup_runtime_name(CGROUP_RT_CONTAINERD), "containerd");
	CHECK(cgroup_runtime_name(CGROUP_RT_NONE) == NULL);
	CHECK_STR(cgroup_qos_name(CGROUP_QOS_BESTEFFORT), "besteffort");
	CHECK(cgroup_qos_name(CGROUP_QOS_NONE) == NULL);
}

static uint64_t ino(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* A plain directory tree stands in for the hierarchy: the walk only relies
 * on directory entries' inode numbers, as it does on cgroupfs. */
static void cache_walks_and_rescans_at_most_once_a_second(void)
{
	char root[] = "/tmp/sluice-cgtest.XXXXXX", p[256], q[512];
	struct cgroup_cache *c;

	/* REQUIRE evaluates its argument twice: no side effects inside */
	if (!mkdtemp(root))
		root[0] = 0;
	REQUIRE(root[0]);
	snprintf(p, sizeof(p), "%s/kubepods.slice", root);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/kubepods.slice/kubepods-pod" UID_ ".slice", root);
	CHECK(mkdir(p, 0755) == 0);
	c = cgroup_cache_new(root);
	REQUIRE(c != NULL);
	CHECK(cgroup_cache_scan(c, 1000) == 3);
	CHECK_STR(cgroup_cache_get(c, ino(root)) ? cgroup_cache_get(c, ino(root)) : "?", "/");
	CHECK_STR(cgroup_cache_get(c, ino(p)) ? cgroup_cache_get(c, ino(p)) : "?",
		  "/kubepods.slice/kubepods-pod" UID_ ".slice");
	snprintf(q, sizeof(q), "%s/docker-" ID ".scope", p);
	CHECK(mkdir(q, 0755) == 0);
	CHECK(cgroup_cache_get(c, ino(q)) == NULL);
	CHECK(cgroup_cache_scan(c, 1000 + CGROUP_RESCAN_NS - 1) == -EAGAIN);
	CHECK(cgroup_cache_scan(c, 1000 + CGROUP_RESCAN_NS) == 4);
	CHECK(cgroup_cache_get(c, ino(q)) != NULL);
	CHECK_EQ_U(cgroup_cache_stats(c)->scans, 2); /* the early one did not walk */
	cgroup_cache_free(c);
	rmdir(q);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/kubepods.slice", root);
	rmdir(p);
	rmdir(root);
}

static void cache_without_root_misses(void)
{
	struct cgroup_cache *c = cgroup_cache_new("/nonexistent/cgroup");

	REQUIRE(c != NULL);
	CHECK(cgroup_cache_scan(c, 0) < 0);
	CHECK(cgroup_cache_get(c, 1) == NULL);
	cgroup_cache_free(c);
}

/* On this machine: the root cgroup v2 directory resolves to "/". */
static void cache_on_the_real_hierarchy(void)
{
	const char *root = cgroup_root_detect();
	struct cgroup_cache *c;

	if (!root) {
		CHECK(1); /* no cgroup v2 here: nothing to compare against */
		return;
	}
	c = cgroup_cache_new(NULL);
	REQUIRE(c != NULL);
	CHECK(cgroup_cache_scan(c, 0) > 0);
	CHECK(cgroup_cache_get(c, ino(root)) != NULL);
	cgroup_cache_free(c);
}

RUN_TESTS("cgroup", TEST(docker_systemd_and_cgroupfs), TEST(containerd_crio_podman_lxc),
	  TEST(conmon_is_not_a_container), TEST(kubepods_systemd_driver),
	  TEST(kubepods_cgroupfs_driver), TEST(kubepods_nested), TEST(static_pod_uid_is_a_hash),
	  TEST(systemd_units), TEST(lookalikes_do_not_match), TEST(names),
	  TEST(cache_walks_and_rescans_at_most_once_a_second), TEST(cache_without_root_misses),
	  TEST(cache_on_the_real_hierarchy))
