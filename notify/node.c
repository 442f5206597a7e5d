/* Talking to one server (the local node or the peer): connect, read its state, run a
 * changing statement as a journaled step (or a planned one in a dry run), read_only,
 * client kills, and the GTID comparisons the gates use. Every call is bounded by the
 * step deadline (--timeout, cut to the STOP budget). */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int node_connect(struct run *r, struct ka_db *db, const struct ka_dbaddr *a, const char *who)
{
	char err[512];
	struct step *s = step_open(r, "connect %s", who);

	if (ka_db_connect(db, a, step_deadline(r), err, sizeof err) < 0) {
		step_close(r, s, "failed", "%s", err);
		if (!strcmp(who, "peer"))
			snprintf(r->peer_error, sizeof r->peer_error, "%s", err);
		else
			snprintf(r->local_error, sizeof r->local_error, "%s", err);
		return ka_db_exit_code(db);
	}
	step_close(r, s, "ok", "%s", "");
	return KA_OK;
}

/* The fast half of "is the peer gone": a TCP connect to it that must complete and bring
 * the server's greeting within PEER_GREETING_MS (at most --timeout). Refused, no route,
 * no handshake (dead host, cut off) or no greeting (hung mysqld: its kernel completes the
 * handshake) = gone, without a MySQL connect that would wait a whole --timeout. A timed
 * out one is noted (late_note): a promotion asks it again once it is done. Returns 1 when
 * the peer greeted (ask it over SQL), 0 when it is gone (r->peer_error says why). */
int node_peer_greets(struct run *r, const char *who)
{
	char err[300];
	int64_t ms = r->o->timeout_ms < PEER_GREETING_MS ? r->o->timeout_ms : PEER_GREETING_MS;
	struct step *s = step_open(r, "reach %s", who);
	enum ka_tcp_reach got = ka_tcp_greets(&r->peer_ep, ka_deadline_in(ms), err, sizeof err);

	if (got == KA_TCP_ANSWERS || got == KA_TCP_FAILED) {   /* FAILED: a local error */
		step_close(r, s, "ok", "%s", got == KA_TCP_ANSWERS ? "greeted" : err);
		return 1;
	}
	step_close(r, s, "failed", "%s%s", err, got == KA_TCP_TIMED_OUT ? " (within the "
		   "greeting budget: dead, cut off or hung)" : "");
	snprintf(r->peer_error, sizeof r->peer_error, "%s", err);
	if (got == KA_TCP_TIMED_OUT)
		late_note(r, &r->peer_ep);   /* maybe only slow: asked again after a promotion */
	return 0;
}

/* Asks the peer again on a fresh session, after a query of ours on it failed. What counts
 * as evidence that the peer is gone: only a connect that fails (refused, no route, no
 * handshake and greeting within PEER_GREETING_MS, no login within --timeout). A query of
 * ours that timed out, a session we gave up, or the 2006 that follows on it (FACTS 41)
 * is not: that is our own connection. A peer that accepts the connect but cannot be read
 * is "error" (unknown). Returns r->peer_state. */
int node_peer_reask(struct run *r, struct ka_db *peer)
{
	int code;

	ka_db_close(peer);
	if (!node_peer_greets(r, "peer again"))
		return r->peer_state = PEER_UNREACHABLE;
	code = node_connect(r, peer, &r->peer_addr, "peer again");
	if (code == KA_UNREACHABLE || code == KA_TIMEOUT) {
		ka_db_close(peer);
		return r->peer_state = PEER_UNREACHABLE;
	}
	if (code != KA_OK || node_read(r, peer, "peer", &r->peer) != KA_OK) {
		snprintf(r->peer_error, sizeof r->peer_error, "the peer accepts connections but "
			 "cannot be read");
		return r->peer_state = PEER_ERROR;
	}
	return r->peer_state = r->peer.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
}

static const char *col(MYSQL_RES *res, MYSQL_ROW row, const char *name)
{
	int i = ka_db_column(res, name);

	return (i >= 0 && row[i]) ? row[i] : "";
}

/* Copies a position or state read from a server into dst. One that does not fit makes
 * the state unreadable (the first reason is kept): a cut position would parse as a
 * different, smaller one. */
