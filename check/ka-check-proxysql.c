/* ka-check-proxysql: keepalived vrrp_script checker for the local ProxySQL.
 *
 * How a run goes: one deadline (--timeout, default 800 ms) bounds everything. Log in to
 * the admin interface (default 127.0.0.1:6032, database main), read @@version and
 * runtime_mysql_servers, then, as asked: count the ONLINE servers of the writer hostgroup
 * (--writer-hostgroup, --single-writer) and of the reader hostgroup (--min-readers), log
 * in through the traffic port and run a query that must reach a backend (--frontend),
 * and compare runtime_checksums_values with every peer of runtime_proxysql_servers
 * (--cluster). The first condition that fails decides the exit code (lib/exitcode.h).
 *
 * The admin SQL is SQLite behind the MySQL protocol (FACTS 32-34): only plain SELECTs
 * valid on both ProxySQL and MariaDB, text protocol, one statement per query. ProxySQL
 * answers EVERY admin SQL error with 1045, so a 1045 means bad credentials only during
 * the handshake; after it, any error on a live admin interface is "answered, but
 * unfit" (1). No writes, no locks, no files: safe to run concurrently with itself.
 */
#include "args.h"
#include "db.h"
#include "deadline.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"
#include "optfile.h"
#include "sig.h"
#include "tcp.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROG "ka-check-proxysql"
#define VERSION "0.1.0"
#define ADMIN_PORT 6032
#define FRONTEND_PORT 6033
#define FRONTEND_GROUP "ka-proxysql-frontend"
#define MAX_SERVER_ROWS 10000
#define MAX_JSON_SERVERS 100
#define MAX_MODULES 32
#define MAX_PEERS 16
#define MAX_NAMED 8

static const char *const admin_groups[] = { "client", PROG, NULL };
static const char *const frontend_groups[] = { FRONTEND_GROUP, NULL };

/* Every query sent to the admin interface: valid SQLite and valid MariaDB. */
#define Q_VERSION "SELECT @@version"
#define Q_SERVERS "SELECT hostgroup_id, hostname, port, status FROM runtime_mysql_servers " \
		  "ORDER BY hostgroup_id, hostname, port"
#define Q_CHECKSUMS "SELECT name, version, epoch, checksum FROM runtime_checksums_values " \
		    "ORDER BY name"
#define Q_PEERS "SELECT hostname, port FROM runtime_proxysql_servers ORDER BY hostname, port"
#define Q_REPL_HG "SELECT writer_hostgroup, reader_hostgroup, check_type " \
		  "FROM runtime_mysql_replication_hostgroups ORDER BY writer_hostgroup"
/* Through the traffic port: the comment keeps ProxySQL from answering it itself. */
#define Q_FRONTEND "SELECT /* " PROG " */ @@hostname, @@port"

struct opts {
	const char *socket, *defaults_file;
	char host[64];
	int have_host;
	unsigned int host_port;    /* port given with --host, or ADMIN_PORT */
	unsigned int port;         /* --port, 0 when not given */
	long timeout_ms;
	long writer_hg, reader_hg; /* -1: not asked */
	long min_readers;          /* -1: not given */
	int single_writer;
	struct ka_endpoint frontend;
	int have_frontend;
	int cluster, json, verbose;
};

struct server {
	long hg;
	char host[64];
	unsigned int port;
	char status[16];
};

struct module {
	char name[48];
	char version[24];
	char epoch[24];
	char checksum[48];
};

struct peer {
	char host[64];
	unsigned int port;
	char state[16];            /* in-sync, differs, self, skipped, or an exit name */
	char detail[512];          /* differing modules or the error */
};

/* What the run found; printed whatever the outcome. */
struct result {
	int code;
	char reason[512];
	const char *failed;        /* which check decided a failure, NULL when healthy */
	int connected;
	char admin[300];
	char version[80];
	struct server *srv;
	size_t nsrv;
	int have_servers;
	long writers_online, readers_online;   /* -1: not counted */
	char frontend_backend[160];
	struct module mod[MAX_MODULES];
	size_t nmod;
	int have_modules;
	struct peer peer[MAX_PEERS];
	size_t npeer;
	int have_peers;
	int64_t started;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [--socket PATH | --host IP [--port N]] --defaults-file FILE\n"
"       [--timeout MS] [--writer-hostgroup N [--single-writer]]\n"
"       [--reader-hostgroup N [--min-readers K]] [--frontend IP[:PORT]] [--cluster]\n"
"       [--json] [--verbose]\n"
"       " PROG " --list-exit-codes | --help | --version\n");
}

