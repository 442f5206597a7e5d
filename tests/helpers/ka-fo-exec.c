/* Test driver for client/failover.[ch]: runs each SQL argument through ka_fo_exec() and
 * prints one line per statement, so bats can see what the library did.
 *
 *   ka-fo-exec [--defaults-file FILE] [--read-secondary] [--idempotent] [--read] [--pinned]
 *              [--timeout MS] [--no-writable-check] [--hung-probe MS] [--measure]
 *              HOSTS SQL|raw:SQL|sleep:MS|disconnect...
 *
 * raw:SQL runs SQL the seed's way (blocking mysql_real_query on ka_fo_mysql(), then
 * ka_failover() with its errno) and prints "raw errno=<n> failover=<0|1|2|-1> server=...".
 *
 * Line per statement: "<result> errno=<n> server=<IP:PORT|none> switches=<n>
 * value=<row 1 column 1>"; each switch adds "switch <from> -> <to> errno=<n>". --measure
 * adds " ms=<the call's duration> probes=<side connections> abandoned=<n>" (totals) to
 * each statement's line; --hung-probe sets hung_probe_ms (0 off).
 * Compiled by the tests (see tests/integration/ka-drill.bats), not by the Makefile.
 */
#include "deadline.h"
#include "failover.h"
#include "optfile.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void on_switch(const struct ka_fo_switch *sw, void *arg)
{
	(void)arg;
	printf("switch %s -> %s errno=%u\n", sw->from_name, sw->to_name, sw->err);
}

static int measure;

static void run_one(struct ka_fo *fo, const char *sql, int flags)
{
	char err[512], value[256] = "";
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int64_t t0 = ka_now_ms();
	int rc = ka_fo_exec(fo, sql, flags, &res, err, sizeof err);
	int64_t ms = ka_now_ms() - t0;

	if (res && (row = mysql_fetch_row(res)) && row[0])
		snprintf(value, sizeof value, "%s", row[0]);
	if (res)
		mysql_free_result(res);
	printf("%s errno=%u server=%s switches=%lu value=%s", ka_fo_rc_name(rc),
	       rc == KA_FO_OK ? 0 : fo->err, ka_fo_current(fo) ? ka_fo_current(fo) : "none",
	       fo->switches, value);
	if (measure)
		printf(" ms=%lld probes=%lu abandoned=%lu", (long long)ms, fo->hung_probes,
		       fo->hung_abandoned);
	printf("\n");
	if (rc != KA_FO_OK)
		fprintf(stderr, "ka-fo-exec: %s\n", err);
}

/* The seed's way: a blocking mysql_real_query() on the session's handle, then
 * ka_failover() with the error number. */
static void run_raw(struct ka_fo *fo, const char *sql)
{
	char err[512] = "";
	MYSQL *my = ka_fo_mysql(fo);
	unsigned int e = 0;
	int r = 0;

	if (!my)
		e = 2006;
	else if (mysql_real_query(my, sql, strlen(sql)) != 0)
		e = mysql_errno(my);
	else
		mysql_free_result(mysql_store_result(my));
	if (e)
		r = ka_failover(fo, e, err, sizeof err);
	printf("raw errno=%u failover=%d server=%s\n", e, r,
	       ka_fo_current(fo) ? ka_fo_current(fo) : "none");
	if (r < 0)
		fprintf(stderr, "ka-fo-exec: %s\n", err);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "defaults-file", required_argument, 0, 'f' },
		{ "read-secondary", no_argument, 0, 's' },
		{ "idempotent", no_argument, 0, 'i' },
		{ "read", no_argument, 0, 'r' },
		{ "pinned", no_argument, 0, 'p' },
		{ "timeout", required_argument, 0, 't' },
		{ "no-writable-check", no_argument, 0, 'w' },
		{ "hung-probe", required_argument, 0, 'h' },
		{ "measure", no_argument, 0, 'm' },
		{ 0, 0, 0, 0 }
	};
	const char *const groups[] = { "client", NULL };
	struct ka_optvals creds = { 0 };
	struct ka_fo_config cfg;
	struct ka_fo fo;
	char err[512];
	int c, flags = 0;

	ka_fo_defaults(&cfg);
	cfg.failover_timeout_ms = 3000;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (ka_optfile_read(optarg, groups, &creds, err, sizeof err) < 0) {
				fprintf(stderr, "ka-fo-exec: %s\n", err);
				return 78;
			}
			break;
		case 's': cfg.read_secondary = 1; break;
		case 'i': flags |= KA_FO_IDEMPOTENT; break;
		case 'r': flags |= KA_FO_READ; break;
		case 'p': flags |= KA_FO_PINNED; break;
		case 't': cfg.connect_timeout_ms = cfg.query_timeout_ms = atol(optarg); break;
		case 'w': cfg.check_writable = 0; break;
		case 'h': cfg.hung_probe_ms = atol(optarg); break;
		case 'm': measure = 1; break;
		default: return 64;
		}
	}
	if (optind >= argc ||
	    ka_fo_parse_endpoints(&cfg, argv[optind++], 3306, err, sizeof err) < 0) {
		fprintf(stderr, "ka-fo-exec: %s\n", optind > argc ? "HOSTS missing" : err);
		return 64;
	}
	cfg.user = creds.user[0] ? creds.user : NULL;
	cfg.password = creds.password[0] ? creds.password : NULL;
	cfg.on_switch = on_switch;
	if (ka_fo_open(&fo, &cfg, err, sizeof err) < 0)
		printf("open-failed exit=%d %s\n", ka_fo_exit_code(&fo), err);
	else
		printf("open server=%s\n", ka_fo_current(&fo));
	for (; optind < argc; optind++) {
		const char *a = argv[optind];
		if (strncmp(a, "sleep:", 6) == 0) {
			long ms = atol(a + 6);
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		} else if (strncmp(a, "raw:", 4) == 0) {
			run_raw(&fo, a + 4);
		} else if (strcmp(a, "disconnect") == 0) {
			ka_fo_disconnect(&fo, "asked by the test");
		} else {
			run_one(&fo, a, flags);
		}
		fflush(stdout);
	}
	ka_fo_close(&fo);
	return 0;
}
