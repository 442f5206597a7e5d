/* MASTER -> promote: make the local node the writable primary, only when that loses
 * nothing (safety rule 2).
 *
 * How a promotion goes:
 *   1. Local state. Already writable (and, primary-replica, not replicating): done.
 *   2. Peer (--peer): down, cut off or hung (refused, no route, no TCP handshake and
 *      greeting within PEER_GREETING_MS, node_peer_greets) = unreachable, the usual
 *      failover, at once; answering but refusing us = unknown, refuse (fail closed).
 *   3. Catch-up, bounded by --catchup-timeout, in slices so a newer event can stop it:
 *      wait (MASTER_GTID_WAIT) until the SQL threads applied everything the IO threads
 *      received (Gtid_IO_Pos). A SQL thread stopped with unapplied events: refuse.
 *   4. Gate, once that is applied, when the peer answers: if it holds transactions this
 *      node lacks and no IO thread receives from it (none, or only Connecting): refuse,
 *      without fencing. Otherwise a writable peer is fenced (read_only=1, its clients
 *      killed) BEFORE the gate can pass, so no write is acknowledged there between the
 *      check and the promotion; then wait until this node holds everything the (now
 *      frozen) peer holds. Timeout: refuse. A writable peer that cannot be fenced while
 *      it still answers: refuse (two writable primaries). Refusal = exit 9 + fault file.
 *   5. primary-replica, once the gate passed: the IO threads are killed (stop_io: never
 *      a STOP that waits on a dead source), then the last drain; master-master:
 *      replication stays.
 *   6. Semi-sync without the 10 s stall of a commit with no replica connected
 *      (semisync_no_stall); read_only=0, verified; at once the promotion mark (mark.c:
 *      one GTID of this node's own, journaled as the promotion GTID); primary-replica:
 *      then STOP ALL SLAVES (waits for the killed IO threads) and RESET SLAVE ALL (the
 *      old source is journaled).
 * A dead, cut-off or hung peer costs PEER_GREETING_MS once before read_only=0 (a cut-off
 * or hung one: one more --timeout after the promotion, late_fence); one that greets and then
 * hangs costs at most one --timeout per step. Only a connect that fails makes it
 * unreachable (node_peer_reask); it is then fenced by its own keepalived's demote
 * (FAULT/BACKUP) when it comes back. A fence counts when read_only=1 is read back
 * (node_force_read_only); a promotion that fenced and does not end promoted undoes it
 * (unfence); read_only=0 cannot land late (node_set_writable, settle_read_only).
 * Several nodes (a --peer list, --replica; others.c): step 2 asks every node at once and
 * the one writable peer is "the peer" of steps 4 and the fence; after step 5, this node
 * catches up from the most advanced other node (catch_up_most_advanced); after
 * read_only=0 and the mark, the other nodes are repointed to this one (others_repoint).
 * Last, once promoted: every peer judged gone only because its greeting did not come
 * within PEER_GREETING_MS is asked again within one --timeout and fenced when it is
 * writable (late_fence, latefence.c): a live but slow old primary is not left writable.
 */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPERATOR_REFUSED "this node is forced to FAULT through the fault file. Find why " \
	"(journal), bring the node up to date (let it replicate from the primary, or rejoin it: " \
	"'" PROG " ... rejoin'), then lift the FAULT: '" PROG " ... clear-fault'"

/* Refuses the promotion: exit 9, fault file so keepalived moves the VIP away. */
static int refuse(struct run *r, const char *decision, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct run *r, const char *decision, const char *fmt, ...)
{
	va_list ap;

	r->code = KA_REFUSED;
	snprintf(r->decision, sizeof r->decision, "%s", decision);
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	snprintf(r->operator_action, sizeof r->operator_action, "%s", OPERATOR_REFUSED);
	fault_set(r, r->reason);
	return KA_REFUSED;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* MASTER_GTID_WAIT(pos, slice): *reached 1 when applied. Always with a timeout: without
 * one it waits forever (FACTS 21). Returns 0 or -1 with err filled. */
static int wait_applied(struct run *r, struct ka_db *db, const char *pos, int64_t slice_ms,
			int *reached, char *err, size_t errlen)
{
	static char sql[POS_LEN * 2 + 96], q[POS_LEN * 2];   /* 48 KB: off the stack */
	char v[16];
	int isnull;

	node_sql_quote(pos, q, sizeof q);
	snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', %lld.%03lld)", q,
		 (long long)(slice_ms / 1000), (long long)(slice_ms % 1000));
	if (ka_db_value(db, sql, v, sizeof v, &isnull, ka_deadline_in(slice_ms + r->o->timeout_ms),
			err, errlen) != 0)
		return -1;
	if (isnull) {
		snprintf(err, errlen, "MASTER_GTID_WAIT('%.200s') returned NULL", pos);
		return -1;
	}
	*reached = strcmp(v, "0") == 0;
	return 0;
}

/* Fences the peer: read_only=1 while its writers are killed (node_force_read_only), then
 * its remaining clients are killed (--no-kill keeps them all). Confirmed only when
 * read_only=1 is read back; the fence is then remembered (state.c) so that it can be
 * undone if this node does not become the primary. */
