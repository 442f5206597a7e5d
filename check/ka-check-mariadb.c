/* ka-check-mariadb: keepalived vrrp_script checker for the local MariaDB.
 *
 * How a run goes: one deadline (--timeout, default 800 ms) bounds everything, connect
 * included. The probe (lib/probe.c, shared with the watcher) connects, asks one real
 * query (read_only and what the node holds) and then, as asked, compares read_only with
 * --expect-read-only, reads SHOW ALL SLAVES STATUS (--replication), asks the witnesses
 * (--witness) and the peers (--peer, all at once). The first condition that fails
 * decides the exit code (lib/exitcode.h); this file parses options and prints the
 * result: one line on stdout (or JSON) and, on failure, a syslog line. No writes, no
 * locks, no files: safe to run concurrently with itself, as keepalived 2.2.7 does when a
 * run overruns (FACTS 3).
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
#include "probe_args.h"
#include "probe_report.h"
#include "sig.h"
#include "tcp.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "ka-check-mariadb"
#define VERSION "0.1.0"

struct opts {
	struct ka_probe_args a;    /* the probe's options (lib/probe_args.h) */
	long lvs_weight;           /* 0: normal exit codes */
	int json, verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [--socket PATH | --host IP [--port N]] [--defaults-file FILE]\n"
"       [--timeout MS] [--replication] [--max-lag SECONDS] [--expect-read-only on|off]\n"
"       [--witness IP:PORT[,IP:PORT...]] [--witness-connect-only]\n"
"       [--peer IP[:PORT][,IP[:PORT]...]] [--lvs-weight MAX] [--json] [--verbose]\n"
"       " PROG " --list-exit-codes | --help | --version\n");
}

/* Parses argv into o. Returns -1 (usage error, err filled), 0, or 1 when the run is
 * already done (--help, --version, --list-exit-codes). */
static int parse_args(int argc, char **argv, struct opts *o, char *err, size_t errlen)
{
	static const struct option lo[] = {
		KA_PROBE_LONG_OPTIONS,
		{ "lvs-weight", required_argument, 0, 'W' },
		KA_COMMON_LONG_OPTIONS
	};
	int c, taken;

	memset(o, 0, sizeof *o);
	ka_probe_args_init(&o->a, 800);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if ((taken = ka_probe_args_take(&o->a, c, optarg, err, errlen)) != 0) {
			if (taken < 0)
				return -1;
			continue;
		}
		switch (c) {
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
	return ka_probe_args_check(&o->a, err, errlen);
}

/* keepalived misc_dynamic: 1 = down, 2+W = up with weight W (FACTS 12). Returns the exit
 * status; *weight is W, or -1 when down. */
static int lvs_exit(const struct opts *o, const struct ka_probe_result *r, long *weight)
{
	long max_lag = o->a.probe.max_lag, w = o->lvs_weight;

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

static void print_line(const struct opts *o, const struct ka_probe_result *r, long weight,
		       int64_t elapsed)
{
	static char fields[KA_GTID_TEXT_MAX + 1024];

	ka_probe_fields_text(&o->a.probe, r, fields, sizeof fields);
	printf("%s %s | %s", r->code == KA_OK ? "OK" : "FAIL", r->reason, fields);
	if (o->lvs_weight)
		printf(" weight=%ld", weight);
	printf(" elapsed_ms=%lld\n", (long long)elapsed);
}

static void print_json(const struct opts *o, const struct ka_probe_result *r, long weight,
		       int64_t elapsed)
{
	static struct ka_json j;   /* 64 KB */

	ka_json_begin(&j);
	ka_json_str(&j, "status", r->code == KA_OK ? "OK" : "FAIL");
	ka_probe_fields_json(&o->a.probe, r, &j);
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
	int64_t deadline = started + o.a.probe.timeout_ms;
	if (ka_probe_args_conn(&o.a, PROG, &c, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		r.code = KA_CONFIG;
		snprintf(r.reason, sizeof r.reason, "%s", err);
	} else if (ka_probe_connect(&db, &c.addr, &r, deadline) == KA_OK) {
		ka_probe_node(&o.a.probe, &c.addr, &db, &r, deadline);
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