/* Checks the combinations getopt cannot. Returns 0 or -1 with err filled. */
static int check_combinations(const struct opts *o, char *err, size_t errlen)
{
	if (o->socket && o->have_host)
		snprintf(err, errlen, "--socket and --host exclude each other");
	else if (o->socket && o->port)
		snprintf(err, errlen, "--socket and --port exclude each other");
	else if (!o->defaults_file)
		snprintf(err, errlen, "--defaults-file is required: the admin credentials come "
			 "from its [client] group");
	else if (o->single_writer && o->writer_hg < 0)
		snprintf(err, errlen, "--single-writer needs --writer-hostgroup");
	else if (o->min_readers >= 0 && o->reader_hg < 0)
		snprintf(err, errlen, "--min-readers needs --reader-hostgroup");
	else if (o->writer_hg >= 0 && o->writer_hg == o->reader_hg)
		snprintf(err, errlen, "--writer-hostgroup and --reader-hostgroup are both %ld",
			 o->writer_hg);
	else
		return 0;
	return -1;
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
		{ "writer-hostgroup", required_argument, 0, 'w' },
		{ "single-writer", no_argument, 0, '1' },
		{ "reader-hostgroup", required_argument, 0, 'r' },
		{ "min-readers", required_argument, 0, 'm' },
		{ "frontend", required_argument, 0, 'F' },
		{ "cluster", no_argument, 0, 'c' },
		KA_COMMON_LONG_OPTIONS
	};
	long v;
	int c;

	memset(o, 0, sizeof *o);
	o->timeout_ms = 800;
	o->writer_hg = o->reader_hg = o->min_readers = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case 'S': o->socket = optarg; break;
		case 'h':
			if (ka_parse_hostport("--host", optarg, ADMIN_PORT, o->host, sizeof o->host,
					      &o->host_port, err, errlen) < 0)
				return -1;
			o->have_host = 1;
			break;
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
		case 'w':
			if (ka_parse_long("--writer-hostgroup", optarg, 0, 2147483647, &o->writer_hg,
					  err, errlen) < 0)
				return -1;
			break;
		case '1': o->single_writer = 1; break;
		case 'r':
			if (ka_parse_long("--reader-hostgroup", optarg, 0, 2147483647, &o->reader_hg,
					  err, errlen) < 0)
				return -1;
			break;
		case 'm':
			if (ka_parse_long("--min-readers", optarg, 0, MAX_SERVER_ROWS,
					  &o->min_readers, err, errlen) < 0)
				return -1;
			break;
		case 'F':
			if (ka_parse_hostport("--frontend", optarg, FRONTEND_PORT, o->frontend.host,
					      sizeof o->frontend.host, &o->frontend.port, err,
					      errlen) < 0)
				return -1;
			o->have_frontend = 1;
			break;
		case 'c': o->cluster = 1; break;
		case 'j': o->json = 1; break;
		case 'v': o->verbose = 1; break;
		default:
			return ka_args_common(c, PROG " " VERSION, usage, argv, err, errlen);
		}
	}
	if (ka_args_no_operands(argc, argv, err, errlen) < 0)
		return -1;
	if (o->reader_hg >= 0 && o->min_readers < 0)
		o->min_readers = 1;
	return check_combinations(o, err, errlen);
}

