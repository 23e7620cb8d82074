/* A one-header unit-test harness. Each test file defines TESTS as a list of
 * test functions; CHECK records a failure with file:line and goes on, REQUIRE
 * stops the current test. main() prints one "PASS name"/"FAIL name" line per
 * test (tests/run.sh adds them up) and exits non-zero if any failed. */
#ifndef SLUICE_HARNESS_H
#define SLUICE_HARNESS_H

#include <stdio.h>
#include <string.h>

static int h_failed_checks;
static int h_checks;

#define CHECK(cond)                                                          \
	do {                                                                 \
		h_checks++;                                                  \
		if (!(cond)) {                                               \
			h_failed_checks++;                                   \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                  \
		}                                                            \
	} while (0)

#define CHECK_EQ_U(a, b)                                                     \
	do {                                                                 \
		unsigned long long h_a = (a), h_b = (b);                     \
		h_checks++;                                                  \
		if (h_a != h_b) {                                            \
			h_failed_checks++;                                   \
			fprintf(stderr, "  %s:%d: %s == %llu, want %s == %llu\n", \
				__FILE__, __LINE__, #a, h_a, #b, h_b);       \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *h_a = (a), *h_b = (b);                           \
		h_checks++;                                                  \
		if (strcmp(h_a, h_b) != 0) {                                 \
			h_failed_checks++;                                   \
			fprintf(stderr, "  %s:%d: %s is \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__, #a, h_a, h_b);           \
		}                                                            \
	} while (0)

/* Evaluates cond once: it may have side effects (mkdtemp, open...). */
#define REQUIRE(cond)                                                        \
	do {                                                                 \
		int h_ok = !!(cond);                                         \
		h_checks++;                                                  \
		if (!h_ok) {                                                 \
			h_failed_checks++;                                   \
			fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n",     \
				__FILE__, __LINE__, #cond);                  \
			return;                                              \
		}                                                            \
	} while (0)

struct h_test {
	const char *name;
	void (*fn)(void);
};
#define TEST(fn) { #fn, fn }

static int h_run(const char *suite, const struct h_test *t, int n)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		int before = h_failed_checks, checks = h_checks;

		t[i].fn();
		if (h_checks == checks) {
			/* a test that asserts nothing is a defect, not a pass */
			fprintf(stderr, "  %s: made no checks\n", t[i].name);
			h_failed_checks++;
		}
		if (h_failed_checks != before) {
			printf("FAIL %s.%s\n", suite, t[i].name);
			failed++;
		} else {
			printf("PASS %s.%s\n", suite, t[i].name);
		}
	}
	fflush(stdout);
	return failed ? 1 : 0;
}

#define RUN_TESTS(suite, ...)                                                \
	int main(void)                                                       \
	{                                                                    \
		static const struct h_test h_tests[] = { __VA_ARGS__ };      \
		return h_run(suite, h_tests,                                 \
			     (int)(sizeof(h_tests) / sizeof(h_tests[0])));   \
	}

#endif
