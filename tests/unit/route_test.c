/* processor/route.c: the route heuristic on many path shapes (what becomes
 * {id} and, as important, what must stay a word), and method normalisation. */
#include "processor/route.h"

#include "tests/unit/harness.h"

static void check_route(const char *path, const char *want)
{
	char out[ROUTE_MAX];

	route_template(path, out, sizeof(out));
	h_checks++;
	if (strcmp(out, want) != 0) {
		h_failed_checks++;
		fprintf(stderr, "  route_template(\"%s\") is \"%s\", want \"%s\"\n", path, out, want);
	}
}

static void test_issue_example(void)
{
	check_route("/users/1234/orders/9f1c2b3a7d", "/users/{id}/orders/{id}");
	check_route("/users/1234/orders/9f1c2b3a7d4e5f60718293a4b5c6d7e8",
		    "/users/{id}/orders/{id}");
}

static void test_numbers_and_dates(void)
{
	check_route("/", "/");
	check_route("/items/1", "/items/{id}");
	check_route("/items/0/", "/items/{id}/");
	check_route("/a/18446744073709551616", "/a/{id}");
	check_route("/archive/2024-01-05/posts", "/archive/{id}/posts");
	check_route("/orders/order-12345", "/orders/{id}");
	check_route("/reports/20240105T101500Z", "/reports/{id}");
	check_route("/ka/2.html", "/ka/{id}.html");
	check_route("/img/12345.png", "/img/{id}.png");
	check_route("/v1.2.345/x", "/{id}/x");
}

static void test_uuids_and_hex(void)
{
	check_route("/u/550e8400-e29b-41d4-a716-446655440000", "/u/{id}");
	check_route("/u/550E8400-E29B-41D4-A716-446655440000/avatar", "/u/{id}/avatar");
	check_route("/commit/9f1c2b3a", "/commit/{id}");
	check_route("/blob/deadbeefdeadbeef", "/blob/{id}"); /* long hex, no digit */
	check_route("/sha/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		    "/sha/{id}");
}

static void test_tokens_and_emails(void)
{
	check_route("/reset/dGhpcyBpcyBhIHRva2Vu", "/reset/{id}");    /* base64 with digit */
	check_route("/s/aZbYcXdWeVfUgThS", "/s/{id}");                /* mixed case, no digit */
	check_route("/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_-DEF", "/t/{id}");
	check_route("/t/Zm9vYmFyYmF6cXV4-_Q2", "/t/{id}");           /* base64url */
	check_route("/users/bob@example.com/prefs", "/users/{id}/prefs");
	check_route("/users/bob%40example.com", "/users/{id}");
	check_route("/x/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "/x/{id}");
}

/* The other half of the heuristic: names must survive. */
static void test_words_stay(void)
{
	check_route("/api/v1/users", "/api/v1/users");
	check_route("/api/v2beta1/pods", "/api/v2beta1/pods");
	check_route("/static/js/app.min.js", "/static/js/app.min.js");
	check_route("/index.html", "/index.html");
	check_route("/arch/x86_64/Packages", "/arch/x86_64/Packages");
	check_route("/charset/utf-8", "/charset/utf-8");
	check_route("/cafe/facade", "/cafe/facade");                   /* hex letters, words */
	check_route("/settings/authentication-settings", "/settings/authentication-settings");
	check_route("/api/getUserProfileSettings", "/api/getUserProfileSettings");
	check_route("/.well-known/openid-configuration", "/.well-known/openid-configuration");
	check_route("/page2/item42", "/page2/item42");
	check_route("/a//b", "/a//b");
}

static void test_odd_targets(void)
{
	check_route("", "");
	check_route("*", "*");
	check_route("*x", "");
	check_route("example.com:443", "");
	check_route("http://example.com/users/42", "/users/{id}");
	check_route("https://example.com", "/");
	check_route("/cart;jsessionid=0123456789ABCDEF/items", "/cart/items");
	check_route("/dl/42;v=1", "/dl/{id}");
}

static void test_out_of_room(void)
{
	char path[600], out[ROUTE_MAX], small[12];
	size_t n = 0;

	while (n + 2 < 255) {
		path[n++] = '/';
		path[n++] = '7';
	}
	path[n] = 0;
	route_template(path, out, sizeof(out));
	CHECK_EQ_U(strlen(out), (n / 2) * 5); /* every "/7" became "/{id}" */
	route_template("/users/1234/orders", small, sizeof(small));
	CHECK_STR(small, "/users/{id}"); /* cut at a whole segment */
	route_template("/abcdefghijklmnop", small, sizeof(small));
	CHECK_STR(small, "");
}

static void test_segment_direct(void)
{
	CHECK(!route_segment_is_id("", 0));
	CHECK(route_segment_is_id("7", 1));
	CHECK(!route_segment_is_id("v1", 2));
	CHECK(route_segment_is_id("abc123", 6));
	CHECK(!route_segment_is_id("mp3", 3));
}

static void test_methods(void)
{
	CHECK_STR(route_method("GET"), "GET");
	CHECK_STR(route_method("PATCH"), "PATCH");
	CHECK_STR(route_method("QUERY"), "QUERY");
	CHECK_STR(route_method("get"), "_OTHER"); /* methods are case-sensitive */
	CHECK_STR(route_method("PROPFIND"), "_OTHER");
	CHECK_STR(route_method(""), "_OTHER");
}

RUN_TESTS("route", TEST(test_issue_example), TEST(test_numbers_and_dates),
	  TEST(test_uuids_and_hex), TEST(test_tokens_and_emails), TEST(test_words_stay),
	  TEST(test_odd_targets), TEST(test_out_of_room), TEST(test_segment_direct),
	  TEST(test_methods))
