/* ka-check-mariadb: keepalived vrrp_script checker for the local MariaDB.
 *
 * How a run goes: one deadline (--timeout, default 800 ms) bounds everything, connect
 * included. The probe (lib/probe.c, shared with the watcher) connects, asks one real
 * query (read_only and what the node holds) and then, as asked, compares read_only with
 * --expect-read-only, reads SHOW ALL SLAVES STATUS (--replication), asks the witnesses
 * (--witness) and the peer (--peer). The first condition that fails decides the exit code
 * (lib/exitcode.h); this file parses options and prints the result: one line on stdout
 * (or JSON) and, on failure, a syslog line. No writes, no locks, no files: safe to run
 * concurrently with itself, as keepalived 2.2.7 does when a run overruns (FACTS 3).
 */
#include "args.h"
#include "conn.h"
#include "db.h"
#include "deadline.h"
#include "exitcode.h"
#include "gtid.h"
#include "json.h"
#include "log.h"
#include "probe.h"
#include "sig.h"
#include "tcp.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "ka-check-mariadb"
#define VERSION "0.1.0"

static const char *const client_groups[] = { "client", "client-server", "client-mariadb",
					      PROG, NULL };

struct opts {
	const char *socket, *host, *defaults_file;
	char host_ip[64];          /* --host without the port or brackets it may carry */
	unsigned int port;
	long lvs_weight;           /* 0: normal exit codes */
	int json, verbose;
	struct ka_probe_opts probe;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [--socket PATH | --host IP [--port N]] [--defaults-file FILE]\n"
"       [--timeout MS] [--replication] [--max-lag SECONDS] [--expect-read-only on|off]\n"
"       [--witness IP:PORT[,IP:PORT...]] [--witness-connect-only] [--peer IP[:PORT]]\n"
"       [--lvs-weight MAX] [--json] [--verbose]\n"
"       " PROG " --list-exit-codes | --help | --version\n");
}

/* A witness must be another host: loopback, unspecified and this host's own addresses
 * always answer, and the peer cannot speak for the network when it is the one gone.
 * KA_TEST_LOCAL_WITNESS=1 lets the test suite use loopback listeners. */
