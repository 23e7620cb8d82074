/* Linked into the loader's sanitizer build only (Makefile: $(B)/asan/).
 * LeakSanitizer stops the world at exit with syscalls (gettid, ptrace) the
 * loader's seccomp allow-list rightly refuses, which kills it there; so its
 * leaks are not checked. AddressSanitizer and UndefinedBehaviorSanitizer
 * still run; ASAN_OPTIONS from the environment still apply on top. */
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
