#include "probe_args.h"
#include "args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ka_probe_args_init(struct ka_probe_args *a, long timeout_ms)
{
	memset(a, 0, sizeof *a);
	a->probe.timeout_ms = timeout_ms;
	a->probe.max_lag = -1;
	a->probe.expect_ro = -1;
}

static int parse_witnesses(struct ka_probe_opts *p, const char *list, char *err,
			   size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (p->nwitness == KA_PROBE_MAX_WITNESSES) {
			snprintf(err, errlen, "too many witnesses for --witness (at most %d)",
				 KA_PROBE_MAX_WITNESSES);
			return -1;
		}
		struct ka_endpoint *ep = &p->witness[p->nwitness++];
		if (ka_parse_hostport("--witness", tok, 0, ep->host, sizeof ep->host, &ep->port,
				      err, errlen) < 0)
			return -1;
	}
	if (!p->nwitness) {
		snprintf(err, errlen, "--witness needs at least one IP:PORT");
		return -1;
	}
	return 0;
}

/* The options that take a number or a word (not an address). */
static int take_value(struct ka_probe_opts *p, int c, const char *arg, char *err,
		      size_t errlen)
{
	switch (c) {
	case 't':
		return ka_parse_long("--timeout", arg, 10, 60000, &p->timeout_ms, err, errlen);
	case 'l':
		p->replication = 1;
		return ka_parse_long("--max-lag", arg, 0, 31536000, &p->max_lag, err, errlen);
	case 'o':
		return ka_parse_onoff("--expect-read-only", arg, &p->expect_ro, err, errlen);
	default:
		return parse_witnesses(p, arg, err, errlen);
	}
}

int ka_probe_args_take(struct ka_probe_args *a, int c, const char *arg, char *err,
		       size_t errlen)
{
	struct ka_probe_opts *p = &a->probe;
	long v;

	switch (c) {
	case 'S': a->socket = arg; return 1;
	case 'h': a->host = arg; return 1;
	case 'f': a->defaults_file = arg; return 1;
	case 'r': p->replication = 1; return 1;
	case 'c': p->witness_connect_only = 1; return 1;
	case 'P':
		if (ka_parse_long("--port", arg, 1, 65535, &v, err, errlen) < 0)
			return -1;
		a->port = (unsigned)v;
		return 1;
	case 'p':
		return ka_parse_hostport_list("--peer", arg, 3306, p->peer, KA_MAX_PEERS,
					      &p->npeer, err, errlen) < 0 ? -1 : 1;
	case 't': case 'l': case 'o': case 'w':
		return take_value(p, c, arg, err, errlen) < 0 ? -1 : 1;
	default:
		return 0;
	}
}

/* A witness must be another host: loopback, unspecified and this host's own addresses
 * always answer, and a peer cannot speak for the network when it is the one gone.
 * KA_TEST_LOCAL_WITNESS=1 lets the test suite use loopback listeners. */
static int refuse_witness(const struct ka_probe_opts *p, const struct ka_endpoint *ep,
			  char *err, size_t errlen)
{
	const char *allow = getenv("KA_TEST_LOCAL_WITNESS");
	char why[160], t[80];
	int local;

	for (int i = 0; i < p->npeer; i++)
		if (strcmp(ep->host, p->peer[i].host) == 0) {
			snprintf(err, errlen, "witness '%s' is %s: a witness must be a third host",
				 ka_endpoint_text(ep, t, sizeof t),
				 p->npeer > 1 ? "a peer" : "the peer");
			return -1;
		}
	if (allow && strcmp(allow, "1") == 0)
		return 0;
	if ((local = ka_ip_is_local(ep->host, why, sizeof why)) != 0) {
		snprintf(err, errlen, "witness '%s' %s%s: a witness must be another host, one "
			 "that an isolated node cannot reach", ka_endpoint_text(ep, t, sizeof t),
			 local > 0 ? "is " : "cannot be checked: ", why);
		return -1;
	}
	return 0;
}

/* --host IP, IP:PORT, [V6] or [V6]:PORT; only a port there that differs from --port is
 * a contradiction. */
static int parse_host(struct ka_probe_args *a, char *err, size_t errlen)
{
	unsigned int port;

	if (ka_split_hostport("--host", a->host, a->host_ip, sizeof a->host_ip, &port, err,
			      errlen) < 0)
		return -1;
	if (port && a->port && a->port != port) {
		snprintf(err, errlen, "--host '%s' and --port %u name different ports", a->host,
			 a->port);
		return -1;
	}
	if (port)
		a->port = port;
	a->host = a->host_ip;
	return 0;
}

int ka_probe_args_check(struct ka_probe_args *a, char *err, size_t errlen)
{
	if (a->socket && a->host) {
		snprintf(err, errlen, "--socket and --host exclude each other");
		return -1;
	}
	if (a->probe.witness_connect_only && !a->probe.nwitness) {
		snprintf(err, errlen, "--witness-connect-only needs --witness");
		return -1;
	}
	for (size_t i = 0; i < a->probe.nwitness; i++)
		if (refuse_witness(&a->probe, &a->probe.witness[i], err, errlen) < 0)
			return -1;
	return a->host ? parse_host(a, err, errlen) : 0;
}

int ka_probe_args_conn(const struct ka_probe_args *a, const char *prog, struct ka_conn *c,
		       char *err, size_t errlen)
{
	const char *const groups[] = { "client", "client-server", "client-mariadb", prog, NULL };

	return ka_conn_setup(c, a->defaults_file, groups, a->host, a->port, a->socket, err,
			     errlen);
}