static void fence(struct run *r, struct ka_db *peer)
{
	char err[512];
	int code;

	r->fence_tried = 1;
	code = node_force_read_only(r, peer, &r->peer_addr, "peer", r->o->timeout_ms);
	if (code != KA_OK) {
		ka_log_warn("cannot fence the peer %s:%u (exit %d)", r->peer_ep.host,
			    r->peer_ep.port, code);
		return;
	}
	r->fenced = 1;
	if (!r->o->dry_run && fence_mark_write(r->o, &r->peer_ep, err, sizeof err) < 0)
		ka_log_warn("%s", err);
	if (!r->o->no_kill)
		node_kill_clients(r, peer, "peer");
}

/* Reads the peer again. A query of ours that fails (timed out, our cancelled session) is
 * no evidence that the peer is gone: it is asked again on a fresh connection, and only a
 * failed connect makes it unreachable (node_peer_reask). */
static void peer_refresh(struct run *r, struct ka_db *peer)
{
	char err[512];

	if (peer->my && !peer->timed_out &&
	    node_query_state(peer, &r->peer, step_deadline(r), err, sizeof err) == 0) {
		r->peer_state = r->peer.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
		return;
	}
	node_peer_reask(r, peer);
}

/* After a read_only=0 on the local node that failed or timed out (FACTS 40): waits until
 * it can no longer land (settled, node_set_writable), then makes sure the node is
 * read-only, reconnecting while the server is hung, for up to --hung-retry seconds (at
 * least one try past settled). A server that is down is left: it boots read-only. */
static void settle_read_only(struct run *r, struct ka_db *db, int64_t settled)
{
	char err[512];
	int64_t end = ka_deadline_in(r->o->hung_retry_s * 1000);
	int ro = 0, code = KA_TIMEOUT, tries;
	struct step *s = step_open(r, "settle read_only on local");

	if (end < settled + r->o->timeout_ms)
		end = settled + r->o->timeout_ms;
	if (ka_remaining_ms(settled) > 0)
		sleep_ms((long)ka_remaining_ms(settled));
	for (tries = 1; tries < 10000 && ka_remaining_ms(end) > 0 && !ka_notify_term; tries++) {
		ka_db_close(db);
		code = node_connect(r, db, &r->cr->local.addr, "local again");
		if (code == KA_OK)
			code = node_read_only(db, step_deadline(r), &ro, err, sizeof err);
		if (code == KA_OK && !ro)
			code = node_force_read_only(r, db, &r->cr->local.addr, "local", r->o->timeout_ms);
		if (code == KA_OK) {
			if (!ro && !r->o->no_kill)
				node_kill_clients(r, db, "local");
			step_close(r, s, "ok", "read_only=1 %s after %d look(s)", ro ? "found" :
				   "set again", tries);
			ka_log_notice("local node read-only again after a failed read_only=0");
			return;
		}
		if (code == KA_UNREACHABLE)
			break;
		sleep_ms(500);
	}
	step_close(r, s, "failed", "read_only=1 not confirmed (exit %d)", code);
	ka_log_err("local node not confirmed read-only after a failed read_only=0 (exit %d)",
		   code);
}

/* Step 6: read_only=0. Failed or timed out: FAULT, and the node is made read-only again
 * (settle_read_only). Done: a newer event that took a ticket meanwhile (a STOP, which
 * runs without the lock) gets read_only=1 back at once. Returns KA_OK when this node is
 * the writable primary; else the outcome is set. */
static int go_writable(struct run *r, struct ka_db *db)
{
	int64_t settled;
	int code = node_set_writable(r, db, "local", &settled);

	if (code != KA_OK) {
		fault_set(r, "cannot set read_only=0");
		outcome(r, code, "promote-failed", "cannot set read_only=0; the node is made "
			"read-only again");
		if (!r->o->dry_run)
			settle_read_only(r, db, settled);
		return code;
	}
	if (r->o->dry_run || !superseded(r))
		return KA_OK;
	code = node_force_read_only(r, db, &r->cr->local.addr, "local", r->o->timeout_ms);
	if (code != KA_OK) {
		fault_set(r, "a newer event arrived during read_only=0 and read_only=1 failed");
		return outcome(r, code, "promote-failed", "a newer event arrived while read_only=0 "
			       "was set, and read_only=1 again failed");
	}
	if (!r->o->no_kill)
		node_kill_clients(r, db, "local");
	return outcome(r, KA_OK, "superseded", "a newer event arrived while read_only=0 was "
		       "set: read_only=1 again");
}

/* db as it is when usable, else a new session to addr. Returns KA_OK or the code. */
static int session_ready(struct run *r, struct ka_db *db, const struct ka_dbaddr *addr,
			 const char *who)
{
	if (db->my && !db->timed_out)
		return KA_OK;
	ka_db_close(db);
	return node_connect(r, db, addr, who);
}

/* A promotion that fenced the peer but did not make this node the primary (refused,
 * failed, superseded) puts the peer back as it found it (read_only=0), once this node is
 * read back read-only: else the pair sits with nobody writable (nothing else would undo
 * the fence). The peer's own keepalived events decide from there. */
