/* ka-check-mariadb: keepalived vrrp_script checker for the local MariaDB.
 *
 * How a run goes: one deadline (--timeout, default 800 ms) bounds everything, connect
 * included. Connect, ask one real query (read_only, GTID position), then, as asked:
 * compare read_only with --expect-read-only, read SHOW ALL SLAVES STATUS (--replication),
 * try the witnesses (--witness) and the peer (--peer). The first condition that fails
 * decides the exit code (lib/exitcode.h); the result is one line on stdout (or JSON) and,
 * on failure, a syslog line. No writes, no locks, no files: safe to run concurrently
 * with itself, as keepalived 2.2.7 does when a run overruns (FACTS 3).
 */
#include "args.h"
#include "conn.h"
#include "db.h"
#include "deadline.h"
#include "exitcode.h"
#include "gtid.h"
#include "json.h"
#include "log.h"
#include "sig.h"
#include "tcp.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "ka-check-mariadb"
#define VERSION "0.1.0"
#define MAX_WITNESSES 8

static const char *const client_groups[] = { "client", "client-server", "client-mariadb",
					      PROG, NULL };

struct opts {
	const char *socket, *host, *defaults_file;
	char host_ip[64];          /* --host without a ":PORT" it may carry */
	unsigned int port;
	long timeout_ms;
	int replication;
	long max_lag;              /* -1: no limit */
	int expect_ro;             /* -1: no expectation */
	struct ka_endpoint witness[MAX_WITNESSES];
	size_t nwitness;
	struct ka_endpoint peer;
	int have_peer;
	long lvs_weight;           /* 0: normal exit codes */
	int json, verbose;
};

/* What the run found; printed whatever the outcome. */
struct result {
	int code;
	char reason[512];
	int connected;
	int read_only;             /* -1 unknown */
	char gtid[512];
	int replica;               /* replication configured */
	char io[16], sql[16];
	long lag;                  /* -1 NULL/unknown */
	char witness[128];         /* endpoint that answered, or "" */
	char peer[64];             /* "", "unreachable", "read-only", "writable", ... */
	long weight;               /* LVS weight, -1 when not in LVS mode */
	int64_t started;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [--socket PATH | --host IP [--port N]] [--defaults-file FILE]\n"
"       [--timeout MS] [--replication] [--max-lag SECONDS] [--expect-read-only on|off]\n"
"       [--witness IP:PORT[,IP:PORT...]] [--peer IP[:PORT]] [--lvs-weight MAX]\n"
"       [--json] [--verbose]\n"
"       " PROG " --list-exit-codes | --help | --version\n");
}

static int parse_witnesses(struct opts *o, const char *list, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nwitness == MAX_WITNESSES) {
			snprintf(err, errlen, "too many witnesses for --witness (at most %d)",
				 MAX_WITNESSES);
			return -1;
		}
		struct ka_endpoint *ep = &o->witness[o->nwitness++];
		if (ka_parse_hostport("--witness", tok, 0, ep->host, sizeof ep->host, &ep->port,
				      err, errlen) < 0)
			return -1;
	}
	if (!o->nwitness) {
		snprintf(err, errlen, "--witness needs at least one IP:PORT");
		return -1;
	}
	return 0;
}

/* --host IP or IP:PORT ([V6]:PORT); a port there must not contradict --port. */
static int parse_host(struct opts *o, char *err, size_t errlen)
{
	const char *first = strchr(o->host, ':');
	int has_port = o->host[0] == '[' || (first && !strchr(first + 1, ':'));
	unsigned int port;

	if (ka_parse_hostport("--host", o->host, 3306, o->host_ip, sizeof o->host_ip, &port,
			      err, errlen) < 0)
		return -1;
	if (has_port && o->port && o->port != port) {
		snprintf(err, errlen, "--host '%s' and --port %u name different ports", o->host,
			 o->port);
		return -1;
	}
	if (has_port)
		o->port = port;
	o->host = o->host_ip;
	return 0;
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
		{ "peer", required_argument, 0, 'p' },
		{ "lvs-weight", required_argument, 0, 'W' },
		KA_COMMON_LONG_OPTIONS
	};
	long v;
	int c;

	memset(o, 0, sizeof *o);
	o->timeout_ms = 800;
	o->max_lag = -1;
	o->expect_ro = -1;
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
			if (ka_parse_long("--timeout", optarg, 10, 60000, &o->timeout_ms, err,
					  errlen) < 0)
				return -1;
			break;
		case 'r': o->replication = 1; break;
		case 'l':
			if (ka_parse_long("--max-lag", optarg, 0, 31536000, &o->max_lag, err,
					  errlen) < 0)
				return -1;
			o->replication = 1;
			break;
		case 'o':
			if (ka_parse_onoff("--expect-read-only", optarg, &o->expect_ro, err,
					   errlen) < 0)
				return -1;
			break;
		case 'w':
			if (parse_witnesses(o, optarg, err, errlen) < 0)
				return -1;
			break;
		case 'p':
			if (ka_parse_hostport("--peer", optarg, 3306, o->peer.host,
					      sizeof o->peer.host, &o->peer.port, err, errlen) < 0)
				return -1;
			o->have_peer = 1;
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
	if (o->socket && o->host) {
		snprintf(err, errlen, "--socket and --host exclude each other");
		return -1;
	}
	return o->host ? parse_host(o, err, errlen) : 0;
}

