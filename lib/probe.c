#include "probe.h"
#include "deadline.h"
#include "exitcode.h"

#include <pthread.h>
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

/* Whether a failed connect to peer ep is evidence that the peer is gone: a connect
 * that timed out, or a network error confirmed by a plain TCP connect (refused, no
 * route, timed out). Anything else answered us. why says what was seen. */
static enum gone peer_gone(const struct ka_probe_opts *o, const struct ka_endpoint *ep,
			   const struct ka_db *peer, int64_t left, int64_t deadline, char *why,
			   size_t whylen)
{
	if (peer->timed_out) {
		snprintf(why, whylen, "connect timed out");
		return left < step_share(o) ? PEER_NOT_ASKED : PEER_GONE;
	}
	if (!network_errno(peer->err))
		return PEER_ANSWERS;
	switch (ka_tcp_reach(ep, deadline, why, whylen)) {
	case KA_TCP_REFUSED:
	case KA_TCP_NO_ROUTE:
		return PEER_GONE;
	case KA_TCP_TIMED_OUT:
		return left < step_share(o) ? PEER_NOT_ASKED : PEER_GONE;
	default:
		return PEER_ANSWERS;
	}
}

/* Appends "; text" (or text to an empty buf), cut at the end of buf. */
static void append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n && n + 2 < len) {
		memcpy(buf + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static int unqueryable(struct ka_probe_result *r, const char *ep, const char *err)
{
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
static int judge_histories(struct ka_probe_result *r, struct ka_probe_peer *pp,
			   const struct node_texts *t)
{
	static struct ka_gtid_set mine, theirs;   /* 12 KB each: off the stack */
	char err[512], we_lack[3200], they_lack[3200];
	const char *ep = pp->ep;

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
		snprintf(pp->state, sizeof pp->state, "writable-stale");
		append(r->note, sizeof r->note, "peer '%s' is writable too and diverged, but "
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

/* What asking one peer found, before any judging. */
enum asked { ASKED_READ, ASKED_GONE, ASKED_NOT_ASKED, ASKED_UNQUERYABLE, ASKED_UNUSABLE };

/* One peer's question and answer: filled by ask_peer, in a thread of its own when
 * there are several peers; only read back after the thread is joined. */
struct peer_ask {
	const struct ka_probe_opts *o;
	const struct ka_dbaddr *local;
	const struct ka_endpoint *ep;
	int64_t left, deadline;    /* left: what the step had when it started */
	enum asked asked;
	int code;                  /* ASKED_UNUSABLE: the exit code */
	int read_only;
	char err[512], why[256];
	char bs[KA_GTID_TEXT_MAX], sp[KA_GTID_TEXT_MAX], cur[KA_GTID_TEXT_MAX];
	pthread_t thread;
	int threaded;
};

/* Connects to a->ep with the local node's credentials and reads what it holds, within
 * a->deadline; judges nothing (that needs all answers, in the caller's thread). */
static void ask_peer(struct peer_ask *a)
{
	struct ka_dbaddr addr = *a->local;
	struct node_texts t = { .binlog_state = a->bs, .slave_pos = a->sp, .current = a->cur };
	struct ka_db db;
	char who[120], ep[80];

	addr.host = a->ep->host;
	addr.port = a->ep->port;
	addr.socket = NULL;
	if (ka_db_connect(&db, &addr, a->deadline, a->err, sizeof a->err) < 0) {
		enum gone g = peer_gone(a->o, a->ep, &db, a->left, a->deadline, a->why,
					sizeof a->why);
		a->asked = g == PEER_ANSWERS ? ASKED_UNQUERYABLE :
			   g == PEER_GONE ? ASKED_GONE : ASKED_NOT_ASKED;
		ka_db_close(&db);
		return;
	}
	snprintf(who, sizeof who, "peer '%s'", ka_endpoint_text(a->ep, ep, sizeof ep));
	int rc = read_basics(&db, who, &t, a->deadline, &a->code, a->err, sizeof a->err);
	if (rc == -1)
		a->asked = db.timed_out && a->left < step_share(a->o) ? ASKED_NOT_ASKED
								     : ASKED_UNQUERYABLE;
	else if (rc < 0)
		a->asked = ASKED_UNUSABLE;
	else
		a->asked = ASKED_READ;
	a->read_only = t.read_only;
	ka_db_close(&db);
}

static void *ask_peer_thread(void *arg)
{
	ask_peer(arg);
	return NULL;
}

/* Asks every peer at once, each with the whole time left: one peer inline, several in
 * a thread each (one whose thread cannot start is asked inline, under the same
 * deadline). Returns when every answer is in, by the deadline. */
static void ask_peers(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		      struct peer_ask *ask, int64_t left, int64_t deadline)
{
	for (int i = 0; i < o->npeer; i++) {
		struct peer_ask *a = &ask[i];
		a->o = o;
		a->local = local;
		a->ep = &o->peer[i];
		a->left = left;
		a->deadline = deadline;
		a->asked = ASKED_UNUSABLE;
		a->code = KA_UNFIT;
		a->read_only = 0;
		a->err[0] = a->why[0] = '\0';
		a->threaded = o->npeer > 1 &&
			      pthread_create(&a->thread, NULL, ask_peer_thread, a) == 0;
	}
	for (int i = 0; i < o->npeer; i++)
		if (!ask[i].threaded)
			ask_peer(&ask[i]);
	for (int i = 0; i < o->npeer; i++)
		if (ask[i].threaded)
			pthread_join(ask[i].thread, NULL);
}

/* Judges one peer's answer (probe.h): fills pp->state; on failure r->code and
 * r->reason. Returns the exit code. */
static int judge_peer(struct ka_probe_result *r, const struct peer_ask *a,
		      struct ka_probe_peer *pp)
{
	struct node_texts t = { .read_only = a->read_only, .binlog_state = (char *)a->bs,
				.slave_pos = (char *)a->sp, .current = (char *)a->cur };
	const char *state = "";

	switch (a->asked) {
	case ASKED_NOT_ASKED:
		snprintf(pp->state, sizeof pp->state, "not-asked");
		return not_asked(r, "peer", a->left);
	case ASKED_UNQUERYABLE:
		snprintf(pp->state, sizeof pp->state, "unqueryable");
		return unqueryable(r, pp->ep, a->err);
	case ASKED_UNUSABLE:
		return set_result(r, a->code, "%s", a->err);
	case ASKED_GONE:
		snprintf(pp->state, sizeof pp->state, "unreachable");
		append(r->peer_why, sizeof r->peer_why, "peer '%s' counts as gone: %s (%s)",
		       pp->ep, a->why, a->err);
		return KA_OK;
	case ASKED_READ:
		state = t.read_only ? "read-only" : "writable";
		break;
	}
	snprintf(pp->state, sizeof pp->state, "%s", state);
	return t.read_only ? KA_OK : judge_histories(r, pp, &t);
}

/* r->peer: the state of the peer that decided a failure, else the weightiest state. */
static void summarize_peers(const struct ka_probe_opts *o, struct ka_probe_result *r,
			    int decided)
{
	static const char *const weight[] = { "writable-stale", "writable", "read-only",
					      "unreachable", "not-asked" };

	if (decided >= 0) {
		snprintf(r->peer, sizeof r->peer, "%s", r->peers[decided].state);
		return;
	}
	for (size_t w = 0; w < sizeof weight / sizeof weight[0]; w++)
		for (int i = 0; i < o->npeer; i++)
			if (strcmp(r->peers[i].state, weight[w]) == 0) {
				snprintf(r->peer, sizeof r->peer, "%s", weight[w]);
				return;
			}
}

/* Split-brain guard over every peer, asked only when this node is writable (see
 * probe.h): all are asked at once, then judged in list order; the first exit 11
 * decides, else the first failure. */
static int check_peers(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		       struct ka_probe_result *r, int64_t deadline)
{
	static struct peer_ask ask[KA_MAX_PEERS];   /* 48 KB each: off the stack */
	static char kept[sizeof r->reason];
	int64_t left = ka_remaining_ms(deadline);
	int kept_code = KA_OK, decided = -1;

	for (int i = 0; i < o->npeer; i++)
		ka_endpoint_text(&o->peer[i], r->peers[i].ep, sizeof r->peers[i].ep);
	if (left <= 0) {
		for (int i = 0; i < o->npeer; i++)
			snprintf(r->peers[i].state, sizeof r->peers[i].state, "not-asked");
		snprintf(r->peer, sizeof r->peer, "not-asked");
		return not_asked(r, "peer", left);
	}
	ask_peers(o, local, ask, left, deadline);
	for (int i = 0; i < o->npeer; i++) {
		int code = judge_peer(r, &ask[i], &r->peers[i]);
		if (code != KA_OK && (kept_code == KA_OK ||
				      (code == KA_SPLIT_BRAIN && kept_code != KA_SPLIT_BRAIN))) {
			kept_code = code;
			decided = i;
			snprintf(kept, sizeof kept, "%s", r->reason);
		}
	}
	summarize_peers(o, r, decided);
	if (kept_code == KA_OK)
		return KA_OK;
	return set_result(r, kept_code, "%s", kept);
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
	if (o->npeer && r->read_only == 0 && (code = check_peers(o, local, r, deadline)) != KA_OK)
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