static void copy_pos(struct node_state *st, char *dst, const char *src, const char *what)
{
	char err[300];

	if (ka_gtid_copy(dst, POS_LEN, src, what, err, sizeof err) < 0 && !st->unreadable[0])
		snprintf(st->unreadable, sizeof st->unreadable, "%s", err);
}

static void read_row(MYSQL_RES *res, MYSQL_ROW row, struct slave_row *w, struct node_state *st)
{
	char what[120];

	memset(w, 0, sizeof *w);
	snprintf(w->name, sizeof w->name, "%s", col(res, row, "Connection_name"));
	snprintf(w->host, sizeof w->host, "%s", col(res, row, "Master_Host"));
	w->port = (unsigned)atoi(col(res, row, "Master_Port"));
	snprintf(w->io, sizeof w->io, "%s", col(res, row, "Slave_IO_Running"));
	snprintf(w->sql, sizeof w->sql, "%s", col(res, row, "Slave_SQL_Running"));
	snprintf(w->io_state, sizeof w->io_state, "%s", col(res, row, "Slave_IO_State"));
	snprintf(what, sizeof what, "Gtid_IO_Pos of connection '%.60s'", w->name);
	copy_pos(st, w->io_pos, col(res, row, "Gtid_IO_Pos"), what);
	snprintf(w->master_log_file, sizeof w->master_log_file, "%s",
		 col(res, row, "Master_Log_File"));
	snprintf(w->relay_master_log_file, sizeof w->relay_master_log_file, "%s",
		 col(res, row, "Relay_Master_Log_File"));
	snprintf(w->using_gtid, sizeof w->using_gtid, "%s", col(res, row, "Using_Gtid"));
	w->read_pos = atoll(col(res, row, "Read_Master_Log_Pos"));
	w->exec_pos = atoll(col(res, row, "Exec_Master_Log_Pos"));
	w->io_errno = (unsigned)atoi(col(res, row, "Last_IO_Errno"));
	w->sql_errno = (unsigned)atoi(col(res, row, "Last_SQL_Errno"));
	snprintf(w->io_error, sizeof w->io_error, "%s", col(res, row, "Last_IO_Error"));
	snprintf(w->sql_error, sizeof w->sql_error, "%s", col(res, row, "Last_SQL_Error"));
}

/* SHOW ALL SLAVES STATUS: every configured connection (multi-source aware). More than
 * MAX_SLAVES makes the state unreadable: a connection never read is never drained. */
static int read_slaves(struct ka_db *db, struct node_state *st, int64_t deadline, char *err,
		       size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t seen = 0;

	st->nrows = 0;
	if (ka_db_query(db, "SHOW ALL SLAVES STATUS", &res, deadline, err, errlen) < 0)
		return -1;
	while (res && (row = mysql_fetch_row(res))) {
		if (!*col(res, row, "Master_Host"))
			continue;
		if (++seen <= MAX_SLAVES)
			read_row(res, row, &st->rows[st->nrows++], st);
	}
	if (res)
		mysql_free_result(res);
	if (seen > MAX_SLAVES && !st->unreadable[0])
		snprintf(st->unreadable, sizeof st->unreadable, "%zu replication connections, at "
			 "most %d are read", seen, MAX_SLAVES);
	return 0;
}

/* The positions must parse into a history and the received GTIDs into a set: else
 * st->unreadable says why (the state is still known: demotion needs only read_only). */
void node_check_readable(struct node_state *st)
{
	static struct ka_gtid_set scratch;   /* 12 KB: off the stack (never in a thread) */
	char err[sizeof st->unreadable];

	if (st->unreadable[0])
		return;
	if (node_history(st, 0, &scratch, err, sizeof err) < 0 ||
	    node_io_pos(st, &scratch, err, sizeof err) < 0)
		snprintf(st->unreadable, sizeof st->unreadable, "%s", err);
}

/* Reads read_only, the GTID positions, gtid_binlog_state and every replication
 * connection. Returns 0 (st->known; st->unreadable names a position that could not be
 * read whole) or -1 with err filled (the server did not answer). */
int node_query_state(struct ka_db *db, struct node_state *st, int64_t deadline, char *err,
		     size_t errlen)
{
	if (node_query_raw(db, st, deadline, err, errlen) < 0)
		return -1;
	node_check_readable(st);
	return 0;
}