static int set_result(struct result *r, int code, const char *failed, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_result(struct result *r, int code, const char *failed, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	r->failed = code == KA_OK ? NULL : failed;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	return code;
}

/* Admin address: --socket or --host/--port, else the option file's host/port/socket,
 * else 127.0.0.1:6032. Always database main (FACTS 38). Returns 0, or -1 with err filled
 * when the file names a host that is not a numeric address (FACTS 31). */
static int admin_address(const struct opts *o, const struct ka_optvals *v,
			 struct ka_dbaddr *a, char *hostbuf, size_t hostlen, char *err,
			 size_t errlen)
{
	unsigned int fport = o->port ? o->port : v->port ? v->port : ADMIN_PORT;

	memset(a, 0, sizeof *a);
	a->user = v->user[0] ? v->user : NULL;
	a->password = v->password[0] ? v->password : NULL;
	a->database = "main";
	if (o->socket) {
		a->socket = o->socket;
	} else if (o->have_host) {
		a->host = o->host;
		a->port = o->port ? o->port : o->host_port;
	} else if (v->host[0] && strcmp(v->host, "localhost") != 0) {
		unsigned int ignored;
		if (ka_parse_hostport("host", v->host, ADMIN_PORT, hostbuf, hostlen, &ignored, err,
				      errlen) < 0)
			return -1;
		a->host = hostbuf;
		a->port = fport;
	} else if (v->socket[0] && !o->port) {
		a->socket = v->socket;
	} else {
		a->host = "127.0.0.1";
		a->port = fport;
	}
	return 0;
}

/* The frontend credentials: group [ka-proxysql-frontend] of the same option file.
 * Returns 0, or -1 with err filled (the caller exits 78). */
static int frontend_credentials(const char *file, struct ka_optvals *v, char *err,
				size_t errlen)
{
	int has = ka_optfile_has_group(file, FRONTEND_GROUP, err, errlen);

	if (has < 0)
		return -1;
	if (!has) {
		snprintf(err, errlen, "option file '%s' has no [" FRONTEND_GROUP "] group "
			 "(the credentials for --frontend)", file);
		return -1;
	}
	if (ka_optfile_read(file, frontend_groups, v, err, errlen) < 0)
		return -1;
	if (!v->user[0]) {
		snprintf(err, errlen, "option file '%s' has no user in its [" FRONTEND_GROUP
			 "] group", file);
		return -1;
	}
	return 0;
}

/* A 1040 "User 'admin' can only connect locally" is ProxySQL refusing the built-in
 * admin user from a non-local address (FACTS 37): a credentials problem, not load. */
static int admin_connect_exit(const struct ka_db *db, const char *err)
{
	if (!db->timed_out && db->err == 1040 && strstr(err, "can only connect locally"))
		return KA_DENIED;
	return ka_db_exit_code(db);
}

/* After the handshake every admin SQL error is a 1045 (FACTS 33): the interface answered,
 * so only a lost connection (2) or the deadline (3) is not "unfit" (1). */
static int admin_query_exit(const struct ka_db *db)
{
	if (db->timed_out)
		return KA_TIMEOUT;
	return ka_exit_for_errno(db->err, 0) == KA_UNREACHABLE ? KA_UNREACHABLE : KA_UNFIT;
}

static int read_version(struct ka_db *db, struct result *r, int64_t deadline)
{
	char err[512];

	if (ka_db_value(db, Q_VERSION, r->version, sizeof r->version, NULL, deadline, err,
			sizeof err) != 0)
		return set_result(r, admin_query_exit(db), "admin", "admin interface '%s': %s",
				  r->admin, err);
	return KA_OK;
}

static void copy_server(struct server *s, MYSQL_ROW row)
{
	s->hg = row[0] ? atol(row[0]) : -1;
	snprintf(s->host, sizeof s->host, "%s", row[1] ? row[1] : "");
	s->port = row[2] ? (unsigned)atol(row[2]) : 0;
	snprintf(s->status, sizeof s->status, "%s", row[3] ? row[3] : "");
}

/* Reads runtime_mysql_servers into r->srv (at most MAX_SERVER_ROWS rows). */
static int read_servers(struct ka_db *db, struct result *r, int64_t deadline)
{
	char err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (ka_db_query(db, Q_SERVERS, &res, deadline, err, sizeof err) < 0)
		return set_result(r, admin_query_exit(db), "admin", "admin interface '%s': %s",
				  r->admin, err);
	size_t n = res ? (size_t)mysql_num_rows(res) : 0;
	if (n > MAX_SERVER_ROWS)
		n = MAX_SERVER_ROWS;
	r->srv = n ? calloc(n, sizeof *r->srv) : NULL;
	if (n && !r->srv) {
		mysql_free_result(res);
		return set_result(r, KA_UNFIT, "admin", "out of memory for %zu server rows", n);
	}
	while (res && r->nsrv < n && (row = mysql_fetch_row(res)))
		copy_server(&r->srv[r->nsrv++], row);
	if (res)
		mysql_free_result(res);
	r->have_servers = 1;
	return KA_OK;
}

static int is_online(const struct server *s)
{
	return strcasecmp(s->status, "ONLINE") == 0;
}

/* Counts the ONLINE servers of hostgroup hg; lists them (online) or the others (!online)
 * as "192.0.2.11:3306 SHUNNED, ..." into buf. */
static long hostgroup_servers(const struct result *r, long hg, int online, char *buf,
			      size_t len)
{
	long count = 0;
	size_t used = 0;
	int listed = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->nsrv; i++) {
		const struct server *s = &r->srv[i];
		if (s->hg != hg)
			continue;
		count += is_online(s);
		if (is_online(s) != online || listed == MAX_NAMED || used >= len)
			continue;
		int n = snprintf(buf + used, len - used, "%s%s:%u%s%s", listed ? ", " : "",
				 s->host, s->port, online ? "" : " ", online ? "" : s->status);
		used += n > 0 ? (size_t)n : 0;
		listed++;
	}
	return count;
}

