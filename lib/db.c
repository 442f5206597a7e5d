/* Deadline-bounded MariaDB access. Every call runs Connector/C's non-blocking state
 * machine (*_start / *_cont) and polls the socket with the time left, so a hung
 * server (SIGSTOP, stalled disk) costs at most the deadline, in milliseconds. */
#include "db.h"
#include "deadline.h"
#include "exitcode.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WAIT_TIMED_OUT (-1)

/* Waits for the I/O the library asked for. Returns the status for *_cont, or
 * WAIT_TIMED_OUT when the deadline passed first. */
static int wait_io(MYSQL *my, int status, int64_t deadline)
{
	struct pollfd pfd = { .fd = mysql_get_socket(my), .events = 0 };

	if (status & MYSQL_WAIT_READ)
		pfd.events |= POLLIN;
	if (status & MYSQL_WAIT_WRITE)
		pfd.events |= POLLOUT;
	if (status & MYSQL_WAIT_EXCEPT)
		pfd.events |= POLLPRI;
	for (;;) {
		int64_t left = ka_remaining_ms(deadline);
		int64_t wait = left;
		int lib_timeout = 0;

		if (left <= 0)
			return WAIT_TIMED_OUT;
		if ((status & MYSQL_WAIT_TIMEOUT) && mysql_get_timeout_value_ms(my) < wait) {
			wait = mysql_get_timeout_value_ms(my);
			lib_timeout = 1;
		}
		int n = poll(&pfd, 1, (int)wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return lib_timeout ? MYSQL_WAIT_TIMEOUT : WAIT_TIMED_OUT;
		if (n < 0)
			return MYSQL_WAIT_READ | MYSQL_WAIT_WRITE; /* let the library see the error */
		int got = 0;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			got |= MYSQL_WAIT_READ;
		if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
			got |= MYSQL_WAIT_WRITE;
		if (pfd.revents & POLLPRI)
			got |= MYSQL_WAIT_EXCEPT;
		return got ? got : status;
	}
}

static int fail(struct ka_db *db, char *err, size_t errlen, const char *what)
{
	db->err = mysql_errno(db->my);
	db->timed_out = 0;
	snprintf(err, errlen, "%s: %s (%u)", what, mysql_error(db->my), db->err);
	return -1;
}

static int fail_timeout(struct ka_db *db, char *err, size_t errlen, const char *what)
{
	db->err = 0;
	db->timed_out = 1;
	/* The operation is abandoned mid-way: make every later read/write fail at once. */
	mariadb_cancel(db->my);
	snprintf(err, errlen, "%s: timed out", what);
	return -1;
}

static void describe_target(const struct ka_dbaddr *a, char *buf, size_t len)
{
	if (a->host && strcmp(a->host, "localhost") != 0)
		snprintf(buf, len, "%s:%u", a->host, a->port ? a->port : 3306);
	else
		snprintf(buf, len, "%s", a->socket ? a->socket : "default socket");
}

int ka_db_connect(struct ka_db *db, const struct ka_dbaddr *a, int64_t deadline,
		  char *err, size_t errlen)
{
	char what[320], target[256];
	MYSQL *ret = NULL;
	my_bool no_reconnect = 0;
	unsigned int proto;

	memset(db, 0, sizeof *db);
	db->at_connect = 1;
	/* A preset default port spares the library's getservbyname("mysql") at init: an NSS
	 * lookup that a static binary would dlopen for (FACTS 31) on every check. */
#ifdef KA_STATIC   /* the shared libmariadb does not export mysql_port */
	if (!mysql_port)
		mysql_port = 3306;
#endif
	/* We never ask for TLS: skip OpenSSL's config file and its legacy cipher/digest
	 * tables, which the library's init would otherwise build on every run (half the
	 * CPU of a check). */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
			    OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL);
	describe_target(a, target, sizeof target);
	snprintf(what, sizeof what, "cannot connect to '%s'", target);
	db->my = mysql_init(NULL);
	if (!db->my) {
		snprintf(err, errlen, "cannot connect to '%s': out of memory", target);
		db->err = 2008;
		return -1;
	}
	proto = (a->host && strcmp(a->host, "localhost") != 0) ? MYSQL_PROTOCOL_TCP
							       : MYSQL_PROTOCOL_SOCKET;
	mysql_options(db->my, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(db->my, MYSQL_OPT_RECONNECT, &no_reconnect);
	mysql_options(db->my, MYSQL_OPT_NONBLOCK, 0);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	int status = mysql_real_connect_start(&ret, db->my, a->host, a->user, a->password,
					      a->database, a->port, a->socket, 0);
	while (status) {
		status = wait_io(db->my, status, deadline);
		if (status == WAIT_TIMED_OUT)
			return fail_timeout(db, err, errlen, what);
		status = mysql_real_connect_cont(&ret, db->my, status);
	}
	if (!ret)
		return fail(db, err, errlen, what);
	db->at_connect = 0;
	return 0;
}

static int store(struct ka_db *db, MYSQL_RES **res, int64_t deadline, char *err,
		 size_t errlen, const char *what)
{
	MYSQL_RES *r = NULL;
	int status = mysql_store_result_start(&r, db->my);

	while (status) {
		status = wait_io(db->my, status, deadline);
		if (status == WAIT_TIMED_OUT)
			return fail_timeout(db, err, errlen, what);
		status = mysql_store_result_cont(&r, db->my, status);
	}
	if (!r && mysql_errno(db->my))
		return fail(db, err, errlen, what);
	if (res)
		*res = r;
	else if (r)
		mysql_free_result(r);
	return 0;
}

int ka_db_query(struct ka_db *db, const char *sql, MYSQL_RES **res, int64_t deadline,
		char *err, size_t errlen)
{
	char what[160];
	int ret = 0;

	if (res)
		*res = NULL;
	snprintf(what, sizeof what, "query '%.100s%s' failed", sql, strlen(sql) > 100 ? "..." : "");
	db->at_connect = 0;
	int status = mysql_real_query_start(&ret, db->my, sql, strlen(sql));
	while (status) {
		status = wait_io(db->my, status, deadline);
		if (status == WAIT_TIMED_OUT)
			return fail_timeout(db, err, errlen, what);
		status = mysql_real_query_cont(&ret, db->my, status);
	}
	if (ret)
		return fail(db, err, errlen, what);
	return store(db, res, deadline, err, errlen, what);
}

int ka_db_send(struct ka_db *db, const char *sql, char *err, size_t errlen)
{
	int ret = 0;

	db->at_connect = 0;
	db->pending = mysql_real_query_start(&ret, db->my, sql, strlen(sql));
	db->pending_ret = ret;
	if (!db->pending && ret)
		return fail(db, err, errlen, "cannot send a statement");
	return 0;
}

int ka_db_collect_result(struct ka_db *db, MYSQL_RES **res, int64_t deadline,
			 int64_t store_deadline, char *err, size_t errlen)
{
	int ret = db->pending_ret;

	if (res)
		*res = NULL;
	while (db->pending) {
		int status = wait_io(db->my, db->pending, deadline);
		if (status == WAIT_TIMED_OUT)
			return 1;   /* still running: the state machine stays where it was */
		db->pending = mysql_real_query_cont(&ret, db->my, status);
		db->pending_ret = ret;
	}
	if (ret)
		return fail(db, err, errlen, "statement failed");
	return store(db, res, store_deadline, err, errlen, "statement failed");
}

int ka_db_collect(struct ka_db *db, int64_t deadline, char *err, size_t errlen)
{
	return ka_db_collect_result(db, NULL, deadline, deadline, err, errlen);
}

int ka_db_value(struct ka_db *db, const char *sql, char *out, size_t outlen, int *isnull,
		int64_t deadline, char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (outlen)
		out[0] = '\0';
	if (isnull)
		*isnull = 0;
	if (ka_db_query(db, sql, &res, deadline, err, errlen) < 0)
		return -1;
	if (!res || !(row = mysql_fetch_row(res)) || mysql_num_fields(res) < 1) {
		if (res)
			mysql_free_result(res);
		snprintf(err, errlen, "query '%.100s' returned no row", sql);
		return 1;
	}
	if (row[0])
		snprintf(out, outlen, "%s", row[0]);
	else if (isnull)
		*isnull = 1;
	mysql_free_result(res);
	return 0;
}

void ka_db_close(struct ka_db *db)
{
	if (!db->my)
		return;
	/* After a timeout the server may be hung: never wait for it to read COM_QUIT. */
	if (db->timed_out || db->pending)
		mariadb_cancel(db->my);
	mysql_close(db->my);
	db->my = NULL;
}

int ka_db_exit_code(const struct ka_db *db)
{
	if (db->timed_out)
		return KA_TIMEOUT;
	return ka_exit_for_errno(db->err, db->at_connect);
}

int ka_db_column(MYSQL_RES *res, const char *name)
{
	unsigned int n = mysql_num_fields(res);
	MYSQL_FIELD *f = mysql_fetch_fields(res);

	for (unsigned int i = 0; i < n; i++)
		if (strcasecmp(f[i].name, name) == 0)
			return (int)i;
	return -1;
}

int ka_sql_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s; s++) {
		int esc = (*s == '\'' || *s == '\\');
		if (o + 2 + (size_t)esc > outlen)
			return -1;
		if (esc)
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
	return 0;
}
