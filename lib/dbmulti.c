/* Several sessions, one deadline, one poll(). Each session is a small state machine:
 * CONNECT -> (QUERY -> STORE) for each statement -> DONE. Starting or continuing an
 * operation either finishes it (the machine moves on at once) or returns the I/O the
 * library waits for; poll() then waits for every waiting session together, and a
 * session whose socket is ready is continued. At the deadline every session still
 * waiting is cancelled (mariadb_cancel), so closing it never blocks. */
#include "dbmulti.h"
#include "deadline.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

enum { PH_CONNECT, PH_QUERY, PH_STORE, PH_DONE };

static void target_of(const struct ka_dbaddr *a, char *buf, size_t len)
{
	if (a->host && strcmp(a->host, "localhost") != 0)
		snprintf(buf, len, strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host,
			 a->port ? a->port : 3306);
	else
		snprintf(buf, len, "%s", a->socket ? a->socket : "default socket");
}

/* Records the library's error as the session's failure; the session ends. */
static void fail_session(struct ka_dbm *s)
{
	char target[128];

	s->db.err = mysql_errno(s->db.my);
	if (s->phase == PH_CONNECT) {
		target_of(&s->addr, target, sizeof target);
		snprintf(s->err, sizeof s->err, "cannot connect to '%s': %s (%u)", target,
			 mysql_error(s->db.my), s->db.err);
	} else {
		snprintf(s->err, sizeof s->err, "query '%.80s' failed: %s (%u)", s->sql[s->step],
			 mysql_error(s->db.my), s->db.err);
	}
	s->phase = PH_DONE;
}

/* The deadline passed (or the run was stopped) with s still waiting. */
static void time_out_session(struct ka_dbm *s, const char *why)
{
	char target[128];

	s->db.timed_out = 1;
	s->db.err = 0;
	if (s->db.my)
		mariadb_cancel(s->db.my);
	if (s->phase == PH_CONNECT) {
		target_of(&s->addr, target, sizeof target);
		snprintf(s->err, sizeof s->err, "cannot connect to '%s': %s", target, why);
	} else {
		snprintf(s->err, sizeof s->err, "query '%.80s' failed: %s", s->sql[s->step], why);
	}
	s->phase = PH_DONE;
	s->wait = 0;
}

/* mysql_init with the options lib/db.c uses, then the first connect step. Returns the
 * wait status, or 0 when the attempt already ended (connect_ret tells how). */
