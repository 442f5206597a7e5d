/* ka-status: the whole cluster at a glance, by hand and for Prometheus.
 *
 * How a run goes: one deadline (--timeout, default 1000 ms) bounds the asking of every
 * node and of the VIP, all at once on the non-blocking API (lib/dbmulti), so a dead or
 * hung node costs at most the deadline whatever the node count. The answers are judged
 * (check/status-verdict.c) into roles, errant GTIDs, findings and one verdict whose exit
 * code is in the shared table: OK 0, SPLIT BRAIN 11, DEGRADED 12, NO PRIMARY 13,
 * DIVERGED 14. The run is told as a table ending in one verdict line (or --json), and
 * --prom writes the same as Prometheus metrics. --watch repeats until SIGINT/SIGTERM.
 * No writes to any server, no locks: safe to run anywhere, any number of times.
 */
#include "status.h"

#include "args.h"
#include "deadline.h"
#include "exitcode.h"
#include "log.h"
#include "sig.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const client_groups[] = { "client", "client-server", "client-mariadb",
					      PROG, NULL };
static volatile sig_atomic_t stop;

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " --defaults-file FILE --nodes IP[:PORT],IP[:PORT][,...] [--vip IP[:PORT]]\n"
"       [--state-dir DIR] [--timeout MS] [--max-lag SECONDS] [--json] [--prom FILE]\n"
"       [--watch SECONDS] [--verbose]\n"
"       " PROG " --list-exit-codes | --help | --version\n");
}

/* Appends the nodes of list ("IP[:PORT],...") to o; each once. */
static int parse_nodes(struct st_opts *o, const char *list, char *err, size_t errlen)
{
	char buf[4096], *save = NULL, *tok;

	if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf) {
		snprintf(err, errlen, "--nodes list is too long");
		return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nnodes == ST_MAX_NODES) {
			snprintf(err, errlen, "too many nodes for --nodes (at most %d)", ST_MAX_NODES);
			return -1;
		}
		struct st_addr *nd = &o->node[o->nnodes];
		if (ka_parse_hostport("--nodes", tok, 3306, nd->host, sizeof nd->host, &nd->port,
				      err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < o->nnodes; i++)
			if (!strcmp(o->node[i].host, nd->host) && o->node[i].port == nd->port) {
				snprintf(err, errlen, "node '%s' is named twice in --nodes", tok);
				return -1;
			}
		o->nnodes++;
	}
	if (!o->nnodes) {
		snprintf(err, errlen, "--nodes needs at least one IP[:PORT]");
		return -1;
	}
	return 0;
}

/* One option of ours (not a shared one). Returns 0, or -1 with err filled. */
static int parse_option(struct st_opts *o, int c, char *err, size_t errlen)
{
	switch (c) {
	case 'f': o->defaults_file = optarg; return 0;
	case 'n': return parse_nodes(o, optarg, err, errlen);
	case 'a':
		o->have_vip = 1;
		return ka_parse_hostport("--vip", optarg, 3306, o->vip.host, sizeof o->vip.host,
					 &o->vip.port, err, errlen);
	case 'd': o->state_dir = optarg; return 0;
	case 'p': o->prom_file = optarg; return 0;
	case 't':
		return ka_parse_long("--timeout", optarg, 10, 60000, &o->timeout_ms, err, errlen);
	case 'l':
		return ka_parse_long("--max-lag", optarg, 0, 31536000, &o->max_lag, err, errlen);
	case 'w':
		return ka_parse_long("--watch", optarg, 1, 86400, &o->watch_s, err, errlen);
	case 'j': o->json = 1; return 0;
	default:  o->verbose = 1; return 0;   /* 'v' */
	}
}

/* Parses argv into o. Returns -1 (usage error, err filled), 0, or 1 when the run is
 * already done (--help, --version, --list-exit-codes). */
