/* A deadline-bounded MariaDB session on Connector/C's non-blocking API (FACTS 28).
 * Every call takes an absolute deadline (ka_deadline_in) and returns within it. */
#ifndef KA_DB_H
#define KA_DB_H

#include <mysql.h>
#include <stdint.h>

/* Where and as whom to connect. NULL/0 fields mean "not set". */
struct ka_dbaddr {
	const char *host;     /* numeric IP preferred (FACTS 31) */
	unsigned int port;
	const char *socket;   /* used when host is NULL or "localhost" */
	const char *user;
	const char *password;
	const char *database;
};

struct ka_db {
	MYSQL *my;
	unsigned int err;     /* last client/server errno, 0 when none */
	int timed_out;        /* the last call ran out of time */
	int at_connect;       /* the last error came from the handshake */
	int pending;          /* ka_db_send: the library's wait status, 0 when answered */
	int pending_ret;
};

/* Opens a session. Returns 0, or -1 with err filled and db->err / db->timed_out set. */
int ka_db_connect(struct ka_db *db, const struct ka_dbaddr *addr, int64_t deadline,
		  char *err, size_t errlen);

/* Runs one statement and stores its whole result (*res may be NULL for statements
 * without one; pass res NULL to discard). Returns 0 or -1 with err filled. */
int ka_db_query(struct ka_db *db, const char *sql, MYSQL_RES **res, int64_t deadline,
		char *err, size_t errlen);

/* Sends one statement and returns without waiting for its answer: the server runs it
 * meanwhile. ka_db_collect takes the answer; ka_db_close gives up on it (the server
 * then drops a statement still waiting for a lock, FACTS 39). Returns 0 or -1. */
int ka_db_send(struct ka_db *db, const char *sql, char *err, size_t errlen);

/* Waits until deadline for the answer to ka_db_send; a result set is discarded. Returns
 * 0 answered, 1 still running (nothing is cancelled: call again, or ka_db_close), or -1
 * (the statement failed; err filled). */
int ka_db_collect(struct ka_db *db, int64_t deadline, char *err, size_t errlen);

/* ka_db_collect keeping the result: *res gets it (NULL for a statement without one). The
 * wait for the answer ends at deadline (1: still running, as above); once the answer has
 * come, the rest of the result is read within store_deadline (else -1, timed out). */
int ka_db_collect_result(struct ka_db *db, MYSQL_RES **res, int64_t deadline,
			 int64_t store_deadline, char *err, size_t errlen);

/* Runs a query whose answer is one value; copies row 1 column 1 into out ("" for NULL,
 * *isnull set when isnull is not NULL). Returns 0, 1 when there is no row, or -1. */
int ka_db_value(struct ka_db *db, const char *sql, char *out, size_t outlen, int *isnull,
		int64_t deadline, char *err, size_t errlen);

/* Closes the session; never blocks past a short bound even on a hung server. */
void ka_db_close(struct ka_db *db);

/* Exit code (lib/exitcode.h) for the last failure of db. */
int ka_db_exit_code(const struct ka_db *db);

/* Index of a column by name in res, or -1. */
int ka_db_column(MYSQL_RES *res, const char *name);

/* Escapes s into out as the inside of a single-quoted SQL string. Returns -1 when too long. */
int ka_sql_escape(const char *s, char *out, size_t outlen);

#endif
