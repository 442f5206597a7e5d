/* Rejoin (BACKUP, primary-replica, --peer, not --no-rejoin; or the operator's `rejoin`):
 * attach this read-only node under the peer when the peer is the writable primary and
 * this node holds nothing the peer lacks (safety rule 4).
 *
 *   1. Left alone: a node with replication configured (running or not: an operator's or
 *      an earlier rejoin's doing), a writable node. A peer that is down, read-only or
 *      unreadable: not yet (see "Retry" below).
 *   2. Errant-transaction check, by lineage (lib/gtid.h, FACTS 42): everything in this
 *      node's history (gtid_binlog_state, gtid_slave_pos, gtid_current_pos) must be held
 *      by the peer's gtid_binlog_state, the history the peer can serve: the same domain
 *      and server at an equal or higher seq_no. A higher seq_no from another server holds
 *      nothing. Diverged: nothing is changed, exit 9, fault file, journal the GTIDs. A
 *      history that cannot be read whole refuses the same way (never counted as empty).
 *   3. CHANGE MASTER TO the peer's real address with MASTER_USE_GTID=current_pos, START
 *      SLAVE. current_pos, not slave_pos: the start position then includes this node's
 *      own binlog (its writes as a former primary), so the primary itself judges it
 *      (FACTS 23), and nothing but the replication configuration changes before that
 *      answer: a refused rejoin leaves gtid_slave_pos untouched (once set, an older
 *      gtid_slave_pos cannot be restored under gtid_strict_mode: error 1948). It is also
 *      the mode MariaDB documents for turning a former primary into a replica, and it
 *      keeps detecting errant writes at every later reconnect. (A later promotion waits
 *      only for what the node does not already hold: promote.c.)
 *   4. Confirm (bounded): both threads Yes and Master_Log_File set (the primary accepted
 *      the start position and sent its first events). The authoritative divergence test
 *      is the primary's answer: Last_IO_Errno 1236 = it does not have our position
 *      (errant transactions, purged binlogs) -> STOP SLAVE, RESET SLAVE ALL: nothing
 *      changed, exit 9.
 *   5. Success lifts a FAULT this binary forced (the node is now a healthy replica).
 *
 * Several peers (--peer list): all are probed at once and the rejoin goes to the one
 * that is writable; none: not yet (retry); two or more: refused, naming them.
 *
 * Retry (BACKUP only; the operator's rejoin answers at once): a read-only node that
 * replicates from no one is a stale standby; promoted later, it would lose every write
 * it never received. When the peer is down, read-only (both boot read-only; a fence not
 * undone yet) or unreadable, the rejoin is tried again every second for --rejoin-retry
 * seconds. A newer event ends the retrying at once and decides (keepalived notifies
 * BACKUP before MASTER at every start: the node about to be MASTER gives way without a
 * FAULT). The window over without a rejoin: exit 9, decision rejoin-stale, fault file.
 */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CONNECT_RETRY 2   /* seconds between IO thread reconnects */
#define RETRY_PAUSE_MS 1000   /* between rejoin tries */

#define OPERATOR_DIVERGED "this node stays read-only and in FAULT. Inspect the diverging " \
	"transactions in this node's binlog (mariadb-binlog, by GTID), apply on the primary " \
	"what must be kept, rebuild this node from the primary (mariabackup) or remove the " \
	"cause, then run '" PROG " ... clear-fault' (or '" PROG " ... rejoin')"

#define OPERATOR_STALE "this node stays read-only and in FAULT: it replicates from no one " \
	"and may lack writes. Make the peer the writable primary, then run '" PROG " ... " \
	"rejoin' (it lifts the FAULT on success); or, when this node must serve as it is, " \
	"'" PROG " ... clear-fault'"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Refuses the rejoin: the journal names the diverging GTIDs (what) and the way out. */
