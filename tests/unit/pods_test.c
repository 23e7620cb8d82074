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

static void list_resource_version(void)
{
	static const char list[] =
		"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		"\"123456\"},\"items\":[{\"metadata\":{\"uid\":\"u-1\",\"name\":\"a\"}}]}";
	struct pod_meta *p = NULL;
	char rv[32] = "junk", err[128];
	const char *cut = "{\"metadata\":{\"resourceVersion\":\"123456789012\"},\"items\":[]}";

	CHECK_EQ_U(pods_parse_list(list, sizeof(list) - 1, &p, rv, sizeof(rv), err, sizeof(err)), 1);
	CHECK_STR(rv, "123456");
	free(p);
	/* a list without one: "" */
	CHECK_EQ_U(pods_parse_list("{\"items\":[]}", 12, &p, rv, sizeof(rv), err, sizeof(err)), 0);
	CHECK_STR(rv, "");
	free(p);
	/* cut to fit, never overflowed */
	CHECK_EQ_U(pods_parse_list(cut, strlen(cut), &p, rv, 8, err, sizeof(err)), 0);
	CHECK(strlen(rv) < 8);
	free(p);
}

static int ev_parse(const char *s, struct pod_event *ev, char *err, size_t n)
{
	return pods_parse_event(s, strlen(s), ev, err, n);
}

static void watch_events(void)
{
	struct pod_event ev;
	char err[128] = "";

	CHECK_EQ_U(ev_parse("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
			    "\"uid\":\"u-9\",\"name\":\"web-1\",\"namespace\":\"shop\","
			    "\"resourceVersion\":\"77\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
			    "\"name\":\"web-5f\",\"controller\":true}]},\"spec\":{\"nodeName\":\"n1\"},"
			    "\"status\":{\"qosClass\":\"Guaranteed\"}}}\r\n",
			    &ev, err, sizeof(err)), 0);
	CHECK_EQ_U(ev.type, POD_EV_ADDED);
	CHECK_STR(ev.rv, "77");
	CHECK_STR(ev.pod.uid, "u-9");
	CHECK_STR(ev.pod.name, "web-1");
	CHECK_STR(ev.pod.namespace, "shop");
	CHECK_STR(ev.pod.owner_kind, "ReplicaSet");
	CHECK_STR(ev.pod.owner_name, "web-5f");
	CHECK_STR(ev.pod.node, "n1");
	CHECK_STR(ev.pod.qos, "guaranteed");

	CHECK_EQ_U(ev_parse("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"uid\":\"u-9\","
			    "\"resourceVersion\":\"78\"}}}", &ev, err, sizeof(err)), 0);
	CHECK_EQ_U(ev.type, POD_EV_MODIFIED);
	CHECK_STR(ev.rv, "78");
	CHECK_EQ_U(ev_parse("{\"object\":{\"metadata\":{\"uid\":\"u-9\",\"resourceVersion\":\"79\"}},"
			    "\"type\":\"DELETED\"}", &ev, err, sizeof(err)), 0);
	CHECK_EQ_U(ev.type, POD_EV_DELETED);
	CHECK_STR(ev.pod.uid, "u-9");

	/* a bookmark carries only a resourceVersion */
	CHECK_EQ_U(ev_parse("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
			    "\"resourceVersion\":\"90\",\"annotations\":{\"k8s.io/initial-events-end\":"
			    "\"true\"}}}}", &ev, err, sizeof(err)), 0);
	CHECK_EQ_U(ev.type, POD_EV_BOOKMARK);
	CHECK_STR(ev.rv, "90");
	CHECK_STR(ev.pod.uid, "");

	/* too old a resourceVersion: ERROR with a Status, code 410 */
	CHECK_EQ_U(ev_parse("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
			    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
			    "version: 5 (90)\",\"reason\":\"Expired\",\"code\":410}}",
			    &ev, err, sizeof(err)), 0);
	CHECK_EQ_U(ev.type, POD_EV_ERROR);
	CHECK_EQ_U(ev.code, 410);
	CHECK_STR(ev.message, "too old resource version: 5 (90)");
	CHECK_STR(ev.rv, "");
}