static long hostgroup_size(const struct result *r, long hg)
{
	long n = 0;

	for (size_t i = 0; i < r->nsrv; i++)
		n += r->srv[i].hg == hg;
	return n;
}

/* --writer-hostgroup: at least one ONLINE writer; --single-writer: exactly one. */
static int check_writers(const struct opts *o, struct result *r)
{
	char list[512];

	r->writers_online = hostgroup_servers(r, o->writer_hg, 1, list, sizeof list);
	if (o->single_writer && r->writers_online > 1)
		return set_result(r, KA_UNFIT, "writers", "split brain: %ld ONLINE writers in "
				  "hostgroup %ld: %s", r->writers_online, o->writer_hg, list);
	if (r->writers_online > 0)
		return KA_OK;
	if (!hostgroup_size(r, o->writer_hg))
		return set_result(r, KA_UNFIT, "writers", "no server in writer hostgroup %ld",
				  o->writer_hg);
	hostgroup_servers(r, o->writer_hg, 0, list, sizeof list);
	return set_result(r, KA_UNFIT, "writers", "no ONLINE server in writer hostgroup %ld (%s)",
			  o->writer_hg, list);
}

/* --reader-hostgroup: at least --min-readers ONLINE servers. */
static int check_readers(const struct opts *o, struct result *r)
{
	char others[512];

	r->readers_online = hostgroup_servers(r, o->reader_hg, 0, others, sizeof others);
	if (r->readers_online >= o->min_readers)
		return KA_OK;
	return set_result(r, KA_UNFIT, "readers", "%ld ONLINE server%s in reader hostgroup %ld, "
			  "below --min-readers %ld%s%s%s", r->readers_online,
			  r->readers_online == 1 ? "" : "s", o->reader_hg, o->min_readers,
			  others[0] ? " (" : "", others, others[0] ? ")" : "");
}

/* --frontend: a real login and a query through the traffic port that ProxySQL must
 * route to a backend (FACTS 36). Errors map as for any MariaDB: 1045 at login is 4. */
static int check_frontend(const struct opts *o, const struct ka_optvals *v, struct result *r,
			  int64_t deadline)
{
	struct ka_dbaddr a = {
		.host = o->frontend.host, .port = o->frontend.port,
		.user = v->user, .password = v->password[0] ? v->password : NULL,
		.database = v->database[0] ? v->database : NULL,
	};
	struct ka_db db;
	char err[512];
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int code = KA_OK;

	if (ka_db_connect(&db, &a, deadline, err, sizeof err) < 0 ||
	    ka_db_query(&db, Q_FRONTEND, &res, deadline, err, sizeof err) < 0)
		code = set_result(r, ka_db_exit_code(&db), "frontend", "frontend %s:%u as '%s': %s",
				  o->frontend.host, o->frontend.port, v->user, err);
	else if (!res || !(row = mysql_fetch_row(res)))
		code = set_result(r, KA_UNFIT, "frontend", "frontend %s:%u returned no row",
				  o->frontend.host, o->frontend.port);
	else
		snprintf(r->frontend_backend, sizeof r->frontend_backend, "%s:%s",
			 row[0] ? row[0] : "?", row[1] ? row[1] : "?");
	if (res)
		mysql_free_result(res);
	ka_db_close(&db);
	return code;
}

