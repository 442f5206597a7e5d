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

static const char *col(MYSQL_RES *res, MYSQL_ROW row, const char *name)
{
	int i = ka_db_column(res, name);

	return (i >= 0 && row[i]) ? row[i] : "";
}

static void read_row(MYSQL_RES *res, MYSQL_ROW row, struct slave_row *w)
{
	memset(w, 0, sizeof *w);
	snprintf(w->name, sizeof w->name, "%s", col(res, row, "Connection_name"));
	snprintf(w->host, sizeof w->host, "%s", col(res, row, "Master_Host"));
	w->port = (unsigned)atoi(col(res, row, "Master_Port"));
	snprintf(w->io, sizeof w->io, "%s", col(res, row, "Slave_IO_Running"));
	snprintf(w->sql, sizeof w->sql, "%s", col(res, row, "Slave_SQL_Running"));
	snprintf(w->io_state, sizeof w->io_state, "%s", col(res, row, "Slave_IO_State"));
	snprintf(w->io_pos, sizeof w->io_pos, "%s", col(res, row, "Gtid_IO_Pos"));
	snprintf(w->master_log_file, sizeof w->master_log_file, "%s",
		 col(res, row, "Master_Log_File"));
	w->read_pos = atoll(col(res, row, "Read_Master_Log_Pos"));
	w->exec_pos = atoll(col(res, row, "Exec_Master_Log_Pos"));
	w->io_errno = (unsigned)atoi(col(res, row, "Last_IO_Errno"));
	w->sql_errno = (unsigned)atoi(col(res, row, "Last_SQL_Errno"));
	snprintf(w->io_error, sizeof w->io_error, "%s", col(res, row, "Last_IO_Error"));
	snprintf(w->sql_error, sizeof w->sql_error, "%s", col(res, row, "Last_SQL_Error"));
}

/* SHOW ALL SLAVES STATUS: every configured connection (multi-source aware). */
static int read_slaves(struct ka_db *db, struct node_state *st, int64_t deadline, char *err,
		       size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	st->nrows = 0;
	if (ka_db_query(db, "SHOW ALL SLAVES STATUS", &res, deadline, err, errlen) < 0)
		return -1;
	while (res && (row = mysql_fetch_row(res)) && st->nrows < MAX_SLAVES) {
		if (!*col(res, row, "Master_Host"))
			continue;
		read_row(res, row, &st->rows[st->nrows++]);
	}
	if (res)
		mysql_free_result(res);
	return 0;
}