static int refuse_witness(const struct opts *o, const struct ka_endpoint *ep, char *err,
			  size_t errlen)
{
	const char *allow = getenv("KA_TEST_LOCAL_WITNESS");
	char why[160], t[80];
	int local;

	if (o->probe.have_peer && strcmp(ep->host, o->probe.peer.host) == 0) {
		snprintf(err, errlen, "witness '%s' is the peer: a witness must be a third host",
			 ka_endpoint_text(ep, t, sizeof t));
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

static int parse_witnesses(struct opts *o, const char *list, char *err, size_t errlen)
{
	struct ka_probe_opts *p = &o->probe;
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

/* --host IP, IP:PORT, [V6] or [V6]:PORT; only a port there that differs from --port is
 * a contradiction. */
static int parse_host(struct opts *o, char *err, size_t errlen)
{
	unsigned int port;

	if (ka_split_hostport("--host", o->host, o->host_ip, sizeof o->host_ip, &port, err,
			      errlen) < 0)
		return -1;
	if (port && o->port && o->port != port) {
		snprintf(err, errlen, "--host '%s' and --port %u name different ports", o->host,
			 o->port);
		return -1;
	}
	if (port)
		o->port = port;
	o->host = o->host_ip;
	return 0;
}

/* Checks made once every option is known. */
static int check_args(struct opts *o, char *err, size_t errlen)
{
	if (o->socket && o->host) {
		snprintf(err, errlen, "--socket and --host exclude each other");
		return -1;
	}
	if (o->probe.witness_connect_only && !o->probe.nwitness) {
		snprintf(err, errlen, "--witness-connect-only needs --witness");
		return -1;
	}
	for (size_t i = 0; i < o->probe.nwitness; i++)
		if (refuse_witness(o, &o->probe.witness[i], err, errlen) < 0)
			return -1;
	return o->host ? parse_host(o, err, errlen) : 0;
}

/* Parses argv into o. Returns -1 (usage error, err filled), 0, or 1 when the run is
 * already done (--help, --version, --list-exit-codes). */
static int parse_args(int argc, char **argv, struct opts *o, char *err, size_t errlen)
{
	static const struct option lo[] = {
		{ "socket", required_argument, 0, 'S' },
		{ "host", required_argument, 0, 'h' },
		{ "port", required_argument, 0, 'P' },
		{ "defaults-file", required_argument, 0, 'f' },
		{ "timeout", required_argument, 0, 't' },
		{ "replication", no_argument, 0, 'r' },
		{ "max-lag", required_argument, 0, 'l' },
		{ "expect-read-only", required_argument, 0, 'o' },
		{ "witness", required_argument, 0, 'w' },
		{ "witness-connect-only", no_argument, 0, 'c' },
		{ "peer", required_argument, 0, 'p' },
		{ "lvs-weight", required_argument, 0, 'W' },
		KA_COMMON_LONG_OPTIONS
	};
	struct ka_probe_opts *p = &o->probe;
	long v;
	int c;

	memset(o, 0, sizeof *o);
	p->timeout_ms = 800;
	p->max_lag = -1;
	p->expect_ro = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case 'S': o->socket = optarg; break;
		case 'h': o->host = optarg; break;
		case 'P':
			if (ka_parse_long("--port", optarg, 1, 65535, &v, err, errlen) < 0)
				return -1;
			o->port = (unsigned)v;
			break;
		case 'f': o->defaults_file = optarg; break;
		case 't':
			if (ka_parse_long("--timeout", optarg, 10, 60000, &p->timeout_ms, err,
					  errlen) < 0)
				return -1;
			break;
		case 'r': p->replication = 1; break;
		case 'l':
			if (ka_parse_long("--max-lag", optarg, 0, 31536000, &p->max_lag, err,
					  errlen) < 0)
				return -1;
			p->replication = 1;
			break;
		case 'o':
			if (ka_parse_onoff("--expect-read-only", optarg, &p->expect_ro, err,
					   errlen) < 0)
				return -1;
			break;
		case 'w':
			if (parse_witnesses(o, optarg, err, errlen) < 0)
				return -1;
			break;
		case 'c': p->witness_connect_only = 1; break;
		case 'p':
			if (ka_parse_hostport("--peer", optarg, 3306, p->peer.host,
					      sizeof p->peer.host, &p->peer.port, err, errlen) < 0)
				return -1;
			p->have_peer = 1;
			break;
		case 'W':
			/* 2+MAX stays below 126: never an exit code the shell gives meaning to. */
			if (ka_parse_long("--lvs-weight", optarg, 1, 123, &o->lvs_weight, err,
					  errlen) < 0)
				return -1;
			break;
		case 'j': o->json = 1; break;
		case 'v': o->verbose = 1; break;
		default:
			return ka_args_common(c, PROG " " VERSION, usage, argv, err, errlen);
		}
	}
	if (ka_args_no_operands(argc, argv, err, errlen) < 0)
		return -1;
	return check_args(o, err, errlen);
}

/* keepalived misc_dynamic: 1 = down, 2+W = up with weight W (FACTS 12). Returns the exit
 * status; *weight is W, or -1 when down. */
static int lvs_exit(const struct opts *o, const struct ka_probe_result *r, long *weight)
{
	long max_lag = o->probe.max_lag, w = o->lvs_weight;

	if (r->code != KA_OK) {
		*weight = -1;
		return 1;
	}
	if (r->replica && max_lag > 0 && r->lag >= 0)
		w = o->lvs_weight * (max_lag - r->lag) / max_lag;
	else if (r->replica && max_lag == 0 && r->lag > 0)
		w = 0;
	*weight = w < 0 ? 0 : w;
	return 2 + (int)*weight;
}

static const char *role_of(const struct opts *o, const struct ka_probe_result *r)
{
	if (!r->connected || r->read_only < 0)
		return "unknown";
	if (!o->probe.replication)
		return r->read_only ? "read-only" : "writable";
	if (r->detached)
		return "detached";
	return r->replica ? "replica" : "primary";
}

static const char *witness_of(const struct ka_probe_result *r)
{
	return r->witness[0] ? r->witness : "none";
}

static void print_line(const struct opts *o, const struct ka_probe_result *r, long weight,
		       int64_t elapsed)
{
	char lag[24] = "-";

	if (r->lag >= 0)
		snprintf(lag, sizeof lag, "%ld", r->lag);
	printf("%s %s", r->code == KA_OK ? "OK" : "FAIL", r->reason);
	printf(" | code=%d role=%s read_only=%s", r->code, role_of(o, r),
	       r->read_only < 0 ? "?" : r->read_only ? "ON" : "OFF");
	if (o->probe.replication)
		printf(" io=%s sql=%s lag=%s", r->replica ? r->io : "-",
		       r->replica ? r->sql : "-", r->replica ? lag : "-");
	printf(" gtid=%s", r->gtid[0] ? r->gtid : "-");
	if (o->probe.nwitness)
		printf(" witness=%s", witness_of(r));
	if (o->probe.have_peer)
		printf(" peer=%s", r->peer[0] ? r->peer : "not-asked");
	if (o->lvs_weight)
		printf(" weight=%ld", weight);
	printf(" elapsed_ms=%lld\n", (long long)elapsed);
}

static void print_json(const struct opts *o, const struct ka_probe_result *r, long weight,
		       int64_t elapsed)
{
	static struct ka_json j;   /* 16 KB */

	ka_json_begin(&j);
	ka_json_str(&j, "status", r->code == KA_OK ? "OK" : "FAIL");
	ka_json_int(&j, "code", r->code);
	ka_json_str(&j, "code_name", ka_exit_name(r->code));
	ka_json_str(&j, "reason", r->reason);
	ka_json_str(&j, "role", role_of(o, r));
	if (r->read_only < 0)
		ka_json_null(&j, "read_only");
	else
		ka_json_bool(&j, "read_only", r->read_only);
	ka_json_str(&j, "gtid", r->gtid[0] ? r->gtid : NULL);
	if (o->probe.replication) {
		ka_json_str(&j, "io", r->replica ? r->io : NULL);
		ka_json_str(&j, "sql", r->replica ? r->sql : NULL);
		if (r->replica && r->lag >= 0)
			ka_json_int(&j, "lag", r->lag);
		else
			ka_json_null(&j, "lag");
	}
	if (o->probe.nwitness)
		ka_json_str(&j, "witness", r->witness[0] ? r->witness : NULL);
	if (o->probe.have_peer)
		ka_json_str(&j, "peer", r->peer[0] ? r->peer : "not-asked");
	if (o->lvs_weight) {
		if (weight >= 0)
			ka_json_int(&j, "weight", weight);
		else
			ka_json_null(&j, "weight");
	}
	ka_json_int(&j, "elapsed_ms", elapsed);
	printf("%s\n", ka_json_end(&j));
}

/* --verbose: a diagnostic report for an operator, to stderr, best effort. */
static void print_report(struct ka_db *db, int64_t deadline)
{
	static const char *const queries[] = {
		"SELECT @@version AS version, @@hostname AS hostname, @@server_id AS server_id, "
		"@@read_only AS read_only, @@gtid_domain_id AS gtid_domain_id, "
		"@@gtid_binlog_pos AS gtid_binlog_pos, @@gtid_slave_pos AS gtid_slave_pos, "
		"@@gtid_strict_mode AS gtid_strict_mode, @@log_bin AS log_bin, "
		"@@max_connections AS max_connections",
		"SHOW GLOBAL STATUS WHERE Variable_name IN ('Uptime', 'Threads_connected', "
		"'Max_used_connections', 'Slave_running', 'Rpl_semi_sync_master_status', "
		"'Rpl_semi_sync_slave_status', 'Rpl_semi_sync_master_clients')",
		"SHOW ALL SLAVES STATUS",
	};
	char err[512];

	for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		if (ka_db_query(db, queries[q], &res, deadline, err, sizeof err) < 0) {
			fprintf(stderr, "  (%s)\n", err);
			return;
		}
		if (!res)
			continue;
		MYSQL_FIELD *f = mysql_fetch_fields(res);
		unsigned int n = mysql_num_fields(res);
		int kv = (n == 2 && strcmp(f[0].name, "Variable_name") == 0);
		while ((row = mysql_fetch_row(res))) {
			if (kv) {
				fprintf(stderr, "  %-34s %s\n", row[0], row[1] ? row[1] : "NULL");
				continue;
			}
			if (q == 2)
				fprintf(stderr, "  -- replication connection '%s'\n", row[0] ? row[0] : "");
			for (unsigned int i = 0; i < n; i++)
				if (q != 2 || (row[i] && *row[i]))
					fprintf(stderr, "  %-34s %s\n", f[i].name, row[i] ? row[i] : "NULL");
		}
		mysql_free_result(res);
	}
}

