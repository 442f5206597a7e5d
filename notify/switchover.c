/* switchover: the operator's planned switchover, run by hand on the VIP holder. It moves
 * the VIP and the writes to the peer with the machinery that exists: the fault file
 * (keepalived track_file, weight 0), the peer's notify_master promotion and this node's
 * backup notify rejoin.
 *
 *   1. Preflight, nothing changed yet: the fault file at 0, this node the writable
 *      primary, no other switchover (a server named lock, taken on both servers in
 *      server_id order: of two concurrent switchovers one wins, one refuses), no notify
 *      run in progress (the run lock), the peer read-only, replicating from this node (its
 *      Master_Server_Id is our @@server_id) by GTID with both threads running, lag within
 *      --max-lag, holding no GTID this node lacks; master-master: this node replicates
 *      from the peer too. Any failure: exit 9 naming it (--dry-run: every result, and the
 *      plan).
 *   2. Drain, holding the run lock: demote() (read_only=1 while the writers are killed,
 *      then the clients), then gtid_binlog_pos is read: writes are paused from here.
 *   3. Catch-up: until the peer holds everything this node holds (by lineage), with
 *      MASTER_GTID_WAIT on the peer in slices, bounded by --catchup-timeout. Timeout, a
 *      peer that stops answering or whose SQL thread stops: roll back (read_only=0, the
 *      VIP never moved), exit 9, the journal says how long writes were paused. A
 *      keepalived event on this node meanwhile (a newer ticket) or a peer that turned
 *      writable: no rollback, this node stays read-only and the event decides, exit 9.
 *   4. Hand over: 1 into the fault file, then the run lock is released so keepalived's
 *      own notify runs here (FAULT, later BACKUP) never wait for us. keepalived goes
 *      FAULT (the ticket moves: "vip_released"), the peer's notify_master promotes it
 *      (already caught up: its gate passes at once). Waits until the peer is writable,
 *      at most --handover-timeout (default 5 s: a crash failover with the templates'
 *      timers leaves no writable node for about 2 s of failed checks + 3.65 s of master
 *      down timer, FACTS 13; a switchover must not leave a longer window). Not writable
 *      by then, or the peer gone: 0 into the fault file so this node can take the VIP
 *      back through keepalived (its MASTER notify promotes it), exit 3, said so. Never
 *      read_only=0 here after the fault file was written: only keepalived's MASTER
 *      decides, so two writable nodes cannot result.
 *   5. Rejoin: 0 into the fault file; keepalived goes BACKUP and the backup notify
 *      rejoins this node to the peer (master-master: replication was kept). Exit 0 once
 *      this node replicates from the peer with both threads running (bounded by
 *      --rejoin-retry + 10 s, else exit 3), with the timeline and the write pause (from
 *      read_only=1 here to read_only=0 read on the peer).
 */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NAMED_LOCK "ka_mariadb_switchover"
#define POLL_MS 20            /* handover: the peer's read_only, this often */
#define REJOIN_POLL_MS 100
#define REJOIN_EXTRA_S 10     /* the rejoin wait: --rejoin-retry + this */

#define OPERATOR_HANDOVER "the peer did not become the writable primary: the fault file " \
	"is 0 again and keepalived decides (this node takes the VIP back when the peer does " \
	"not hold it). See both nodes' journals before another switchover"

/* One switchover: the sessions and what the phases learnt. */
struct sw {
	struct run *r;
	struct ka_db local, peer;        /* each holds the named lock on its server */
	unsigned long my_id, peer_id;    /* @@server_id of this node and of the peer */
	long long ticket0;               /* the latest keepalived ticket at the drain */
	int64_t drain_at;
	int failed;                      /* --dry-run: preflight failures so far */
	char pos[POS_LEN];               /* gtid_binlog_pos after the drain */
	struct node_state drained;       /* this node after the drain */
};