static void unfence(struct run *r, struct ka_db *db, struct ka_db *peer)
{
	char err[512];
	int64_t settled;
	int ro = 0;

	if (!r->fenced || r->o->dry_run)
		return;
	if (session_ready(r, db, &r->cr->local.addr, "local again") != KA_OK ||
	    node_read_only(db, step_deadline(r), &ro, err, sizeof err) != KA_OK || !ro) {
		ka_log_warn("peer %s:%u stays fenced: this node is not confirmed read-only",
			    r->peer_ep.host, r->peer_ep.port);
		return;
	}
	if (session_ready(r, peer, &r->peer_addr, "peer again") != KA_OK)
		return;
	if (node_set_writable(r, peer, "peer", &settled) != KA_OK)
		return;
	r->unfenced = 1;
	fence_mark_clear(r->o);
	ka_log_notice("peer %s:%u unfenced: this promotion did not complete", r->peer_ep.host,
		      r->peer_ep.port);
}

/* What the peer holds that the local node lacks, by lineage (lib/gtid.h, FACTS 42):
 * the count, described in desc; -1 when a history cannot be read whole (desc says
 * which): never counted as empty. */
static int peer_ahead(const struct node_state *local, const struct node_state *peer,
		      char *desc, size_t len)
{
	static struct ka_gtid_set mine, theirs;   /* 12 KB each: off the stack */
	char err[400];

	if (node_history(local, 0, &mine, err, sizeof err) < 0) {
		snprintf(desc, len, "this node: %s", err);
		return -1;
	}
	if (node_history(peer, 0, &theirs, err, sizeof err) < 0) {
		snprintf(desc, len, "the peer: %s", err);
		return -1;
	}
	return gtid_missing(&mine, &theirs, desc, len);
}

/* What st holds, as text for a message (cut at an entry when long: display only). */
static const char *held_text(const struct node_state *st, char *buf, size_t len)
{
	static struct ka_gtid_set held;
	char err[300];

	if (node_history(st, 0, &held, err, sizeof err) < 0)
		snprintf(buf, len, "(unreadable: %s)", err);
	else
		gtid_text(&held, buf, len);
	return buf[0] ? buf : "nothing";
}

/* File/position connections (MASTER_USE_GTID=no) whose SQL thread has not executed up to
 * what their IO thread read, appended to desc. Returns how many. */
static int filepos_pending(const struct node_state *st, char *desc, size_t len)
{
	int n = 0;

	for (size_t i = 0; i < st->nrows; i++) {
		const struct slave_row *w = &st->rows[i];
		size_t used = strlen(desc);
		if (node_uses_gtid(w) || (!strcmp(w->master_log_file, w->relay_master_log_file) &&
					  w->exec_pos >= w->read_pos))
			continue;
		n++;
		snprintf(desc + used, len - used, "%sconnection '%s' read %s:%lld, executed %s:%lld",
			 used ? ", " : "", w->name, w->master_log_file, w->read_pos,
			 w->relay_master_log_file, w->exec_pos);
	}
	return n;
}

/* What st received and does not hold yet (FACTS 42, 44): the GTIDs its IO threads
 * received that its history lacks, into pending, and the undrained file/position
 * connections; both told in desc. Returns how many, or -1 (err: a position could not be
 * read whole). MASTER_GTID_WAIT alone cannot say: it compares seq_nos with
 * gtid_slave_pos (FACTS 21), and 0-2-4 is not held by a node at 0-1-5. */
static int pending_of(const struct node_state *st, struct ka_gtid_set *pending, char *desc,
		      size_t len, char *err, size_t errlen)
{
	static struct ka_gtid_set io, held;

	desc[0] = '\0';
	if (node_io_pos(st, &io, err, errlen) < 0 || node_history(st, 0, &held, err, errlen) < 0)
		return -1;
	ka_gtid_missing_set(&held, &io, pending);
	gtid_text(pending, desc, len);
	return (int)pending->n + filepos_pending(st, desc, len);
}

#define ROUND_FAILED (-1)       /* the local server did not answer (err) */
#define ROUND_UNREADABLE (-2)   /* a position could not be read whole (err) */

/* One look at the local node: reads its state into cur and what it received and does not
 * hold yet into desc; when something is pending and every SQL thread runs, waits up to
 * one slice for progress. *reached is 1 when nothing was pending at the look (the only
 * way a catch-up ends); *snap is 1 when the snapshot is applied (by seq_no: time to ask
 * the gate, not proof). The snapshot is what was pending at the look of a round with
 * `fresh` set or after the last snapshot was applied: kept across rounds, so a lagging
 * applier reaches it while the IO threads still receive. Returns 0, ROUND_FAILED or
 * ROUND_UNREADABLE. */