static void api_error_body_is_a_status(void)
{
	struct pod_event ev;
	char err[128];

	CHECK_EQ_U(ev_parse("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			    "\"message\":\"pods is forbidden: User \\\"x\\\" cannot list\","
			    "\"reason\":\"Forbidden\",\"code\":403}", &ev, err, sizeof(err)), 0);
	CHECK_EQ_U(ev.type, POD_EV_ERROR);
	CHECK_EQ_U(ev.code, 403);
	CHECK_STR(ev.message, "pods is forbidden: User \"x\" cannot list");
	/* no message: the reason; a code that is not a small integer: 0 */
	CHECK_EQ_U(ev_parse("{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":4.01e2}",
			    &ev, err, sizeof(err)), 0);
	CHECK_STR(ev.message, "Unauthorized");
	CHECK_EQ_U(ev.code, 0);
	CHECK_EQ_U(ev_parse("{\"kind\":\"Status\",\"code\":99999999999}", &ev, err, sizeof(err)), 0);
	CHECK_EQ_U(ev.code, 0);
}

static void bad_events_are_refused_with_a_reason(void)
{
	static const char *const bad[] = {
		"", "{", "[]", "{\"type\":\"ADDED\"}", "{\"type\":\"ADDED\",\"object\":[]}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"no-uid\"}}}",
		"{\"type\":\"RENAMED\",\"object\":{}}", "{\"kind\":\"Pod\"}",
		"{\"type\":\"ADDED\",\"object\":{}} {}", "{\"type\":1,\"object\":{}}",
	};
	struct pod_event ev;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ev.type = 42;
		CHECK_EQ_U(ev_parse(bad[i], &ev, err, sizeof(err)), (unsigned long long)-EINVAL);
		CHECK(err[0] != 0);
		CHECK_EQ_U(ev.type, 0);
	}
	/* bounded: a line longer than PODS_EVENT_MAX is refused before parsing */
	CHECK_EQ_U(pods_parse_event("{}", PODS_EVENT_MAX + 1, &ev, err, sizeof(err)),
		   (unsigned long long)-E2BIG);
}

/* A document of tiny values stops at PODS_TOKENS_MAX instead of growing its
 * token table without bound; one value fewer still parses. */
static void value_count_is_bounded(void)
{
	size_t n = PODS_TOKENS_MAX - 5, len = 24 + 2 * n; /* {"items":[],"x":[ 0,0,... ]} */
	char *doc = malloc(len + 8), err[128] = "";
	struct pod_meta *pods = NULL;
	size_t o = 0;

	REQUIRE(doc != NULL);
	o += (size_t)sprintf(doc, "{\"items\":[],\"x\":[");
	for (size_t i = 0; i < n; i++) {
		doc[o++] = '0';
		doc[o++] = ',';
	}
	doc[o - 1] = ']';
	doc[o++] = '}';
	/* object, 2 keys, 2 arrays and n values = PODS_TOKENS_MAX: at the bound, fine */
	CHECK_EQ_U(pods_parse_json(doc, o, &pods, err, sizeof(err)), 0);
	free(pods);
	pods = NULL;
	memcpy(doc + o - 2, ",0]}", 4); /* one more value */
	CHECK_EQ_U(pods_parse_json(doc, o + 2, &pods, err, sizeof(err)), (unsigned long long)-EINVAL);
	CHECK(strstr(err, "JSON values") != NULL);
	CHECK(pods == NULL);
	free(doc);
}

RUN_TESTS("pods", TEST(podlist_fields), TEST(value_count_is_bounded), TEST(single_pod), TEST(empty_list),
	  TEST(bad_input_is_refused_with_a_reason), TEST(nesting_is_bounded),
	  TEST(long_names_are_cut_not_overflowed), TEST(file_reloads_only_when_changed),
	  TEST(list_resource_version), TEST(watch_events), TEST(api_error_body_is_a_status),
	  TEST(bad_events_are_refused_with_a_reason))
