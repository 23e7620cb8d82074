/* Line-oriented stderr logging shared by the daemons and sluicectl. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int log_verbose;
static const char *log_prog = "sluice";

void log_init(const char *progname)
{
	log_prog = progname;
}

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s: %s%s\n", log_prog, level, line);
}

#define LOG_BODY(level)            \
	va_list ap;                \
	va_start(ap, fmt);         \
	log_emit(level, fmt, ap);  \
	va_end(ap)

void log_info(const char *fmt, ...) { LOG_BODY(""); }
void log_warn(const char *fmt, ...) { LOG_BODY("warning: "); }

void log_debug(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	LOG_BODY("debug: ");
}

void fatal(const char *fmt, ...)
{
	LOG_BODY("fatal: ");
	exit(1);
}