static int applied_round(struct run *r, struct ka_db *db, struct node_state *cur, int64_t end,
			 int fresh, char *desc, size_t len, int *reached, int *snap, char *err,
			 size_t errlen)
{
	static struct ka_gtid_set pending;
	static char target[POS_LEN];
	int64_t slice = ka_remaining_ms(end);
	int n, got = 0;

	*reached = 1;
	*snap = 0;
	desc[0] = '\0';
	if (fresh)
		target[0] = '\0';
	if (node_query_state(db, cur, step_deadline(r), err, errlen) < 0)
		return ROUND_FAILED;
	if ((n = pending_of(cur, &pending, desc, len, err, errlen)) < 0)
		return ROUND_UNREADABLE;
	if (n == 0)
		return 0;
	*reached = 0;
	if (!node_sql_running(cur) || slice <= 0)
		return 0;
	if (slice > CATCHUP_SLICE_MS)
		slice = CATCHUP_SLICE_MS;
	if (!pending.n) {   /* file/position only: polled; the gate may be asked meanwhile */
		sleep_ms(slice < 100 ? (long)slice : 100);
		*snap = 1;
		return 0;
	}
	if (!target[0])
		gtid_wait_target(&pending, target, sizeof target);
	if (wait_applied(r, db, target, slice, &got, err, errlen) < 0)
		return ROUND_FAILED;
	if (got) {
		target[0] = '\0';
		sleep_ms(10);   /* reached by seq_no: the next look decides by lineage */
	}
	*snap = got;
	return 0;
}

/* --dry-run: one look instead of the wait. Returns KA_OK to go on planning. */
static int catch_up_plan(struct run *r, struct ka_db *db, struct ka_db *peer)
{
	static struct ka_gtid_set pending;
	static char desc[POS_LEN];
	char err[512], ahead[768] = "";
	int n = pending_of(&r->before, &pending, desc, sizeof desc, err, sizeof err), missing;

	(void)db;
	if (n < 0)
		return refuse(r, "refused-position-unreadable", "a GTID position of this node "
			      "cannot be read whole: %s", err);
	if (n > 0)
		plan(r, "wait up to %ld s until everything received is applied: %s",
		     r->o->catchup_s, desc);
	if (r->peer_state == PEER_READ_ONLY || r->peer_state == PEER_WRITABLE) {
		missing = peer_ahead(&r->before, &r->peer, ahead, sizeof ahead);
		if (missing < 0)
			return refuse(r, "refused-position-unreadable", "%s", ahead);
		if (missing > 0 && !node_io_connected(&r->before))
			return refuse(r, "refused-peer-ahead", "peer %s:%u holds transactions this "
				      "node lacks and it does not receive them: %s",
				      r->peer_ep.host, r->peer_ep.port, ahead);
		if (missing > 0)
			plan(r, "wait up to %ld s for the peer's transactions this node lacks: %s",
			     r->o->catchup_s, ahead);
	}
	if (r->peer_state == PEER_WRITABLE)
		fence(r, peer);   /* prints the plan */
	if (r->o->mode == MODE_PR && r->before.nrows)
		plan(r, "STOP ALL SLAVES IO_THREAD on local, then apply everything received");
	return KA_OK;
}

#define GATE_PASS (-1)
#define GATE_WAIT (-2)

/* The gate, once everything received is applied: GATE_PASS when the peer is unreachable
 * or fenced/read-only and holds nothing this node lacks; GATE_WAIT to look again; else
 * a refusal (outcome set). A writable peer is fenced before it can pass, so no commit
 * lands on it between this check and the promotion; it is not fenced when this node
 * could not catch up anyway (not receiving from it). */
static int gate(struct run *r, struct ka_db *peer, const struct node_state *cur,
		int64_t end, char *ahead, size_t len)
{
	const struct opts *o = r->o;
	int missing;

	if (r->peer_state != PEER_READ_ONLY && r->peer_state != PEER_WRITABLE)
		return GATE_PASS;
	peer_refresh(r, peer);
	if (r->peer_state == PEER_ERROR)
		return refuse(r, "refused-peer-unknown", "peer %s:%u accepts connections but "
			      "cannot be read, so whether it is writable or holds transactions this "
			      "node lacks is unknown", r->peer_ep.host, r->peer_ep.port);
	if (r->peer_state != PEER_READ_ONLY && r->peer_state != PEER_WRITABLE)
		return GATE_PASS;   /* a fresh connect failed: unreachable */
	missing = peer_ahead(cur, &r->peer, ahead, len);
	if (missing < 0)   /* a history that cannot be read whole is never empty */
		return refuse(r, "refused-position-unreadable", "%s", ahead);
	if (missing && !node_io_connected(cur))
		return refuse(r, "refused-peer-ahead", "peer %s:%u holds transactions this node "
			      "lacks and it does not receive them: %s", r->peer_ep.host, r->peer_ep.port,
			      ahead);
	if (r->peer_state == PEER_WRITABLE && !r->fence_tried) {
		fence(r, peer);
		return GATE_WAIT;   /* look again: its position is final now */
	}
	if (r->peer_state == PEER_WRITABLE)
		return refuse(r, "refused-peer-writable", "peer %s:%u answers, is writable and "
			      "its fence (read_only=1) was not confirmed: promoting would make two "
			      "writable primaries", r->peer_ep.host, r->peer_ep.port);
	if (!missing)
		return GATE_PASS;
	if (ka_remaining_ms(end) <= 0)
		return refuse(r, "refused-catchup-timeout", "catch-up timed out after %ld s: peer "
			      "%s:%u still holds transactions this node lacks: %s", o->catchup_s,
			      r->peer_ep.host, r->peer_ep.port, ahead);
	return GATE_WAIT;
}

/* The Slave_IO threads' connection ids, into ids (at most max). Returns how many, or -1
 * (err filled). */