static int start_connect(struct ka_dbm *s)
{
	my_bool no_reconnect = 0;
	const struct ka_dbaddr *a = &s->addr;
	unsigned int proto = (a->host && strcmp(a->host, "localhost") != 0) ? MYSQL_PROTOCOL_TCP
									     : MYSQL_PROTOCOL_SOCKET;

#ifdef KA_STATIC   /* spares getservbyname("mysql") at init, as lib/db.c explains */
	if (!mysql_port)
		mysql_port = 3306;
#endif
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
			    OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL);
	s->db.my = mysql_init(NULL);
	if (!s->db.my)
		return 0;
	mysql_options(s->db.my, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(s->db.my, MYSQL_OPT_RECONNECT, &no_reconnect);
	mysql_options(s->db.my, MYSQL_OPT_NONBLOCK, 0);
	mysql_options(s->db.my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	return mysql_real_connect_start(&s->conn_ret, s->db.my, a->host, a->user, a->password,
					a->database, a->port, a->socket, 0);
}

/* A statement failed with a server error: record it and go on; a client error (the
 * connection is gone) ends the session. */
static void statement_failed(struct ka_dbm *s)
{
	unsigned int e = mysql_errno(s->db.my);

	if (e >= 2000 || e == 0) {
		fail_session(s);
		return;
	}
	s->sql_err[s->step] = e;
	if (!s->err[0])
		snprintf(s->err, sizeof s->err, "query '%.80s' failed: %s (%u)", s->sql[s->step],
			 mysql_error(s->db.my), e);
	s->step++;
	s->phase = PH_QUERY;
}

/* The current operation finished: move the machine to its next phase. */
static void finish_phase(struct ka_dbm *s)
{
	switch (s->phase) {
	case PH_CONNECT:
		if (!s->db.my || !s->conn_ret) {
			if (!s->db.my) {
				s->db.err = 2008;
				snprintf(s->err, sizeof s->err, "cannot connect: out of memory");
				s->phase = PH_DONE;
			} else {
				fail_session(s);
			}
			return;
		}
		s->connected = 1;
		s->db.at_connect = 0;
		s->phase = PH_QUERY;
		break;
	case PH_QUERY:
		if (s->query_ret)
			statement_failed(s);
		else
			s->phase = PH_STORE;
		break;
	case PH_STORE:
		if (!s->store_ret && mysql_errno(s->db.my)) {
			statement_failed(s);
			break;
		}
		s->res[s->step++] = s->store_ret;
		s->answered++;
		s->phase = PH_QUERY;
		break;
	}
	if (s->phase == PH_QUERY && (s->step >= KA_DBM_MAX_SQL || !s->sql[s->step]))
		s->phase = PH_DONE;
}

/* Starts (ev 0) or continues (ev: the I/O that is ready) the current operation, and
 * every following one that completes at once. Returns the wait status, 0 when done. */
static int advance(struct ka_dbm *s, int ev)
{
	while (s->phase != PH_DONE) {
		int st = 0;
		const char *q = s->sql[s->step];

		if (s->phase == PH_CONNECT)
			st = ev ? mysql_real_connect_cont(&s->conn_ret, s->db.my, ev) : start_connect(s);
		else if (s->phase == PH_QUERY)
			st = ev ? mysql_real_query_cont(&s->query_ret, s->db.my, ev)
				: mysql_real_query_start(&s->query_ret, s->db.my, q, strlen(q));
		else
			st = ev ? mysql_store_result_cont(&s->store_ret, s->db.my, ev)
				: mysql_store_result_start(&s->store_ret, s->db.my);
		if (st) {
			if (st & MYSQL_WAIT_TIMEOUT)
				s->lib_deadline = ka_now_ms() + mysql_get_timeout_value_ms(s->db.my);
			return st;
		}
		ev = 0;
		finish_phase(s);
	}
	return 0;
}

static short poll_events(int wait)
{
	short ev = 0;

	if (wait & MYSQL_WAIT_READ)
		ev |= POLLIN;
	if (wait & MYSQL_WAIT_WRITE)
		ev |= POLLOUT;
	if (wait & MYSQL_WAIT_EXCEPT)
		ev |= POLLPRI;
	return ev;
}

/* What poll() reported for a session, as the library's wait bits (0: nothing yet). */
static int ready_events(const struct ka_dbm *s, short revents, int poll_failed, int64_t now)
{
	int got = 0;

	if (poll_failed)
		return MYSQL_WAIT_READ | MYSQL_WAIT_WRITE;   /* let the library see the error */
	if (revents & (POLLIN | POLLHUP | POLLERR))
		got |= MYSQL_WAIT_READ;
	if (revents & (POLLOUT | POLLHUP | POLLERR))
		got |= MYSQL_WAIT_WRITE;
	if (revents & POLLPRI)
		got |= MYSQL_WAIT_EXCEPT;
	if (!got && (s->wait & MYSQL_WAIT_TIMEOUT) && now >= s->lib_deadline)
		got = MYSQL_WAIT_TIMEOUT;
	return got;
}

/* Fills pfd/idx with every waiting session; *wait_ms shrinks to the nearest library
 * timeout. Returns the number of waiting sessions. */
static size_t collect_waiting(struct ka_dbm *s, size_t n, struct pollfd *pfd, size_t *idx,
			      int64_t now, int64_t *wait_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i].phase == PH_DONE || !s[i].wait)
			continue;
		pfd[k].fd = mysql_get_socket(s[i].db.my);
		pfd[k].events = poll_events(s[i].wait);
		pfd[k].revents = 0;
		idx[k++] = i;
		if ((s[i].wait & MYSQL_WAIT_TIMEOUT) && s[i].lib_deadline - now < *wait_ms)
			*wait_ms = s[i].lib_deadline > now ? s[i].lib_deadline - now : 0;
	}
	return k;
}

static void time_out_waiting(struct ka_dbm *s, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].phase != PH_DONE)
			time_out_session(&s[i], why);
}

void ka_dbm_run(struct ka_dbm *s, size_t n, int64_t deadline, volatile sig_atomic_t *stop)
{
	struct pollfd pfd[KA_DBM_MAX];
	size_t idx[KA_DBM_MAX];

	if (n > KA_DBM_MAX)
		n = KA_DBM_MAX;
	for (size_t i = 0; i < n; i++) {
		memset(&s[i].db, 0, sizeof s[i] - offsetof(struct ka_dbm, db));
		s[i].db.at_connect = 1;
		s[i].wait = advance(&s[i], 0);
	}
	for (;;) {   /* ends at the deadline at the latest: every wait is bounded by it */
		int64_t now = ka_now_ms(), wait_ms = deadline - now;
		if (stop && *stop) {
			time_out_waiting(s, n, "interrupted");
			return;
		}
		if (wait_ms <= 0) {
			time_out_waiting(s, n, "timed out");
			return;
		}
		size_t k = collect_waiting(s, n, pfd, idx, now, &wait_ms);
		if (!k)
			return;
		int r = poll(pfd, k, (int)wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		now = ka_now_ms();
		for (size_t j = 0; j < k; j++) {
			struct ka_dbm *x = &s[idx[j]];
			int ev = ready_events(x, pfd[j].revents, r < 0, now);
			if (ev)
				x->wait = advance(x, ev);
		}
	}
}

void ka_dbm_close(struct ka_dbm *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (int q = 0; q < KA_DBM_MAX_SQL; q++) {
			if (s[i].res[q])
				mysql_free_result(s[i].res[q]);
			s[i].res[q] = NULL;
		}
		ka_db_close(&s[i].db);
	}
}
