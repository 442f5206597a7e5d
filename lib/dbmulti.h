/* Several MariaDB sessions driven together under one deadline. Each session connects
 * and runs its statements in order on Connector/C's non-blocking API (as lib/db.c does
 * for one); one poll() waits for all of them, so N hung servers cost one deadline, not N.
 *
 *   struct ka_dbm s[2] = { { .addr = a0, .sql = { "SELECT 1", NULL } }, ... };
 *   ka_dbm_run(s, 2, ka_deadline_in(500), NULL);
 *   ... s[i].res[0], s[i].err, ka_db_exit_code(&s[i].db) ...
 *   ka_dbm_close(s, 2);
 */
#ifndef KA_DBMULTI_H
#define KA_DBMULTI_H

#include "db.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define KA_DBM_MAX_SQL 8       /* statements per session */
#define KA_DBM_MAX 64          /* sessions per run */

struct ka_dbm {
	/* set by the caller */
	struct ka_dbaddr addr;
	const char *sql[KA_DBM_MAX_SQL];      /* in order; NULL ends the list */
	/* filled by ka_dbm_run */
	struct ka_db db;                      /* err, timed_out, at_connect as in lib/db.h */
	int connected;                        /* the handshake succeeded */
	int answered;                         /* statements that returned without error */
	MYSQL_RES *res[KA_DBM_MAX_SQL];       /* statement i's result; NULL: none or failed */
	unsigned int sql_err[KA_DBM_MAX_SQL]; /* statement i's server error, 0 when none */
	char err[512];                        /* the first failure, "" when none */
	/* private: where the state machine stands */
	int phase, step, wait;
	int64_t lib_deadline;
	MYSQL *conn_ret;
	int query_ret;
	MYSQL_RES *store_ret;
};

/* Runs sessions s[0..n) (n <= KA_DBM_MAX) until each has run its statements or the
 * deadline passed, whichever comes first; a session still waiting then (or when *stop
 * turns non-zero; stop may be NULL) is cancelled and marked timed out. A server error in
 * one statement is recorded in sql_err and the next statement runs; a client error (a
 * lost connection) ends that session. Each session's outcome is in its own fields. */
void ka_dbm_run(struct ka_dbm *s, size_t n, int64_t deadline, volatile sig_atomic_t *stop);

/* Frees every result and closes every session; never waits on a hung server. */
void ka_dbm_close(struct ka_dbm *s, size_t n);

#endif