static int io_thread_ids(struct ka_db *db, int64_t deadline, unsigned long long *ids,
			 size_t max, char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int n = 0;

	if (ka_db_query(db, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = "
			"'Slave_IO'", &res, deadline, err, errlen) < 0)
		return -1;
	while (res && (row = mysql_fetch_row(res)) && (size_t)n < max)
		ids[n++] = strtoull(row[0] ? row[0] : "0", NULL, 10);
	if (res)
		mysql_free_result(res);
	return n;
}

/* KILL CONNECTION for every IO thread: returns once each is marked killed, which shuts
 * its socket, without waiting for it to end. Returns how many were killed, or -1. */
static int kill_io_threads(struct ka_db *db, int64_t deadline, char *err, size_t errlen)
{
	unsigned long long ids[MAX_SLAVES];
	char sql[64];
	int n = io_thread_ids(db, deadline, ids, MAX_SLAVES, err, errlen);

	for (int i = 0; i < n; i++) {
		snprintf(sql, sizeof sql, "KILL CONNECTION %llu", ids[i]);
		if (ka_db_query(db, sql, NULL, deadline, err, errlen) < 0 && db->err != 1094)
			return -1;   /* 1094: it ended by itself */
	}
	return n;
}

/* Stops the IO threads before the last drain (FACTS 44): nothing arrives after the final
 * look, so RESET SLAVE ALL deletes no event that was received (and, semi-sync,
 * acknowledged). Killed, not STOPped: a semi-sync IO thread that ends connects to its
 * source to kill its dump thread and waits for that (about 2 s on a dead or hung source,
 * rpl_semi_sync_slave_kill_conn_timeout; STOP SLAVE waits for it too). KILL returns once
 * the thread is marked killed and its socket shut: it receives and acknowledges nothing
 * after that, and it is read back as 'Killed' or gone before the drain. The rest of its
 * exit runs meanwhile; STOP ALL SLAVES waits for it after read_only=0 (end_replication). */
static int stop_io(struct run *r, struct ka_db *db)
{
	char err[512];
	unsigned long long ids[MAX_SLAVES];
	struct step *s;
	int n, left = -1;

	if (r->o->dry_run) {
		plan(r, "KILL the IO threads (Slave_IO) on local");
		return KA_OK;
	}
	s = step_open(r, "kill IO threads on local");
	r->io_killed = 1;   /* from here on, restart_io waits for them to end first */
	n = kill_io_threads(db, step_deadline(r), err, sizeof err);
	if (n >= 0)
		left = io_thread_ids(db, step_deadline(r), ids, MAX_SLAVES, err, sizeof err);
	if (n < 0 || left != 0) {
		if (left > 0)
			snprintf(err, sizeof err, "%d IO thread(s) not marked killed", left);
		step_close(r, s, "failed", "%s", err);
		ka_log_warn("cannot kill the IO threads on local: %s", err);
		return node_code(db);
	}
	step_close(r, s, "ok", "%d IO thread(s) killed; they end in the background", n);
	return KA_OK;
}

/* Undoes stop_io when the promotion does not go ahead (refused, superseded): once the
 * killed IO threads have ended (STOP ALL SLAVES IO_THREAD waits for them), the IO threads
 * that ran before run again, so the node stays the replica it was. */
static void restart_io(struct run *r, struct ka_db *db)
{
	char sql[200], q[160];

	if (r->io_killed)
		node_exec_within(r, db, "local", "STOP ALL SLAVES IO_THREAD",
				 "STOP ALL SLAVES IO_THREAD", r->o->timeout_ms + STOP_SLAVE_EXTRA_MS);
	r->io_killed = 0;
	for (size_t i = 0; i < r->before.nrows; i++) {
		const struct slave_row *w = &r->before.rows[i];
		if (!strcmp(w->io, "No"))
			continue;
		node_sql_quote(w->name, q, sizeof q);
		if (*w->name)
			snprintf(sql, sizeof sql, "START SLAVE '%s' IO_THREAD", q);
		else
			snprintf(sql, sizeof sql, "START SLAVE IO_THREAD");
		node_exec(r, db, "local", sql, sql);
	}
}

/* A signal or a newer event ends the catch-up. Returns 1 with the outcome set, else 0. */
static int interrupted(struct run *r, struct step *s, int rounds)
{
	if (ka_notify_term) {
		step_close(r, s, "failed", "terminated by a signal");
		outcome(r, KA_TIMEOUT, "terminated", "terminated by a signal during catch-up; "
			"nothing changed on this node");
		return 1;
	}
	if (superseded(r)) {
		step_close(r, s, "skipped", "superseded after %d round(s)", rounds - 1);
		outcome(r, KA_OK, "superseded", "a newer event arrived during catch-up; nothing "
			"changed on this node");
		return 1;
	}
	return 0;
}

/* Judges one look (applied_round's rc and reached): KA_OK to go on, else the outcome (the
 * local server failed, a position is unreadable, a SQL thread stopped with work left). */