int node_query_state(struct ka_db *db, struct node_state *st, int64_t deadline, char *err,
		     size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	st->known = 0;
	if (ka_db_query(db, "SELECT @@global.read_only, @@global.gtid_binlog_pos, "
			"@@global.gtid_slave_pos, @@global.gtid_current_pos", &res, deadline,
			err, errlen) < 0)
		return -1;
	if (!res || !(row = mysql_fetch_row(res))) {
		if (res)
			mysql_free_result(res);
		snprintf(err, errlen, "no row for the state query");
		return -1;
	}
	st->read_only = row[0] && strcmp(row[0], "0") != 0;
	snprintf(st->binlog, sizeof st->binlog, "%s", row[1] ? row[1] : "");
	snprintf(st->slave, sizeof st->slave, "%s", row[2] ? row[2] : "");
	snprintf(st->current, sizeof st->current, "%s", row[3] ? row[3] : "");
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
	step_close(r, s, "ok", "read_only=%s binlog=%s slave=%s current=%s replication=%zu",
		   st->read_only ? "ON" : "OFF", st->binlog, st->slave, st->current, st->nrows);
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

/* SET GLOBAL read_only, then reads it back. */
int node_set_read_only(struct run *r, struct ka_db *db, const char *who, int value)
{
	char err[512], v[8];
	int code = node_exec(r, db, who, value ? "SET GLOBAL read_only=1" : "SET GLOBAL read_only=0",
			     value ? "SET GLOBAL read_only=1" : "SET GLOBAL read_only=0");

	if (code != KA_OK || r->o->dry_run)
		return code;
	struct step *s = step_open(r, "verify read_only on %s", who);
	if (ka_db_value(db, "SELECT @@global.read_only", v, sizeof v, NULL, step_deadline(r),
			err, sizeof err) != 0) {
		step_close(r, s, "failed", "%s", err);
		return node_code(db);
	}
	if ((strcmp(v, "0") != 0) != value) {
		step_close(r, s, "failed", "read_only is %s", v);
		return KA_UNFIT;
	}
	step_close(r, s, "ok", "read_only=%s", value ? "ON" : "OFF");
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
static int list_victims(struct run *r, struct ka_db *db, unsigned long long *victims,
			size_t max, size_t *n, size_t *kept, char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	*n = *kept = 0;
	if (ka_db_query(db, "SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST "
			"WHERE ID <> CONNECTION_ID()", &res, step_deadline(r), err, errlen) < 0)
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

/* Kills client connections (FACTS 19: not own, not system/replication threads, not
 * Binlog Dump, not the HA/replication/checker/--keep-user accounts). One journal step. */
int node_kill_clients(struct run *r, struct ka_db *db, const char *who)
{
	char err[512] = "", ids[300] = "", sql[64];
	unsigned long long victims[256];
	size_t n, kept, killed = 0;
	struct step *s = step_open(r, "kill clients on %s", who);

	if (list_victims(r, db, victims, 256, &n, &kept, err, sizeof err) < 0) {
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
	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof sql, "KILL CONNECTION %llu", victims[i]);
		/* 1094: the connection ended on its own meanwhile. */
		if (ka_db_query(db, sql, NULL, step_deadline(r), err, sizeof err) == 0 ||
		    db->err == 1094)
			killed++;
		else if (db->timed_out || !db->err || db->err >= 2000)
			break;   /* the session is gone: the rest would fail the same way */
	}
	r->killed += (int)killed;
	step_close(r, s, killed == n ? "ok" : "failed", "killed %zu of %zu (ids %s), kept %zu%s%s",
		   killed, n, n ? ids : "-", kept, killed == n ? "" : "; last error: ",
		   killed == n ? "" : err);
	return killed == n ? KA_OK : node_code(db);
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

/* Per domain, the higher of the two positions (a wins ties). */
static void merge_max(struct ka_gtid_set *a, const struct ka_gtid_set *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct ka_gtid *g = NULL;
		for (size_t k = 0; k < a->n; k++)
			if (a->g[k].domain == b->g[i].domain)
				g = &a->g[k];
		if (!g && a->n < KA_GTID_MAX)
			a->g[a->n++] = b->g[i];
		else if (g && b->g[i].seq > g->seq)
			*g = b->g[i];
	}
}

static void parse_into(const char *text, struct ka_gtid_set *out)
{
	struct ka_gtid_set s;
	char err[256];

	if (ka_gtid_parse(text, &s, err, sizeof err) == 0)
		merge_max(out, &s);
	else
		ka_log_warn("%s", err);
}

/* Everything the IO threads received: Gtid_IO_Pos of every connection, merged. */
void node_io_pos(const struct node_state *st, char *out, size_t len)
{
	struct ka_gtid_set s = { 0 };

	for (size_t i = 0; i < st->nrows; i++)
		parse_into(st->rows[i].io_pos, &s);
	gtid_text(&s, out, len);
}

/* What a server holds: per domain the newest of gtid_binlog_pos, gtid_slave_pos and
 * gtid_current_pos (local writes show in the binlog, applied ones in slave_pos: FACTS
 * 22), or only its binlog (what it can serve to a replica). */
void node_held(const struct node_state *st, int binlog_only, struct ka_gtid_set *out)
{
	memset(out, 0, sizeof *out);
	parse_into(st->binlog, out);
	if (binlog_only)
		return;
	parse_into(st->slave, out);
	parse_into(st->current, out);
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

/* Connects to --peer and reads its state into r->peer; sets r->peer_state. A peer that
 * is down or hung (connect refused or timed out) is "unreachable"; one that answers
 * but refuses us (access denied, saturated) is "error". Returns the peer_state. */
int peer_probe(struct run *r, struct ka_db *peer)
{
	int code;

	if (!r->o->have_peer)
		return r->peer_state = PEER_NONE;
	code = node_connect(r, peer, &r->cr->peer, "peer");
	if (code == KA_UNREACHABLE || code == KA_TIMEOUT)
		return r->peer_state = PEER_UNREACHABLE;
	if (code != KA_OK)
		return r->peer_state = PEER_ERROR;
	code = node_read(r, peer, "peer", &r->peer);
	if (code == KA_UNREACHABLE || code == KA_TIMEOUT) {
		snprintf(r->peer_error, sizeof r->peer_error, "peer stopped answering");
		return r->peer_state = PEER_UNREACHABLE;
	}
	if (code != KA_OK) {
		snprintf(r->peer_error, sizeof r->peer_error, "cannot read the peer's state");
		return r->peer_state = PEER_ERROR;
	}
	return r->peer_state = r->peer.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
}

/* A connection name or other text as the inside of '...' (escaped). */
void node_sql_quote(const char *s, char *out, size_t len)
{
	if (ka_sql_escape(s, out, len) < 0)
		out[0] = '\0';
}