/* The peer's replication connection from this node (SHOW ALL SLAVES STATUS). */
struct source_row {
	int found;
	char name[72], io[16], sql[16], using_gtid[16], lag[24];
	char others[300];                /* the sources it replicates from instead */
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void mark(struct run *r, const char *name)
{
	if (r->nmarks < MAX_MARKS) {
		snprintf(r->marks[r->nmarks].name, sizeof r->marks[0].name, "%s", name);
		r->marks[r->nmarks++].at = ka_now_ms();
	}
}

/* A preflight check's result: a step; in a dry run also printed, and a failure is
 * counted (the dry run goes on to show every result). Returns 0 passed, -1 failed. */
static int check(struct sw *w, const char *name, int ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int check(struct sw *w, const char *name, int ok, const char *fmt, ...)
{
	struct step *s = step_open(w->r, "preflight: %s", name);
	char detail[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	step_close(w->r, s, ok ? "ok" : "failed", "%s", detail);
	if (w->r->o->dry_run)
		printf("preflight: %-28s %s%s%s\n", name, ok ? "ok" : "FAILED", detail[0] ? ": " : "",
		       detail);
	if (ok)
		return 0;
	w->failed++;
	if (!w->r->decision[0])
		outcome(w->r, KA_REFUSED, "switchover-refused", "%s: %s", name, detail);
	return -1;
}

/* In a real run the first failed check ends the preflight; a dry run shows them all. */
static int stop_here(const struct sw *w, int rc)
{
	return rc < 0 && !w->r->o->dry_run;
}

static int server_id(struct ka_db *db, const struct run *r, unsigned long *id, char *err,
		     size_t errlen)
{
	char v[32];

	if (ka_db_value(db, "SELECT @@global.server_id", v, sizeof v, NULL, step_deadline(r),
			err, errlen) != 0)
		return -1;
	*id = strtoul(v, NULL, 10);
	return 0;
}

/* GET_LOCK(NAMED_LOCK, 0) on db (IS_FREE_LOCK in a dry run). Returns 1 got (or free),
 * 0 held by another session, -1 failed (err). */
static int named_lock(struct sw *w, struct ka_db *db, char *err, size_t errlen)
{
	char v[8];
	const char *sql = w->r->o->dry_run ? "SELECT IS_FREE_LOCK('" NAMED_LOCK "')"
					   : "SELECT GET_LOCK('" NAMED_LOCK "', 0)";

	if (ka_db_value(db, sql, v, sizeof v, NULL, step_deadline(w->r), err, errlen) != 0)
		return -1;
	return strcmp(v, "1") == 0;
}

/* The named lock on both servers, the lower server_id first: two switchovers started at
 * once on the two nodes ask in the same order, so one gets both and the other none. */
static int take_named_locks(struct sw *w)
{
	struct ka_db *first = w->my_id <= w->peer_id ? &w->local : &w->peer;
	struct ka_db *second = first == &w->local ? &w->peer : &w->local;
	char err[512] = "";
	int a = named_lock(w, first, err, sizeof err);
	int b = a == 1 ? named_lock(w, second, err, sizeof err) : 0;

	if (a < 0 || b < 0)
		return check(w, "no other switchover", 0, "cannot ask for the lock '%s': %s",
			     NAMED_LOCK, err);
	return check(w, "no other switchover", a == 1 && b == 1, "%s", a == 1 && b == 1 ?
		     "lock '" NAMED_LOCK "' free on both servers" : "another switchover holds "
		     "the lock '" NAMED_LOCK "' on one of the servers");
}

/* The run lock (a keepalived notify run in progress holds it), bounded by --timeout. */
static int take_run_lock(struct sw *w)
{
	struct run *r = w->r;
	char err[700];
	int timed_out;

	if (r->o->dry_run)
		return 0;
	r->lock_fd = lock_take(r->o, ka_deadline_in(r->o->timeout_ms), &timed_out, err,
			       sizeof err);
	return check(w, "no notify run in progress", r->lock_fd >= 0, "%s", r->lock_fd >= 0 ?
		     "run lock taken" : err);
}

static const char *col(MYSQL_RES *res, MYSQL_ROW row, const char *name)
{
	int i = ka_db_column(res, name);

	return (i >= 0 && row[i]) ? row[i] : "";
}

/* The connection of db's server that replicates from server_id src into out (found 0
 * when none; others lists the sources it has). Returns 0 or -1 (err). */
static int read_source(struct ka_db *db, const struct run *r, unsigned long src,
		       struct source_row *out, char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	memset(out, 0, sizeof *out);
	if (ka_db_query(db, "SHOW ALL SLAVES STATUS", &res, step_deadline(r), err, errlen) < 0)
		return -1;
	while (res && (row = mysql_fetch_row(res))) {
		size_t used = strlen(out->others);
		if (!*col(res, row, "Master_Host"))
			continue;
		if (strtoul(col(res, row, "Master_Server_Id"), NULL, 10) != src || out->found) {
			snprintf(out->others + used, sizeof out->others - used, "%s%.60s:%.6s "
				 "(server_id %.12s)", used ? ", " : "", col(res, row, "Master_Host"),
				 col(res, row, "Master_Port"), col(res, row, "Master_Server_Id"));
			continue;
		}
		out->found = 1;
		snprintf(out->name, sizeof out->name, "%s", col(res, row, "Connection_name"));
		snprintf(out->io, sizeof out->io, "%s", col(res, row, "Slave_IO_Running"));
		snprintf(out->sql, sizeof out->sql, "%s", col(res, row, "Slave_SQL_Running"));
		snprintf(out->using_gtid, sizeof out->using_gtid, "%s", col(res, row, "Using_Gtid"));
		snprintf(out->lag, sizeof out->lag, "%s", col(res, row, "Seconds_Behind_Master"));
	}
	if (res)
		mysql_free_result(res);
	return 0;
}

/* Connects both sessions and reads both server_ids. Returns 0 or -1 (outcome set). */
static int connect_both(struct sw *w)
{
	struct run *r = w->r;
	char err[512];
	int code;

	if ((code = node_connect(r, &w->local, &r->cr->local.addr, "local")) != KA_OK)
		return outcome(r, code, "local-unreachable", "cannot switch over: %s",
			       r->local_error), -1;
	if ((code = node_connect(r, &w->peer, &r->peer_addr, "peer")) != KA_OK) {
		check(w, "peer reachable", 0, "peer %s:%u: %s", r->peer_ep.host, r->peer_ep.port,
		      r->peer_error);
		return -1;
	}
	if (server_id(&w->local, r, &w->my_id, err, sizeof err) < 0 ||
	    server_id(&w->peer, r, &w->peer_id, err, sizeof err) < 0) {
		check(w, "server ids", 0, "%s", err);
		return -1;
	}
	if (w->my_id == w->peer_id) {
		check(w, "server ids", 0, "this node and the peer share server_id %lu", w->my_id);
		return -1;
	}
	return 0;
}

/* This node: writable, fault file 0; master-master: replicating from the peer. */
static int check_local(struct sw *w)
{
	struct run *r = w->r;
	static struct source_row src;
	char err[512];
	int rc, ff = fault_file_value(r->o->fault_file);

	rc = check(w, "fault file is 0", ff == 0, "'%s' %s", r->o->fault_file, ff == 0 ?
		   "= 0" : ff > 0 ? "= 1: this node is forced to FAULT" : "cannot be read");
	if (stop_here(w, rc))
		return -1;
	if (node_read(r, &w->local, "local", &r->before) != KA_OK)
		return check(w, "this node is the writable primary", 0, "cannot read the local "
			     "state");
	rc = check(w, "this node is the writable primary", !r->before.read_only &&
		   (r->o->mode == MODE_MM || !r->before.nrows), "%s", r->before.read_only ?
		   "read_only is ON" : r->o->mode == MODE_PR && r->before.nrows ? "read_only is "
		   "OFF but it replicates (primary-replica mode)" : "read_only=OFF");
	if (stop_here(w, rc) || r->o->mode != MODE_MM)
		return rc;
	if (read_source(&w->local, r, w->peer_id, &src, err, sizeof err) < 0)
		return check(w, "this node replicates from the peer", 0, "%s", err);
	return check(w, "this node replicates from the peer", src.found &&
		     !strcmp(src.io, "Yes") && !strcmp(src.sql, "Yes"), "%sio=%s sql=%s",
		     src.found ? "" : "no connection from the peer's server_id; ",
		     src.found ? src.io : "-", src.found ? src.sql : "-");
}

/* The peer's replication from this node: found, by GTID, both threads, lag. */
static int check_replication(struct sw *w)
{
	struct run *r = w->r;
	static struct source_row s;
	char err[512];
	int rc;

	if (read_source(&w->peer, r, w->my_id, &s, err, sizeof err) < 0)
		return check(w, "peer replicates from this node", 0, "%s", err);
	if (s.found)
		rc = check(w, "peer replicates from this node", 1, "connection '%s' from "
			   "server_id %lu", s.name, w->my_id);
	else
		rc = check(w, "peer replicates from this node", 0, "no connection from "
			   "server_id %lu (it has: %s)", w->my_id, s.others[0] ? s.others : "none");
	if (rc < 0)
		return -1;
	rc = check(w, "peer replicates by GTID", strcasecmp(s.using_gtid, "No") != 0,
		   "Using_Gtid=%s", s.using_gtid);
	if (stop_here(w, rc))
		return -1;
	rc = check(w, "peer replication threads run", !strcmp(s.io, "Yes") &&
		   !strcmp(s.sql, "Yes"), "io=%s sql=%s", s.io, s.sql);
	if (stop_here(w, rc))
		return -1;
	return check(w, "peer lag within --max-lag", s.lag[0] && atol(s.lag) <= r->o->max_lag_s,
		     "Seconds_Behind_Master=%s, limit %ld s", s.lag[0] ? s.lag : "NULL",
		     r->o->max_lag_s);
}

/* The peer: read-only, replicating from this node, holding nothing this node lacks
 * (this node is read again after the peer: writes go on meanwhile, and a GTID the peer
 * received since the first look is no errant one). */
static int check_peer(struct sw *w)
{
	static struct ka_gtid_set mine, theirs;
	static struct node_state now;
	struct run *r = w->r;
	char desc[768] = "", err[400];
	int rc, missing;

	if (node_read(r, &w->peer, "peer", &r->peer) != KA_OK)
		return check(w, "peer is read-only", 0, "cannot read the peer's state");
	r->peer_state = r->peer.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
	rc = check(w, "peer is read-only", r->peer.read_only, "read_only=%s",
		   r->peer.read_only ? "ON" : "OFF: two writable nodes, fix that first");
	if (stop_here(w, rc))
		return -1;
	if (check_replication(w) < 0 && !r->o->dry_run)
		return -1;
	if (node_query_state(&w->local, &now, step_deadline(r), err, sizeof err) < 0)
		return check(w, "peer has no GTIDs this node lacks", 0, "cannot read this node "
			     "again: %s", err);
	if (node_history(&now, 0, &mine, err, sizeof err) < 0 ||
	    node_history(&r->peer, 0, &theirs, err, sizeof err) < 0)
		return check(w, "peer has no GTIDs this node lacks", 0, "a GTID history cannot be "
			     "read whole: %s", err);
	missing = gtid_missing(&mine, &theirs, desc, sizeof desc);
	if (missing > 0)
		snprintf(r->diverged, sizeof r->diverged, "%s", desc);
	return check(w, "peer has no GTIDs this node lacks", missing == 0, "%s",
		     missing ? desc : "none");
}

/* Step 1. Returns 0 when everything passed (a dry run: when nothing failed). */
static int preflight(struct sw *w)
{
	/* This node's own state first: of two switchovers started at once on the two nodes,
	 * the one on the read-only node refuses without taking a lock. */
	if (connect_both(w) < 0 || stop_here(w, check_local(w)) ||
	    stop_here(w, take_named_locks(w)) || stop_here(w, take_run_lock(w)) ||
	    stop_here(w, check_peer(w)))
		return -1;
	return w->failed ? -1 : 0;
}

/* A keepalived event took a ticket on this node since the drain began. */
static int event_arrived(const struct sw *w)
{
	char err[512];
	long long latest;

	if (ticket_latest(w->r->o, &latest, err, sizeof err) < 0)
		return 0;
	return latest > w->ticket0;
}

/* Step 3's end without a handover: read_only=0 again, when that is safe (no keepalived
 * event here, the peer read-only or gone). Returns the exit code (outcome set). */
static int roll_back(struct sw *w, const char *why)
{
	struct run *r = w->r;
	int64_t settled;
	int ro = 1, code;
	char err[512];

	if (event_arrived(w))
		return outcome(r, KA_REFUSED, "switchover-interrupted", "%s; a keepalived event "
			       "arrived on this node meanwhile: it stays read-only and the event "
			       "decides (writes paused since %lld ms)", why,
			       (long long)(ka_now_ms() - w->drain_at));
	if (w->peer.my && !w->peer.timed_out &&
	    node_read_only(&w->peer, step_deadline(r), &ro, err, sizeof err) == KA_OK && !ro)
		return outcome(r, KA_REFUSED, "switchover-interrupted", "%s; the peer is "
			       "writable now: this node stays read-only", why);
	code = node_set_writable(r, &w->local, "local", &settled);
	r->write_pause_ms = ka_now_ms() - w->drain_at;
	mark(r, "rolled_back");
	if (code != KA_OK)
		return outcome(r, code, "rollback-failed", "%s; read_only=0 again failed: this "
			       "node is read-only and holds the VIP (writes paused since %lld ms): "
			       "SET GLOBAL read_only=0 by hand", why, (long long)r->write_pause_ms);
	return outcome(r, KA_REFUSED, "switchover-rolled-back", "%s; rolled back: read_only=0 "
		       "again, the VIP never moved, writes paused %lld ms", why,
		       (long long)r->write_pause_ms);
}

/* Step 2: read_only=1 and the clients killed (demote.c), then the position to wait for.
 * Returns 0, or -1 with the outcome set (rolled back when read_only=1 may have landed). */
static int drain(struct sw *w)
{
	struct node_state *st = &w->drained;
	struct run *r = w->r;
	struct ka_db db = { 0 };
	char err[512];
	int code;

	ticket_latest(r->o, &w->ticket0, err, sizeof err);
	w->drain_at = ka_now_ms();
	mark(r, "drain");
	code = demote(r, &db);
	ka_db_close(&db);
	if (code != KA_OK || strcmp(r->decision, "demoted") != 0) {
		snprintf(err, sizeof err, "the drain failed: %.480s", r->reason);
		r->decision[0] = '\0';
		roll_back(w, err);
		return -1;
	}
	r->decision[0] = '\0';
	if (node_query_state(&w->local, st, step_deadline(r), err, sizeof err) < 0 ||
	    st->unreadable[0]) {
		roll_back(w, "cannot read gtid_binlog_pos after the drain");
		return -1;
	}
	snprintf(w->pos, sizeof w->pos, "%s", st->binlog);
	mark(r, "drained");
	return 0;
}

/* One look at the peer: what it lacks into missing. Returns 0, or -1 (why set). */
static int peer_lacks(struct sw *w, struct ka_gtid_set *missing, char *why, size_t len)
{
	static struct ka_gtid_set mine, theirs;
	struct run *r = w->r;
	char err[512];

	if (node_query_state(&w->peer, &r->peer, step_deadline(r), err, sizeof err) < 0) {
		snprintf(why, len, "the peer stopped answering during catch-up: %s", err);
		return -1;
	}
	if (!r->peer.read_only) {
		snprintf(why, len, "the peer became writable during catch-up");
		return -1;
	}
	if (!node_sql_running(&r->peer)) {
		snprintf(why, len, "the peer's replication SQL thread stopped during catch-up");
		return -1;
	}
	if (node_history(&w->drained, 0, &mine, err, sizeof err) < 0 ||
	    node_history(&r->peer, 0, &theirs, err, sizeof err) < 0) {
		snprintf(why, len, "a GTID history cannot be read whole: %s", err);
		return -1;
	}
	ka_gtid_missing_set(&theirs, &mine, missing);
	return 0;
}

/* MASTER_GTID_WAIT(target, slice) on the peer. Returns 0, or -1 (why set). */
static int wait_slice(struct sw *w, const char *target, int64_t slice, char *why, size_t len)
{
	static char sql[POS_LEN * 2 + 96], q[POS_LEN * 2];
	char v[16], err[512];

	node_sql_quote(target, q, sizeof q);
	snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', %lld.%03lld)", q,
		 (long long)(slice / 1000), (long long)(slice % 1000));
	if (ka_db_value(&w->peer, sql, v, sizeof v, NULL, ka_deadline_in(slice +
			w->r->o->timeout_ms), err, sizeof err) != 0) {
		snprintf(why, len, "MASTER_GTID_WAIT on the peer failed: %s", err);
		return -1;
	}
	return 0;
}

/* Step 3. Returns 0 caught up, or -1 with the outcome set (rolled back, or left to a
 * keepalived event). */
static int catch_up(struct sw *w)
{
	static struct ka_gtid_set missing;
	static char target[POS_LEN], desc[768];
	struct run *r = w->r;
	int64_t end = ka_deadline_in(r->o->catchup_s * 1000), slice;
	char why[700];
	struct step *s = step_open(r, "peer applies %.40s", w->pos[0] ? w->pos : "(empty)");

	for (int round = 1; round < 1000000; round++) {   /* the deadline ends it first */
		if (ka_notify_term || event_arrived(w)) {
			step_close(r, s, "failed", "interrupted after %d round(s)", round - 1);
			return roll_back(w, ka_notify_term ? "terminated by a signal during catch-up"
					 : "a keepalived event arrived during catch-up"), -1;
		}
		if (peer_lacks(w, &missing, why, sizeof why) < 0) {
			step_close(r, s, "failed", "%s", why);
			return roll_back(w, why), -1;
		}
		if (!missing.n) {
			step_close(r, s, "ok", "the peer holds everything this node holds (%d "
				   "round(s))", round);
			mark(r, "caught_up");
			return 0;
		}
		slice = ka_remaining_ms(end);
		if (slice <= 0)
			break;
		gtid_wait_target(&missing, target, sizeof target);
		if (wait_slice(w, target, slice < CATCHUP_SLICE_MS ? slice : CATCHUP_SLICE_MS,
			       why, sizeof why) < 0) {
			step_close(r, s, "failed", "%s", why);
			return roll_back(w, why), -1;
		}
	}
	gtid_text(&missing, desc, sizeof desc);
	step_close(r, s, "failed", "timed out after %ld s; the peer lacks %s", r->o->catchup_s,
		   desc);
	snprintf(why, sizeof why, "catch-up timed out after %ld s: the peer still lacks %.400s",
		 r->o->catchup_s, desc);
	roll_back(w, why);
	return -1;
}

/* The peer's read_only on its session, reconnecting once when the session failed.
 * Returns 0 writable, 1 read-only, -1 unknown, -2 gone (a connect failed). */
static int peer_read_only(struct sw *w)
{
	struct run *r = w->r;
	char err[512];
	int ro, code;

	if (w->peer.my && !w->peer.timed_out &&
	    node_read_only(&w->peer, step_deadline(r), &ro, err, sizeof err) == KA_OK)
		return ro;
	ka_db_close(&w->peer);
	if (ka_db_connect(&w->peer, &r->peer_addr, step_deadline(r), err, sizeof err) < 0) {
		code = ka_db_exit_code(&w->peer);
		ka_db_close(&w->peer);
		return code == KA_UNREACHABLE || code == KA_TIMEOUT ? -2 : -1;
	}
	return node_read_only(&w->peer, step_deadline(r), &ro, err, sizeof err) == KA_OK ? ro
		: -1;
}

/* Step 4's wait: 0 when the peer is read writable within --handover-timeout, -1 when
 * not, -2 when it is gone. Marks vip_released when keepalived notified here. */
static int wait_peer_writable(struct sw *w)
{
	struct run *r = w->r;
	int64_t end = ka_deadline_in(r->o->handover_s * 1000);
	struct step *s = step_open(r, "wait for the peer to be writable");
	int vip = 0, ro = 1;

	while (!ka_notify_term) {
		if (!vip && event_arrived(w)) {
			vip = 1;
			mark(r, "vip_released");
		}
		ro = peer_read_only(w);
		if (ro == 0) {
			mark(r, "peer_writable");
			r->write_pause_ms = ka_now_ms() - w->drain_at;
			step_close(r, s, "ok", "read_only=OFF on the peer%s", vip ? "" :
				   "; no keepalived event seen here (another --state-dir?)");
			return 0;
		}
		if (ro == -2 || ka_remaining_ms(end) <= 0)
			break;
		sleep_ms(POLL_MS);
	}
	step_close(r, s, "failed", "%s", ro == -2 ? "the peer is gone" : ka_notify_term ?
		   "terminated by a signal" : "not writable in time");
	return ro == -2 ? -2 : -1;
}

/* This node replicates from the peer's server_id with both threads running. */
static int rejoined(struct sw *w)
{
	static struct source_row s;
	char err[512];

	if (!w->local.my || w->local.timed_out) {
		ka_db_close(&w->local);
		if (ka_db_connect(&w->local, &w->r->cr->local.addr, step_deadline(w->r), err,
				  sizeof err) < 0)
			return 0;
	}
	if (read_source(&w->local, w->r, w->peer_id, &s, err, sizeof err) < 0) {
		ka_db_close(&w->local);
		return 0;
	}
	return s.found && !strcmp(s.io, "Yes") && !strcmp(s.sql, "Yes");
}

/* Step 5: 0 into the fault file, then wait for the backup notify's rejoin. */
static int wait_rejoin(struct sw *w)
{
	struct run *r = w->r;
	int64_t end = ka_deadline_in((r->o->rejoin_retry_s + REJOIN_EXTRA_S) * 1000);
	struct step *s;

	fault_clear(r, "switchover: the peer is the primary, this node rejoins it");
	s = step_open(r, "wait for the rejoin");
	while (!ka_notify_term && ka_remaining_ms(end) > 0) {
		if (rejoined(w)) {
			mark(r, "rejoined");
			step_close(r, s, "ok", "this node replicates from server_id %lu, both "
				   "threads running", w->peer_id);
			return outcome(r, KA_OK, "switched-over", "the peer %s:%u is the writable "
				       "primary, this node replicates from it; writes paused %lld ms",
				       r->peer_ep.host, r->peer_ep.port, (long long)r->write_pause_ms);
		}
		sleep_ms(REJOIN_POLL_MS);
	}
	step_close(r, s, "failed", "not within %ld s", r->o->rejoin_retry_s + REJOIN_EXTRA_S);
	return outcome(r, KA_TIMEOUT, "switched-not-rejoined", "the peer %s:%u is the writable "
		       "primary (writes paused %lld ms), but this node does not replicate from it "
		       "with both threads running: see this node's backup notify in the journal",
		       r->peer_ep.host, r->peer_ep.port, (long long)r->write_pause_ms);
}

/* Step 4 failed: 0 into the fault file, keepalived decides. */
static int restore(struct sw *w, int gone)
{
	struct run *r = w->r;

	fault_clear(r, "switchover: the peer did not become writable");
	mark(r, "fault_cleared");
	snprintf(r->operator_action, sizeof r->operator_action, "%s", OPERATOR_HANDOVER);
	return outcome(r, KA_TIMEOUT, "handover-failed", "%s: fault file '%s' is 0 again so "
		       "this node can take the VIP back (its MASTER notify promotes it); this "
		       "node stays read-only until then", gone ? "the peer went away during the "
		       "handover" : "the peer did not become writable within --handover-timeout",
		       r->o->fault_file);
}

/* Step 4: 1 into the fault file (the run lock is released right after), then the wait. */
static int hand_over(struct sw *w)
{
	struct run *r = w->r;
	int rc;

	if (event_arrived(w))
		return roll_back(w, "a keepalived event arrived after catch-up");
	fault_set(r, "switchover: handing the VIP to the peer");
	if (!r->fault_written)
		return roll_back(w, "cannot write the fault file");
	mark(r, "fault_set");
	lock_release(r->lock_fd);   /* keepalived's FAULT and BACKUP notify runs need it */
	r->lock_fd = -1;
	if ((rc = wait_peer_writable(w)) < 0)
		return restore(w, rc == -2);
	return wait_rejoin(w);
}

/* --dry-run after a clean preflight: the plan. */
static int plan_all(struct sw *w)
{
	struct run *r = w->r;
	struct ka_db db = { 0 };

	demote(r, &db);   /* prints read_only=1 and the kills it would make */
	ka_db_close(&db);
	plan(r, "wait up to %ld s until the peer holds gtid_binlog_pos %s (MASTER_GTID_WAIT "
	     "on the peer); on timeout read_only=0 again", r->o->catchup_s,
	     r->before.binlog[0] ? r->before.binlog : "(empty)");
	plan(r, "write 1 to fault file '%s': keepalived goes FAULT, the peer's notify_master "
	     "promotes it", r->o->fault_file);
	plan(r, "wait up to %ld s until the peer is writable; else write 0 to the fault file",
	     r->o->handover_s);
	plan(r, "write 0 to fault file '%s': keepalived goes BACKUP, the backup notify %s",
	     r->o->fault_file, r->o->mode == MODE_PR ? "rejoins this node to the peer" :
	     "keeps replication in both directions");
	plan(r, "wait up to %ld s until this node replicates from the peer",
	     r->o->rejoin_retry_s + REJOIN_EXTRA_S);
	return outcome(r, KA_OK, "switchover-planned", "preflight passed: the peer %s:%u "
		       "would become the primary", r->peer_ep.host, r->peer_ep.port);
}

int switchover(struct run *r)
{
	static struct sw w;

	memset(&w, 0, sizeof w);
	w.r = r;
	if (r->o->npeer > 1)
		return outcome(r, KA_REFUSED, "switchover-refused", "switchover takes one --peer "
			       "(got %d): with several peers, which one takes over is keepalived's "
			       "election; run it on a pair, or move the VIP by hand", r->o->npeer);
	if (preflight(&w) < 0) {
		if (!r->decision[0] || r->code == KA_OK)
			outcome(r, KA_REFUSED, "switchover-refused", "%d preflight check(s) failed",
				w.failed);
	} else if (r->o->dry_run) {
		plan_all(&w);
	} else if (drain(&w) == 0 && catch_up(&w) == 0) {
		hand_over(&w);
	}
	node_read_after(r, &w.local);
	ka_db_close(&w.peer);
	ka_db_close(&w.local);   /* the named locks go with the sessions */
	return r->code;
}
