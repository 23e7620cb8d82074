/* The Kubernetes API source's configuration and its thread's life:
 * --k8s modes against the in-cluster environment, settings refused at
 * start, and an API that does not answer (a closed port): errors counted,
 * the reason kept, nothing handed over, and a prompt stop. The protocol
 * itself runs against a fake API server in tests/integration/test_k8s.sh. */
#include "processor/k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"

static void in_cluster_env(bool on)
{
	if (on) {
		setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
		setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	} else {
		unsetenv("KUBERNETES_SERVICE_HOST");
		unsetenv("KUBERNETES_SERVICE_PORT");
	}
}

static void modes(void)
{
	char err[256] = "";

	in_cluster_env(false);
	CHECK_EQ_U(k8s_mode(NULL, NULL, false, err, sizeof(err)), 0);
	CHECK_EQ_U(k8s_mode("auto", "https://api:6443", false, err, sizeof(err)), 1);
	CHECK_EQ_U(k8s_mode("auto", "https://api:6443", true, err, sizeof(err)), 1);
	CHECK_EQ_U(k8s_mode("off", NULL, false, err, sizeof(err)), 0);
	CHECK_EQ_U(k8s_mode("on", "https://api:6443", true, err, sizeof(err)), 1);
	CHECK_EQ_U(k8s_mode("on", NULL, false, err, sizeof(err)), (unsigned long long)-1);
	CHECK(strstr(err, "KUBERNETES_SERVICE_HOST") != NULL);
	CHECK_EQ_U(k8s_mode("yes", NULL, false, err, sizeof(err)), (unsigned long long)-1);
	CHECK(strstr(err, "'yes' is not auto, on or off") != NULL);
	in_cluster_env(true);
	CHECK_EQ_U(k8s_mode(NULL, NULL, false, err, sizeof(err)), 1);
	CHECK_EQ_U(k8s_mode("auto", NULL, true, err, sizeof(err)), 0); /* the file was asked for */
	CHECK_EQ_U(k8s_mode("on", NULL, false, err, sizeof(err)), 1);
	CHECK_EQ_U(k8s_mode("off", NULL, false, err, sizeof(err)), 0);
	in_cluster_env(false);
}

static void bad_settings_are_refused(void)
{
	struct k8s_opts o = { .api = "ftp://x", .node = "n1", .sa_dir = "/nonexistent" };
	char err[256] = "";

	CHECK(k8s_start(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not an http:// or https:// URL") != NULL);
	o.api = "https://x/?a=b";
	CHECK(k8s_start(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "query") != NULL);
	o.api = "https://x";
	o.node = "a/b";
	CHECK(k8s_start(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not a Kubernetes node name") != NULL);
	/* in the cluster's environment: its variables must make an address */
	o.api = NULL;
	o.node = "n1";
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	CHECK(k8s_start(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "do not make an API address") != NULL);
	in_cluster_env(false);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void unreachable_api_is_retried_and_stops(void)
{
	char dir[] = "/tmp/sluice-k8s.XXXXXX", path[64], err[256] = "";
	struct k8s_opts o = { .node = "n1" };
	struct k8s_status st;
	struct k8s_batch b = { 0 };
	struct k8s *k;
	FILE *f;
	uint64_t t0;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/token", dir);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("abc\n", f);
	fclose(f);
	o.sa_dir = dir;
	o.api = "https://127.0.0.1:1/"; /* nothing listens on port 1 */
	k = k8s_start(&o, err, sizeof(err));
	REQUIRE(k != NULL);
	for (int i = 0; i < 50; i++) {
		k8s_status(k, &st);
		if (st.errors)
			break;
		usleep(100000);
	}
	CHECK(st.errors >= 1);
	CHECK(!st.connected);
	CHECK(strstr(st.last_error, "onnect") != NULL); /* couldn't connect / connection refused */
	CHECK_STR(st.api, "https://127.0.0.1:1");    /* the trailing slash goes */
	CHECK_STR(st.node, "n1");
	CHECK_EQ_U(k8s_take(k, &b), 0);
	CHECK(!b.has_list && !b.list && !b.changes);
	k8s_relist(k);
	t0 = ms_now();
	k8s_stop(k); /* in the middle of a backoff: prompt */
	CHECK(ms_now() - t0 < 2000);
	unlink(path);
	rmdir(dir);
}

RUN_TESTS("k8s", TEST(modes), TEST(bad_settings_are_refused),
	  TEST(unreachable_api_is_retried_and_stops))
