#include "probe.h"
#include "deadline.h"
#include "exitcode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One query reads read_only and everything a node holds (lib/gtid.h: a history). */
#define BASICS_SQL "SELECT @@global.read_only, @@global.gtid_binlog_state, " \
		   "@@global.gtid_slave_pos, @@global.gtid_current_pos"

static int set_result(struct ka_probe_result *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_result(struct ka_probe_result *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	return code;
}

void ka_probe_result_init(struct ka_probe_result *r)
{
	memset(r, 0, sizeof *r);
	r->read_only = -1;
	r->lag = -1;
}

int ka_probe_connect(struct ka_db *db, const struct ka_dbaddr *addr,
		     struct ka_probe_result *r, int64_t deadline)
{
	char err[512];

	if (ka_db_connect(db, addr, deadline, err, sizeof err) < 0)
		return set_result(r, ka_db_exit_code(db), "%s", err);
	r->connected = 1;
	return KA_OK;
}

/* A node's state as the basics query returns it. */
struct node_texts {
	int read_only;
	char *binlog_state, *slave_pos, *current;   /* KA_GTID_TEXT_MAX each */
};

/* Runs BASICS_SQL on db into t. Returns 0; -1 when the query failed (*code from the
 * session); -2 when the answer is unusable (*code 1): no row, or a text too long to read
 * whole (a cut position would compare as a different one). err says which. */
static int read_basics(struct ka_db *db, const char *who, struct node_texts *t,
		       int64_t deadline, int *code, char *err, size_t errlen)
{
	char what[160];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = 0;

	if (ka_db_query(db, BASICS_SQL, &res, deadline, err, errlen) < 0) {
		*code = ka_db_exit_code(db);
		return -1;
	}
	*code = KA_UNFIT;
	if (!res || mysql_num_fields(res) != 4 || !(row = mysql_fetch_row(res))) {
		snprintf(err, errlen, "%s returned no row for the status query", who);
		rc = -2;
	} else {
		const char *names[3] = { "gtid_binlog_state", "gtid_slave_pos", "gtid_current_pos" };
		char *dst[3] = { t->binlog_state, t->slave_pos, t->current };
		t->read_only = row[0] && strcmp(row[0], "0") != 0;
		for (int i = 0; i < 3 && rc == 0; i++) {
			snprintf(what, sizeof what, "%s: %s", who, names[i]);
			if (ka_gtid_copy(dst[i], KA_GTID_TEXT_MAX, row[i + 1] ? row[i + 1] : "",
					 what, err, errlen) < 0)
				rc = -2;
		}
	}
	if (res)
		mysql_free_result(res);
	return rc;
}

static int probe_basics(struct ka_db *db, struct ka_probe_result *r, int64_t deadline)
{
	struct node_texts t = { .binlog_state = r->binlog_state, .slave_pos = r->slave_pos,
				.current = r->gtid };
	char err[512];
	int code;

	if (read_basics(db, "this node", &t, deadline, &code, err, sizeof err) != 0)
		return set_result(r, code, "%s", err);
	r->read_only = t.read_only;
	return KA_OK;
}

static const char *field(MYSQL_RES *res, MYSQL_ROW row, const char *name)
{
	int i = ka_db_column(res, name);

	return (i >= 0 && row[i]) ? row[i] : NULL;
}

/* Judges one SHOW ALL SLAVES STATUS row; the first failing condition wins. */
static int judge_replica_row(const struct ka_probe_opts *o, struct ka_probe_result *r,
			     MYSQL_RES *res, MYSQL_ROW row)
{
	const char *conn = field(res, row, "Connection_name");
	const char *io = field(res, row, "Slave_IO_Running");
	const char *sql = field(res, row, "Slave_SQL_Running");
	const char *lag = field(res, row, "Seconds_Behind_Master");
	const char *name = (conn && *conn) ? conn : "default";

	snprintf(r->io, sizeof r->io, "%s", io ? io : "?");
	snprintf(r->sql, sizeof r->sql, "%s", sql ? sql : "?");
	r->lag = lag ? atol(lag) : -1;
	if (!io || strcmp(io, "Yes") != 0) {
		const char *e = field(res, row, "Last_IO_Error");
		return set_result(r, KA_IO_STOPPED, "replication IO thread of connection '%s' is %s%s%s",
				  name, io ? io : "unknown", e && *e ? ": " : "", e ? e : "");
	}
	if (!sql || strcmp(sql, "Yes") != 0) {
		const char *e = field(res, row, "Last_SQL_Error");
		return set_result(r, KA_SQL_STOPPED, "replication SQL thread of connection '%s' is %s%s%s",
				  name, sql ? sql : "unknown", e && *e ? ": " : "", e ? e : "");
	}
	if (o->max_lag >= 0 && r->lag < 0)
		return set_result(r, KA_LAGGING, "replication lag of connection '%s' is unknown "
				  "(Seconds_Behind_Master NULL)", name);
	if (o->max_lag >= 0 && r->lag > o->max_lag)
		return set_result(r, KA_LAGGING, "replication lag of connection '%s' is %ld s, "
				  "above --max-lag %ld", name, r->lag, o->max_lag);
	return KA_OK;
}

/* Every configured replication connection must be healthy (multi-source aware). None
 * configured: a writable node is a primary; a read-only one is detached (it passes: a
 * fresh pair boots that way, and keepalived must still elect one; the caller warns). */
static int check_replication(struct ka_db *db, const struct ka_probe_opts *o,
			     struct ka_probe_result *r, int64_t deadline)
{
	char err[512];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int code = KA_OK;
	long worst_lag = 0;

	if (ka_db_query(db, "SHOW ALL SLAVES STATUS", &res, deadline, err, sizeof err) < 0)
		return set_result(r, ka_db_exit_code(db), "%s", err);
	while (res && (row = mysql_fetch_row(res)) && code == KA_OK) {
		const char *mh = field(res, row, "Master_Host");
		if (!mh || !*mh)
			continue;
		r->replica = 1;
		code = judge_replica_row(o, r, res, row);
		if (r->lag < 0 || (worst_lag >= 0 && r->lag > worst_lag))
			worst_lag = r->lag;
	}
	if (res)
		mysql_free_result(res);
	if (r->replica && code == KA_OK)
		r->lag = worst_lag;
	if (!r->replica && r->read_only == 1) {
		r->detached = 1;
		snprintf(r->note, sizeof r->note, "node is read-only and has no replication "
			 "configured (detached): it is neither a primary nor a replica");
	}
	return code;
}

/* A network step's share: a quarter of the run's budget (at least 1 ms). */
static int64_t step_share(const struct ka_probe_opts *o)
{
	return o->timeout_ms / 4 > 0 ? o->timeout_ms / 4 : 1;
}

static int not_asked(struct ka_probe_result *r, const char *step, int64_t left)
{
	return set_result(r, KA_TIMEOUT, "%s not asked: deadline spent (%lld ms of the "
			  "deadline left after the local queries)", step, (long long)left);
}

static int check_witness(const struct ka_probe_opts *o, struct ka_probe_result *r,
			 int64_t deadline)
{
	char err[1024], t[80];
	int64_t left = ka_remaining_ms(deadline);
	int timed_out;

	if (left <= 0) {
		snprintf(r->witness, sizeof r->witness, "not-asked");
		return not_asked(r, "witness", left);
	}
	int i = ka_tcp_any_answers(o->witness, o->nwitness, !o->witness_connect_only, deadline,
				   &timed_out, err, sizeof err);
	if (i < 0 && timed_out && left < step_share(o)) {
		snprintf(r->witness, sizeof r->witness, "not-asked");
		return not_asked(r, "witness", left);
	}
	if (i < 0)
		return set_result(r, KA_ISOLATED, "no witness reachable: %s", err);
	snprintf(r->witness, sizeof r->witness, "%s", ka_endpoint_text(&o->witness[i], t, sizeof t));
	return KA_OK;
}

/* 1 when a client error number says the network failed (not the server's answer). */
static int network_errno(unsigned int e)
{
	return e == 2002 || e == 2003 || e == 2006 || e == 2013;
}

enum gone { PEER_ANSWERS, PEER_GONE, PEER_NOT_ASKED };

/* Whether a failed connect to the peer is evidence that the peer is gone: a connect
 * that timed out, or a network error confirmed by a plain TCP connect (refused, no
 * route, timed out). Anything else answered us. why says what was seen. */
static enum gone peer_gone(const struct ka_probe_opts *o, const struct ka_db *peer,
			   int64_t left, int64_t deadline, char *why, size_t whylen)
{
	if (peer->timed_out) {
		snprintf(why, whylen, "connect timed out");
		return left < step_share(o) ? PEER_NOT_ASKED : PEER_GONE;
	}
	if (!network_errno(peer->err))
		return PEER_ANSWERS;
	switch (ka_tcp_reach(&o->peer, deadline, why, whylen)) {
	case KA_TCP_REFUSED:
	case KA_TCP_NO_ROUTE:
		return PEER_GONE;
	case KA_TCP_TIMED_OUT:
		return left < step_share(o) ? PEER_NOT_ASKED : PEER_GONE;
	default:
		return PEER_ANSWERS;
	}
}

static int unqueryable(struct ka_probe_result *r, const char *ep, const char *err)
{
	snprintf(r->peer, sizeof r->peer, "unqueryable");
	return set_result(r, KA_SPLIT_BRAIN, "peer '%s' answers but cannot be queried: %s; the "
			  "split-brain guard cannot rule out that the peer is writable and ahead "
			  "(fix the check account on the peer, or make the peer read-only or stop it)",
			  ep, err);
}

/* Lists the entries of `from` that `have` lacks: "N: 0-2-4 (holds 0-1-3), ...". */
static void lacking(const struct ka_gtid_set *have, const struct ka_gtid_set *from, char *out,
		    size_t len)
{
	char desc[3072];
	int n = ka_gtid_missing(have, from, desc, sizeof desc);

	snprintf(out, len, "%d GTID%s: %s", n, n == 1 ? "" : "s", desc);
}

/* The rule of ka-check-mariadb(8) for a writable peer: this node behind -> 11; diverged
 * -> the successor (promoted after the parting point, lib/gtid.h) stays fit and the old
 * primary gets 11, or 11 on both with the operator's path when that is undecidable;
 * same or ahead -> fit. */
static int judge_histories(struct ka_probe_result *r, const char *ep,
			   const struct node_texts *t)
{
	static struct ka_gtid_set mine, theirs;   /* 12 KB each: off the stack */
	char err[512], we_lack[3200], they_lack[3200];

	if (ka_gtid_history(&mine, r->binlog_state, r->slave_pos, r->gtid, err, sizeof err) < 0)
		return set_result(r, KA_UNFIT, "cannot read this node's gtid history: %s", err);
	if (ka_gtid_history(&theirs, t->binlog_state, t->slave_pos, t->current, err,
			    sizeof err) < 0)
		return set_result(r, KA_UNFIT, "cannot read the gtid history of peer '%s': %s",
				  ep, err);
	enum ka_gtid_order order = ka_gtid_compare(&mine, &theirs);
	if (order == KA_GTID_SAME || order == KA_GTID_AHEAD)
		return KA_OK;
	lacking(&mine, &theirs, we_lack, sizeof we_lack);
	if (order == KA_GTID_BEHIND)
		return set_result(r, KA_SPLIT_BRAIN, "peer '%s' is writable too and ahead of this "
				  "node: this node lacks %s (gtid_current_pos here '%s', on the peer "
				  "'%s'); this node must not keep the VIP", ep, we_lack, r->gtid,
				  t->current);
	lacking(&theirs, &mine, they_lack, sizeof they_lack);
	switch (ka_gtid_successor(&mine, &theirs)) {
	case 1:   /* the peer is a stale old primary; its own demotion is under way */
		snprintf(r->peer, sizeof r->peer, "writable-stale");
		snprintf(r->note, sizeof r->note, "peer '%s' is writable too and diverged, but "
			 "this node succeeds it (it was promoted after the point where they "
			 "parted); the peer holds %.700s that were never replicated here", ep,
			 they_lack);
		return KA_OK;
	case -1:
		return set_result(r, KA_SPLIT_BRAIN, "peer '%s' is writable too and succeeds this "
				  "node: it was promoted after the point where they parted, while "
				  "this node went on writing as the old primary; this node lacks %s "
				  "and holds %s the peer never got (gtid_current_pos here '%s', on "
				  "the peer '%s'); this node must not keep the VIP", ep, we_lack,
				  they_lack, r->gtid, t->current);
	}
	return set_result(r, KA_SPLIT_BRAIN, "peer '%s' is writable too and the GTID histories "
			  "diverged: this node lacks %s; the peer lacks %s (gtid_current_pos here "
			  "'%s', on the peer '%s'); no automatic winner: pick the survivor, make "
			  "the other read-only or stop it (the survivor's next check then passes), "
			  "then rebuild or reconcile the other", ep, we_lack, they_lack, r->gtid,
			  t->current);
}

/* Asks the open peer session what it holds, then judges. */
static int ask_peer(const struct ka_probe_opts *o, struct ka_db *peer,
		    struct ka_probe_result *r, const char *ep, int64_t left, int64_t deadline)
{
	static char bs[KA_GTID_TEXT_MAX], sp[KA_GTID_TEXT_MAX], cur[KA_GTID_TEXT_MAX];
	struct node_texts t = { .binlog_state = bs, .slave_pos = sp, .current = cur };
	char err[512], who[120];
	int code;

	snprintf(who, sizeof who, "peer '%s'", ep);
	int rc = read_basics(peer, who, &t, deadline, &code, err, sizeof err);
	if (rc == -1 && peer->timed_out && left < step_share(o)) {
		snprintf(r->peer, sizeof r->peer, "not-asked");
		return not_asked(r, "peer", left);
	}
	if (rc == -1)
		return unqueryable(r, ep, err);
	if (rc < 0)
		return set_result(r, code, "%s", err);
	if (t.read_only) {
		snprintf(r->peer, sizeof r->peer, "read-only");
		return KA_OK;
	}
	snprintf(r->peer, sizeof r->peer, "writable");
	return judge_histories(r, ep, &t);
}

/* Split-brain guard, asked only when this node is writable (see probe.h). */
static int check_peer(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		      struct ka_probe_result *r, int64_t deadline)
{
	struct ka_dbaddr a = *local;
	struct ka_db peer;
	char err[512], why[256], ep[80];
	int64_t left = ka_remaining_ms(deadline);
	int code;

	ka_endpoint_text(&o->peer, ep, sizeof ep);
	if (left <= 0) {
		snprintf(r->peer, sizeof r->peer, "not-asked");
		return not_asked(r, "peer", left);
	}
	a.host = o->peer.host;
	a.port = o->peer.port;
	a.socket = NULL;
	if (ka_db_connect(&peer, &a, deadline, err, sizeof err) == 0) {
		code = ask_peer(o, &peer, r, ep, left, deadline);
		ka_db_close(&peer);
		return code;
	}
	enum gone g = peer_gone(o, &peer, left, deadline, why, sizeof why);
	ka_db_close(&peer);
	if (g == PEER_ANSWERS)
		return unqueryable(r, ep, err);
	snprintf(r->peer, sizeof r->peer, g == PEER_GONE ? "unreachable" : "not-asked");
	if (g == PEER_NOT_ASKED)
		return not_asked(r, "peer", left);
	snprintf(r->peer_why, sizeof r->peer_why, "peer '%s' counts as gone: %s (%s)", ep, why,
		 err);
	return KA_OK;
}

int ka_probe_node(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		  struct ka_db *db, struct ka_probe_result *r, int64_t deadline)
{
	int code;

	r->connected = 1;
	if ((code = probe_basics(db, r, deadline)) != KA_OK)
		return code;
	if (o->expect_ro >= 0 && o->expect_ro != r->read_only)
		return set_result(r, KA_UNFIT, "read_only is %s, expected %s",
				  r->read_only ? "ON" : "OFF", o->expect_ro ? "ON" : "OFF");
	if (o->replication && (code = check_replication(db, o, r, deadline)) != KA_OK)
		return code;
	if (o->nwitness && (code = check_witness(o, r, deadline)) != KA_OK)
		return code;
	if (o->have_peer && r->read_only == 0 && (code = check_peer(o, local, r, deadline)) != KA_OK)
		return code;
	return set_result(r, KA_OK, "healthy");
}

/* 1 when the last failure of db left the session unusable: a timeout (the library
 * cancelled it) or a client-side error (2000-2999: gone, lost, out of sync). */
static int session_dead(const struct ka_db *db)
{
	return db->timed_out || (db->err >= 2000 && db->err < 3000);
}

/* 1 when an open session was lost under us rather than the server failing now: the
 * connection was closed (2006, 2013) or killed (1927), and time is left to retry. */
static int session_lost(const struct ka_db *db, int64_t deadline)
{
	return !db->timed_out && (db->err == 2006 || db->err == 2013 || db->err == 1927) &&
	       ka_remaining_ms(deadline) > 0;
}

static int probe_fresh(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		       struct ka_db *db, struct ka_probe_result *r, int64_t deadline)
{
	ka_probe_result_init(r);
	if (ka_probe_connect(db, local, r, deadline) != KA_OK)
		return r->code;
	return ka_probe_node(o, local, db, r, deadline);
}

int ka_probe_session(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		     struct ka_db *db, struct ka_probe_result *r, int64_t deadline)
{
	if (!db->my) {
		probe_fresh(o, local, db, r, deadline);
	} else {
		ka_probe_result_init(r);
		db->err = 0;
		db->timed_out = 0;
		if (ka_probe_node(o, local, db, r, deadline) != KA_OK &&
		    session_lost(db, deadline)) {
			ka_db_close(db);
			probe_fresh(o, local, db, r, deadline);
		}
	}
	if (r->code != KA_OK && (!r->connected || session_dead(db)))
		ka_db_close(db);
	return r->code;
}
