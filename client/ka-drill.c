/* ka-drill: writes rows at a fixed rate through client/failover.[ch] and proves, at the
 * end, that no acknowledged write was lost or applied twice.
 *
 * How a run goes: pick a random run id (ids are run << 32 | seq, so repeated drills on
 * one table never collide); connect to the first usable endpoint and create the
 * database and table if missing; then every 1/rate s write one row with the next id
 * (an autocommit INSERT: the statement is its own COMMIT). An OK is an acknowledgement.
 * A write lost after it was sent is ambiguous: after the reconnect the drill fences the
 * old session (ka_fo_fence) and looks the id up: present => committed (acknowledged
 * late), absent => not committed (inserted again, same id); the look-up and the
 * re-insert stay on the session the fence ended on, and the resolution starts over
 * when that session moved. Every error, switch and acknowledgement is recorded with
 * its time since start. At --duration (or SIGINT / SIGTERM) writing stops, and
 * drill_verify() counts the run's rows on the current primary (and the other nodes
 * with --verify-all / --verify-hosts, whose replication from the primary it checks).
 */
#include "drill.h"

#include "args.h"
#include "deadline.h"
#include "exitcode.h"
#include "log.h"
#include "optfile.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define VERSION "0.1.0"
#define RESOLVE_TRIES 3   /* starts of one resolution when the session keeps moving */

static const char *const client_groups[] = { "client", "client-server", "client-mariadb",
					      DRILL_PROG, NULL };

static struct drill drill;      /* large: kept off the stack */
static struct ka_optvals creds;
static volatile sig_atomic_t stop_flag;

static void usage(FILE *f)
{
	fprintf(f,
"usage: " DRILL_PROG " --hosts IP:PORT[,IP:PORT...] [--defaults-file FILE] [--database NAME]\n"
"       [--rate N] [--duration SECONDS] [--timeout MS] [--failover-timeout MS]\n"
"       [--retry-interval MS] [--retry-timeout MS] [--hung-probe-ms MS]\n"
"       [--verify-all] [--verify-hosts IP:PORT[,IP:PORT...]] [--json] [--verbose]\n"
"       " DRILL_PROG " --list-exit-codes | --help | --version\n");
}

/* --list-exit-codes prints the suite's one table; ka-drill uses 0-5, 64 and 78 (man page). */
static int parse_database(const char *s, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0 || n >= outlen || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_") != n) {
		snprintf(err, errlen, "invalid value '%s' for --database: expected 1 to %zu letters, "
			 "digits or '_'", s, outlen - 1);
		return -1;
	}
	memcpy(out, s, n + 1);
	return 0;
}

static int parse_extra(struct drill_opts *o, const char *list, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nextra == KA_FO_MAX_ENDPOINTS) {
			snprintf(err, errlen, "too many addresses for --verify-hosts (at most %d)",
				 KA_FO_MAX_ENDPOINTS);
			return -1;
		}
		struct ka_fo_endpoint *ep = &o->extra[o->nextra++];
		if (ka_parse_hostport("--verify-hosts", tok, 3306, ep->host, sizeof ep->host,
				      &ep->port, err, errlen) < 0)
			return -1;
	}
	if (!o->nextra) {
		snprintf(err, errlen, "--verify-hosts needs at least one IP:PORT");
		return -1;
	}
	return 0;
}

/* --hung-probe-ms: 0 (off), or 50 to 60000: a shorter wait would make side connections
 * for statements that are merely not instant. */
static int parse_hung_probe(const char *s, long *out, char *err, size_t errlen)
{
	if (ka_parse_long("--hung-probe-ms", s, 0, 60000, out, err, errlen) < 0 ||
	    (*out > 0 && *out < 50)) {
		snprintf(err, errlen, "invalid value '%s' for --hung-probe-ms: expected 0 (off) "
			 "or an integer from 50 to 60000", s);
		return -1;
	}
	return 0;
}

