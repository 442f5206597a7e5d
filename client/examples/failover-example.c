/* failover-example: the seed's client on client/failover.h.
 *
 * Every statement goes to server 1 (reads may go to server 2); a lost connection moves
 * the session to the other server; an order whose INSERT was lost after it was sent is
 * looked up by its id before it is written again, so it is stored exactly once.
 *
 *   failover-example SERVER1_IP:PORT[,SERVER2_IP:PORT] OPTION_FILE [ORDERS]
 *
 * OPTION_FILE holds [client] user= and password= (mode 0600). The Makefile does not
 * build it: compile it from the repository root with the command in the README
 * ("Client-side failover"): this file, client/failover.c and the lib/ sources, linked
 * with libmariadb and libcrypto.
 */
#include "failover.h"
#include "optfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The seed's "log for each switch". */
static void log_switch(const struct ka_fo_switch *sw, void *arg)
{
	(void)arg;
	fprintf(stderr, "failover: %s -> %s after %lld ms (%s)\n", sw->from_name, sw->to_name,
		(long long)sw->down_ms, sw->reason);
}

/* 1 when order id is stored, 0 when not, -1 when no server could tell. The fence holds
 * for the session it ends on: the look-up runs there (KA_FO_PINNED) or starts over. */
static int order_exists(struct ka_fo *fo, unsigned long long id)
{
	char sql[128], err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int found, rc;

	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM shop.orders WHERE id = %llu", id);
	for (int attempt = 0; attempt < 3; attempt++) {
		if (ka_fo_fence(fo, err, sizeof err) < 0)   /* the lost INSERT cannot land later */
			return -1;
		unsigned long switches = fo->switches;
		rc = ka_fo_exec(fo, sql, KA_FO_READ | KA_FO_PINNED, &res, err, sizeof err);
		if (fo->switches != switches)
			continue;   /* the session moved: fence again on the new server */
		if (rc != KA_FO_OK)
			return -1;
		row = res ? mysql_fetch_row(res) : NULL;
		found = row && row[0] && strcmp(row[0], "0") != 0;
		if (res)
			mysql_free_result(res);
		return found;
	}
	return -1;
}

/* Stores order id exactly once. Returns 0, or -1 when it could not. */
static int place_order(struct ka_fo *fo, unsigned long long id, const char *item)
{
	char sql[256], err[512];
	int flags = 0;

	snprintf(sql, sizeof sql, "INSERT INTO shop.orders (id, item) VALUES (%llu, '%s')", id,
		 item);
	for (int attempt = 0; attempt < 3; attempt++) {
		switch (ka_fo_exec(fo, sql, flags, NULL, err, sizeof err)) {
		case KA_FO_OK:
			return 0;
		case KA_FO_TXN_LOST:    /* a pinned re-send found its session gone: not sent */
		case KA_FO_AMBIGUOUS:   /* sent, connection lost: did it commit? ask by id */
			fprintf(stderr, "order %llu: %s\n", id, err);
			switch (order_exists(fo, id)) {
			case 1: return 0;   /* it did */
			case 0:             /* it did not: send it again, on the session that said so */
				flags = KA_FO_PINNED;
				continue;
			default: return -1; /* nobody can tell now: keep the id, ask later */
			}
		case KA_FO_SQL_ERROR:   /* duplicate key, syntax...: ours to handle, no failover */
			fprintf(stderr, "order %llu refused: %s\n", id, err);
			return -1;
		default:                /* no server usable within the failover deadline */
			fprintf(stderr, "order %llu not placed: %s\n", id, err);
			return -1;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *const groups[] = { "client", NULL };
	struct ka_optvals creds;
	struct ka_fo_config cfg;
	struct ka_fo fo;
	char err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int orders = argc > 3 ? atoi(argv[3]) : 5, failed = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: failover-example SERVER1_IP:PORT[,SERVER2_IP:PORT] "
			"OPTION_FILE [ORDERS]\n");
		return 64;
	}
	ka_fo_defaults(&cfg);
	if (ka_fo_parse_endpoints(&cfg, argv[1], 3306, err, sizeof err) < 0 ||
	    ka_optfile_check(argv[2], err, sizeof err) < 0 ||
	    ka_optfile_read(argv[2], groups, &creds, err, sizeof err) < 0) {
		fprintf(stderr, "failover-example: %s\n", err);
		return 64;
	}
	cfg.user = creds.user;
	cfg.password = creds.password;
	cfg.read_secondary = 1;          /* reads may go to server 2 */
	cfg.on_switch = log_switch;
	if (ka_fo_open(&fo, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "failover-example: %s\n", err);   /* server 2 is down too */
		ka_fo_close(&fo);
		return 1;
	}
	if (ka_fo_exec(&fo, "CREATE DATABASE IF NOT EXISTS shop", KA_FO_IDEMPOTENT, NULL, err,
		       sizeof err) != KA_FO_OK ||
	    ka_fo_exec(&fo, "CREATE TABLE IF NOT EXISTS shop.orders (id BIGINT UNSIGNED PRIMARY "
		       "KEY, item VARCHAR(64) NOT NULL)", KA_FO_IDEMPOTENT, NULL, err,
		       sizeof err) != KA_FO_OK) {
		fprintf(stderr, "failover-example: %s\n", err);
		ka_fo_close(&fo);
		return 1;
	}
	/* Client-chosen ids: the time in microseconds, then + 1 per order. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long base = (unsigned long long)ts.tv_sec * 1000000ULL +
				  (unsigned long long)ts.tv_nsec / 1000;
	for (int i = 0; i < orders; i++)
		failed += place_order(&fo, base + (unsigned long long)i, "book") < 0;
	if (ka_fo_exec(&fo, "SELECT COUNT(*) FROM shop.orders", KA_FO_READ, &res, err,
		       sizeof err) == KA_FO_OK) {
		row = res ? mysql_fetch_row(res) : NULL;
		printf("placed %d of %d orders on %s; %s orders in total\n", orders - failed,
		       orders, ka_fo_current(&fo), row && row[0] ? row[0] : "?");
		if (res)
			mysql_free_result(res);
	} else {
		fprintf(stderr, "failover-example: cannot count the orders: %s\n", err);
	}
	ka_fo_close(&fo);
	return failed ? 1 : 0;
}