/* node_query_state without the parse check (node_check_readable, which uses static
 * memory): safe in a thread of its own (others.c). */
int node_query_raw(struct ka_db *db, struct node_state *st, int64_t deadline, char *err,
		   size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	st->known = 0;
	st->unreadable[0] = '\0';
	if (ka_db_query(db, "SELECT @@global.read_only, @@global.gtid_binlog_pos, "
			"@@global.gtid_slave_pos, @@global.gtid_current_pos, "
			"@@global.gtid_binlog_state, @@global.server_id", &res, deadline, err,
			errlen) < 0)
		return -1;
	if (!res || !(row = mysql_fetch_row(res))) {
		if (res)
			mysql_free_result(res);
		snprintf(err, errlen, "no row for the state query");
		return -1;
	}
	st->read_only = row[0] && strcmp(row[0], "0") != 0;
	copy_pos(st, st->binlog, row[1] ? row[1] : "", "gtid_binlog_pos");
	copy_pos(st, st->slave, row[2] ? row[2] : "", "gtid_slave_pos");
	copy_pos(st, st->current, row[3] ? row[3] : "", "gtid_current_pos");
	copy_pos(st, st->binlog_state, row[4] ? row[4] : "", "gtid_binlog_state");
	st->server_id = strtoul(row[5] ? row[5] : "0", NULL, 10);
	mysql_free_result(res);
	if (read_slaves(db, st, deadline, err, errlen) < 0)
		return -1;
	st->known = 1;
	return 0;
}

int node_code(const struct ka_db *db)
{
	int code = ka_db_exit_code(db);

	return code == KA_OK ? KA_UNFIT : code;
}

int node_read(struct run *r, struct ka_db *db, const char *who, struct node_state *st)
{
	char err[512];
	struct step *s = step_open(r, "read %s state", who);

	if (node_query_state(db, st, step_deadline(r), err, sizeof err) < 0) {
		step_close(r, s, "failed", "%s", err);
		return node_code(db);
	}
	step_close(r, s, "ok", "read_only=%s binlog=%.150s slave=%.150s current=%.150s "
		   "replication=%zu%s%.300s", st->read_only ? "ON" : "OFF", st->binlog, st->slave,
		   st->current, st->nrows, st->unreadable[0] ? "; unreadable: " : "",
		   st->unreadable);
	return KA_OK;
}

/* Fills r->after from db when the session is usable (best effort, no step). */
void node_read_after(struct run *r, struct ka_db *db)
{
	char err[512];

	if (r->o->dry_run || !db->my || db->timed_out || db->err >= 2000)
		return;
	if (node_query_state(db, &r->after, step_deadline(r), err, sizeof err) < 0)
		ka_log_debug("cannot read the state after the run: %s", err);
}

/* Runs a statement that changes the server, as a step bounded by ms (cut to the STOP
 * budget); label is what the journal shows (it never holds a password). In a dry run,
 * prints the plan instead. */
int node_exec_within(struct run *r, struct ka_db *db, const char *who, const char *label,
		     const char *sql, int64_t ms)
{
	char err[512];
	struct step *s;
	int64_t deadline = ka_deadline_in(ms);

	if (r->o->dry_run) {
		plan(r, "%s on %s", label, who);
		return KA_OK;
	}
	if (r->budget_end && r->budget_end < deadline)
		deadline = r->budget_end;
	s = step_open(r, "%.40s on %s", label, who);
	if (ka_db_query(db, sql, NULL, deadline, err, sizeof err) < 0) {
		/* Told with the label, never the statement (it may hold a password). */
		snprintf(err, sizeof err, "%s", db->timed_out ? "timed out" : mysql_error(db->my));
		step_close(r, s, "failed", "%s: %s (%u)", label, err, db->err);
		ka_log_warn("%s on %s failed: %s (%u)", label, who, err, db->err);
		return node_code(db);
	}
	step_close(r, s, "ok", "%s", label);
	return KA_OK;
}

int node_exec(struct run *r, struct ka_db *db, const char *who, const char *label,
	      const char *sql)
{
	return node_exec_within(r, db, who, label, sql, r->o->timeout_ms);
}