/* Parses argv into o. Returns -1 (usage error, err filled), 0, or 1 when done already. */
static int parse_args(int argc, char **argv, struct drill_opts *o, char *err, size_t errlen)
{
	static const struct option lo[] = {
		{ "hosts", required_argument, 0, 'h' },
		{ "defaults-file", required_argument, 0, 'f' },
		{ "database", required_argument, 0, 'd' },
		{ "rate", required_argument, 0, 'r' },
		{ "duration", required_argument, 0, 'D' },
		{ "timeout", required_argument, 0, 't' },
		{ "failover-timeout", required_argument, 0, 'F' },
		{ "retry-interval", required_argument, 0, 'i' },
		{ "retry-timeout", required_argument, 0, 'T' },
		{ "hung-probe-ms", required_argument, 0, 'p' },
		{ "verify-all", no_argument, 0, 'a' },
		{ "verify-hosts", required_argument, 0, 'x' },
		KA_COMMON_LONG_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	ka_fo_defaults(&o->fo);
	snprintf(o->database, sizeof o->database, "ka_drill");
	o->rate = 10;
	o->timeout_ms = 2000;
	o->failover_timeout_ms = 5000;
	o->retry_interval_ms = o->fo.retry_interval_ms;
	o->retry_timeout_ms = o->fo.retry_connect_timeout_ms;
	o->hung_probe_ms = o->fo.hung_probe_ms;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			if (ka_fo_parse_endpoints(&o->fo, optarg, 3306, err, errlen) < 0)
				return -1;
			break;
		case 'f': o->defaults_file = optarg; break;
		case 'd':
			if (parse_database(optarg, o->database, sizeof o->database, err, errlen) < 0)
				return -1;
			break;
		case 'r':
			if (ka_parse_long("--rate", optarg, 1, 1000, &o->rate, err, errlen) < 0)
				return -1;
			break;
		case 'D':
			if (ka_parse_long("--duration", optarg, 0, 86400, &o->duration_s, err,
					  errlen) < 0)
				return -1;
			break;
		case 't':
			if (ka_parse_long("--timeout", optarg, 50, 60000, &o->timeout_ms, err,
					  errlen) < 0)
				return -1;
			break;
		case 'F':
			if (ka_parse_long("--failover-timeout", optarg, 50, 600000,
					  &o->failover_timeout_ms, err, errlen) < 0)
				return -1;
			break;
		case 'i':
			if (ka_parse_long("--retry-interval", optarg, 5, 10000,
					  &o->retry_interval_ms, err, errlen) < 0)
				return -1;
			break;
		case 'T':
			if (ka_parse_long("--retry-timeout", optarg, 50, 60000,
					  &o->retry_timeout_ms, err, errlen) < 0)
				return -1;
			break;
		case 'p':
			if (parse_hung_probe(optarg, &o->hung_probe_ms, err, errlen) < 0)
				return -1;
			break;
		case 'a': o->verify_all = 1; break;
		case 'x':
			if (parse_extra(o, optarg, err, errlen) < 0)
				return -1;
			break;
		case 'j': o->json = 1; break;
		case 'v': o->verbose = 1; break;
		default:
			return ka_args_common(c, DRILL_PROG " " VERSION, usage, argv, err, errlen);
		}
	}
	if (ka_args_no_operands(argc, argv, err, errlen) < 0)
		return -1;
	if (o->fo.n == 0) {
		snprintf(err, errlen, "--hosts is required");
		return -1;
	}
	return 0;
}

