/* processor/config.c: a valid file sets what it says; every kind of mistake
 * gets its exact message (file:line, what was expected, did-you-mean); the
 * default file may be missing, a named one may not. */
#include "processor/config.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/harness.h"

/* Parses text as "sluice.conf"; returns the errors ("" when none). */
static const char *parse(struct config *c, const char *text)
{
	config_defaults(c);
	config_parse(c, "sluice.conf", text, strlen(text));
	return c->errors ? c->errors : "";
}

static void check_errors(const char *text, const char *want)
{
	struct config c;

	CHECK_STR(parse(&c, text), want);
	config_free(&c);
}

static const char valid[] =
	"# sluice processor\n"
	"[processor]\n"
	"socket = /run/sluice/loader.sock\n"
	"max_conns = 4096   # a trailing comment\n"
	"quiet = yes\n"
	"\n"
	"[export]\n"
	"metrics_listen = [::1]:9999\n"
	"otlp_endpoint = http://collector:4318\n"
	"otlp_headers = \"Authorization=Bearer abc#def, X-Tenant=7\"\n"
	"otlp_interval = 2s\n"
	"otlp_retry = 0ms\n"
	"otlp_traces = off\n"
	"\n"
	"[metrics]\n"
	"max_series = 100\n"
	"routes = none\n"
	"; INI-style comment\n"
	"[attributes \"http.server.*\"]\n"
	"include = http.*, server.port\n"
	"exclude = http.route\n"
	"[attributes \"http_client_request_duration_seconds\"]\n"
	"exclude = server_address\n";

static void test_valid_file(void)
{
	struct config c;

	CHECK_STR(parse(&c, valid), "");
	CHECK_EQ_U(c.nerrors, 0);
	CHECK_STR(c.socket ? c.socket : "", "/run/sluice/loader.sock");
	CHECK_EQ_U(c.max_conns, 4096);
	CHECK(c.quiet);
	CHECK_STR(c.metrics_listen ? c.metrics_listen : "", "[::1]:9999");
	CHECK_STR(c.otlp_endpoint ? c.otlp_endpoint : "", "http://collector:4318");
	CHECK_STR(c.otlp_headers ? c.otlp_headers : "", "Authorization=Bearer abc#def, X-Tenant=7");
	CHECK_EQ_U(c.otlp_interval_ms, 2000);
	CHECK_EQ_U(c.otlp_retry_ms, 0);
	CHECK(!c.otlp_traces);
	CHECK(c.otlp_metrics);
	CHECK_EQ_U(c.max_series, 100);
	CHECK(!c.routes);
	REQUIRE(c.nselect == 2);
	CHECK_STR(c.select[0].metric, "http.server.*");
	REQUIRE(c.select[0].ninclude == 2);
	CHECK_STR(c.select[0].include[1], "server.port");
	CHECK_EQ_U(c.select[0].nexclude, 1);
	CHECK(c.select[1].include == NULL); /* no include: the defaults apply */
	CHECK_EQ_U(c.select_line[1], 22);
	config_free(&c);
}

static void test_defaults(void)
{
	struct config c;

	CHECK_STR(parse(&c, ""), "");
	CHECK(c.metrics_listen == NULL); /* the exporter's default: 127.0.0.1:9464 */
	CHECK(c.otlp_endpoint == NULL);  /* OTLP off */
	CHECK_EQ_U(c.max_series, 2000);
	CHECK(c.routes);
	CHECK_EQ_U(c.max_conns, 0);      /* main.c decides */
	config_free(&c);
}

static void test_unknown_key_did_you_mean(void)
{
	check_errors("# 1\n#2\n#3\n#4\n#5\n#6\n#7\n#8\n#9\n#10\n[export]\nmetric_listen = 127.0.0.1:1\n",
		     "sluice.conf:12: unknown key 'metric_listen' in [export] "
		     "(did you mean 'metrics_listen'?)\n");
	check_errors("[metrics]\ncolour = blue\n",
		     "sluice.conf:2: unknown key 'colour' in [metrics]; known keys: max_series, routes\n");
	check_errors("[metrics]\notlp_endpoint = http://x:4318\n",
		     "sluice.conf:2: 'otlp_endpoint' belongs in [export], not [metrics]\n");
}