static int judge_round(struct run *r, struct ka_db *db, struct step *s, int rc, int reached,
		       const struct node_state *cur, const char *desc, const char *err)
{
	static char held[POS_LEN];

	if (rc == ROUND_FAILED) {
		step_close(r, s, "failed", "%s", err);
		fault_set(r, "local mysqld stopped answering during promotion");
		return outcome(r, node_code(db), "promote-failed", "%s", err);
	}
	if (rc == ROUND_UNREADABLE) {
		step_close(r, s, "failed", "%s", err);
		return refuse(r, "refused-position-unreadable", "a GTID position of this node "
			      "cannot be read whole: %s", err);
	}
	if (reached)
		return KA_OK;
	if (!node_sql_running(cur)) {
		step_close(r, s, "failed", "SQL thread stopped with unapplied transactions");
		return refuse(r, "refused-sql-stopped", "a replication SQL thread is stopped with "
			      "transactions received but not applied (received %.300s, holds %.300s)",
			      desc, held_text(cur, held, sizeof held));
	}
	return KA_OK;
}

/* The catch-up ran out of time with received transactions not applied: refuse. */
static int timed_out(struct run *r, struct step *s, const struct node_state *cur,
		     const char *desc)
{
	static char held[POS_LEN];

	step_close(r, s, "failed", "timed out after %ld s", r->o->catchup_s);
	return refuse(r, "refused-catchup-timeout", "catch-up timed out after %ld s: received "
		      "%.300s, holds only %.300s", r->o->catchup_s, desc,
		      held_text(cur, held, sizeof held));
}

/* The gate passed. primary-replica: stops the IO threads for the last drain (*drain, and
 * at least one slice left before *end); master-master keeps replicating, nothing is
 * deleted (*passed). Returns KA_OK, or the outcome when the IO threads did not stop. */
static int gate_passed(struct run *r, struct ka_db *db, struct step *s,
		       const struct node_state *cur, int *passed, int *drain, int64_t *end)
{
	int code;

	if (r->o->mode != MODE_PR || !cur->nrows) {
		*passed = 1;
		return KA_OK;
	}
	if ((code = stop_io(r, db)) != KA_OK) {
		step_close(r, s, "failed", "cannot stop the IO threads");
		fault_set(r, "cannot stop the replication IO threads");
		restart_io(r, db);
		return outcome(r, code, "promote-failed", "cannot stop the replication IO "
			       "threads");
	}
	*drain = 1;
	if (ka_remaining_ms(*end) < CATCHUP_SLICE_MS)
		*end = ka_deadline_in(CATCHUP_SLICE_MS);   /* one slice to drain */
	return KA_OK;
}

/* Ends a catch-up that does not go ahead: after stop_io, the IO threads run again. */
static int catch_up_end(struct run *r, struct ka_db *db, int io_stopped, int code)
{
	if (io_stopped)
		restart_io(r, db);
	return code;
}

/* Step 3 above. Looks at what is received and not held yet, waiting in slices; each time
 * the last look's work is applied, asks the gate (the peer). Once it passes (primary-
 * replica), stops the IO threads and looks until everything they received is applied:
 * catch-up is done only at a look that finds nothing pending after the IO stop (or, in
 * master-master, after the gate passed). Returns KA_OK when caught up; else the outcome
 * is set. */
static int catch_up(struct run *r, struct ka_db *db, struct ka_db *peer)
{
	static struct node_state cur;
	static char desc[POS_LEN], last[POS_LEN], held[POS_LEN];
	int64_t end = ka_deadline_in(r->o->catchup_s * 1000);
	char err[512], ahead[768] = "";
	struct step *s = step_open(r, "catch up");
	int rounds, code, reached, snap, passed = 0, drain = 0, fresh = 1;

	if (r->o->dry_run) {
		step_close(r, s, "planned", "%s", "");
		return catch_up_plan(r, db, peer);
	}
	last[0] = '\0';
	for (rounds = 1; rounds < 1000000; rounds++) {   /* the deadline ends it first */
		if (interrupted(r, s, rounds))
			return catch_up_end(r, db, drain, r->code);
		code = applied_round(r, db, &cur, end, fresh, desc, sizeof desc, &reached, &snap,
				     err, sizeof err);
		fresh = 0;
		if ((code = judge_round(r, db, s, code, reached, &cur, desc, err)) != KA_OK)
			return catch_up_end(r, db, drain, code);
		if (reached && (passed || drain))
			break;
		if (passed || drain || (!reached && !snap)) {
			if (ka_remaining_ms(end) > 0)
				continue;
			return catch_up_end(r, db, drain, timed_out(r, s, &cur, desc));
		}
		code = gate(r, peer, &cur, end, ahead, sizeof ahead);
		if (code == GATE_PASS) {
			if ((code = gate_passed(r, db, s, &cur, &passed, &drain, &end)) != KA_OK)
				return code;
			fresh = drain;
			continue;
		}
		if (code != GATE_WAIT) {
			step_close(r, s, "failed", "%s", r->decision);
			return code;
		}
		if (!strcmp(desc, last))
			sleep_ms(ka_remaining_ms(end) < 100 ? ka_remaining_ms(end) : 100);
		snprintf(last, sizeof last, "%s", desc);
	}
	step_close(r, s, "ok", "holds %.400s after %d round(s)%s%s",
		   held_text(&cur, held, sizeof held), rounds,
		   drain ? "; IO threads stopped, everything received applied" : "",
		   r->peer_state == PEER_UNREACHABLE ? "; peer unreachable" : "");
	return KA_OK;
}

