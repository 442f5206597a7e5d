/* MASTER -> promote: make the local node the writable primary, only when that loses
 * nothing (safety rule 2).
 *
 * How a promotion goes:
 *   1. Local state. Already writable (and, primary-replica, not replicating): done.
 *   2. Peer (--peer): down or hung (connect refused or timed out) = unreachable, the
 *      usual failover; answering but refusing us = unknown, refuse (fail closed).
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
 *   5. primary-replica: STOP ALL SLAVES, RESET SLAVE ALL (the old source is journaled);
 *      master-master: replication stays.
 *   6. read_only=0, verified; the promotion GTID is journaled.
 * A hung peer costs at most one --timeout per step; it is then treated as unreachable
 * and is fenced by its own keepalived's demote (FAULT/BACKUP) when it comes back.
 */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
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
	char sql[POS_LEN * 2 + 96], q[POS_LEN * 2], v[16];
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

/* Fences the peer: read_only=1, then its clients are killed (--no-kill keeps them). */
static void fence(struct run *r, struct ka_db *peer)
{
	int code;

	r->fence_tried = 1;
	code = node_set_read_only(r, peer, "peer", 1);

	if (code != KA_OK) {
		ka_log_warn("cannot fence the peer %s:%u (exit %d)", r->o->peer.host,
			    r->o->peer.port, code);
		return;
	}
	r->fenced = 1;
	if (!r->o->no_kill)
		node_kill_clients(r, peer, "peer");
}

/* Reads the peer again; a peer that stopped answering becomes unreachable. */
static void peer_refresh(struct run *r, struct ka_db *peer)
{
	char err[512];

	if (node_query_state(peer, &r->peer, step_deadline(r), err, sizeof err) < 0) {
		snprintf(r->peer_error, sizeof r->peer_error, "peer stopped answering: %s", err);
		r->peer_state = PEER_UNREACHABLE;
		return;
	}
	r->peer_state = r->peer.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
}

/* What the peer holds that the local node lacks (0: nothing). */
static int peer_ahead(const struct node_state *local, const struct node_state *peer,
		      char *desc, size_t len)
{
	struct ka_gtid_set mine, theirs;

	node_held(local, 0, &mine);
	node_held(peer, 0, &theirs);
	return gtid_missing(&mine, &theirs, desc, len);
}

static const char *held_text(const struct node_state *st, char *buf, size_t len)
{
	struct ka_gtid_set held;

	node_held(st, 0, &held);
	gtid_text(&held, buf, len);
	return buf[0] ? buf : "nothing";
}

/* What the IO threads received that the node does not hold yet: per domain, the
 * Gtid_IO_Pos entries above everything the node holds (binlog, slave_pos, current_pos).
 * MASTER_GTID_WAIT compares with gtid_slave_pos only (FACTS 21): waiting for domains the
 * node already holds through its own binlog (a rejoined former primary replicating in
 * current_pos mode) would never end. */
static void pending_pos(const struct node_state *st, char *out, size_t len)
{
	struct ka_gtid_set io, held, pending = { 0 };
	char err[256];

	node_io_pos(st, out, len);
	if (ka_gtid_parse(out, &io, err, sizeof err) < 0)
		return;   /* unparsable: wait for all of it */
	node_held(st, 0, &held);
	for (size_t i = 0; i < io.n; i++) {
		const struct ka_gtid *h = ka_gtid_domain(&held, io.g[i].domain);
		if (!h || h->seq < io.g[i].seq)
			pending.g[pending.n++] = io.g[i];
	}
	gtid_text(&pending, out, len);
}

/* One look at the local node: reads its state into cur and what is left to apply into
 * pending, then waits one slice (none when a SQL thread is stopped) for it. *reached is
 * 1 when nothing received is left to apply. Returns 0 or -1 (err). */
static int applied_round(struct run *r, struct ka_db *db, struct node_state *cur, int64_t end,
			 char *pending, size_t len, int *reached, char *err, size_t errlen)
{
	int64_t slice = ka_remaining_ms(end);

	*reached = 1;
	pending[0] = '\0';
	if (node_query_state(db, cur, step_deadline(r), err, errlen) < 0)
		return -1;
	pending_pos(cur, pending, len);
	if (!cur->nrows || !pending[0])
		return 0;
	if (slice > CATCHUP_SLICE_MS)
		slice = CATCHUP_SLICE_MS;
	if (!node_sql_running(cur))
		slice = 0;
	return wait_applied(r, db, pending, slice, reached, err, errlen);
}