/* SET GLOBAL read_only=0 so that it cannot land late (FACTS 40): the statement takes
 * effect only if the server runs it before its own clock passes (its time now) + the
 * step's --timeout. *settled is the monotonic time after which a copy that timed out here
 * can no longer change anything. Then read back. Returns KA_OK when read_only=0 is read. */
int node_set_writable(struct run *r, struct ka_db *db, const char *who, int64_t *settled)
{
	char err[512], now[40], sql[200], v[8];
	int64_t ms = r->o->timeout_ms;
	int code;

	*settled = ka_now_ms();
	if (r->o->dry_run) {
		plan(r, "SET GLOBAL read_only=0 on %s", who);
		return KA_OK;
	}
	struct step *s = step_open(r, "server clock on %s", who);
	if (ka_db_value(db, "SELECT UNIX_TIMESTAMP(SYSDATE(6))", now, sizeof now, NULL,
			step_deadline(r), err, sizeof err) != 0) {
		step_close(r, s, "failed", "%s", err);
		return node_code(db);
	}
	step_close(r, s, "ok", "%s", now);
	*settled = ka_now_ms() + ms + 100;
	snprintf(sql, sizeof sql, "BEGIN NOT ATOMIC IF UNIX_TIMESTAMP(SYSDATE(6)) < %.6f THEN "
		 "SET GLOBAL read_only=0; END IF; END", strtod(now, NULL) + (double)ms / 1000.0);
	if ((code = node_exec_within(r, db, who, "SET GLOBAL read_only=0", sql, ms)) != KA_OK)
		return code;
	s = step_open(r, "verify read_only on %s", who);
	if (ka_db_value(db, "SELECT @@global.read_only", v, sizeof v, NULL, step_deadline(r),
			err, sizeof err) != 0) {
		step_close(r, s, "failed", "%s", err);
		return node_code(db);
	}
	if (strcmp(v, "0") != 0) {
		step_close(r, s, "failed", "read_only is %s (the server ran it too late)", v);
		return KA_UNFIT;
	}
	step_close(r, s, "ok", "read_only=OFF");
	return KA_OK;
}

/* @@global.read_only of db into *ro. Returns KA_OK or the failure's code. */
int node_read_only(struct ka_db *db, int64_t deadline, int *ro, char *err, size_t errlen)
{
	char v[8];

	if (ka_db_value(db, "SELECT @@global.read_only", v, sizeof v, NULL, deadline, err,
			errlen) != 0)
		return node_code(db);
	*ro = strcmp(v, "0") != 0;
	return KA_OK;
}

static int keep_user(const struct run *r, const char *user)
{
	const struct opts *o = r->o;

	if (!strcmp(user, "system user") || !strcmp(user, "event_scheduler"))
		return 1;
	if (r->cr->local.vals.user[0] && !strcmp(user, r->cr->local.vals.user))
		return 1;
	if (r->cr->have_repl && r->cr->repl.user[0] && !strcmp(user, r->cr->repl.user))
		return 1;
	if (r->cr->monitor_user[0] && !strcmp(user, r->cr->monitor_user))
		return 1;
	for (size_t i = 0; i < o->nkeep; i++)
		if (!strcmp(user, o->keep_users[i]))
			return 1;
	return 0;
}

/* Threads that are not application clients (FACTS 19). */
static int keep_command(const char *cmd)
{
	static const char *const keep[] = { "Binlog Dump", "Slave_IO", "Slave_SQL",
					    "Slave_worker", "Daemon", "Killed", NULL };

	for (int i = 0; keep[i]; i++)
		if (!strcmp(cmd, keep[i]))
			return 1;
	return 0;
}

/* The connections to kill, into victims (at most max); *kept counts the others. */
static int list_victims(struct run *r, struct ka_db *db, int64_t deadline,
			unsigned long long *victims, size_t max, size_t *n, size_t *kept,
			char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	*n = *kept = 0;
	if (ka_db_query(db, "SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST "
			"WHERE ID <> CONNECTION_ID()", &res, deadline, err, errlen) < 0)
		return -1;
	while (res && (row = mysql_fetch_row(res))) {
		const char *user = row[1] ? row[1] : "", *cmd = row[2] ? row[2] : "";
		if (keep_user(r, user) || keep_command(cmd) || *n == max)
			(*kept)++;
		else
			victims[(*n)++] = strtoull(row[0], NULL, 10);
	}
	if (res)
		mysql_free_result(res);
	return 0;
}

