/* BACKUP, FAULT, STOP -> demote: read_only=1 first (no new writes), then end the
 * application connections so they reconnect through the VIP to the new primary
 * (safety rule 3). Replication is never touched here. Idempotent: a node that is
 * already read-only is left as it is (its clients could not write anyway). */
#include "notify.h"

#include "exitcode.h"
#include "log.h"

#include <string.h>

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