/* --dry-run: one look instead of the wait. Returns KA_OK to go on planning. */
static int catch_up_plan(struct run *r, struct ka_db *db, struct ka_db *peer)
{
	char io[POS_LEN], err[512], ahead[768] = "";
	int reached = 1;

	pending_pos(&r->before, io, sizeof io);
	if (r->before.nrows && io[0] && wait_applied(r, db, io, 0, &reached, err, sizeof err) < 0)
		return outcome(r, node_code(db), "promote-failed", "%s", err);
	if (!reached)
		plan(r, "wait up to %ld s until the relay log is applied: MASTER_GTID_WAIT('%s')",
		     r->o->catchup_s, io);
	if ((r->peer_state == PEER_READ_ONLY || r->peer_state == PEER_WRITABLE) &&
	    peer_ahead(&r->before, &r->peer, ahead, sizeof ahead) > 0) {
		if (!node_io_connected(&r->before))
			return refuse(r, "refused-peer-ahead", "peer %s:%u holds transactions this "
				      "node lacks and it does not receive them: %s",
				      r->o->peer.host, r->o->peer.port, ahead);
		plan(r, "wait up to %ld s for the peer's transactions this node lacks: %s",
		     r->o->catchup_s, ahead);
	}
	if (r->peer_state == PEER_WRITABLE)
		fence(r, peer);   /* prints the plan */
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
	if (r->peer_state != PEER_READ_ONLY && r->peer_state != PEER_WRITABLE)
		return GATE_PASS;   /* it stopped answering: unreachable */
	missing = peer_ahead(cur, &r->peer, ahead, len);
	if (missing && !node_io_connected(cur))
		return refuse(r, "refused-peer-ahead", "peer %s:%u holds transactions this node "
			      "lacks and it does not receive them: %s", o->peer.host, o->peer.port,
			      ahead);
	if (r->peer_state == PEER_WRITABLE && !r->fence_tried) {
		fence(r, peer);
		return GATE_WAIT;   /* look again: its position is final now */
	}
	if (r->peer_state == PEER_WRITABLE)
		return refuse(r, "refused-peer-writable", "peer %s:%u is writable and could not be "
			      "fenced: promoting would make two writable primaries", o->peer.host,
			      o->peer.port);
	if (!missing)
		return GATE_PASS;
	if (ka_remaining_ms(end) <= 0)
		return refuse(r, "refused-catchup-timeout", "catch-up timed out after %ld s: peer "
			      "%s:%u still holds transactions this node lacks: %s", o->catchup_s,
			      o->peer.host, o->peer.port, ahead);
	return GATE_WAIT;
}

/* Step 3 above. Returns KA_OK when caught up; otherwise the outcome is set. */
static int catch_up(struct run *r, struct ka_db *db, struct ka_db *peer)
{
	static struct node_state cur;
	int64_t end = ka_deadline_in(r->o->catchup_s * 1000);
	char io[POS_LEN], last[POS_LEN] = "", err[512], ahead[768] = "", held[POS_LEN];
	struct step *s = step_open(r, "catch up");
	int rounds, code;

	if (r->o->dry_run) {
		step_close(r, s, "planned", "%s", "");
		return catch_up_plan(r, db, peer);
	}
	for (rounds = 1;; rounds++) {
		int reached = 1;
		if (ka_notify_term) {
			step_close(r, s, "failed", "terminated by a signal");
			return outcome(r, KA_TIMEOUT, "terminated", "terminated by a signal during "
				       "catch-up; nothing changed on this node");
		}
		if (superseded(r)) {
			step_close(r, s, "skipped", "superseded after %d round(s)", rounds - 1);
			return outcome(r, KA_OK, "superseded", "a newer event arrived during "
				       "catch-up; nothing changed on this node");
		}
		if (applied_round(r, db, &cur, end, io, sizeof io, &reached, err, sizeof err) < 0) {
			step_close(r, s, "failed", "%s", err);
			fault_set(r, "local mysqld stopped answering during promotion");
			return outcome(r, node_code(db), "promote-failed", "%s", err);
		}
		if (!reached && !node_sql_running(&cur)) {
			step_close(r, s, "failed", "SQL thread stopped with unapplied transactions");
			return refuse(r, "refused-sql-stopped", "a replication SQL thread is stopped "
				      "with transactions received but not applied (received %s, "
				      "holds %s)", io, held_text(&cur, held, sizeof held));
		}
		if (!reached) {
			if (ka_remaining_ms(end) > 0)
				continue;
			step_close(r, s, "failed", "timed out after %ld s", r->o->catchup_s);
			return refuse(r, "refused-catchup-timeout", "catch-up timed out after %ld s: "
				      "received %s, holds only %s", r->o->catchup_s, io,
				      held_text(&cur, held, sizeof held));
		}
		code = gate(r, peer, &cur, end, ahead, sizeof ahead);
		if (code == GATE_PASS)
			break;
		if (code != GATE_WAIT) {
			step_close(r, s, "failed", "%s", r->decision);
			return code;
		}
		if (!strcmp(io, last))
			sleep_ms(ka_remaining_ms(end) < 100 ? ka_remaining_ms(end) : 100);
		snprintf(last, sizeof last, "%s", io);
	}
	step_close(r, s, "ok", "holds %s after %d round(s)%s", held_text(&cur, held, sizeof held),
		   rounds,
		   r->peer_state == PEER_UNREACHABLE ? "; peer unreachable" : "");
	return KA_OK;
}