static int parse_args(int argc, char **argv, struct st_opts *o, char *err, size_t errlen)
{
	static const struct option lo[] = {
		{ "defaults-file", required_argument, 0, 'f' },
		{ "nodes", required_argument, 0, 'n' },
		{ "vip", required_argument, 0, 'a' },
		{ "state-dir", required_argument, 0, 'd' },
		{ "timeout", required_argument, 0, 't' },
		{ "max-lag", required_argument, 0, 'l' },
		{ "prom", required_argument, 0, 'p' },
		{ "watch", required_argument, 0, 'w' },
		KA_COMMON_LONG_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->timeout_ms = 1000;
	o->max_lag = 30;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (c && strchr("fnadptlwjv", c)) {
			if (parse_option(o, c, err, errlen) < 0)
				return -1;
			continue;
		}
		return ka_args_common(c, PROG " " VERSION, usage, argv, err, errlen);
	}
	if (ka_args_no_operands(argc, argv, err, errlen) < 0)
		return -1;
	if (!o->nnodes || !o->defaults_file) {
		snprintf(err, errlen, "%s is required", !o->nnodes ? "--nodes" : "--defaults-file");
		return -1;
	}
	if (o->state_dir && !*o->state_dir) {
		snprintf(err, errlen, "--state-dir needs a path");
		return -1;
	}
	return 0;
}

/* Credentials from the option file only. Returns 0, or -1 with err filled (exit 78). */
static int load_creds(struct st_opts *o, char *err, size_t errlen)
{
	if (ka_optfile_check(o->defaults_file, err, errlen) < 0)
		return -1;
	return ka_optfile_read(o->defaults_file, client_groups, &o->creds, err, errlen);
}

/* Tells one finished run: table or JSON, and the Prometheus file. Returns 0, or -1
 * when the Prometheus file could not be written. */
static int tell(const struct st_opts *o, const struct st_cluster *c, int watching)
{
	char err[700];

	if (watching && !o->json) {
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		printf("%s every %ld s, %s (SIGINT or SIGTERM ends it)\n", PROG, o->watch_s,
		       c->time);
	}
	if (o->json)
		st_print_json(o, c, stdout);
	else
		st_print_table(o, c, stdout);
	if (o->prom_file && st_write_prom(o, c, o->prom_file, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return -1;
	}
	return 0;
}

/* One run. Returns the verdict's exit code, KA_CONFIG when --prom failed, or -1 when
 * interrupted (nothing told). */
static int run_once(const struct st_opts *o, struct st_cluster *c, int watching)
{
	int64_t t0 = ka_now_ms();
	int code;

	memset(c, 0, sizeof *c);
	ka_wallclock_iso(c->time, sizeof c->time);
	if (st_probe(o, c, &stop) < 0) {
		st_free(c);
		return -1;
	}
	st_judge(o, c);
	if (o->state_dir) {
		c->have_journal = 1;
		st_journal_read(o->state_dir, &c->journal);
	}
	c->elapsed_ms = ka_now_ms() - t0;
	code = tell(o, c, watching) < 0 ? KA_CONFIG : c->code;
	for (int i = 0; i < c->nfindings; i++)
		ka_log_debug("finding: %s", c->finding[i]);
	st_free(c);
	return code;
}

/* Sleeps until the monotonic time `until` or a signal sets stop. */
static void sleep_until(int64_t until)
{
	while (!stop) {   /* bounded: each pass sleeps what is left, at most the interval */
		int64_t left = ka_remaining_ms(until);
		if (left <= 0)
			return;
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* --watch: a run every watch_s seconds until SIGINT/SIGTERM. Returns the last verdict's
 * exit code (KA_TIMEOUT when interrupted before the first run ended). */
static int watch(const struct st_opts *o, struct st_cluster *c)
{
	int code = KA_TIMEOUT;

	while (!stop) {
		int64_t next = ka_now_ms() + o->watch_s * 1000;
		int r = run_once(o, c, 1);
		if (r < 0)
			break;
		code = r;
		sleep_until(next);
	}
	return code;
}

int main(int argc, char **argv)
{
	static struct st_opts o;
	static struct st_cluster c;   /* large: histories of every node */
	char err[512];
	int code;

	switch (parse_args(argc, argv, &o, err, sizeof err)) {
	case 1:
		return KA_OK;
	case -1:
		return ka_args_usage_error(PROG, err, usage);
	}
	ka_log_open(PROG, o.verbose);
	if (load_creds(&o, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return KA_CONFIG;
	}
	ka_sig_flag_on_term(&stop);
	if (o.watch_s)
		return watch(&o, &c);
	code = run_once(&o, &c, 0);
	if (code < 0) {
		ka_log_err("interrupted before every node answered");
		return KA_TIMEOUT;
	}
	return code;
}