/* First signal: stop writing, verify, report. Second: give up at once. */
static void on_signal(int sig)
{
	static const char msg[] = DRILL_PROG ": interrupted again, no report\n";

	(void)sig;
	if (stop_flag) {
		(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
		_exit(KA_TIMEOUT);
	}
	stop_flag = 1;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static uint32_t random_run_id(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ (uint32_t)ka_now_ms();
	r &= 0x7fffffffu;
	return r ? r : 1;
}

/* Creates the database and table unless they exist. Returns an exit code. */
static int setup_table(struct drill *d)
{
	char sql[512], err[512];
	int rc;

	snprintf(sql, sizeof sql, "SELECT 1 FROM `%s`.drill LIMIT 0", d->o.database);
	if (ka_fo_exec(&d->fo, sql, KA_FO_READ, NULL, err, sizeof err) == KA_FO_OK)
		return KA_OK;
	snprintf(sql, sizeof sql, "CREATE DATABASE IF NOT EXISTS `%s`", d->o.database);
	rc = ka_fo_exec(&d->fo, sql, KA_FO_IDEMPOTENT, NULL, err, sizeof err);
	/* An account with rights on the database only may not create it: try the table. */
	if (rc == KA_FO_OK || rc == KA_FO_SQL_ERROR) {
		snprintf(sql, sizeof sql,
			 "CREATE TABLE IF NOT EXISTS `%s`.drill ("
			 "pk BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
			 "id BIGINT UNSIGNED NOT NULL, "
			 "payload VARCHAR(64) NOT NULL, "
			 "ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), "
			 "KEY by_id (id)) ENGINE=InnoDB", d->o.database);
		rc = ka_fo_exec(&d->fo, sql, KA_FO_IDEMPOTENT, NULL, err, sizeof err);
	}
	if (rc == KA_FO_OK)
		return KA_OK;
	snprintf(d->reason, sizeof d->reason, "cannot set up table '%s.drill': %s",
		 d->o.database, err);
	if (rc == KA_FO_SQL_ERROR)
		return ka_exit_for_errno(d->fo.err, 0);
	return ka_fo_exit_code(&d->fo);
}

/* Errors after which the session is no writer any more: read-only, killed, shutdown. */
static int writer_gone(unsigned int err)
{
	return err == 1290 || err == 1836 || err == 1927 || err == 1053;
}

static void copy_server(char *dst, size_t len, const struct ka_fo *fo)
{
	const char *cur = ka_fo_current(fo);

	snprintf(dst, len, "%s", cur ? cur : "none");
}

/* Writes row seq once: acknowledged, failed, or ambiguous (queued for lookup). */
static void write_one(struct drill *d, uint32_t seq)
{
	char sql[256], err[512], server[DRILL_NAME];
	int64_t t = drill_ms(d);
	int rc;

	snprintf(sql, sizeof sql, "INSERT INTO `%s`.drill (id, payload) VALUES (%llu, "
		 "'ka-drill %s %u')", d->o.database, (unsigned long long)drill_id(d, seq),
		 d->run_hex, seq);
	unsigned long switches = d->switches_total;

	copy_server(server, sizeof server, &d->fo);
	d->attempted++;
	rc = ka_fo_exec(&d->fo, sql, 0, NULL, err, sizeof err);
	int64_t took = drill_ms(d) - t;
	if (took > d->max_write_ms)
		d->max_write_ms = took;
	switch (rc) {
	case KA_FO_OK:
		if (d->switches_total != switches)
			drill_open_outage(d, t);   /* it waited through a failover */
		copy_server(server, sizeof server, &d->fo);
		drill_ack(d, seq, drill_ms(d), server, d->fo.server_id);
		return;
	case KA_FO_AMBIGUOUS:
		d->state[seq] = W_AMBIGUOUS;
		d->ambiguous++;
		drill_add_pending(d, seq, d->fo.amb_thread_id, d->fo.amb_server_id);
		break;
	default:
		d->state[seq] = W_FAILED;
		d->failed++;
		if (rc == KA_FO_SQL_ERROR && writer_gone(d->fo.err))
			ka_fo_disconnect(&d->fo, err);
		break;
	}
	drill_fail(d, t, rc, d->fo.timed_out ? 0 : d->fo.err, server, err);
}

static void drop_pending(struct drill *d)
{
	memmove(&d->pending[0], &d->pending[1], (d->npending - 1) * sizeof d->pending[0]);
	d->npending--;
}

/* Looks write seq up on the writer session only (never re-run elsewhere). Returns 1
 * present, 0 absent, -1 failed (err filled). */
static int lookup(struct drill *d, uint32_t seq, char *err, size_t errlen)
{
	char sql[256];
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int present;

	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM `%s`.drill WHERE id = %llu",
		 d->o.database, (unsigned long long)drill_id(d, seq));
	if (ka_fo_exec(&d->fo, sql, KA_FO_READ | KA_FO_PINNED, &res, err, errlen) != KA_FO_OK)
		return -1;
	row = res ? mysql_fetch_row(res) : NULL;
	present = row && row[0] && strcmp(row[0], "0") != 0;
	if (res)
		mysql_free_result(res);
	return present;
}

/* One try at resolving p: fence, look up, re-insert when absent, the look-up and the
 * re-insert on the session the fence ended on (the fence holds for that server only).
 * Returns 0 resolved, -1 must wait (the failure is recorded), 1 the session moved
 * during the try: start over. */
static int resolve_on_one_session(struct drill *d, struct drill_pending *p, int64_t t)
{
	char sql[256], err[512], server[DRILL_NAME];
	unsigned long sw;
	int rc, present;

	d->fo.amb_thread_id = p->thread_id;
	d->fo.amb_server_id = p->server_id;
	if (ka_fo_fence(&d->fo, err, sizeof err) < 0) {
		copy_server(server, sizeof server, &d->fo);
		drill_fail(d, t, KA_FO_UNAVAILABLE, d->fo.err, server, err);
		return -1;
	}
	sw = d->fo.switches;
	present = lookup(d, p->seq, err, sizeof err);
	copy_server(server, sizeof server, &d->fo);
	if (d->fo.switches != sw)
		return 1;
	if (present < 0) {
		drill_fail(d, t, KA_FO_UNAVAILABLE, d->fo.err, server, err);
		return -1;
	}
	if (present) {
		ka_log_debug("ambiguous write %u: present on %s, committed", p->seq, server);
		d->amb_committed++;
		drill_ack(d, p->seq, drill_ms(d), server, d->fo.server_id);
		return 0;
	}
	snprintf(sql, sizeof sql, "INSERT INTO `%s`.drill (id, payload) VALUES (%llu, "
		 "'ka-drill %s %u again')", d->o.database,
		 (unsigned long long)drill_id(d, p->seq), d->run_hex, p->seq);
	rc = ka_fo_exec(&d->fo, sql, KA_FO_PINNED, NULL, err, sizeof err);
	if (rc == KA_FO_OK) {
		ka_log_debug("ambiguous write %u: absent on %s, inserted again", p->seq, server);
		d->amb_reinserted++;
		drill_ack(d, p->seq, drill_ms(d), server, d->fo.server_id);
		return 0;
	}
	if (rc == KA_FO_TXN_LOST)        /* not sent: the session was gone, start over */
		return 1;
	if (rc == KA_FO_AMBIGUOUS) {     /* the re-insert was lost too: fence that one next */
		p->thread_id = d->fo.amb_thread_id;
		p->server_id = d->fo.amb_server_id;
	} else if (rc == KA_FO_SQL_ERROR && writer_gone(d->fo.err)) {
		ka_fo_disconnect(&d->fo, err);
	}
	drill_fail(d, t, rc, d->fo.timed_out ? 0 : d->fo.err, server, err);
	return -1;
}

/* Resolves the oldest ambiguous write, starting over (RESOLVE_TRIES times at most)
 * when the session moved to another server in the middle: a fence on one server and
 * a look-up or re-insert on another would prove nothing. Returns 0 when resolved, -1
 * when it must wait. */
static int resolve_one(struct drill *d)
{
	int64_t t = drill_ms(d);
	char server[DRILL_NAME], msg[128];

	for (int try = 0; try < RESOLVE_TRIES && !*d->stop; try++) {
		int r = resolve_on_one_session(d, &d->pending[0], t);
		if (r <= 0) {
			if (r == 0)
				drop_pending(d);
			return r;
		}
		d->resolution_restarts++;
		ka_log_debug("ambiguous write %u: the session moved during its resolution, "
			     "starting over", d->pending[0].seq);
	}
	copy_server(server, sizeof server, &d->fo);
	snprintf(msg, sizeof msg, "ambiguous write %u: the session moved during each of %d "
		 "resolutions", d->pending[0].seq, RESOLVE_TRIES);
	drill_fail(d, t, KA_FO_UNAVAILABLE, d->fo.err, server, msg);
	return -1;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);   /* a signal cuts it short: the loop looks at stop_flag */
}

