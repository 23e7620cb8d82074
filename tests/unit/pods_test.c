/* Pod list parsing (kubectl get pods -o json) and the file reloader. */
#include "processor/pods.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/harness.h"

static const char podlist[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n"
	" {\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d4b9c\",\"namespace\":\"shop\","
	"  \"uid\":\"5f3c9a2e-1b4d-4c8e-9f00-123456789abc\",\"labels\":{\"app\":\"web\"},"
	"  \"ownerReferences\":[{\"kind\":\"Node\",\"name\":\"n1\"},"
	"   {\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b\","
	"    \"controller\":true,\"blockOwnerDeletion\":true}]},"
	"  \"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"c\",\"ports\":[80,443]}]},"
	"  \"status\":{\"qosClass\":\"Burstable\",\"phase\":\"Running\",\"x\":[1.5e3,-2,null,false]}},\n"
	" {\"metadata\":{\"name\":\"caf\\u00e9-\\\"q\\\"\",\"namespace\":\"kube-system\","
	"  \"uid\":\"0123456789abcdef0123456789abcdef\"},"
	"  \"status\":{\"qosClass\":\"BestEffort\"}},\n"
	" {\"metadata\":{\"name\":\"no-uid-yet\"}}\n"
	"]}\n";

static void podlist_fields(void)
{
	struct pod_meta *p = NULL;
	char err[128] = "";
	int n = pods_parse_json(podlist, sizeof(podlist) - 1, &p, err, sizeof(err));

	CHECK_EQ_U(n, 2); /* the pod without a uid is skipped */
	if (n != 2) {
		fprintf(stderr, "  err: %s\n", err);
		free(p);
		return;
	}
	CHECK_STR(p[0].uid, "5f3c9a2e-1b4d-4c8e-9f00-123456789abc");
	CHECK_STR(p[0].name, "web-7d4b9c");
	CHECK_STR(p[0].namespace, "shop");
	CHECK_STR(p[0].owner_kind, "ReplicaSet"); /* the controller, not the first */
	CHECK_STR(p[0].owner_name, "web-7d4b");
	CHECK_STR(p[0].node, "node-1");
	CHECK_STR(p[0].qos, "burstable");
	CHECK_STR(p[1].name, "caf\xc3\xa9-\"q\"");
	CHECK_STR(p[1].qos, "besteffort");
	CHECK_STR(p[1].owner_kind, "");
	CHECK_STR(p[1].node, "");
	free(p);
}

static void single_pod(void)
{
	static const char pod[] = "{\"kind\":\"Pod\",\"metadata\":{\"uid\":\"u-1\",\"name\":\"a\","
				  "\"namespace\":\"b\"},\"status\":{\"qosClass\":\"Guaranteed\"}}";
	struct pod_meta *p = NULL;
	char err[128];

	CHECK_EQ_U(pods_parse_json(pod, sizeof(pod) - 1, &p, err, sizeof(err)), 1);
	if (p) {
		CHECK_STR(p[0].uid, "u-1");
		CHECK_STR(p[0].qos, "guaranteed");
	}
	free(p);
}

static void empty_list(void)
{
	struct pod_meta *p = NULL;
	char err[128];

	CHECK_EQ_U(pods_parse_json("{\"items\":[]}", 12, &p, err, sizeof(err)), 0);
	CHECK(p != NULL);
	free(p);
}

static int parse_err(const char *s, char *err, size_t n)
{
	struct pod_meta *p = (void *)1;
	int rc = pods_parse_json(s, strlen(s), &p, err, n);

	CHECK(p == NULL || rc >= 0);
	if (rc >= 0)
		free(p);
	return rc;
}

static void bad_input_is_refused_with_a_reason(void)
{
	static const char *const bad[] = {
		"", "[]", "{", "{\"items\":[}", "{\"items\":[]} x", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"unterminated}", "{\"a\" 1}", "{1:2}",
		"{\"a\":\"tab\there\"}", "{\"a\":1,}", "\"str\"", "{\"kind\":\"Service\"}",
	};
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK_EQ_U(parse_err(bad[i], err, sizeof(err)), (unsigned long long)-EINVAL);
		CHECK(err[0] != 0);
	}
}

static void nesting_is_bounded(void)
{
	char buf[4 * PODS_DEPTH_MAX + 64], err[128];
	size_t n = 0;

	n += (size_t)sprintf(buf, "{\"a\":");
	for (int i = 0; i < PODS_DEPTH_MAX + 1; i++)
		buf[n++] = '[';
	for (int i = 0; i < PODS_DEPTH_MAX + 1; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = 0;
	CHECK_EQ_U(parse_err(buf, err, sizeof(err)), (unsigned long long)-EINVAL);
	CHECK(strstr(err, "deep") != NULL);
}

static void long_names_are_cut_not_overflowed(void)
{
	char buf[2048], err[128];
	struct pod_meta *p = NULL;
	int n;

	n = snprintf(buf, sizeof(buf), "{\"metadata\":{\"uid\":\"u\",\"name\":\"");
	memset(buf + n, 'x', 1000);
	n += 1000;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\"}}");
	CHECK_EQ_U(pods_parse_json(buf, (size_t)n, &p, err, sizeof(err)), 1);
	if (p)
		CHECK(strlen(p[0].name) < PODS_FIELD_MAX);
	free(p);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static void file_reloads_only_when_changed(void)
{
	char path[] = "/tmp/sluice-pods.XXXXXX";
	int fd = mkstemp(path);
	struct pods_file pf = { .path = path };
	struct pod_meta *p = NULL;

	REQUIRE(fd >= 0);
	close(fd);
	write_file(path, podlist);
	CHECK_EQ_U(pods_file_poll(&pf, &p), 2);
	free(p);
	CHECK_EQ_U(pods_file_poll(&pf, &p), 0);
	CHECK(p == NULL);
	write_file(path, "{\"items\":[{\"metadata\":{\"uid\":\"u-2\"}}]}");
	CHECK_EQ_U(pods_file_poll(&pf, &p), 1);
	free(p);
	write_file(path, "{\"items\":[{\"metadata\":");
	CHECK(pods_file_poll(&pf, &p) < 0);
	CHECK(p == NULL);
	unlink(path);
	CHECK_EQ_U(pods_file_poll(&pf, &p), (unsigned long long)-ENOENT);
}

RUN_TESTS("pods", TEST(podlist_fields), TEST(single_pod), TEST(empty_list),
	  TEST(bad_input_is_refused_with_a_reason), TEST(nesting_is_bounded),
	  TEST(long_names_are_cut_not_overflowed), TEST(file_reloads_only_when_changed))