/* Syslog for the run: a split brain (or a guard that cannot rule one out) is an error,
 * any other failure a warning; a passing run with something odd, a warning. */
static void log_result(const struct ka_probe_result *r)
{
	if (r->code == KA_SPLIT_BRAIN)
		ka_log_err("FAIL (exit %d, %s): %s", r->code, ka_exit_name(r->code), r->reason);
	else if (r->code != KA_OK)
		ka_log_warn("FAIL (exit %d, %s): %s", r->code, ka_exit_name(r->code), r->reason);
	else if (r->note[0])
		ka_log_warn("%s", r->note);
	if (r->peer_why[0])
		ka_log_debug("%s", r->peer_why);
}

int main(int argc, char **argv)
{
	static struct opts o;
	static struct ka_probe_result r;   /* three GTID texts: off the stack */
	struct ka_conn c;
	struct ka_db db = { 0 };
	char err[512];
	long weight = -1;
	int code;

	ka_sig_exit_on_term(KA_TIMEOUT);
	int64_t started = ka_now_ms();
	ka_probe_result_init(&r);
	switch (parse_args(argc, argv, &o, err, sizeof err)) {
	case 1:
		return KA_OK;
	case -1:
		return ka_args_usage_error(PROG, err, usage);
	}
	ka_log_open(PROG, o.verbose);
	int64_t deadline = started + o.probe.timeout_ms;
	if (ka_conn_setup(&c, o.defaults_file, client_groups, o.host, o.port, o.socket, err,
			  sizeof err) < 0) {
		ka_log_err("%s", err);
		r.code = KA_CONFIG;
		snprintf(r.reason, sizeof r.reason, "%s", err);
	} else if (ka_probe_connect(&db, &c.addr, &r, deadline) == KA_OK) {
		ka_probe_node(&o.probe, &c.addr, &db, &r, deadline);
		if (o.verbose && !db.timed_out) {
			char target[300];
			fprintf(stderr, PROG ": report for '%s'\n", ka_conn_target(&c, target, sizeof target));
			print_report(&db, deadline);
		}
	}
	ka_db_close(&db);
	int64_t elapsed = ka_now_ms() - started;
	code = o.lvs_weight ? lvs_exit(&o, &r, &weight) : r.code;
	if (o.json)
		print_json(&o, &r, weight, elapsed);
	else
		print_line(&o, &r, weight, elapsed);
	log_result(&r);
	return code;
}