/* The write loop: one write per 1/rate s, no burst after a stall. */
static void run_writes(struct drill *d)
{
	int64_t start = drill_ms(d), period = 1000 / d->o.rate, next_progress = 0;
	int64_t end = d->o.duration_s ? start + d->o.duration_s * 1000 : 0;
	uint64_t k = 0;
	int tty = isatty(STDOUT_FILENO) && !d->o.json;

	d->fo.hard_deadline = end ? d->t0 + end : 0;
	while (!*d->stop) {
		int64_t now = drill_ms(d);
		if (end && now >= end)
			break;
		if (tty && now >= next_progress) {
			drill_print_progress(d);
			next_progress = now + 250;
		}
		int64_t due = start + (int64_t)(k * 1000 / (uint64_t)d->o.rate);
		if (now < due) {
			int64_t wait = due - now;
			sleep_ms(wait < 50 ? wait : 50);
			continue;
		}
		if (now - due > period)   /* fell behind (a stall): resume the cadence from now */
			k = (uint64_t)(now - start) * (uint64_t)d->o.rate / 1000;
		while (d->npending && !*d->stop && resolve_one(d) == 0)
			;
		if (d->next_seq > d->cap) {
			d->full = 1;
			ka_log_warn("write log full after %u writes: stopping", d->cap);
			break;
		}
		write_one(d, d->next_seq++);
		k++;
	}
	d->t_end = drill_ms(d);
	if (d->in_outage) {
		d->cur_outage.open = 1;
		drill_close_outage(d, d->t_end);
	}
	if (tty) {
		drill_print_progress(d);
		printf("\n");
	}
}

