/* The probe's command-line options, shared by ka-check-mariadb and ka-watch-mariadb:
 * one getopt_long table fragment, one parser, one set of checks, so both binaries take
 * the same words with the same meaning. Functions return 0 (or 1) or -1 with err filled:
 * the caller exits 64 (usage) or, for ka_probe_args_conn, 78 (configuration). */
#ifndef KA_PROBE_ARGS_H
#define KA_PROBE_ARGS_H

#include "conn.h"
#include "probe.h"

#include <getopt.h>

/* The probe's entries of a getopt_long table; the caller adds its own and
 * KA_COMMON_LONG_OPTIONS. The letters are ka_probe_args_take's. */
#define KA_PROBE_LONG_OPTIONS \
	{ "socket", required_argument, 0, 'S' }, \
	{ "host", required_argument, 0, 'h' }, \
	{ "port", required_argument, 0, 'P' }, \
	{ "defaults-file", required_argument, 0, 'f' }, \
	{ "timeout", required_argument, 0, 't' }, \
	{ "replication", no_argument, 0, 'r' }, \
	{ "max-lag", required_argument, 0, 'l' }, \
	{ "expect-read-only", required_argument, 0, 'o' }, \
	{ "witness", required_argument, 0, 'w' }, \
	{ "witness-connect-only", no_argument, 0, 'c' }, \
	{ "peer", required_argument, 0, 'p' }

struct ka_probe_args {
	const char *socket, *host, *defaults_file;
	char host_ip[64];          /* --host without the port or brackets it may carry */
	unsigned int port;
	struct ka_probe_opts probe;
};

/* Resets a to the defaults: no address, --timeout timeout_ms, no limits, no guards. */
void ka_probe_args_init(struct ka_probe_args *a, long timeout_ms);

/* Takes option c (a letter of KA_PROBE_LONG_OPTIONS) with its value arg. Returns 1 when
 * taken, 0 when c is not a probe option, -1 on a bad value. */
int ka_probe_args_take(struct ka_probe_args *a, int c, const char *arg, char *err,
		       size_t errlen);

/* Checks made once every option is known: --socket and --host exclude each other, a
 * witness is another host (KA_TEST_LOCAL_WITNESS=1 allows loopback), --host's port. */
int ka_probe_args_check(struct ka_probe_args *a, char *err, size_t errlen);

/* Reads the option file (groups [client], [client-server], [client-mariadb], [prog])
 * and decides where to connect. */
int ka_probe_args_conn(const struct ka_probe_args *a, const char *prog, struct ka_conn *c,
		       char *err, size_t errlen);

#endif