/* Reads runtime_checksums_values of db into mods. Returns 0 or -1 with err filled. */
static int read_checksums(struct ka_db *db, struct module *mods, size_t *n, int64_t deadline,
			  char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	*n = 0;
	if (ka_db_query(db, Q_CHECKSUMS, &res, deadline, err, errlen) < 0)
		return -1;
	while (res && *n < MAX_MODULES && (row = mysql_fetch_row(res))) {
		struct module *m = &mods[(*n)++];
		snprintf(m->name, sizeof m->name, "%s", row[0] ? row[0] : "");
		snprintf(m->version, sizeof m->version, "%s", row[1] ? row[1] : "");
		snprintf(m->epoch, sizeof m->epoch, "%s", row[2] ? row[2] : "");
		snprintf(m->checksum, sizeof m->checksum, "%s", row[3] ? row[3] : "");
	}
	if (res)
		mysql_free_result(res);
	return 0;
}

static int read_own_checksums(struct ka_db *db, struct result *r, int64_t deadline)
{
	char err[512];

	if (read_checksums(db, r->mod, &r->nmod, deadline, err, sizeof err) < 0)
		return set_result(r, admin_query_exit(db), "admin", "admin interface '%s': %s",
				  r->admin, err);
	r->have_modules = 1;
	return KA_OK;
}

static int read_peers(struct ka_db *db, struct result *r, int64_t deadline)
{
	char err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (ka_db_query(db, Q_PEERS, &res, deadline, err, sizeof err) < 0)
		return set_result(r, admin_query_exit(db), "admin", "admin interface '%s': %s",
				  r->admin, err);
	while (res && r->npeer < MAX_PEERS && (row = mysql_fetch_row(res))) {
		struct peer *p = &r->peer[r->npeer++];
		snprintf(p->host, sizeof p->host, "%s", row[0] ? row[0] : "");
		p->port = row[1] ? (unsigned)atol(row[1]) : 0;
	}
	if (res)
		mysql_free_result(res);
	r->have_peers = 1;
	return KA_OK;
}

/* 1 when host is a loopback address or one of this machine's interface addresses. */
static int is_local_address(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	struct ifaddrs *ifs, *i;
	int v6, found = 0;

	if (inet_pton(AF_INET, host, &a4) == 1) {
		if ((ntohl(a4.s_addr) >> 24) == 127)
			return 1;
		v6 = 0;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		v6 = 1;
	} else {
		return 0;
	}
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (!v6 && i->ifa_addr->sa_family == AF_INET)
			found = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr ==
				a4.s_addr;
		else if (v6 && i->ifa_addr->sa_family == AF_INET6)
			found = !memcmp(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr,
					&a6, sizeof a6);
	}
	freeifaddrs(ifs);
	return found;
}

/* Names the modules whose checksum differs between mine and theirs into p->detail;
 * modules only one side has are not compared (versions differ in what they track). */
static int compare_modules(const struct result *r, const struct module *theirs, size_t n,
			   struct peer *p)
{
	size_t used = 0;
	int diffs = 0;

	p->detail[0] = '\0';
	for (size_t i = 0; i < r->nmod; i++)
		for (size_t k = 0; k < n; k++) {
			if (strcmp(r->mod[i].name, theirs[k].name) != 0 ||
			    strcmp(r->mod[i].checksum, theirs[k].checksum) == 0)
				continue;
			if (used < sizeof p->detail) {
				int w = snprintf(p->detail + used, sizeof p->detail - used, "%s%s",
						 diffs ? ", " : "", r->mod[i].name);
				used += w > 0 ? (size_t)w : 0;
			}
			diffs++;
		}
	return diffs;
}

/* Asks one peer's admin interface for its checksums with the local admin credentials;
 * fills p->state and p->detail. */
static void ask_peer(const struct ka_dbaddr *admin, const struct result *r, struct peer *p,
		     int64_t deadline)
{
	struct ka_dbaddr a = *admin;
	struct module theirs[MAX_MODULES];
	struct ka_db db;
	size_t n;
	char err[512];

	a.host = p->host;
	a.port = p->port;
	a.socket = NULL;
	if (ka_db_connect(&db, &a, deadline, err, sizeof err) < 0 ||
	    read_checksums(&db, theirs, &n, deadline, err, sizeof err) < 0) {
		int code = db.at_connect ? admin_connect_exit(&db, err) : admin_query_exit(&db);
		snprintf(p->state, sizeof p->state, "%s", ka_exit_name(code));
		snprintf(p->detail, sizeof p->detail, "%s", err);
	} else if (compare_modules(r, theirs, n, p)) {
		snprintf(p->state, sizeof p->state, "differs");
	} else {
		snprintf(p->state, sizeof p->state, "in-sync");
	}
	ka_db_close(&db);
}

