/* Command-line value parsing shared by the binaries. All return 0 or -1 with err filled
 * (the caller exits 64). */
#ifndef KA_ARGS_H
#define KA_ARGS_H

#include <stddef.h>

/* Decimal integer in [min, max]; opt names the option for the message. */
int ka_parse_long(const char *opt, const char *s, long min, long max, long *out,
		  char *err, size_t errlen);

/* "on"/"off"/"1"/"0"/"yes"/"no" into 1 or 0. */
int ka_parse_onoff(const char *opt, const char *s, int *out, char *err, size_t errlen);

/* "HOST:PORT", "[V6]:PORT" or "HOST" (default_port, 0 = port required). HOST must be a
 * numeric address: a check never waits on DNS (FACTS 31). */
int ka_parse_hostport(const char *opt, const char *s, unsigned int default_port, char *host,
		      size_t hostlen, unsigned int *port, char *err, size_t errlen);

#endif
