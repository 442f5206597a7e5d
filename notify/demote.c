/* BACKUP, FAULT, STOP -> demote: read_only=1 first (no new writes), then end the
 * application connections so they reconnect through the VIP to the new primary
 * (safety rule 3). Replication is never touched here. Idempotent: a node that is
 * already read-only is left as it is (its clients could not write anyway).
 *
 * When a demotion is done: read_only=1 read back on a fresh query. SET GLOBAL
 * read_only=1 waits for running writes, and a cancelled SET is dropped by the server
 * (FACTS 39), so it is sent without waiting and the writers are killed from a second
 * session while it waits (node_force_read_only). Only @@read_only is read before it:
 * a missing SLAVE MONITOR grant must not leave the node writable. */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <string.h>
#include <time.h>

#define HUNG_RETRY_PAUSE_MS 500

/* Reads @@read_only of the local node into r->before (one step). */
static int read_local_read_only(struct run *r, struct ka_db *db, int *ro)
{
	char err[512];
	int code;
	struct step *s = step_open(r, "read local read_only");

	if ((code = node_read_only(db, step_deadline(r), ro, err, sizeof err)) != KA_OK) {
		step_close(r, s, "failed", "%s", err);
		return code;
	}
	r->before.known = 1;
	r->before.read_only = *ro;
	step_close(r, s, "ok", "read_only=%s", *ro ? "ON" : "OFF");
	return KA_OK;
}

int demote(struct run *r, struct ka_db *db)
{
	int code, ro;

	if ((code = node_connect(r, db, &r->cr->local.addr, "local")) != KA_OK)
		return outcome(r, code, "local-unreachable", "cannot demote: %s", r->local_error);
	if ((code = read_local_read_only(r, db, &ro)) != KA_OK)
		return outcome(r, code, "demote-failed", "cannot read read_only on the local node");
	if (ro) {
		struct step *s = step_open(r, "read_only=1 on local");
		step_close(r, s, "skipped", "already read-only");
		return outcome(r, KA_OK, "already-read-only", "read_only was already ON: "
			       "nothing to do");
	}
	code = node_force_read_only(r, db, &r->cr->local.addr, "local", r->o->timeout_ms);
	if (code != KA_OK)
		return outcome(r, code, "demote-failed", "cannot set read_only=1 on the local "
			       "node");
	if (!r->o->no_kill && (code = node_kill_clients(r, db, "local")) != KA_OK)
		return outcome(r, code, "demoted", "read_only=ON, but killing client connections "
			       "failed");
	if (r->o->dry_run)
		return outcome(r, KA_OK, "demoted", "plan complete: read_only would be set ON%s",
			       r->o->no_kill ? ", clients kept (--no-kill)" : " and clients killed");
	if (r->o->no_kill)
		return outcome(r, KA_OK, "demoted", "read_only=ON, clients kept (--no-kill)");
	return outcome(r, KA_OK, "demoted", "read_only=ON, %d client connection(s) killed",
		       r->killed);
}

/* Failures worth another try: a hung server (timeout) or a full one (1040, 1203). */
static int retryable(int code)
{
	return code == KA_TIMEOUT || code == KA_SATURATED;
}

/* FAULT or BACKUP on a hung or saturated local server (SIGSTOP, stalled disk, too many
 * connections): the demotion failed, and keepalived sends no further event when the server
 * thaws, so a thawed writable node would stand beside the new primary. Try again every
 * HUNG_RETRY_PAUSE_MS, each try bounded by --timeout, for up to --hung-retry seconds,
 * until done, superseded by a newer event (a newer event waits at most one try), or
 * terminated. A server that is down (refused, no socket) is not retried: it boots
 * read-only (safety rule 1). */