/* --cluster: every peer of runtime_proxysql_servers must hold the same checksums. Each
 * peer gets an equal share of the time left, so one hung peer cannot starve the rest.
 * A differing or unanswering peer is exit 1 (the cluster is not shown to agree). */
static int check_cluster(struct ka_db *db, const struct ka_dbaddr *admin, struct result *r,
			 int64_t deadline)
{
	unsigned int own_port = admin->host ? admin->port : ADMIN_PORT;
	struct peer *bad = NULL;
	size_t nbad = 0, asked = 0;
	int code;

	if (!r->have_modules && (code = read_own_checksums(db, r, deadline)) != KA_OK)
		return code;
	if ((code = read_peers(db, r, deadline)) != KA_OK)
		return code;
	if (!r->npeer)
		return set_result(r, KA_UNFIT, "cluster", "no peer in runtime_proxysql_servers");
	for (size_t i = 0; i < r->npeer; i++) {
		struct peer *p = &r->peer[i];
		if (p->port == own_port && is_local_address(p->host)) {
			snprintf(p->state, sizeof p->state, "self");
			continue;
		}
		if (!ka_is_numeric_ip(p->host)) {
			snprintf(p->state, sizeof p->state, "skipped");
			snprintf(p->detail, sizeof p->detail, "not a numeric address: a check never "
				 "waits on DNS");
		} else {
			int64_t share = ka_remaining_ms(deadline) / (int64_t)(r->npeer - i);
			ask_peer(admin, r, p, ka_now_ms() + share);
			asked++;
		}
		if (strcmp(p->state, "in-sync") != 0 && !nbad++)
			bad = p;
	}
	if (!bad && !asked)
		return set_result(r, KA_UNFIT, "cluster", "no peer in runtime_proxysql_servers "
				  "other than this node");
	if (!bad)
		return KA_OK;
	char more[64] = "";
	if (nbad > 1)
		snprintf(more, sizeof more, " (%zu peers of %zu not in sync)", nbad, r->npeer);
	if (strcmp(bad->state, "differs") == 0)
		return set_result(r, KA_UNFIT, "cluster", "cluster peer %s:%u differs in %s%s",
				  bad->host, bad->port, bad->detail, more);
	return set_result(r, KA_UNFIT, "cluster", "cluster peer %s:%u not verified (%s): %s%s",
			  bad->host, bad->port, bad->state, bad->detail, more);
}

/* Runs the checks in order; the first failure decides. Returns the exit code. */
static int run_checks(const struct opts *o, const struct ka_dbaddr *admin,
		      const struct ka_optvals *front, struct ka_db *db, struct result *r,
		      int64_t deadline)
{
	char err[512];
	int code;

	if (ka_db_connect(db, admin, deadline, err, sizeof err) < 0)
		return set_result(r, admin_connect_exit(db, err), "admin", "admin interface: %s",
				  err);
	r->connected = 1;
	if ((code = read_version(db, r, deadline)) != KA_OK ||
	    (code = read_servers(db, r, deadline)) != KA_OK)
		return code;
	if (o->writer_hg >= 0 && (code = check_writers(o, r)) != KA_OK)
		return code;
	if (o->reader_hg >= 0 && (code = check_readers(o, r)) != KA_OK)
		return code;
	if (o->have_frontend && (code = check_frontend(o, front, r, deadline)) != KA_OK)
		return code;
	if (o->cluster && (code = check_cluster(db, admin, r, deadline)) != KA_OK)
		return code;
	return set_result(r, KA_OK, NULL, "healthy");
}

static void print_line(const struct opts *o, const struct result *r, int64_t elapsed)
{
	printf("%s %s", r->code == KA_OK ? "OK" : "FAIL", r->reason);
	printf(" | code=%d admin=%s version=%s", r->code, r->admin,
	       r->version[0] ? r->version : "-");
	if (o->writer_hg >= 0 && r->writers_online >= 0)
		printf(" writers_online=%ld", r->writers_online);
	if (o->reader_hg >= 0 && r->readers_online >= 0)
		printf(" readers_online=%ld", r->readers_online);
	if (o->have_frontend)
		printf(" backend=%s", r->frontend_backend[0] ? r->frontend_backend : "-");
	if (o->cluster && r->have_peers)
		printf(" peers=%zu", r->npeer);
	printf(" elapsed_ms=%lld\n", (long long)elapsed);
}

