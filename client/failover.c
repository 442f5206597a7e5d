/* Client-side failover: see failover.h for the contract and the ambiguity rule.
 *
 * How a statement goes: make sure a writer session exists (reconnect if not); check
 * that the idle session was not closed by the server meanwhile (a readable idle socket
 * means FIN or a kill notice: the statement is then provably not sent); run it with a
 * deadline; on a connection error or a deadline drop the session, reconnect starting
 * with the next endpoint, and either re-run (not sent, or idempotent) or hand the
 * ambiguity back to the caller.
 */
#include "failover.h"

#include "args.h"
#include "deadline.h"
#include "exitcode.h"

#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KA_FO_MAX_RERUNS 3         /* re-runs of one statement, on top of the first run */
#define KA_FO_READER_PAUSE_MS 5000 /* after the read session failed, reads use the writer */
#define KA_FO_FENCE_ROUNDS 500     /* looks of one fence, 20 ms apart, within its deadline */
#define KA_FO_MIN_RETRY_INTERVAL_MS 5 /* passes never closer than this: no busy loop */
#define KA_FO_MIN_SLICE_MS 2       /* a wait between side connections polls this at least */

void ka_fo_defaults(struct ka_fo_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->connect_timeout_ms = 1000;
	cfg->retry_connect_timeout_ms = 200;
	cfg->retry_interval_ms = 25;
	cfg->query_timeout_ms = 5000;
	cfg->failover_timeout_ms = 10000;
	cfg->max_rounds = 0;
	cfg->check_writable = 1;
	cfg->hung_probe_ms = 250;
	cfg->hung_probe_timeout_ms = 50;
	cfg->hung_probe_interval_ms = 50;
}

int ka_fo_parse_endpoints(struct ka_fo_config *cfg, const char *list,
			  unsigned int default_port, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	if (strlen(list) >= sizeof buf) {
		snprintf(err, errlen, "endpoint list '%.40s...' is too long", list);
		return -1;
	}
	snprintf(buf, sizeof buf, "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (cfg->n == KA_FO_MAX_ENDPOINTS) {
			snprintf(err, errlen, "too many endpoints in '%s' (at most %d)", list,
				 KA_FO_MAX_ENDPOINTS);
			return -1;
		}
		struct ka_fo_endpoint *ep = &cfg->ep[cfg->n];
		if (ka_parse_hostport("--hosts", tok, default_port, ep->host, sizeof ep->host,
				      &ep->port, err, errlen) < 0)
			return -1;
		cfg->n++;
	}
	if (cfg->n == 0) {
		snprintf(err, errlen, "no endpoint in '%s': expected IP:PORT[,IP:PORT...]", list);
		return -1;
	}
	return 0;
}

int ka_fo_is_connection_error(unsigned int err)
{
	return err == 2002 || err == 2003 || err == 2006 || err == 2013 || err == 2055;
}

const char *ka_fo_endpoint_name(const struct ka_fo *fo, int i, char *buf, size_t len)
{
	if (i < 0 || (size_t)i >= fo->cfg.n)
		snprintf(buf, len, "none");
	else if (strchr(fo->cfg.ep[i].host, ':'))
		snprintf(buf, len, "[%s]:%u", fo->cfg.ep[i].host, fo->cfg.ep[i].port);
	else
		snprintf(buf, len, "%s:%u", fo->cfg.ep[i].host, fo->cfg.ep[i].port);
	return buf;
}

const char *ka_fo_current(const struct ka_fo *fo)
{
	return fo->cur < 0 ? NULL : fo->names[fo->cur];
}

MYSQL *ka_fo_mysql(struct ka_fo *fo)
{
	return fo->db.my;
}

const char *ka_fo_rc_name(int rc)
{
	switch (rc) {
	case KA_FO_OK: return "ok";
	case KA_FO_SQL_ERROR: return "sql-error";
	case KA_FO_UNAVAILABLE: return "unavailable";
	case KA_FO_AMBIGUOUS: return "ambiguous";
	case KA_FO_TXN_LOST: return "transaction-lost";
	default: return "unknown";
	}
}

int ka_fo_exit_code(const struct ka_fo *fo)
{
	if (fo->timed_out)
		return KA_TIMEOUT;
	if (fo->err == 0)
		return KA_UNREACHABLE;
	return ka_exit_for_errno(fo->err, fo->at_connect);
}

