/* Logging for both daemons: one line per message on stderr, prefixed with
 * the program name and level. fatal() is for broken invariants and setup
 * failures the daemon cannot run without; log_warn() for recoverable trouble. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdnoreturn.h>

extern int log_verbose; /* 1 enables log_debug */

void log_init(const char *progname);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
