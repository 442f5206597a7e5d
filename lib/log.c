#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static const char *progname = "ka-mariadb";
static int verbose_on;
static int syslog_open;

void ka_log_open(const char *prog, int verbose)
{
	progname = prog;
	verbose_on = verbose;
	if (!syslog_open)
		openlog(prog, LOG_PID, LOG_DAEMON);   /* connects on first use: OK runs cost nothing */
	syslog_open = 1;
}

const char *ka_log_prog(void)
{
	return progname;
}

static void emit(int prio, int to_stderr, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (to_stderr)
		fprintf(stderr, "%s: %s\n", progname, msg);
	if (syslog_open && prio != LOG_DEBUG)
		syslog(prio, "%s", msg);
}

void ka_log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_ERR, 1, fmt, ap);
	va_end(ap);
}

void ka_log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void ka_log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_NOTICE, verbose_on, fmt, ap);
	va_end(ap);
}

void ka_log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose_on)
		return;
	va_start(ap, fmt);
	emit(LOG_DEBUG, 1, fmt, ap);
	va_end(ap);
}