/* primary-replica, once read_only=0 is in place: this node stops being a replica. Its
 * IO threads were killed before the drain (stop_io) and the SQL threads have applied
 * everything; STOP ALL SLAVES waits for the killed IO threads to end (about 2 s when
 * the source is dead or hung), off the path to the first write. The old source is in
 * the journal ("before"); RESET SLAVE ALL keeps gtid_slave_pos (FACTS 20). */
static int end_replication(struct run *r, struct ka_db *db, char *warn, size_t warnlen)
{
	char sql[240], q[160];
	int code;

	if ((code = node_exec_within(r, db, "local", "STOP ALL SLAVES", "STOP ALL SLAVES",
				     r->o->timeout_ms + STOP_SLAVE_EXTRA_MS)) != KA_OK)
		return code;
	r->io_killed = 0;
	for (size_t i = 0; i < r->before.nrows; i++) {
		const char *name = r->before.rows[i].name;
		node_sql_quote(name, q, sizeof q);
		if (*name)
			snprintf(sql, sizeof sql, "RESET SLAVE '%s' ALL", q);
		else
			snprintf(sql, sizeof sql, "RESET SLAVE ALL");
		/* Replication is stopped: a failed RESET (no RELOAD privilege) leaves only a
		 * stale configuration behind, not a reason to leave the VIP without writer. */
		if (node_exec(r, db, "local", sql, sql) != KA_OK)
			snprintf(warn, warnlen, "; warning: %.100s failed (grant RELOAD to the HA "
				 "account)", sql);
	}
	return KA_OK;
}

/* Semi-sync on the node about to take writes. With rpl_semi_sync_master_enabled=ON and
 * MariaDB's default rpl_semi_sync_master_wait_no_slave=ON, a commit waits the whole
 * rpl_semi_sync_master_timeout (10 s) for an ACK while no replica is connected, whenever
 * the master status is ON (after a restart or RESET MASTER, or a replica that left while
 * it was primary). wait_no_slave=OFF commits at once while no semi-sync replica is
 * connected and waits for an ACK again as soon as one is (measured): the same
 * durability (with no replica a commit is acknowledged without an ACK either way, after
 * 10 s or at once), without the stall. Best effort: a failure is only a warning. */
static void semisync_no_stall(struct run *r, struct ka_db *db)
{
	char err[512], v[8];

	if (r->o->dry_run) {
		plan(r, "SET GLOBAL rpl_semi_sync_master_wait_no_slave=OFF on local when "
		     "semi-sync is enabled");
		return;
	}
	if (ka_db_value(db, "SELECT @@global.rpl_semi_sync_master_enabled AND "
			"@@global.rpl_semi_sync_master_wait_no_slave", v, sizeof v, NULL,
			step_deadline(r), err, sizeof err) != 0) {
		ka_log_warn("cannot read the semi-sync settings: %s", err);
		return;
	}
	if (strcmp(v, "1") != 0)
		return;
	node_exec(r, db, "local", "semi-sync wait_no_slave=OFF",
		  "SET GLOBAL rpl_semi_sync_master_wait_no_slave=OFF");
}

/* The gone peer's replication from this node (master-master, or a peer that replicated
 * from here): a dump thread to a hung or cut-off replica counts as a connected semi-sync
 * client until the network gives up, so the first commit would wait the whole master
 * timeout for its ACK. Its dump threads are killed (KILL CONNECTION of every Binlog Dump
 * thread: a pair has no other replica); a live replica would simply connect again. */
static void close_gone_peer_dumps(struct run *r, struct ka_db *db)
{
	char err[512], sql[64];
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long long ids[MAX_SLAVES];
	size_t n = 0, killed = 0;

	if (r->peer_state != PEER_UNREACHABLE || r->o->dry_run)
		return;
	if (ka_db_query(db, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = "
			"'Binlog Dump'", &res, step_deadline(r), err, sizeof err) < 0) {
		ka_log_warn("cannot list the dump threads: %s", err);
		return;
	}
	while (res && (row = mysql_fetch_row(res)) && n < MAX_SLAVES)
		ids[n++] = strtoull(row[0] ? row[0] : "0", NULL, 10);
	if (res)
		mysql_free_result(res);
	if (!n)
		return;
	struct step *s = step_open(r, "kill the gone peer's dump threads on local");
	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof sql, "KILL CONNECTION %llu", ids[i]);
		if (ka_db_query(db, sql, NULL, step_deadline(r), err, sizeof err) == 0 ||
		    db->err == 1094)
			killed++;
	}
	step_close(r, s, killed == n ? "ok" : "failed", "killed %zu of %zu%s%s", killed, n,
		   killed == n ? "" : ": ", killed == n ? "" : err);
}

/* read_only=0 is in place but replication could not be ended: the node is made
 * read-only again (a writable node that still replicates fails every check). */
static int replication_left(struct run *r, struct ka_db *db, int code)
{
	fault_set(r, "cannot stop replication after read_only=0");
	if (node_force_read_only(r, db, &r->cr->local.addr, "local", r->o->timeout_ms) == KA_OK &&
	    !r->o->no_kill)
		node_kill_clients(r, db, "local");
	return outcome(r, code, "promote-failed", "cannot stop replication after read_only=0; "
		       "the node is made read-only again");
}