static int set_result(struct result *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_result(struct result *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	return code;
}

/* The one real query every run makes: read_only and the GTID position. */
static int probe_basics(struct ka_db *db, struct result *r, int64_t deadline)
{
	char err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (ka_db_query(db, "SELECT @@global.read_only, @@global.gtid_current_pos", &res,
			deadline, err, sizeof err) < 0)
		return set_result(r, ka_db_exit_code(db), "%s", err);
	if (!res || !(row = mysql_fetch_row(res))) {
		if (res)
			mysql_free_result(res);
		return set_result(r, KA_UNFIT, "server returned no row for the status query");
	}
	r->read_only = row[0] && strcmp(row[0], "0") != 0;
	snprintf(r->gtid, sizeof r->gtid, "%s", row[1] ? row[1] : "");
	mysql_free_result(res);
	return KA_OK;
}

static const char *field(MYSQL_RES *res, MYSQL_ROW row, const char *name)
{
	int i = ka_db_column(res, name);

	return (i >= 0 && row[i]) ? row[i] : NULL;
}

/* Judges one SHOW ALL SLAVES STATUS row; the first failing condition wins. */
static int judge_replica_row(const struct opts *o, struct result *r, MYSQL_RES *res,
			     MYSQL_ROW row)
{
	const char *conn = field(res, row, "Connection_name");
	const char *io = field(res, row, "Slave_IO_Running");
	const char *sql = field(res, row, "Slave_SQL_Running");
	const char *lag = field(res, row, "Seconds_Behind_Master");
	const char *name = (conn && *conn) ? conn : "default";

	snprintf(r->io, sizeof r->io, "%s", io ? io : "?");
	snprintf(r->sql, sizeof r->sql, "%s", sql ? sql : "?");
	r->lag = lag ? atol(lag) : -1;
	if (!io || strcmp(io, "Yes") != 0) {
		const char *e = field(res, row, "Last_IO_Error");
		return set_result(r, KA_IO_STOPPED, "replication IO thread of connection '%s' is %s%s%s",
				  name, io ? io : "unknown", e && *e ? ": " : "", e ? e : "");
	}
	if (!sql || strcmp(sql, "Yes") != 0) {
		const char *e = field(res, row, "Last_SQL_Error");
		return set_result(r, KA_SQL_STOPPED, "replication SQL thread of connection '%s' is %s%s%s",
				  name, sql ? sql : "unknown", e && *e ? ": " : "", e ? e : "");
	}
	if (o->max_lag >= 0 && r->lag < 0)
		return set_result(r, KA_LAGGING, "replication lag of connection '%s' is unknown "
				  "(Seconds_Behind_Master NULL)", name);
	if (o->max_lag >= 0 && r->lag > o->max_lag)
		return set_result(r, KA_LAGGING, "replication lag of connection '%s' is %ld s, "
				  "above --max-lag %ld", name, r->lag, o->max_lag);
	return KA_OK;
}

/* Every configured replication connection must be healthy (multi-source aware);
 * no connection configured means a primary, which passes. */
static int check_replication(struct ka_db *db, const struct opts *o, struct result *r,
			     int64_t deadline)
{
	char err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int code = KA_OK;
	long worst_lag = 0;

	if (ka_db_query(db, "SHOW ALL SLAVES STATUS", &res, deadline, err, sizeof err) < 0)
		return set_result(r, ka_db_exit_code(db), "%s", err);
	while (res && (row = mysql_fetch_row(res)) && code == KA_OK) {
		const char *mh = field(res, row, "Master_Host");
		if (!mh || !*mh)
			continue;
		r->replica = 1;
		code = judge_replica_row(o, r, res, row);
		if (r->lag < 0 || (worst_lag >= 0 && r->lag > worst_lag))
			worst_lag = r->lag;
	}
	if (res)
		mysql_free_result(res);
	if (r->replica && code == KA_OK)
		r->lag = worst_lag;
	return code;
}

static int check_witness(const struct opts *o, struct result *r, int64_t deadline)
{
	char err[512];
	int i = ka_tcp_any_accepts(o->witness, o->nwitness, deadline, err, sizeof err);

	if (i < 0)
		return set_result(r, KA_ISOLATED, "no witness reachable: %s", err);
	snprintf(r->witness, sizeof r->witness, "%s:%u", o->witness[i].host, o->witness[i].port);
	return KA_OK;
}

/* Split-brain guard: only a writable local node asks. An unreachable peer is fine. */
static int check_peer(const struct opts *o, const struct ka_conn *local, struct result *r,
		      int64_t deadline)
{
	struct ka_dbaddr a = local->addr;
	struct ka_db peer;
	struct ka_gtid_set mine, theirs;
	char err[512], ro[8], pos[512], ahead[512];

	a.host = o->peer.host;
	a.port = o->peer.port;
	a.socket = NULL;
	if (ka_db_connect(&peer, &a, deadline, err, sizeof err) < 0) {
		snprintf(r->peer, sizeof r->peer, "unreachable");
		ka_log_debug("peer not asked: %s", err);
		ka_db_close(&peer);
		return KA_OK;
	}
	int q1 = ka_db_value(&peer, "SELECT @@global.read_only", ro, sizeof ro, NULL, deadline,
			     err, sizeof err);
	int q2 = q1 ? -1 : ka_db_value(&peer, "SELECT @@global.gtid_current_pos", pos,
				       sizeof pos, NULL, deadline, err, sizeof err);
	ka_db_close(&peer);
	if (q1 || q2) {
		snprintf(r->peer, sizeof r->peer, "unanswered");
		ka_log_debug("peer did not answer: %s", err);
		return KA_OK;
	}
	if (strcmp(ro, "0") != 0) {
		snprintf(r->peer, sizeof r->peer, "read-only");
		return KA_OK;
	}
	snprintf(r->peer, sizeof r->peer, "writable");
	if (ka_gtid_parse(r->gtid, &mine, err, sizeof err) < 0 ||
	    ka_gtid_parse(pos, &theirs, err, sizeof err) < 0)
		return set_result(r, KA_SPLIT_BRAIN, "peer %s:%u is writable too and positions "
				  "cannot be compared: %s", o->peer.host, o->peer.port, err);
	if (ka_gtid_missing(&mine, &theirs, ahead, sizeof ahead) > 0)
		return set_result(r, KA_SPLIT_BRAIN, "peer %s:%u is writable too and holds "
				  "transactions this node lacks: %s", o->peer.host, o->peer.port,
				  ahead);
	return KA_OK;
}

/* Runs the checks in order; returns the exit code (before LVS mapping). */
static int run_checks(const struct opts *o, struct ka_conn *c, struct ka_db *db,
		      struct result *r, int64_t deadline)
{
	char err[512];
	int code;

	if (ka_db_connect(db, &c->addr, deadline, err, sizeof err) < 0)
		return set_result(r, ka_db_exit_code(db), "%s", err);
	r->connected = 1;
	if ((code = probe_basics(db, r, deadline)) != KA_OK)
		return code;
	if (o->expect_ro >= 0 && o->expect_ro != r->read_only)
		return set_result(r, KA_UNFIT, "read_only is %s, expected %s",
				  r->read_only ? "ON" : "OFF", o->expect_ro ? "ON" : "OFF");
	if (o->replication && (code = check_replication(db, o, r, deadline)) != KA_OK)
		return code;
	if (o->nwitness && (code = check_witness(o, r, deadline)) != KA_OK)
		return code;
	if (o->have_peer && r->read_only == 0 && (code = check_peer(o, c, r, deadline)) != KA_OK)
		return code;
	return set_result(r, KA_OK, "healthy");
}

/* keepalived misc_dynamic: 1 = down, 2+W = up with weight W (FACTS 12). */
static int lvs_exit(const struct opts *o, struct result *r)
{
	if (r->code != KA_OK) {
		r->weight = -1;
		return 1;
	}
	r->weight = o->lvs_weight;
	if (r->replica && o->max_lag > 0 && r->lag >= 0)
		r->weight = o->lvs_weight * (o->max_lag - r->lag) / o->max_lag;
	else if (r->replica && o->max_lag == 0 && r->lag > 0)
		r->weight = 0;
	if (r->weight < 0)
		r->weight = 0;
	return 2 + (int)r->weight;
}

static const char *role_of(const struct opts *o, const struct result *r)
{
	if (!r->connected)
		return "unknown";
	if (!o->replication)
		return r->read_only ? "read-only" : "writable";
	return r->replica ? "replica" : "primary";
}

static void print_line(const struct opts *o, const struct result *r, int64_t elapsed)
{
	char lag[24] = "-";

	if (r->lag >= 0)
		snprintf(lag, sizeof lag, "%ld", r->lag);
	printf("%s %s", r->code == KA_OK ? "OK" : "FAIL", r->reason);
	printf(" | code=%d role=%s read_only=%s", r->code, role_of(o, r),
	       r->read_only < 0 ? "?" : r->read_only ? "ON" : "OFF");
	if (o->replication)
		printf(" io=%s sql=%s lag=%s", r->replica ? r->io : "-",
		       r->replica ? r->sql : "-", r->replica ? lag : "-");
	printf(" gtid=%s", r->gtid[0] ? r->gtid : "-");
	if (o->nwitness)
		printf(" witness=%s", r->witness[0] ? r->witness : "none");
	if (o->have_peer)
		printf(" peer=%s", r->peer[0] ? r->peer : "not-asked");
	if (o->lvs_weight)
		printf(" weight=%ld", r->weight);
	printf(" elapsed_ms=%lld\n", (long long)elapsed);
}

static void print_json(const struct opts *o, const struct result *r, int64_t elapsed)
{
	struct ka_json j;

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
	if (o->replication) {
		ka_json_str(&j, "io", r->replica ? r->io : NULL);
		ka_json_str(&j, "sql", r->replica ? r->sql : NULL);
		if (r->replica && r->lag >= 0)
			ka_json_int(&j, "lag", r->lag);
		else
			ka_json_null(&j, "lag");
	}
	if (o->nwitness)
		ka_json_str(&j, "witness", r->witness[0] ? r->witness : NULL);
	if (o->have_peer)
		ka_json_str(&j, "peer", r->peer[0] ? r->peer : "not-asked");
	if (o->lvs_weight) {
		if (r->weight >= 0)
			ka_json_int(&j, "weight", r->weight);
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

int main(int argc, char **argv)
{
	struct opts o;
	struct ka_conn c;
	struct ka_db db = { 0 };
	struct result r = { .read_only = -1, .lag = -1, .weight = -1 };
	char err[512];
	int code;

	ka_sig_exit_on_term(KA_TIMEOUT);
	r.started = ka_now_ms();
	switch (parse_args(argc, argv, &o, err, sizeof err)) {
	case 1:
		return KA_OK;
	case -1:
		return ka_args_usage_error(PROG, err, usage);
	}
	ka_log_open(PROG, o.verbose);
	int64_t deadline = r.started + o.timeout_ms;
	if (ka_conn_setup(&c, o.defaults_file, client_groups, o.host, o.port, o.socket, err,
			  sizeof err) < 0) {
		ka_log_err("%s", err);
		set_result(&r, KA_CONFIG, "%s", err);
	} else {
		run_checks(&o, &c, &db, &r, deadline);
		if (o.verbose && r.connected && !db.timed_out) {
			char target[300];
			fprintf(stderr, PROG ": report for '%s'\n", ka_conn_target(&c, target, sizeof target));
			print_report(&db, deadline);
		}
	}
	ka_db_close(&db);
	int64_t elapsed = ka_now_ms() - r.started;
	code = o.lvs_weight ? lvs_exit(&o, &r) : r.code;
	if (o.json)
		print_json(&o, &r, elapsed);
	else
		print_line(&o, &r, elapsed);
	if (r.code != KA_OK)
		ka_log_warn("FAIL (exit %d, %s): %s", r.code, ka_exit_name(r.code), r.reason);
	return code;
}