/* KILL CONNECTION for each victim. Returns how many are gone (1094: it ended by itself);
 * stops at the first failure that means the session is gone. */
static size_t kill_list(struct ka_db *db, const unsigned long long *victims, size_t n,
			int64_t deadline, char *err, size_t errlen)
{
	char sql[64];
	size_t killed = 0;

	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof sql, "KILL CONNECTION %llu", victims[i]);
		if (ka_db_query(db, sql, NULL, deadline, err, errlen) == 0 || db->err == 1094)
			killed++;
		else if (db->timed_out || !db->err || db->err >= 2000)
			break;   /* the session is gone: the rest would fail the same way */
	}
	return killed;
}

/* Kills client connections (FACTS 19: not own, not system/replication threads, not
 * Binlog Dump, not the HA/replication/checker/--keep-user accounts). One journal step. */
int node_kill_clients(struct run *r, struct ka_db *db, const char *who)
{
	char err[512] = "", ids[300] = "";
	unsigned long long victims[256];
	size_t n, kept, killed;
	struct step *s = step_open(r, "kill clients on %s", who);

	if (list_victims(r, db, step_deadline(r), victims, 256, &n, &kept, err,
			 sizeof err) < 0) {
		step_close(r, s, "failed", "%s", err);
		return node_code(db);
	}
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(ids);
		snprintf(ids + used, sizeof ids - used, "%s%llu", used ? "," : "", victims[i]);
	}
	if (r->o->dry_run) {
		step_close(r, s, "planned", "would kill %zu (ids %s), keep %zu", n, n ? ids : "-",
			   kept);
		if (n)
			plan(r, "KILL CONNECTION %s on %s", ids, who);
		return KA_OK;
	}
	killed = kill_list(db, victims, n, step_deadline(r), err, sizeof err);
	r->killed += (int)killed;
	step_close(r, s, killed == n ? "ok" : "failed", "killed %zu of %zu (ids %s), kept %zu%s%s",
		   killed, n, n ? ids : "-", kept, killed == n ? "" : "; last error: ",
		   killed == n ? "" : err);
	return killed == n ? KA_OK : node_code(db);
}

/* One round of the killer session: connects it when needed, kills every client
 * (again: a writer may have reconnected). Returns how many were killed. */
static size_t kill_round(struct run *r, struct ka_db *killer, const struct ka_dbaddr *addr,
			 int64_t end, char *err, size_t errlen)
{
	unsigned long long victims[256];
	size_t n, kept;

	if (!killer->my && ka_db_connect(killer, addr, end, err, errlen) < 0) {
		ka_db_close(killer);
		return 0;
	}
	if (list_victims(r, killer, end, victims, 256, &n, &kept, err, errlen) < 0) {
		ka_db_close(killer);
		return 0;
	}
	return kill_list(killer, victims, n, end, err, errlen);
}

/* Waits for the SET sent on db until end; meanwhile kills the writers it waits for from
 * killer, every FORCE_SLICE_MS. Returns 0 answered, 1 gave up (end passed), -1 failed. */
static int wait_and_kill(struct run *r, struct ka_db *db, struct ka_db *killer,
			 const struct ka_dbaddr *addr, int64_t end, size_t *killed, char *err,
			 size_t errlen)
{
	for (int round = 0; round < 100000; round++) {
		int64_t slice = ka_deadline_in(FORCE_SLICE_MS);
		int rc = ka_db_collect(db, slice < end ? slice : end, err, errlen);
		if (rc <= 0)
			return rc;
		if (ka_remaining_ms(end) <= 0 || ka_notify_term)
			break;
		if (!r->o->no_kill)
			*killed += kill_round(r, killer, addr, end, err, errlen);
	}
	db->timed_out = 1;   /* given up: closing the session cancels the SET */
	snprintf(err, errlen, "no answer within the budget");
	return 1;
}

/* read_only of the server on db, connected to addr first when it is not. */
static int read_back(struct ka_db *db, const struct ka_dbaddr *addr, int64_t deadline, int *ro,
		     char *err, size_t errlen)
{
	if (!db->my && ka_db_connect(db, addr, deadline, err, errlen) < 0)
		return ka_db_exit_code(db);
	return node_read_only(db, deadline, ro, err, errlen);
}