/* primary-replica: this node stops being a replica. The old source is in the journal
 * ("before"); RESET SLAVE ALL keeps gtid_slave_pos (FACTS 20). */
static int end_replication(struct run *r, struct ka_db *db, char *warn, size_t warnlen)
{
	char sql[240], q[160];
	int code;

	/* An IO thread blocked on a hung source takes about 2 s to stop (measured). */
	if ((code = node_exec_within(r, db, "local", "STOP ALL SLAVES", "STOP ALL SLAVES",
				     r->o->timeout_ms + STOP_SLAVE_EXTRA_MS)) != KA_OK)
		return code;
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

static int already_primary(const struct run *r)
{
	if (r->before.read_only)
		return 0;
	return r->o->mode == MODE_MM || r->before.nrows == 0;
}

static int promote_connected(struct run *r, struct ka_db *db, struct ka_db *peer)
{
	char warn[300] = "", err[512];
	int code;

	if ((code = node_read(r, db, "local", &r->before)) != KA_OK) {
		fault_set(r, "cannot read the local state");
		return outcome(r, code, "promote-failed", "cannot read the local state");
	}
	if (already_primary(r))
		return outcome(r, KA_OK, "already-primary", "read_only is already OFF%s: nothing "
			       "to do", r->o->mode == MODE_PR ? " and no replication configured" : "");
	if (peer_probe(r, peer) == PEER_ERROR)
		return refuse(r, "refused-peer-unknown", "peer %s:%u answers but cannot be read, "
			      "so whether it holds transactions this node lacks is unknown: %s",
			      r->o->peer.host, r->o->peer.port, r->peer_error);
	if ((code = catch_up(r, db, peer)) != KA_OK || r->decision[0])
		return code;
	if (r->o->mode == MODE_PR && r->before.nrows &&
	    (code = end_replication(r, db, warn, sizeof warn)) != KA_OK) {
		fault_set(r, "cannot stop replication");
		return outcome(r, code, "promote-failed", "cannot stop replication");
	}
	if (superseded(r))
		return outcome(r, KA_OK, "superseded", "a newer event arrived before read_only=0; "
			       "this node stays read-only");
	if ((code = node_set_read_only(r, db, "local", 0)) != KA_OK) {
		fault_set(r, "cannot set read_only=0");
		return outcome(r, code, "promote-failed", "cannot set read_only=0");
	}
	if (r->o->dry_run)
		return outcome(r, KA_OK, "promoted", "plan complete: this node would become the "
			       "writable primary%s", r->fenced ? " and the peer would be fenced" : "");
	if (node_query_state(db, &r->after, step_deadline(r), err, sizeof err) < 0)
		ka_log_warn("cannot read the state after promotion: %s", err);
	return outcome(r, KA_OK, "promoted", "read_only=OFF, promotion GTID %s%s%s",
		       r->after.known ? (r->after.binlog[0] ? r->after.binlog : "(empty)") : "?",
		       r->o->mode == MODE_MM ? ", replication kept (master-master)" : "", warn);
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
	ka_db_close(&peer);
	ka_db_close(&db);
	return code;
}