int demote_hung_retry(struct run *r, struct ka_db *db)
{
	int64_t end = ka_deadline_in(r->o->hung_retry_s * 1000);
	struct timespec pause = { 0, HUNG_RETRY_PAUSE_MS * 1000000L };
	int code = demote(r, db), tries = 1;

	/* "demoted" with a failure: read_only=1 is confirmed, only a kill failed. */
	while (retryable(code) && strcmp(r->decision, "demoted") != 0 && !r->o->dry_run &&
	       ka_remaining_ms(end) > 0) {
		nanosleep(&pause, NULL);
		if (ka_notify_term || superseded(r))
			break;
		ka_db_close(db);
		code = demote(r, db);
		tries++;
	}
	if (tries > 1)
		ka_log_notice("demotion of a hung or saturated server: %d tries, exit %d", tries,
			      code);
	return code;
}

/* Why the fence on the peer stays (or "" to undo it): the mark must name the peer, this
 * node must be read-only, the peer read-only and, in primary-replica mode, not a replica
 * (a fenced primary has no replication configured), and the peer must hold everything
 * this node holds. A writable peer was promoted since: the mark is dropped. */
static const char *fence_stays(struct run *r, const struct node_state *local,
			       struct ka_db *peer, char *desc, size_t len)
{
	static struct ka_gtid_set mine, theirs;

	if (!local->read_only)
		return "this node is not read-only";
	switch (peer_probe(r, peer)) {
	case PEER_READ_ONLY:
		break;
	case PEER_WRITABLE:
		fence_mark_clear(r->o);
		return "the peer is writable (promoted since)";
	default:
		return "the peer cannot be read";
	}
	if (r->o->mode == MODE_PR && r->peer.nrows) {
		fence_mark_clear(r->o);
		return "the peer is a replica now";
	}
	if (node_history(local, 0, &mine, desc, len) < 0 ||
	    node_history(&r->peer, 0, &theirs, desc, len) < 0)
		return "a GTID history cannot be read whole";
	if (gtid_missing(&theirs, &mine, desc, len) > 0)
		return "the peer lacks transactions this node holds";
	return "";
}

/* After this node was demoted (BACKUP, FAULT) while its own promotion's fence on the
 * peer stands (state.c's mark): keepalived took the VIP from this node, so the peer holds
 * it, read-only, and no event will make it writable (a flap: MASTER then BACKUP while
 * the peer never changed state). Undo the fence when nothing written here is lost
 * (fence_stays); else say so loudly: an operator must act. */
void unfence_on_demote(struct run *r, struct ka_db *db)
{
	static struct node_state local;
	char err[512], desc[768] = "";
	struct ka_db peer = { 0 };
	const char *why = "this node cannot be read";
	int64_t settled;
	struct step *s;
	struct ka_endpoint fenced;

	if (r->o->dry_run || !fence_mark_peer(r->o, &fenced))
		return;
	run_set_peer(r, &fenced);   /* the peer this node's promotion fenced */
	s = step_open(r, "undo fence on peer");
	if (db->my && !db->timed_out &&
	    node_query_state(db, &local, step_deadline(r), err, sizeof err) == 0)
		why = fence_stays(r, &local, &peer, desc, sizeof desc);
	if (!*why && node_set_writable(r, &peer, "peer", &settled) == KA_OK) {
		r->unfenced = 1;
		fence_mark_clear(r->o);
		step_close(r, s, "ok", "peer %s:%u read_only=0 again", r->peer_ep.host,
			   r->peer_ep.port);
		ka_log_notice("undid this node's fence on peer %s:%u", r->peer_ep.host,
			      r->peer_ep.port);
	} else {
		step_close(r, s, "skipped", "%s%s%s", *why ? why : "read_only=0 failed",
			   desc[0] ? ": " : "", desc);
		if (!strcmp(why, "the peer lacks transactions this node holds"))
			ka_log_err("peer %s:%u stays fenced (read-only): it lacks %s written here; "
				   "make it catch up from this node, then SET GLOBAL read_only=0 "
				   "on it", r->peer_ep.host, r->peer_ep.port, desc);
	}
	ka_db_close(&peer);
}