static int already_primary(const struct run *r)
{
	if (r->before.read_only)
		return 0;
	return r->o->mode == MODE_MM || r->before.nrows == 0;
}

/* Step 2: the peer (a pair), or every --peer and --replica at once (others.c). Returns
 * KA_OK, or the refusal. */
static int probe_peers(struct run *r, struct ka_db *peer)
{
	char decision[48], why[900];

	if (others_multi(r->o)) {
		if (others_promote_probe(r, peer, decision, sizeof decision, why, sizeof why) < 0)
			return refuse(r, decision, "%s", why);
		return KA_OK;
	}
	if (peer_probe(r, peer) == PEER_ERROR)
		return refuse(r, "refused-peer-unknown", "peer %s:%u answers but cannot be read, "
			      "so whether it holds transactions this node lacks is unknown: %s",
			      r->peer_ep.host, r->peer_ep.port, r->peer_error);
	return KA_OK;
}

/* Step 3b, several nodes: once this node applied what it received, it catches up from
 * the most advanced other node (others_catch_up). Refused or interrupted: the IO threads
 * run again (still the replica it was). Returns KA_OK, or the outcome is set. */
static int catch_up_most_advanced(struct run *r, struct ka_db *db, int replicating)
{
	char decision[48], why[1100];
	int rc;

	if (!others_multi(r->o))
		return KA_OK;
	rc = others_catch_up(r, db, decision, sizeof decision, why, sizeof why);
	if (rc == 0)
		return KA_OK;
	if (replicating && session_ready(r, db, &r->cr->local.addr, "local again") == KA_OK)
		restart_io(r, db);
	if (rc == -1)
		return refuse(r, decision, "%s", why);
	return r->code;
}

static int promote_connected(struct run *r, struct ka_db *db, struct ka_db *peer)
{
	char warn[300] = "", err[512], mark[POS_LEN] = "", repointed[200] = "";
	int code, replicating;

	if ((code = node_read(r, db, "local", &r->before)) != KA_OK) {
		fault_set(r, "cannot read the local state");
		return outcome(r, code, "promote-failed", "cannot read the local state");
	}
	if (already_primary(r))
		return outcome(r, KA_OK, "already-primary", "read_only is already OFF%s: nothing "
			       "to do", r->o->mode == MODE_PR ? " and no replication configured" : "");
	if ((code = probe_peers(r, peer)) != KA_OK)
		return code;
	if ((code = catch_up(r, db, peer)) != KA_OK || r->decision[0])
		return code;
	replicating = r->o->mode == MODE_PR && r->before.nrows;
	if ((code = catch_up_most_advanced(r, db, replicating)) != KA_OK || r->decision[0])
		return code;
	if (replicating && superseded(r)) {
		restart_io(r, db);   /* the last chance to give way with replication intact */
		return outcome(r, KA_OK, "superseded", "a newer event arrived after catch-up; "
			       "replication kept, this node stays read-only");
	}
	if (superseded(r))
		return outcome(r, KA_OK, "superseded", "a newer event arrived before read_only=0; "
			       "this node stays read-only");
	semisync_no_stall(r, db);
	close_gone_peer_dumps(r, db);
	code = go_writable(r, db);
	if (code != KA_OK || r->decision[0]) {   /* read-only again: still the replica */
		if (replicating && !r->o->dry_run)
			restart_io(r, db);
		return code;
	}
	promotion_mark(r, db, mark, sizeof mark);
	if (session_ready(r, db, &r->cr->local.addr, "local again") != KA_OK)
		return replication_left(r, db, node_code(db));
	others_repoint(r, db, repointed, sizeof repointed);   /* after the first write */
	if (replicating && (code = end_replication(r, db, warn, sizeof warn)) != KA_OK)
		return replication_left(r, db, code);
	if (r->o->dry_run)
		return outcome(r, KA_OK, "promoted", "plan complete: this node would become the "
			       "writable primary%s", r->fenced ? " and the peer would be fenced" : "");
	if (node_query_state(db, &r->after, step_deadline(r), err, sizeof err) < 0)
		ka_log_warn("cannot read the state after promotion: %s", err);
	return outcome(r, KA_OK, "promoted", "read_only=OFF, promotion GTID %s%s%s%s", mark[0] ?
		       mark : r->after.known ? (r->after.binlog[0] ? r->after.binlog : "(empty)") :
		       "?", r->o->mode == MODE_MM ? ", replication kept (master-master)" : "", warn,
		       repointed);
}

int promote(struct run *r)
{
	struct ka_db db = { 0 }, peer = { 0 };
	int code = node_connect(r, &db, &r->cr->local.addr, "local");

	if (code != KA_OK) {
		fault_set(r, "local mysqld unreachable on MASTER");
		code = outcome(r, code, "local-unreachable", "cannot promote: %s", r->local_error);
	} else {
		code = promote_connected(r, &db, &peer);
	}
	if (!strcmp(r->decision, "promoted"))
		code = late_fence(r, &db);   /* last: it never delays the VIP or the first write */
	else
		unfence(r, &db, &peer);
	others_close();
	ka_db_close(&peer);
	ka_db_close(&db);
	return code;
}