/* read_only=1 on a server that may be running writes (FACTS 39: the SET waits for them,
 * and a cancelled SET is dropped). The SET is sent on db without waiting; while it waits,
 * a second session to addr kills the client connections, each round, until the SET
 * returns or ms (cut to the STOP budget) ends; only then is db given up. Done means
 * read_only=1 read back on a fresh query. Returns KA_OK, or the failure's code. */
int node_force_read_only(struct run *r, struct ka_db *db, const struct ka_dbaddr *addr,
			 const char *who, int64_t ms)
{
	char err[512] = "";
	struct ka_db killer = { 0 };
	int64_t end = ka_deadline_in(ms);
	size_t killed = 0;
	int rc, ro = 0, code;

	if (r->o->dry_run) {
		plan(r, "SET GLOBAL read_only=1 on %s", who);
		return KA_OK;
	}
	if (r->budget_end && r->budget_end < end)
		end = r->budget_end;
	struct step *s = step_open(r, "SET GLOBAL read_only=1 on %s", who);
	rc = ka_db_send(db, "SET GLOBAL read_only=1", err, sizeof err);
	if (rc == 0)
		rc = wait_and_kill(r, db, &killer, addr, end, &killed, err, sizeof err);
	r->killed += (int)killed;
	if (rc == 1)
		ka_db_close(db);   /* cancels the SET: the server drops it (FACTS 39) */
	/* Read back on a fresh query of a live session: it may have landed just before. */
	code = read_back(rc == 1 ? &killer : db, addr, ka_deadline_in(r->budget_end ? 100 :
			 r->o->timeout_ms / 2 + 10), &ro, err + strlen(err), sizeof err - strlen(err));
	if (!db->my) {
		*db = killer;   /* the live session carries on (NULL when there is none) */
		memset(&killer, 0, sizeof killer);
	}
	ka_db_close(&killer);
	if (code == KA_OK && ro) {
		step_close(r, s, "ok", "read_only=1 read back; %zu writer connection(s) killed "
			   "while it waited", killed);
		return KA_OK;
	}
	step_close(r, s, "failed", "%s; read_only=1 not confirmed; %zu connection(s) killed",
		   err, killed);
	ka_log_warn("read_only=1 on %s not confirmed: %s", who, err);
	return rc == 1 ? KA_TIMEOUT : rc < 0 ? node_code(db) : code != KA_OK ? code : KA_UNFIT;
}

/* 1 when an IO thread is connected and receiving (Yes; not Connecting). */
int node_io_connected(const struct node_state *st)
{
	for (size_t i = 0; i < st->nrows; i++)
		if (!strcmp(st->rows[i].io, "Yes"))
			return 1;
	return 0;
}

/* 1 when every configured connection's SQL thread runs. */
int node_sql_running(const struct node_state *st)
{
	for (size_t i = 0; i < st->nrows; i++)
		if (strcmp(st->rows[i].sql, "Yes") != 0)
			return 0;
	return 1;
}

/* 1 when connection w replicates by GTID (MASTER_USE_GTID slave_pos or current_pos);
 * file/position replication (No) has no meaningful Gtid_IO_Pos. */
int node_uses_gtid(const struct slave_row *w)
{
	return strcasecmp(w->using_gtid, "No") != 0;
}

/* Everything the GTID connections' IO threads received: their Gtid_IO_Pos, per (domain,
 * server) the highest. Returns 0, or -1 with err filled (never a partial set). */
int node_io_pos(const struct node_state *st, struct ka_gtid_set *out, char *err, size_t errlen)
{
	char what[120];

	out->n = 0;
	if (st->unreadable[0]) {
		snprintf(err, errlen, "%s", st->unreadable);
		return -1;
	}
	for (size_t i = 0; i < st->nrows; i++) {
		if (!node_uses_gtid(&st->rows[i]))
			continue;
		snprintf(what, sizeof what, "Gtid_IO_Pos of connection '%.60s'", st->rows[i].name);
		if (ka_gtid_history_add(out, st->rows[i].io_pos, what, err, errlen) < 0) {
			out->n = 0;
			return -1;
		}
	}
	return 0;
}