static int read_credentials(const struct drill_opts *o, char *err, size_t errlen)
{
	memset(&creds, 0, sizeof creds);
	if (!o->defaults_file)
		return 0;
	if (ka_optfile_check(o->defaults_file, err, errlen) < 0 ||
	    ka_optfile_read(o->defaults_file, client_groups, &creds, err, errlen) < 0)
		return -1;
	return 0;
}

static int finish(struct drill *d, int code)
{
	d->code = code;
	if (d->o.json)
		drill_print_json(d);
	else
		drill_print_human(d);
	if (code != KA_OK)
		ka_log_warn("FAIL (exit %d, %s): %s", code, ka_exit_name(code), d->reason);
	ka_fo_close(&d->fo);
	drill_record_free(d);
	return code;
}

int main(int argc, char **argv)
{
	struct drill *d = &drill;
	char err[512];
	int code;

	d->t0 = ka_now_ms();
	switch (parse_args(argc, argv, &d->o, err, sizeof err)) {
	case 1:
		return KA_OK;
	case -1:
		return ka_args_usage_error(DRILL_PROG, err, usage);
	}
	ka_log_open(DRILL_PROG, d->o.verbose);
	if (read_credentials(&d->o, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return KA_CONFIG;
	}
	install_signals();
	d->stop = &stop_flag;
	d->run = random_run_id();
	snprintf(d->run_hex, sizeof d->run_hex, "%08x", d->run);
	d->o.fo.user = creds.user[0] ? creds.user : NULL;
	d->o.fo.password = creds.password[0] ? creds.password : NULL;
	d->o.fo.connect_timeout_ms = d->o.timeout_ms;
	d->o.fo.query_timeout_ms = d->o.timeout_ms;
	d->o.fo.failover_timeout_ms = d->o.failover_timeout_ms;
	d->o.fo.retry_interval_ms = d->o.retry_interval_ms;
	d->o.fo.retry_connect_timeout_ms = d->o.retry_timeout_ms;
	d->o.fo.hung_probe_ms = d->o.hung_probe_ms;
	d->o.fo.on_switch = drill_on_switch;
	d->o.fo.arg = d;
	d->o.fo.cancel = &stop_flag;
	uint32_t cap = DRILL_MAX_WRITES;
	if (d->o.duration_s && d->o.rate * (d->o.duration_s + 2) < (long)cap)
		cap = (uint32_t)(d->o.rate * (d->o.duration_s + 2));
	if (drill_record_init(d, cap, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return KA_UNFIT;
	}
	if (ka_fo_open(&d->fo, &d->o.fo, err, sizeof err) < 0) {
		snprintf(d->reason, sizeof d->reason, "no endpoint reachable: %s", err);
		return finish(d, ka_fo_exit_code(&d->fo));
	}
	if ((code = setup_table(d)) != KA_OK)
		return finish(d, code);
	ka_log_debug("run %s: writing to `%s`.drill through %s at %ld/s", d->run_hex,
		     d->o.database, ka_fo_current(&d->fo), d->o.rate);
	run_writes(d);
	d->fo.cfg.cancel = NULL;   /* a second signal now ends the process (on_signal) */
	return finish(d, drill_verify(d));
}