static int stopped(const struct ka_fo *fo)
{
	return fo->cfg.cancel && *fo->cfg.cancel;
}

/* Sleeps until ka_now_ms() time end in short slices, returning early when cancelled. */
static void pause_until(const struct ka_fo *fo, int64_t end)
{
	while (!stopped(fo)) {
		int64_t left = end - ka_now_ms();
		if (left <= 0)
			return;
		if (left > 50)
			left = 50;
		struct timespec ts = { 0, (long)left * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void pause_ms(const struct ka_fo *fo, int64_t ms)
{
	pause_until(fo, ka_now_ms() + ms);
}

static void note_failure(struct ka_fo *fo, const struct ka_db *db)
{
	fo->err = db->err;
	fo->timed_out = db->timed_out;
	fo->at_connect = db->at_connect;
}

/* Opens a session to endpoint i before dl and reads its @@read_only (*read_only 1 unless
 * it answered 0) and @@server_id (left alone when unknown). Leaves fo's error state
 * alone. Returns 0, or -1 with err filled; db must be closed either way. */
static int identify_server(const struct ka_fo *fo, int i, int64_t dl, struct ka_db *db,
			   unsigned long *server_id, int *read_only, char *err, size_t errlen)
{
	const struct ka_fo_endpoint *ep = &fo->cfg.ep[i];
	struct ka_dbaddr a = { .host = ep->host, .port = ep->port, .user = fo->cfg.user,
			       .password = fo->cfg.password, .database = fo->cfg.database };
	MYSQL_RES *res = NULL;
	MYSQL_ROW r;

	*read_only = 1;
	if (ka_db_connect(db, &a, dl, err, errlen) < 0 ||
	    ka_db_query(db, "SELECT @@global.read_only, @@server_id", &res, dl, err, errlen) < 0)
		return -1;
	if (res && (r = mysql_fetch_row(res)) && r[0] && r[1]) {
		*read_only = strcmp(r[0], "0") != 0;
		*server_id = strtoul(r[1], NULL, 10);
	}
	if (res)
		mysql_free_result(res);
	return 0;
}

/* Opens a session to endpoint i within timeout_ms (and before deadline) and reads its
 * read_only and server_id; with writable set a read-only server is refused. Returns 0
 * or -1 (err filled). */
static int connect_one(struct ka_fo *fo, int i, int writable, int64_t timeout_ms,
		       int64_t deadline, struct ka_db *db, unsigned long *server_id, char *err,
		       size_t errlen)
{
	int64_t dl = ka_now_ms() + timeout_ms;
	char name[96];
	int read_only;

	if (dl > deadline)
		dl = deadline;
	if (identify_server(fo, i, dl, db, server_id, &read_only, err, errlen) < 0)
		goto fail;
	if (writable && read_only) {
		snprintf(err, errlen, "'%s' is read-only",
			 ka_fo_endpoint_name(fo, i, name, sizeof name));
		db->err = 1290;   /* ER_OPTION_PREVENTS_STATEMENT: answered, but not a writer */
		db->timed_out = 0;
		db->at_connect = 1;
		goto fail;
	}
	return 0;
fail:
	note_failure(fo, db);
	if (db->err == 1290)
		fo->at_connect = 1;
	ka_db_close(db);
	return -1;
}

/* Calls the switch callback for the session just opened on endpoint to. */
static void report_switch(struct ka_fo *fo, int to)
{
	char from_name[96], to_name[96];
	struct ka_fo_switch sw = {
		.at_ms = ka_now_ms(),
		.from = fo->last,
		.to = to,
		.from_server_id = fo->last_server_id,
		.to_server_id = fo->server_id,
		.err = fo->lost_err,
		.reason = fo->lost_reason,
	};

	sw.down_ms = fo->lost_at ? sw.at_ms - fo->lost_at : 0;
	sw.from_name = ka_fo_endpoint_name(fo, fo->last, from_name, sizeof from_name);
	sw.to_name = ka_fo_endpoint_name(fo, to, to_name, sizeof to_name);
	fo->switches++;
	if (fo->cfg.on_switch)
		fo->cfg.on_switch(&sw, fo->cfg.arg);
}

/* The bound of one connect attempt: connect_timeout_ms, or retry_connect_timeout_ms
 * when that is shorter and a failover is in progress (a session was lost). */
static int64_t attempt_timeout(const struct ka_fo *fo)
{
	int64_t t = fo->cfg.connect_timeout_ms, r = fo->cfg.retry_connect_timeout_ms;

	return fo->lost_at && r > 0 && r < t ? r : t;
}

/* The pause from one pass's start to the next one's: retry_interval_ms, at least 5 ms. */
static int64_t retry_interval(const struct ka_fo *fo)
{
	int64_t i = fo->cfg.retry_interval_ms;

	return i < KA_FO_MIN_RETRY_INTERVAL_MS ? KA_FO_MIN_RETRY_INTERVAL_MS : i;
}

/* Passes one reconnect may make: as many as can begin retry_interval apart within
 * failover_timeout_ms, or max_rounds when that is fewer. */
static int max_passes(const struct ka_fo *fo)
{
	int64_t n = fo->cfg.failover_timeout_ms / retry_interval(fo) + 1;

	if (fo->cfg.max_rounds > 0 && fo->cfg.max_rounds < n)
		n = fo->cfg.max_rounds;
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* Makes db (endpoint i, server_id sid) the writer session; reports the switch when it
 * replaces a lost one. */
static void take_session(struct ka_fo *fo, int i, const struct ka_db *db, unsigned long sid)
{
	fo->db = *db;
	fo->cur = i;
	fo->server_id = sid;
	if (fo->last >= 0)
		report_switch(fo, i);
	fo->lost_at = 0;
	fo->lost_err = 0;
	fo->lost_reason[0] = '\0';
}

/* One pass over the endpoints from start, each attempt within timeout_ms. Returns 0
 * connected, 1 none usable (sum[i] says why for endpoint i), -1 out of time or
 * cancelled. */
static int connect_pass(struct ka_fo *fo, int start, int64_t timeout_ms, int64_t deadline,
			char sum[][200], int *tried)
{
	int n = (int)fo->cfg.n;
	char why[512];

	for (int k = 0; k < n; k++) {
		int i = (start + k) % n;
		struct ka_db db;
		unsigned long sid = 0;
		unsigned int err = fo->err;
		int timed_out = fo->timed_out, at_connect = fo->at_connect;
		if (stopped(fo) || ka_now_ms() >= deadline)
			return -1;
		(*tried)++;
		if (connect_one(fo, i, fo->cfg.check_writable, timeout_ms, deadline, &db, &sid,
				why, sizeof why) == 0) {
			take_session(fo, i, &db, sid);
			return 0;
		}
		/* An attempt the failover deadline cut short says less than the endpoint's
		 * last answer (read-only, refused): keep that one, and its errno. */
		if (fo->timed_out && sum[i][0] && ka_now_ms() >= deadline) {
			fo->err = err;
			fo->timed_out = timed_out;
			fo->at_connect = at_connect;
			continue;
		}
		snprintf(sum[i], 200, "%.199s", why);
	}
	return 1;
}

/* Fills err with what a reconnect that began at t0 tried, and each endpoint's fault. */
static void describe_failure(struct ka_fo *fo, int64_t t0, int tried, char sum[][200],
			     char *err, size_t errlen)
{
	size_t o = 0;

	o += (size_t)snprintf(err, errlen, "no usable endpoint after %d attempt(s) in %lld ms",
			      tried, (long long)(ka_now_ms() - t0));
	if (stopped(fo) && o < errlen)
		o += (size_t)snprintf(err + o, errlen - o, " (cancelled)");
	for (int i = 0, first = 1; i < (int)fo->cfg.n && o < errlen; i++)
		if (sum[i][0]) {
			o += (size_t)snprintf(err + o, errlen - o, "%s %s", first ? ":" : ";",
					      sum[i]);
			first = 0;
		}
	if (tried == 0) {
		fo->err = 0;
		fo->timed_out = 1;
		fo->at_connect = 1;
	}
}

/* Connects the writer session: passes over the endpoints starting at start, each pass
 * beginning retry_interval after the previous one began (sleeping the rest), each
 * attempt within attempt_timeout(), until one works, the failover deadline (or
 * hard_deadline) passes, max_passes() were made, or cancel is set. Returns 0 or -1
 * with err naming each endpoint's fault. */
static int reconnect(struct ka_fo *fo, int start, char *err, size_t errlen)
{
	int64_t t0 = ka_now_ms(), deadline = t0 + fo->cfg.failover_timeout_ms;
	int64_t timeout_ms = attempt_timeout(fo);
	char sum[KA_FO_MAX_ENDPOINTS][200];
	int tried = 0, passes = max_passes(fo);

	memset(sum, 0, sizeof sum);
	if (fo->hard_deadline && fo->hard_deadline < deadline)
		deadline = fo->hard_deadline;
	for (int pass = 0; pass < passes; pass++) {
		int64_t next = ka_now_ms() + retry_interval(fo);
		int r = connect_pass(fo, start, timeout_ms, deadline, sum, &tried);
		if (r == 0)
			return 0;
		if (r < 0)
			break;
		if (pass + 1 < passes)
			pause_until(fo, next < deadline ? next : deadline);
	}
	describe_failure(fo, t0, tried, sum, err, errlen);
	return -1;
}

int ka_fo_connect(struct ka_fo *fo, char *err, size_t errlen)
{
	if (fo->db.my)
		return 0;
	if (fo->cfg.n == 0) {
		snprintf(err, errlen, "no endpoint configured");
		return -1;
	}
	return reconnect(fo, fo->last >= 0 ? (fo->last + 1) % (int)fo->cfg.n : 0, err, errlen);
}

int ka_fo_open(struct ka_fo *fo, const struct ka_fo_config *cfg, char *err, size_t errlen)
{
	memset(fo, 0, sizeof *fo);
	fo->cfg = *cfg;
	fo->cur = fo->last = fo->rcur = -1;
	if (fo->cfg.n > KA_FO_MAX_ENDPOINTS)
		fo->cfg.n = KA_FO_MAX_ENDPOINTS;
	for (size_t i = 0; i < fo->cfg.n; i++)
		ka_fo_endpoint_name(fo, (int)i, fo->names[i], sizeof fo->names[i]);
	return ka_fo_connect(fo, err, errlen);
}

/* Closes the writer session and remembers why, for the switch report. */
static void drop_writer(struct ka_fo *fo, unsigned int err, const char *reason)
{
	if (!fo->lost_at) {
		fo->lost_at = ka_now_ms();
		fo->lost_err = err;
		snprintf(fo->lost_reason, sizeof fo->lost_reason, "%s", reason);
	}
	if (fo->cur >= 0) {
		fo->last = fo->cur;
		fo->last_server_id = fo->server_id;
	}
	ka_db_close(&fo->db);
	fo->cur = -1;
	fo->server_id = 0;
}

void ka_fo_disconnect(struct ka_fo *fo, const char *reason)
{
	if (fo->db.my)
		drop_writer(fo, 0, reason ? reason : "dropped by the caller");
}

/* 1 when an idle session still looks open: nothing to read, no hang-up. An idle
 * MariaDB session never has data waiting, so readable means FIN, RST or a kill notice. */
static int session_alive(struct ka_db *db)
{
	int fd = db->my ? mysql_get_socket(db->my) : -1;
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (fd < 0)
		return 0;
	return poll(&p, 1, 0) <= 0;
}

/* 1 when the session holds work a new session would not continue: a transaction is
 * open, or autocommit is off (the next statement opens one, and a new session would
 * run it with autocommit on: committed at once). Read from the last answer's status. */
static int session_has_txn(const struct ka_db *db)
{
	unsigned int st = db->my ? db->my->server_status : 0;

	return db->my && ((st & SERVER_STATUS_IN_TRANS) || !(st & SERVER_STATUS_AUTOCOMMIT));
}

/* "query 'SQL' failed: what" into err, as ka_db_query words it. */
static void query_failed(const char *sql, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "query '%.100s%s' failed: %s", sql, strlen(sql) > 100 ? "..." : "",
		 what);
}

/* what without lib/db.c's prefix (e.g. "statement failed: "): the text after ": ". */
static const char *without_prefix(const char *what, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(what, prefix, n) == 0 && strncmp(what + n, ": ", 2) == 0 ? what + n + 2
									       : what;
}

/* The pause from one side connection's start to the next one's, at least 5 ms. */
static int64_t probe_interval(const struct ka_fo *fo)
{
	int64_t i = fo->cfg.hung_probe_interval_ms;

	return i < KA_FO_MIN_RETRY_INTERVAL_MS ? KA_FO_MIN_RETRY_INTERVAL_MS : i;
}

/* 1 when a side connection to the writer session's endpoint, cut at dl, reaches a
 * writable server with another @@server_id than the session's: the endpoint moved (a
 * VIP now on another node); why then says so. 0 when it failed, timed out, or reached
 * the same server or a read-only one. */
static int endpoint_moved(struct ka_fo *fo, int64_t dl, char *why, size_t len)
{
	struct ka_db side;
	unsigned long sid = 0;
	int read_only = 1, r;
	char err[512];

	fo->hung_probes++;
	r = identify_server(fo, fo->cur, dl, &side, &sid, &read_only, err, sizeof err);
	ka_db_close(&side);
	if (r < 0 || read_only || sid == 0 || sid == fo->server_id)
		return 0;
	snprintf(why, len, "'%s' now leads to writable server_id %lu, not %lu", fo->names[fo->cur],
		 sid, fo->server_id);
	return 1;
}

/* Leaves the writer session as if the server had dropped it while sql (sent at t0)
 * waited: 2013, and closing the session shuts its socket down. Returns -1. */
static int abandon(struct ka_fo *fo, const char *sql, int64_t t0, const char *why,
		   char *err, size_t errlen)
{
	char what[512];

	fo->db.err = 2013;   /* CR_SERVER_LOST */
	fo->db.timed_out = 0;
	fo->hung_abandoned++;
	snprintf(what, sizeof what, "abandoned after %lld ms: %s (2013)",
		 (long long)(ka_now_ms() - t0), why);
	query_failed(sql, what, err, errlen);
	return -1;
}

/* Runs sql on the writer session as ka_db_query does, but watches the wait (see "A hung
 * server" in failover.h): the statement is sent, its answer awaited in slices, and from
 * hung_probe_ms on each slice ends with a side connection. When the endpoint moved, the
 * session is left as if the server had dropped it (db.err 2013). Returns 0 or -1. */
static int query_watched(struct ka_fo *fo, const char *sql, MYSQL_RES **res, char *err,
			 size_t errlen)
{
	struct ka_db *db = &fo->db;
	int64_t t0 = ka_now_ms(), deadline = t0 + fo->cfg.query_timeout_ms;
	int64_t next = t0 + fo->cfg.hung_probe_ms;
	char what[512], why[256];

	if (fo->cfg.hung_probe_ms <= 0 || !fo->server_id || fo->cur < 0)
		return ka_db_query(db, sql, res, deadline, err, errlen);
	if (ka_db_send(db, sql, what, sizeof what) < 0) {
		query_failed(sql, without_prefix(what, "cannot send a statement"), err, errlen);
		return -1;
	}
	for (;;) {
		int64_t now = ka_now_ms(), until = next > now + KA_FO_MIN_SLICE_MS ? next
						   : now + KA_FO_MIN_SLICE_MS;
		int r = ka_db_collect_result(db, res, until < deadline ? until : deadline,
					     deadline, what, sizeof what);
		if (r <= 0) {
			if (r < 0)
				query_failed(sql, without_prefix(what, "statement failed"), err,
					     errlen);
			return r;
		}
		now = ka_now_ms();
		if (now >= deadline) {   /* given up: closing the session cancels it */
			db->err = 0;
			db->timed_out = 1;
			query_failed(sql, "timed out", err, errlen);
			return -1;
		}
		if (now < next)
			continue;
		next = now + probe_interval(fo);
		if (endpoint_moved(fo, now + fo->cfg.hung_probe_timeout_ms < deadline ?
				   now + fo->cfg.hung_probe_timeout_ms : deadline, why, sizeof why))
			return abandon(fo, sql, t0, why, err, errlen);
	}
}

/* Reconnects after a loss without losing the loss's message in err, nor its errno
 * in fo->err when the reconnect works (skipped read-only servers are no news). */
static void reconnect_after_loss(struct ka_fo *fo, char *err, size_t errlen)
{
	char why[512];
	size_t o = strlen(err);
	unsigned int e = fo->err;
	int timed_out = fo->timed_out, at_connect = fo->at_connect;

	if (ka_fo_connect(fo, why, sizeof why) < 0) {
		if (o < errlen)
			snprintf(err + o, errlen - o, "; then %s", why);
		return;
	}
	fo->err = e;
	fo->timed_out = timed_out;
	fo->at_connect = at_connect;
}

/* Runs sql on the writer session; see the header for the rules. */
static int exec_writer(struct ka_fo *fo, const char *sql, int flags, MYSQL_RES **res,
		       char *err, size_t errlen)
{
	char name[96];

	for (int run = 0;; run++) {
		int in_trans, sent;
		if (ka_fo_connect(fo, err, errlen) < 0)
			return KA_FO_UNAVAILABLE;
		in_trans = session_has_txn(&fo->db) || (flags & KA_FO_PINNED);
		if (!session_alive(&fo->db)) {
			snprintf(err, errlen, "connection to '%s' was closed by the server",
				 ka_fo_endpoint_name(fo, fo->cur, name, sizeof name));
			fo->err = 2006;
			fo->timed_out = 0;
			fo->at_connect = 0;
			sent = 0;
		} else {
			if (query_watched(fo, sql, res, err, errlen) == 0) {
				fo->err = 0;
				fo->timed_out = 0;
				return KA_FO_OK;
			}
			note_failure(fo, &fo->db);
			if (!fo->db.timed_out && !ka_fo_is_connection_error(fo->db.err))
				return KA_FO_SQL_ERROR;
			/* 2006 is set when sending failed: the server never got it. */
			sent = fo->db.timed_out || fo->db.err != 2006;
		}
		unsigned long thread = mysql_thread_id(fo->db.my), sid = fo->server_id;
		drop_writer(fo, fo->err, err);
		if (in_trans || (sent && !(flags & (KA_FO_IDEMPOTENT | KA_FO_READ)))) {
			if (sent) {
				fo->amb_thread_id = thread;
				fo->amb_server_id = sid;
			}
			reconnect_after_loss(fo, err, errlen);
			return sent ? KA_FO_AMBIGUOUS : KA_FO_TXN_LOST;
		}
		if (run >= KA_FO_MAX_RERUNS || stopped(fo))
			return KA_FO_UNAVAILABLE;
	}
}

/* Opens the read session on an endpoint other than the writer's. Returns 0 or -1. */
static int open_reader(struct ka_fo *fo)
{
	int n = (int)fo->cfg.n, base = fo->cur >= 0 ? fo->cur : 0;
	int64_t deadline = ka_now_ms() + fo->cfg.connect_timeout_ms;
	char why[512];

	for (int k = 1; k < n; k++) {
		int i = (base + k) % n;
		unsigned long sid = 0;
		if (connect_one(fo, i, 0, fo->cfg.connect_timeout_ms, deadline, &fo->rdb, &sid,
				why, sizeof why) == 0) {
			fo->rcur = i;
			return 0;
		}
	}
	fo->rdown_until = ka_now_ms() + KA_FO_READER_PAUSE_MS;
	return -1;
}

/* Runs a read on the read session. Returns a ka_fo_rc, or 1: use the writer instead. */
static int exec_reader(struct ka_fo *fo, const char *sql, MYSQL_RES **res, char *err,
		       size_t errlen)
{
	if (fo->rdb.my && !session_alive(&fo->rdb)) {
		ka_db_close(&fo->rdb);
		fo->rcur = -1;
	}
	if (!fo->rdb.my && (ka_now_ms() < fo->rdown_until || open_reader(fo) < 0))
		return 1;
	if (ka_db_query(&fo->rdb, sql, res, ka_deadline_in(fo->cfg.query_timeout_ms), err,
			errlen) == 0)
		return KA_FO_OK;
	note_failure(fo, &fo->rdb);
	if (!fo->rdb.timed_out && !ka_fo_is_connection_error(fo->rdb.err))
		return KA_FO_SQL_ERROR;
	ka_db_close(&fo->rdb);
	fo->rcur = -1;
	fo->rdown_until = ka_now_ms() + KA_FO_READER_PAUSE_MS;
	return 1;
}

int ka_fo_exec(struct ka_fo *fo, const char *sql, int flags, MYSQL_RES **res,
	       char *err, size_t errlen)
{
	if (res)
		*res = NULL;
	if ((flags & KA_FO_READ) && !(flags & KA_FO_PINNED) && fo->cfg.read_secondary &&
	    fo->cfg.n > 1) {
		int rc = exec_reader(fo, sql, res, err, errlen);
		if (rc != 1)
			return rc;
	}
	return exec_writer(fo, sql, flags, res, err, errlen);
}

/* Runs sql on the writer session as it is, never on another one: a lost connection
 * drops the session (the caller reconnects and starts over) and is not re-run.
 * Returns 0, or -1 with err filled (fo->db.my NULL when the session was lost). */
static int run_here(struct ka_fo *fo, const char *sql, char *out, size_t outlen,
		    int64_t deadline, char *err, size_t errlen)
{
	int rc;

	if (out)
		rc = ka_db_value(&fo->db, sql, out, outlen, NULL, deadline, err, errlen) < 0 ? -1 : 0;
	else
		rc = ka_db_query(&fo->db, sql, NULL, deadline, err, errlen);
	if (rc == 0)
		return 0;
	note_failure(fo, &fo->db);
	if (fo->db.timed_out || ka_fo_is_connection_error(fo->db.err))
		drop_writer(fo, fo->err, err);
	return -1;
}

/* One look at the lost session id on the writer session: 1 gone, 0 still there (a
 * KILL was sent), -1 failed (session dropped when the connection was lost). The
 * PROCESSLIST row must also belong to our user: a thread id of another account is
 * not ours to kill. */
static int fence_step(struct ka_fo *fo, unsigned long id, int64_t deadline, char *err,
		      size_t errlen)
{
	char sql[200], val[32];

	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
		 "WHERE ID = %lu AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)", id);
	if (run_here(fo, sql, val, sizeof val, deadline, err, errlen) < 0)
		return -1;
	if (strcmp(val, "0") == 0)
		return 1;
	snprintf(sql, sizeof sql, "KILL CONNECTION %lu", id);
	if (run_here(fo, sql, NULL, 0, deadline, err, errlen) < 0 && fo->err != 1094)
		return -1;
	return 0;
}

int ka_fo_fence(struct ka_fo *fo, char *err, size_t errlen)
{
	int64_t deadline = ka_deadline_in(fo->cfg.query_timeout_ms);
	unsigned long id = fo->amb_thread_id;

	if (fo->hard_deadline && fo->hard_deadline < deadline)
		deadline = fo->hard_deadline;
	for (int round = 0; id; round++) {
		if (ka_fo_connect(fo, err, errlen) < 0)
			return -1;
		/* Checked again after every reconnect: the id means something on that
		 * server only. */
		if (fo->server_id != fo->amb_server_id || id == mysql_thread_id(fo->db.my))
			break;
		int r = fence_step(fo, id, deadline, err, errlen);
		if (r == 1)
			break;
		if (r < 0 && fo->db.my)
			return -1;   /* answered with an error: no way to tell */
		if (ka_now_ms() >= deadline || stopped(fo) || round >= KA_FO_FENCE_ROUNDS) {
			if (r == 0)
				snprintf(err, errlen, "session %lu of the lost statement is still "
					 "there on '%s'", id, ka_fo_current(fo));
			return -1;
		}
		pause_ms(fo, 20);
	}
	fo->amb_thread_id = 0;
	return 0;
}

int ka_failover(struct ka_fo *fo, unsigned int err, char *errbuf, size_t errlen)
{
	char why[256];

	if (!ka_fo_is_connection_error(err))
		return 0;
	snprintf(why, sizeof why, "%s (%u)", fo->db.my ? mysql_error(fo->db.my) : "connection lost",
		 err);
	int txn = session_has_txn(&fo->db);
	fo->err = err;
	fo->timed_out = 0;
	fo->at_connect = 0;
	drop_writer(fo, err, why);
	if (ka_fo_connect(fo, errbuf, errlen) < 0)
		return -1;
	return txn ? 2 : 1;
}

void ka_fo_close(struct ka_fo *fo)
{
	ka_db_close(&fo->db);
	ka_db_close(&fo->rdb);
	fo->cur = fo->rcur = -1;
}