static void test_wrong_types(void)
{
	check_errors("[metrics]\nmax_series = lots\n",
		     "sluice.conf:2: max_series in [metrics]: expected an integer from 1 to 1000000, "
		     "got 'lots'\n");
	check_errors("[metrics]\nmax_series = 0\n",
		     "sluice.conf:2: max_series in [metrics]: expected an integer from 1 to 1000000, "
		     "got '0'\n");
	check_errors("[export]\notlp_interval = 10\n",
		     "sluice.conf:2: otlp_interval in [export]: expected a duration from 100ms to 1h, "
		     "such as 500ms, 10s or 2m, got '10'\n");
	check_errors("[processor]\nquiet = maybe\n",
		     "sluice.conf:2: quiet in [processor]: expected true or false, got 'maybe'\n");
	check_errors("[export]\notlp_endpoint = localhost:4318\n",
		     "sluice.conf:2: otlp_endpoint in [export]: expected an http:// or https:// URL, "
		     "got 'localhost:4318'\n");
	check_errors("[export]\nmetrics_listen = 9464\n",
		     "sluice.conf:2: metrics_listen in [export]: expected HOST:PORT ([::1]:PORT for "
		     "IPv6) or none, got '9464'\n");
	check_errors("[export]\notlp_headers = Authorization\n",
		     "sluice.conf:2: otlp_headers in [export]: expected name=value pairs separated by "
		     "commas, got 'Authorization'\n");
	check_errors("[metrics]\nroutes = raw\n",
		     "sluice.conf:2: routes in [metrics]: expected heuristic or none, got 'raw'\n");
	check_errors("[processor]\nmax_conns =\n",
		     "sluice.conf:2: 'max_conns' needs a value: an integer from 16 to 16777216\n");
}

static void test_structure(void)
{
	check_errors("[exprot]\nmetrics_listen = none\n",
		     "sluice.conf:1: unknown section [exprot] (did you mean [export]?)\n");
	check_errors("quiet = true\n",
		     "sluice.conf:1: 'quiet' is outside any section; keys go under [processor], "
		     "[export], [metrics] or [attributes \"<metric>\"]\n");
	check_errors("[export\n", "sluice.conf:1: expected ']' at the end of the section header\n");
	check_errors("[export] x\n", "sluice.conf:1: expected ']' at the end of the section header\n");
	check_errors("[metrics \"x\"]\n", "sluice.conf:1: [metrics] takes no name\n");
	check_errors("[processor]\nquiet\n",
		     "sluice.conf:2: expected 'key = value', a [section] or a # comment, got 'quiet'\n");
	check_errors("[processor]\nquiet = true\nquiet = false\n",
		     "sluice.conf:3: 'quiet' is already set on line 2\n");
	check_errors("[processor]\njsonl = \"/tmp/x\n",
		     "sluice.conf:2: unterminated quoted value, or text after its closing quote\n");
	check_errors("[processor]\nquiet = true\r\n", ""); /* CRLF files are fine */
}

static void test_attribute_sections(void)
{
	check_errors("[attributes]\n",
		     "sluice.conf:1: expected a quoted metric name or glob: "
		     "[attributes \"http.server.request.duration\"]\n");
	check_errors("[attributes \"http.server.duration\"]\n",
		     "sluice.conf:1: unknown metric 'http.server.duration' "
		     "(did you mean 'http.server.request.duration'?)\n");
	check_errors("[attributes \"sluice.events.dropped\"]\n",
		     "sluice.conf:1: metric 'sluice.events.dropped' has fixed attributes; [attributes] "
		     "selects those of the http.* metrics\n");
	check_errors("[attributes \"grpc.*\"]\n",
		     "sluice.conf:1: 'grpc.*' matches no metric whose attributes can be selected\n");
	check_errors("[attributes \"*\"]\ninclude = http.method, server.*\n",
		     "sluice.conf:2: unknown attribute 'http.method' (did you mean 'http.request.method'?)\n");
	check_errors("[attributes \"*\"]\nexclude = http_response_status, ,x\n",
		     "sluice.conf:2: unknown attribute 'http_response_status' "
		     "(did you mean 'http.response.status_code'?)\n"
		     "sluice.conf:2: empty item in the list\n"
		     "sluice.conf:2: unknown attribute 'x'\n");
	check_errors("[attributes \"*\"]\ninclude = *\ninclude = *\n",
		     "sluice.conf:3: 'include' is already set on line 2\n");
	/* a second section for the same metric starts a new selector: allowed */
	check_errors("[attributes \"*\"]\ninclude = *\n[attributes \"*\"]\ninclude = *\n", "");
	/* keys of a bad section are not checked: one error, not a cascade */
	check_errors("[attributes \"nope\"]\ninclude = whatever\n",
		     "sluice.conf:1: unknown metric 'nope'\n");
}

