/* BACKUP, FAULT, STOP -> demote: read_only=1 first (no new writes), then end the
 * application connections so they reconnect through the VIP to the new primary
 * (safety rule 3). Replication is never touched here. Idempotent: a node that is
 * already read-only is left as it is (its clients could not write anyway). */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <string.h>
#include <time.h>

#define HUNG_RETRY_PAUSE_MS 500

/* SET GLOBAL read_only=1 waits for table locks (FACTS 17): when it timed out, a client
 * holds one. Reconnect, kill the clients (which frees the lock), try again. */
static int read_only_after_kill(struct run *r, struct ka_db *db)
{
	int code;

	ka_log_warn("read_only=1 timed out (a client holds a table lock?): killing clients "
		    "and trying again");
	ka_db_close(db);
	if ((code = node_connect(r, db, &r->cr->local.addr, "local")) != KA_OK)
		return code;
	node_kill_clients(r, db, "local");
	return node_set_read_only(r, db, "local", 1);
}

int demote(struct run *r, struct ka_db *db)
{
	int code, killed = 0;

	if ((code = node_connect(r, db, &r->cr->local.addr, "local")) != KA_OK)
		return outcome(r, code, "local-unreachable", "cannot demote: %s", r->local_error);
	if ((code = node_read(r, db, "local", &r->before)) != KA_OK)
		return outcome(r, code, "demote-failed", "cannot read the local state");
	if (r->before.read_only) {
		struct step *s = step_open(r, "read_only=1 on local");
		step_close(r, s, "skipped", "already read-only");
		return outcome(r, KA_OK, "already-read-only", "read_only was already ON: "
			       "nothing to do");
	}
	code = node_set_read_only(r, db, "local", 1);
	if (code == KA_TIMEOUT && !r->o->no_kill && !r->o->dry_run) {
		code = read_only_after_kill(r, db);
		killed = 1;
	}
	if (code != KA_OK)
		return outcome(r, code, "demote-failed", "cannot set read_only=1 on the local "
			       "node");
	if (!r->o->no_kill && !killed && (code = node_kill_clients(r, db, "local")) != KA_OK)
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

/* FAULT or BACKUP on a hung local server (SIGSTOP, stalled disk): the demotion timed out,
 * and keepalived sends no further event when the server thaws, so a thawed writable node
 * would stand beside the new primary. Try again every HUNG_RETRY_PAUSE_MS, each try bounded
 * by --timeout, for up to --hung-retry seconds, until done, superseded by a newer event (a
 * newer event waits at most one try), or terminated. A server that is down (refused, no
 * socket) is not retried: it boots read-only (safety rule 1). */
int demote_hung_retry(struct run *r, struct ka_db *db)
{
	int64_t end = ka_deadline_in(r->o->hung_retry_s * 1000);
	struct timespec pause = { 0, HUNG_RETRY_PAUSE_MS * 1000000L };
	int code = demote(r, db), tries = 1;

	while (code == KA_TIMEOUT && !r->o->dry_run && ka_remaining_ms(end) > 0) {
		nanosleep(&pause, NULL);
		if (ka_notify_term || superseded(r))
			break;
		ka_db_close(db);
		code = demote(r, db);
		tries++;
	}
	if (tries > 1)
		ka_log_notice("demotion of a hung server: %d tries, exit %d", tries, code);
	return code;
}