static int diverged(struct run *r, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int diverged(struct run *r, const char *what, const char *fmt, ...)
{
	va_list ap;

	snprintf(r->diverged, sizeof r->diverged, "%s", what);
	snprintf(r->rejoin, sizeof r->rejoin, "refused: diverged");
	snprintf(r->operator_action, sizeof r->operator_action, "%s", OPERATOR_DIVERGED);
	r->code = KA_REFUSED;
	snprintf(r->decision, sizeof r->decision, "rejoin-diverged");
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	fault_set(r, r->reason);
	return KA_REFUSED;
}

/* Step 1: 1 when the rejoin goes ahead; else r->rejoin says why not, *code the exit
 * code, and *retry is 1 when a later try may succeed (the peer is not a primary yet). */
static int rejoin_applies(struct run *r, const struct node_state *local, struct ka_db *peer,
			  int *code, int *retry)
{
	*code = KA_OK;
	*retry = 0;
	if (local->nrows) {
		const struct slave_row *w = &local->rows[0];
		snprintf(r->rejoin, sizeof r->rejoin, "not needed: replicating from %.60s:%u "
			 "(io=%s sql=%s)", w->host, w->port, w->io, w->sql);
		return 0;
	}
	if (!local->read_only) {
		snprintf(r->rejoin, sizeof r->rejoin, "skipped: this node is writable");
		*code = KA_REFUSED;
		return 0;
	}
	if (!r->cr->have_repl) {
		snprintf(r->rejoin, sizeof r->rejoin, "skipped: no [ka-replication] group in '%.80s'",
			 r->o->defaults_file ? r->o->defaults_file : "(no --defaults-file)");
		*code = KA_CONFIG;
		return 0;
	}
	*retry = 1;
	if (r->o->npeer > 1) {   /* several: the one writable peer (others.c) */
		int got = others_pick_writable(r, r->rejoin, sizeof r->rejoin, code);
		others_close();
		*retry = got >= 0;
		return got == 1;
	}
	switch (peer_probe(r, peer)) {
	case PEER_WRITABLE:
		return 1;
	case PEER_READ_ONLY:
		snprintf(r->rejoin, sizeof r->rejoin, "skipped: the peer is read-only (not a "
			 "primary)");
		return 0;
	case PEER_UNREACHABLE:
		snprintf(r->rejoin, sizeof r->rejoin, "skipped: the peer is unreachable");
		return 0;
	default:
		snprintf(r->rejoin, sizeof r->rejoin, "skipped: the peer cannot be read: %.500s",
			 r->peer_error);
		*code = KA_UNFIT;
		return 0;
	}
}

/* CHANGE MASTER TO the peer; the journal label never holds the password. */
static int change_master(struct run *r, struct ka_db *db)
{
	char sql[1400], label[700], host[140], user[300], pass[560];

	node_sql_quote(r->peer_ep.host, host, sizeof host);
	node_sql_quote(r->cr->repl.user, user, sizeof user);
	node_sql_quote(r->cr->repl.password, pass, sizeof pass);
	/* The password comes last: an error text quoting the statement's start never has it. */
	snprintf(label, sizeof label, "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%u, "
		 "MASTER_USER='%s', MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=%d, "
		 "MASTER_PASSWORD=<from [ka-replication]>", host, r->peer_ep.port, user,
		 CONNECT_RETRY);
	snprintf(sql, sizeof sql, "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%u, "
		 "MASTER_USER='%s', MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=%d, "
		 "MASTER_PASSWORD='%s'", host, r->peer_ep.port, user, CONNECT_RETRY, pass);
	return node_exec(r, db, "local", label, sql);
}

/* Step 4 failure on 1236: undo step 3 so nothing changed. */
static void undo(struct run *r, struct ka_db *db)
{
	node_exec(r, db, "local", "STOP SLAVE", "STOP SLAVE");
	node_exec(r, db, "local", "RESET SLAVE ALL", "RESET SLAVE ALL");
}

/* Step 4: 1 confirmed, 0 not yet at the deadline, -1 1236 (diverged), -2 other failure. */
static int confirm(struct run *r, struct ka_db *db, struct slave_row *w, char *err,
		   size_t errlen)
{
	static struct node_state st;
	int64_t limit = r->o->timeout_ms * 2 < 2000 ? 2000 : r->o->timeout_ms * 2;
	int64_t end = ka_deadline_in(limit > 10000 ? 10000 : limit);
	struct step *s = step_open(r, "confirm replication");

	for (int i = 0; i < 1000; i++) {   /* 100 ms apart: the deadline ends it first */
		if (node_query_state(db, &st, step_deadline(r), err, errlen) < 0) {
			step_close(r, s, "failed", "%s", err);
			return -2;
		}
		if (st.nrows)
			*w = st.rows[0];
		if (st.nrows && w->io_errno == 1236) {
			step_close(r, s, "failed", "1236: %s", w->io_error);
			return -1;
		}
		if (st.nrows && w->sql_errno) {
			snprintf(err, errlen, "SQL thread error %u: %s", w->sql_errno, w->sql_error);
			step_close(r, s, "failed", "%s", err);
			return -2;
		}
		if (st.nrows && !strcmp(w->io, "Yes") && !strcmp(w->sql, "Yes") &&
		    w->master_log_file[0] && !w->io_errno) {
			step_close(r, s, "ok", "io=Yes sql=Yes from %s:%u, binlog %s",
				   w->host, w->port, w->master_log_file);
			return 1;
		}
		if (ka_remaining_ms(end) <= 0 || ka_notify_term)
			break;
		sleep_ms(100);
	}
	snprintf(err, errlen, "replication not confirmed: io=%s sql=%s state '%s'%s%s", w->io,
		 w->sql, w->io_state, w->io_errno ? ", last IO error: " : "",
		 w->io_errno ? w->io_error : "");
	step_close(r, s, "failed", "%s", err);
	return 0;
}

/* Steps 3 to 5, once the checks passed. */
static int attach(struct run *r, struct ka_db *db, const struct node_state *local)
{
	static struct slave_row w;   /* 17 KB: off the stack */
	const char *from = local->current[0] ? local->current : "(empty)";
	char err[700];
	int code, c;

	memset(&w, 0, sizeof w);
	if ((code = change_master(r, db)) != KA_OK ||
	    (code = node_exec(r, db, "local", "START SLAVE", "START SLAVE")) != KA_OK) {
		snprintf(r->rejoin, sizeof r->rejoin, "failed: CHANGE MASTER/START SLAVE");
		return outcome(r, code, "rejoin-failed", "cannot start replication from %s:%u",
			       r->peer_ep.host, r->peer_ep.port);
	}
	if (r->o->dry_run) {
		snprintf(r->rejoin, sizeof r->rejoin, "would rejoin %s:%u from gtid_current_pos "
			 "%.1000s", r->peer_ep.host, r->peer_ep.port, from);
		return KA_OK;
	}
	c = confirm(r, db, &w, err, sizeof err);
	if (c == -1) {
		undo(r, db);
		return diverged(r, w.io_error, "the primary %s:%u does not have this node's "
				"position (errant transactions or purged binlogs): %s",
				r->peer_ep.host, r->peer_ep.port, w.io_error);
	}
	if (c == -2) {
		snprintf(r->rejoin, sizeof r->rejoin, "failed");
		fault_set(r, err);
		return outcome(r, KA_REFUSED, "rejoin-failed", "%s", err);
	}
	if (c == 0) {
		snprintf(r->rejoin, sizeof r->rejoin, "unconfirmed: replication left configured");
		return outcome(r, KA_TIMEOUT, "rejoin-unconfirmed", "%s", err);
	}
	snprintf(r->rejoin, sizeof r->rejoin, "rejoined %s:%u from gtid_current_pos %.1000s",
		 r->peer_ep.host, r->peer_ep.port, from);
	fault_clear(r, "rejoined the primary cleanly");
	return KA_OK;
}

/* Step 2, then steps 3 to 5: refuses (exit 9, fault file) when this node holds a GTID
 * the peer's binlog history lacks, or when a history cannot be read whole. */
static int checked_attach(struct run *r, struct ka_db *db, const struct node_state *local)
{
	static struct ka_gtid_set mine, theirs;   /* 12 KB each: off the stack */
	char what[768], err[400];

	if (node_history(local, 0, &mine, err, sizeof err) < 0 ||
	    node_history(&r->peer, 1, &theirs, err, sizeof err) < 0) {
		snprintf(r->rejoin, sizeof r->rejoin, "refused: a GTID position cannot be read "
			 "whole");
		fault_set(r, err);
		return outcome(r, KA_REFUSED, "rejoin-failed", "the errant-transaction check "
			       "cannot be made: %s", err);
	}
	if (gtid_missing(&theirs, &mine, what, sizeof what) > 0)
		return diverged(r, what, "this node holds transactions the primary %s:%u lacks: %s",
				r->peer_ep.host, r->peer_ep.port, what);
	return attach(r, db, local);
}

/* The retry window ended without a rejoin: the stale standby is forced to FAULT. */
static int stale(struct run *r, int tries)
{
	char last[400];

	snprintf(last, sizeof last, "%.390s", r->rejoin);
	snprintf(r->rejoin, sizeof r->rejoin, "stale: no rejoin within %ld s (%d tries; last: "
		 "%.300s)", r->o->rejoin_retry_s, tries, last);
	snprintf(r->operator_action, sizeof r->operator_action, "%s", OPERATOR_STALE);
	outcome(r, KA_REFUSED, "rejoin-stale", "this node is read-only and replicates from no "
		"one: no rejoin within %ld s (last: %.300s); it may lack writes and must not be "
		"promoted as it is", r->o->rejoin_retry_s, last);
	fault_set(r, r->reason);
	return KA_REFUSED;
}

/* Sleeps until the next try: 1 when it is due, 0 when a newer event or a signal came. */
static int pause_for_retry(struct run *r)
{
	for (int i = 0; i < RETRY_PAUSE_MS / 100; i++) {
		if (ka_notify_term || superseded(r))
			return 0;
		sleep_ms(100);
	}
	return !ka_notify_term && !superseded(r);
}

/* One look and, when it can go ahead, the rejoin. Returns 1 when done (code set), 0
 * when a later try may succeed (r->rejoin says why not now). */
static int rejoin_once(struct run *r, struct ka_db *db, struct node_state *local, int *code)
{
	struct ka_db peer = { 0 };
	int go, retry;

	if ((*code = node_read(r, db, "local", local)) != KA_OK) {
		snprintf(r->rejoin, sizeof r->rejoin, "failed: cannot read the local state");
		outcome(r, *code, "rejoin-failed", "cannot read the local state");
		return 1;
	}
	go = rejoin_applies(r, local, &peer, code, &retry);
	ka_db_close(&peer);
	if (go) {
		*code = checked_attach(r, db, local);
		return 1;
	}
	if (retry && r->ev == EV_BACKUP)
		return 0;
	if (*code != KA_OK)
		outcome(r, *code, "rejoin-skipped", "%s", r->rejoin);
	return 1;
}

int rejoin(struct run *r, struct ka_db *db)
{
	static struct node_state local;
	int64_t end = ka_deadline_in(r->o->rejoin_retry_s * 1000);
	char first[400] = "";
	int code = KA_OK, tries;

	for (tries = 1; tries <= 36000; tries++) {   /* 1 s apart: --rejoin-retry ends it */
		if (superseded(r)) {
			snprintf(r->rejoin, sizeof r->rejoin, "skipped: superseded by a newer event "
				 "after %d tr%s%s%.300s", tries - 1, tries == 2 ? "y" : "ies",
				 first[0] ? "; " : "", first);
			return KA_OK;
		}
		if (rejoin_once(r, db, &local, &code))
			return code;
		if (!first[0]) {
			snprintf(first, sizeof first, "%.390s", r->rejoin);
			ka_log_notice("rejoin not possible yet (%s): retrying for up to %ld s",
				      r->rejoin, r->o->rejoin_retry_s);
		}
		if (ka_remaining_ms(end) <= 0 || !pause_for_retry(r))
			break;
	}
	if (ka_notify_term || superseded(r)) {
		snprintf(r->rejoin, sizeof r->rejoin, "skipped: %s after %d tr%s; %.300s",
			 ka_notify_term ? "terminated" : "superseded by a newer event", tries,
			 tries == 1 ? "y" : "ies", first);
		if (ka_notify_term)   /* never exit 0 after TERM (FACTS 2) */
			return outcome(r, KA_TIMEOUT, "terminated", "terminated by a signal while "
				       "retrying the rejoin; this node stays read-only");
		return KA_OK;
	}
	return stale(r, tries);
}