static void json_servers(struct ka_json *j, const struct result *r)
{
	ka_json_int(j, "servers_total", (long long)r->nsrv);
	ka_json_arr_open(j, "servers");
	for (size_t i = 0; i < r->nsrv && i < MAX_JSON_SERVERS; i++) {
		ka_json_obj_open(j, NULL);
		ka_json_int(j, "hostgroup", r->srv[i].hg);
		ka_json_str(j, "host", r->srv[i].host);
		ka_json_int(j, "port", r->srv[i].port);
		ka_json_str(j, "status", r->srv[i].status);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
}

static void json_cluster(struct ka_json *j, const struct result *r, int details)
{
	if (r->have_modules) {
		ka_json_obj_open(j, "checksums");
		for (size_t i = 0; i < r->nmod; i++)
			ka_json_str(j, r->mod[i].name, r->mod[i].checksum);
		ka_json_obj_close(j);
	}
	if (!r->have_peers)
		return;
	ka_json_arr_open(j, "peers");
	for (size_t i = 0; i < r->npeer; i++) {
		ka_json_obj_open(j, NULL);
		ka_json_str(j, "host", r->peer[i].host);
		ka_json_int(j, "port", r->peer[i].port);
		ka_json_str(j, "state", r->peer[i].state[0] ? r->peer[i].state : "not-asked");
		ka_json_str(j, "detail", details && r->peer[i].detail[0] ? r->peer[i].detail : NULL);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
}

static void json_count(struct ka_json *j, const char *key, long v)
{
	if (v >= 0)
		ka_json_int(j, key, v);
	else
		ka_json_null(j, key);
}

/* Builds the JSON result into j; full 0 leaves out the server list and peer details. */
static void build_json(struct ka_json *j, const struct opts *o, const struct result *r,
		       int64_t elapsed, int full)
{
	ka_json_begin(j);
	ka_json_str(j, "status", r->code == KA_OK ? "OK" : "FAIL");
	ka_json_int(j, "code", r->code);
	ka_json_str(j, "code_name", ka_exit_name(r->code));
	ka_json_str(j, "reason", r->reason);
	ka_json_str(j, "failed", r->failed);
	ka_json_str(j, "admin", r->admin);
	ka_json_str(j, "version", r->version[0] ? r->version : NULL);
	if (o->writer_hg >= 0) {
		ka_json_int(j, "writer_hostgroup", o->writer_hg);
		json_count(j, "writers_online", r->writers_online);
	}
	if (o->reader_hg >= 0) {
		ka_json_int(j, "reader_hostgroup", o->reader_hg);
		json_count(j, "readers_online", r->readers_online);
		ka_json_int(j, "min_readers", o->min_readers);
	}
	if (o->have_frontend) {
		char target[80];
		snprintf(target, sizeof target, "%s:%u", o->frontend.host, o->frontend.port);
		ka_json_str(j, "frontend", target);
		ka_json_str(j, "backend", r->frontend_backend[0] ? r->frontend_backend : NULL);
	}
	if (r->have_servers && full)
		json_servers(j, r);
	json_cluster(j, r, full);
	ka_json_int(j, "elapsed_ms", elapsed);
	ka_json_end(j);
}

/* One JSON object on stdout; a result too big for the buffer loses its lists first. */
static void print_json(const struct opts *o, const struct result *r, int64_t elapsed)
{
	static struct ka_json j;

	build_json(&j, o, r, elapsed, 1);
	if (j.overflow)
		build_json(&j, o, r, elapsed, 0);
	printf("%s\n", j.buf);
}

/* --verbose, servers per hostgroup: one line per hostgroup. */
static void report_servers(const struct result *r)
{
	fprintf(stderr, "  -- servers per hostgroup (runtime_mysql_servers)\n");
	if (!r->nsrv)
		fprintf(stderr, "  (none)\n");
	for (size_t i = 0; i < r->nsrv; i++) {
		if (i == 0 || r->srv[i].hg != r->srv[i - 1].hg)
			fprintf(stderr, "%s  hostgroup %-8ld", i ? "\n" : "", r->srv[i].hg);
		else
			fprintf(stderr, ",");
		fprintf(stderr, " %s:%u %s", r->srv[i].host, r->srv[i].port, r->srv[i].status);
	}
	if (r->nsrv)
		fprintf(stderr, "\n");
}

static void report_replication_hostgroups(struct ka_db *db, int64_t deadline)
{
	char err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;

	fprintf(stderr, "  -- replication hostgroups (runtime_mysql_replication_hostgroups)\n");
	if (ka_db_query(db, Q_REPL_HG, &res, deadline, err, sizeof err) < 0) {
		fprintf(stderr, "  (%s)\n", err);
		return;
	}
	if (!res || !mysql_num_rows(res))
		fprintf(stderr, "  (none)\n");
	while (res && (row = mysql_fetch_row(res)))
		fprintf(stderr, "  writer %s reader %s check_type %s\n", row[0] ? row[0] : "NULL",
			row[1] ? row[1] : "NULL", row[2] ? row[2] : "NULL");
	if (res)
		mysql_free_result(res);
}

/* --verbose: a diagnostic report for an operator, to stderr, best effort. */
static void print_report(struct ka_db *db, struct result *r, int64_t deadline)
{
	fprintf(stderr, PROG ": report for admin interface '%s'\n", r->admin);
	fprintf(stderr, "  %-20s %s\n", "version", r->version[0] ? r->version : "?");
	if (r->have_servers)
		report_servers(r);
	report_replication_hostgroups(db, deadline);
	fprintf(stderr, "  -- checksums (runtime_checksums_values)\n");
	if (!r->have_modules) {
		char err[512];
		if (read_checksums(db, r->mod, &r->nmod, deadline, err, sizeof err) < 0)
			fprintf(stderr, "  (%s)\n", err);
		else
			r->have_modules = 1;
	}
	for (size_t i = 0; i < r->nmod; i++)
		fprintf(stderr, "  %-20s version %s epoch %s checksum %s\n", r->mod[i].name,
			r->mod[i].version, r->mod[i].epoch, r->mod[i].checksum);
	if (!r->have_peers)
		return;
	fprintf(stderr, "  -- cluster peers (runtime_proxysql_servers)\n");
	for (size_t i = 0; i < r->npeer; i++)
		fprintf(stderr, "  %s:%u %s%s%s\n", r->peer[i].host, r->peer[i].port,
			r->peer[i].state[0] ? r->peer[i].state : "not-asked",
			r->peer[i].detail[0] ? ": " : "", r->peer[i].detail);
}

/* Reads the option file(s) and resolves the admin address. Returns KA_OK or KA_CONFIG
 * with the reason set. */
static int load_config(const struct opts *o, struct ka_optvals *adminv,
		       struct ka_optvals *frontv, struct ka_dbaddr *admin, char *hostbuf,
		       size_t hostlen, struct result *r)
{
	char err[512];

	if (ka_optfile_check(o->defaults_file, err, sizeof err) < 0 ||
	    ka_optfile_read(o->defaults_file, admin_groups, adminv, err, sizeof err) < 0 ||
	    admin_address(o, adminv, admin, hostbuf, hostlen, err, sizeof err) < 0 ||
	    (o->have_frontend && frontend_credentials(o->defaults_file, frontv, err,
						      sizeof err) < 0))
		return set_result(r, KA_CONFIG, "config", "%s", err);
	if (admin->host)
		snprintf(r->admin, sizeof r->admin, "%s:%u", admin->host, admin->port);
	else
		snprintf(r->admin, sizeof r->admin, "%s", admin->socket);
	return KA_OK;
}

int main(int argc, char **argv)
{
	static struct result r = { .writers_online = -1, .readers_online = -1 };
	struct opts o;
	struct ka_optvals adminv, frontv;
	struct ka_dbaddr admin;
	struct ka_db db = { 0 };
	char err[512], hostbuf[64];

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
	snprintf(r.admin, sizeof r.admin, "-");
	if (load_config(&o, &adminv, &frontv, &admin, hostbuf, sizeof hostbuf, &r) == KA_OK) {
		run_checks(&o, &admin, &frontv, &db, &r, deadline);
		if (o.verbose && r.connected && !db.timed_out)
			print_report(&db, &r, deadline);
	}
	ka_db_close(&db);
	int64_t elapsed = ka_now_ms() - r.started;
	if (o.json)
		print_json(&o, &r, elapsed);
	else
		print_line(&o, &r, elapsed);
	if (r.code != KA_OK)
		ka_log_warn("FAIL (exit %d, %s): %s", r.code, ka_exit_name(r.code), r.reason);
	free(r.srv);
	return r.code;
}
