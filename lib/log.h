/* Logging: stderr (keepalived discards it, operators running by hand read it) and
 * syslog (where a 3 a.m. operator looks). Only main() and the binaries log; lib/
 * functions fill error buffers instead. */
#ifndef KA_LOG_H
#define KA_LOG_H

/* Opens the log for prog; verbose also sends info/debug lines to stderr. */
void ka_log_open(const char *prog, int verbose);

/* Error: stderr and syslog LOG_ERR, "prog: message". */
void ka_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Warning: stderr and syslog LOG_WARNING. */
void ka_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Notice: syslog LOG_NOTICE always, stderr when verbose. */
void ka_log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Debug: stderr only, when verbose. */
void ka_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Name the program was opened with. */
const char *ka_log_prog(void);

#endif