static void test_many_errors_all_reported(void)
{
	struct config c;
	char text[4096] = "[metrics]\n";
	int n;

	parse(&c, "[metrics]\nmax_series = x\nroutes = y\n[export]\notlp_batch = 0\n");
	CHECK_EQ_U(c.nerrors, 3);
	config_free(&c);
	for (int i = 0; i < 30; i++)
		strcat(text, "bogus = 1\n");
	config_defaults(&c);
	n = config_parse(&c, "big.conf", text, strlen(text));
	CHECK_EQ_U(n, 30);
	/* 20 messages, then one line saying it stopped */
	CHECK(strstr(c.errors, "big.conf:21: unknown key") != NULL);
	CHECK(strstr(c.errors, "big.conf:22:") == NULL);
	CHECK(strstr(c.errors, "big.conf: too many errors, stopped reporting\n") != NULL);
	config_free(&c);
}

static void test_hostile_bytes(void)
{
	struct config c;
	const char text[] = "[processor]\nsocket = a\0b\n[metrics]\nmax_series = \x1b[31m\n";

	config_defaults(&c);
	config_parse(&c, "sluice.conf", text, sizeof(text) - 1);
	CHECK_STR(c.errors ? c.errors : "",
		  "sluice.conf:2: NUL byte in the line: this is not a text file\n"
		  "sluice.conf:4: max_series in [metrics]: expected an integer from 1 to 1000000, "
		  "got '?[31m'\n");
	config_free(&c);
}

static void test_files(void)
{
	struct config c;
	char path[] = "/tmp/sluice-config-test.XXXXXX";
	int fd;

	CHECK(config_load(&c, "/nonexistent/sluice.conf", false) == 0);
	config_free(&c);
	CHECK(config_load(&c, "/nonexistent/sluice.conf", true) == -1);
	CHECK_STR(c.errors ? c.errors : "",
		  "/nonexistent/sluice.conf: cannot read: No such file or directory\n");
	config_free(&c);
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	CHECK(write(fd, "[metrics]\nmax_series = 5\n", 25) == 25);
	close(fd);
	CHECK(config_load(&c, path, true) == 0);
	CHECK_EQ_U(c.max_series, 5);
	config_free(&c);
	unlink(path);
}

/* The shipped reference parses as it is, and with every key uncommented
 * ("#key = v" and "#[section]" lines): it documents only real keys. */
static void test_example_file(void)
{
	struct config c;
	FILE *f = fopen("processor/sluice.conf.example", "r");
	char text[16384];
	size_t len;

	REQUIRE(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = 0;
	CHECK_STR(parse(&c, text), "");
	config_free(&c);
	for (char *p = text; *p; p++) /* uncomment in place */
		if ((p == text || p[-1] == '\n') && p[0] == '#' &&
		    ((p[1] >= 'a' && p[1] <= 'z') || p[1] == '['))
			*p = ' ';
	CHECK_STR(parse(&c, text), "");
	CHECK_STR(c.otlp_endpoint ? c.otlp_endpoint : "", "http://127.0.0.1:4318");
	CHECK_EQ_U(c.nselect, 2);
	config_free(&c);
}

static void test_distance(void)
{
	CHECK_EQ_U(config_distance("metric_listen", "metrics_listen"), 1);
	CHECK_EQ_U(config_distance("", "abc"), 3);
	CHECK_EQ_U(config_distance("kitten", "sitting"), 3);
}

RUN_TESTS("config", TEST(test_valid_file), TEST(test_defaults),
	  TEST(test_unknown_key_did_you_mean), TEST(test_wrong_types), TEST(test_structure),
	  TEST(test_attribute_sections), TEST(test_many_errors_all_reported),
	  TEST(test_hostile_bytes), TEST(test_files), TEST(test_example_file),
	  TEST(test_distance))
