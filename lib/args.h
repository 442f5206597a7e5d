/* Command-line value parsing shared by the binaries. All return 0 or -1 with err filled
 * (the caller exits 64). */
#ifndef KA_ARGS_H
#define KA_ARGS_H

#include <stddef.h>
#include <stdio.h>

/* Most database nodes a --peer list names (every node but this one). */
#define KA_MAX_PEERS 8

struct ka_endpoint;

/* The tail of every binary's getopt_long table: the shared options and the terminator. */
#define KA_COMMON_LONG_OPTIONS \
	{ "json", no_argument, 0, 'j' }, \
	{ "verbose", no_argument, 0, 'v' }, \
	{ "list-exit-codes", no_argument, 0, 'E' }, \
	{ "help", no_argument, 0, 'H' }, \
	{ "version", no_argument, 0, 'V' }, \
	{ 0, 0, 0, 0 }

/* A usage error: "prog: err" and the usage on stderr. Returns the exit code (64). */
int ka_args_usage_error(const char *prog, const char *err, void (*usage)(FILE *));

/* The options every binary shares, as getopt_long returned them: 'E' --list-exit-codes,
 * 'H' --help, 'V' --version, ':' a missing value, anything else an unknown option (call
 * it from the switch's default). Returns 1 when the run is done (exit 0), -1 on a usage
 * error (err filled). */
int ka_args_common(int c, const char *prog_version, void (*usage)(FILE *), char **argv,
		   char *err, size_t errlen);

/* -1 with err filled when operands remain after the options (argv[optind]...). */
int ka_args_no_operands(int argc, char **argv, char *err, size_t errlen);

/* 1 when s is a numeric IPv4 or IPv6 address (no DNS lookup can follow), else 0. */
int ka_is_numeric_ip(const char *s);

/* Decimal integer in [min, max]; opt names the option for the message. */
int ka_parse_long(const char *opt, const char *s, long min, long max, long *out,
		  char *err, size_t errlen);

/* "on"/"off"/"1"/"0"/"yes"/"no" into 1 or 0. */
int ka_parse_onoff(const char *opt, const char *s, int *out, char *err, size_t errlen);

/* "HOST:PORT", "[V6]:PORT", "[V6]" or "HOST" into host and port (0 when none was
 * given). HOST must be a numeric address: a check never waits on DNS (FACTS 31). A bare
 * IPv6 address is an address without a port; one that could also be read as
 * ADDRESS:PORT ("2001:db8::12:3307") is refused as ambiguous: brackets decide. */
int ka_split_hostport(const char *opt, const char *s, char *host, size_t hostlen,
		      unsigned int *port, char *err, size_t errlen);

/* ka_split_hostport with default_port when no port was given (0 = port required). */
int ka_parse_hostport(const char *opt, const char *s, unsigned int default_port, char *host,
		      size_t hostlen, unsigned int *port, char *err, size_t errlen);

/* 1 when a and b name the same address and port (IPv6 compared as numbers). */
int ka_endpoint_same(const struct ka_endpoint *a, const struct ka_endpoint *b);

/* "IP[:PORT],..." (also "[V6]:PORT") into up to max endpoints; duplicates refused.
 * Each item as ka_parse_hostport with default_port; an empty list or item (",," or a
 * trailing comma), more than max items, or one address twice (same IP and port, IPv6
 * in any spelling) is an error naming opt. *n is the count. */
int ka_parse_hostport_list(const char *opt, const char *s, unsigned int default_port,
			   struct ka_endpoint *out, int max, int *n, char *err, size_t errlen);

#endif