/* What a server holds (lib/gtid.h, FACTS 42): the history from its gtid_binlog_state,
 * gtid_slave_pos and gtid_current_pos; or, binlog_only, from its gtid_binlog_state alone
 * (what it can serve a replica). Returns 0, or -1 with err filled when a position could
 * not be read whole: such a history is never used, never counted as empty. */
int node_history(const struct node_state *st, int binlog_only, struct ka_gtid_set *out,
		 char *err, size_t errlen)
{
	out->n = 0;
	if (st->unreadable[0]) {
		snprintf(err, errlen, "%s", st->unreadable);
		return -1;
	}
	if (binlog_only)
		return ka_gtid_history(out, st->binlog_state, NULL, NULL, err, errlen);
	return ka_gtid_history(out, st->binlog_state, st->slave, st->current, err, errlen);
}

/* Counts the GTIDs of `from` that history `have` does not hold (lib/gtid.h: same
 * domain and server, seq_no at least as high), described in desc. */
int gtid_missing(const struct ka_gtid_set *have, const struct ka_gtid_set *from, char *desc,
		 size_t desclen)
{
	return ka_gtid_missing(have, from, desc, desclen);
}

/* Text of a GTID set ("0-1-5,1-2-7"). */
void gtid_text(const struct ka_gtid_set *s, char *out, size_t len)
{
	ka_gtid_text(s, out, len);
}

/* MASTER_GTID_WAIT's argument for the GTIDs in s: per domain the highest seq_no. Only a
 * way to sleep until progress: whether they are held is decided by lineage after. */
void gtid_wait_target(const struct ka_gtid_set *s, char *out, size_t len)
{
	static struct ka_gtid_set pos;

	pos.n = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t k = 0;
		while (k < pos.n && pos.g[k].domain != s->g[i].domain)
			k++;
		if (k == pos.n)
			pos.g[pos.n++] = s->g[i];
		else if (s->g[i].seq > pos.g[k].seq)
			pos.g[k] = s->g[i];
	}
	gtid_text(&pos, out, len);
}

/* Connects to --peer and reads its state into r->peer; sets r->peer_state. A peer that
 * is down or hung (connect refused or timed out) is "unreachable"; one that answers
 * but refuses us (access denied, saturated) is "error". Returns the peer_state. */
int peer_probe(struct run *r, struct ka_db *peer)
{
	int code;

	if (!r->o->have_peer)
		return r->peer_state = PEER_NONE;
	if (!node_peer_greets(r, "peer"))
		return r->peer_state = PEER_UNREACHABLE;
	code = node_connect(r, peer, &r->peer_addr, "peer");
	if (code == KA_UNREACHABLE || code == KA_TIMEOUT)
		return r->peer_state = PEER_UNREACHABLE;
	if (code != KA_OK)
		return r->peer_state = PEER_ERROR;
	code = node_read(r, peer, "peer", &r->peer);
	if (code == KA_UNREACHABLE || code == KA_TIMEOUT)
		return node_peer_reask(r, peer);   /* a failed query is no evidence */
	if (code != KA_OK) {
		snprintf(r->peer_error, sizeof r->peer_error, "cannot read the peer's state");
		return r->peer_state = PEER_ERROR;
	}
	if (r->peer.unreadable[0]) {   /* its history is unknown: never counted as empty */
		snprintf(r->peer_error, sizeof r->peer_error, "the peer's GTID positions cannot "
			 "be read whole: %.400s", r->peer.unreadable);
		return r->peer_state = PEER_ERROR;
	}
	return r->peer_state = r->peer.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
}

/* The address of endpoint ep with the local node's credentials (the HA account). */
void node_addr_of(const struct run *r, const struct ka_endpoint *ep, struct ka_dbaddr *out)
{
	*out = r->cr->local.addr;
	out->host = ep->host;
	out->port = ep->port;
	out->socket = NULL;
}

/* Makes ep the run's current peer: the one rejoin, the gate, the fence and switchover
 * talk to. */
void run_set_peer(struct run *r, const struct ka_endpoint *ep)
{
	r->peer_ep = *ep;
	node_addr_of(r, &r->peer_ep, &r->peer_addr);
}

/* A connection name or other text as the inside of '...' (escaped). */
void node_sql_quote(const char *s, char *out, size_t len)
{
	if (ka_sql_escape(s, out, len) < 0)
		out[0] = '\0';
}
