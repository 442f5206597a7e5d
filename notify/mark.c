/* The promotion mark: the promoted node writes one transaction of its own at once after
 * read_only=0, before any client has.
 *
 * Why: a hung old primary (SIGSTOP, I/O stall) may hold a write it never sent (in flight,
 * unacknowledged). When it thaws, its history is AHEAD of a promoted node that has not
 * written yet, so the checkers' split-brain guard (lib/probe.c) would take the old
 * primary for the more advanced node and fail the new one. With the mark the histories
 * are DIVERGED and the successor rule (ka_gtid_successor, lib/gtid.h) sees the promoted
 * lineage: this node's newest transaction comes from this node, the old primary's from
 * the common tip's server. FLUSH USER_RESOURCES (RELOAD, which the HA account holds) is
 * written to the binary log with a GTID and changes nothing an application sees (it
 * resets per-hour counters of accounts that have MAX_QUERIES_PER_HOUR-style limits).
 * Only when the old primary was unreachable (gone, hung, cut off): a peer that answered
 * was fenced (read_only=1 read back) and this node caught up with all it holds, so it
 * cannot come back ahead; and a mark would be a GTID the fenced peer lacks, which keeps
 * a flap (MASTER then BACKUP at once) from unfencing it and rejoining under it.
 * Best effort: a mark that fails is a warning; the promotion stands.
 */
#include "notify.h"

#include "exitcode.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#define MARK_SQL "FLUSH USER_RESOURCES"

void promotion_mark(struct run *r, struct ka_db *db, char *gtid, size_t len)
{
	char err[512];

	gtid[0] = '\0';
	if (r->peer_state != PEER_UNREACHABLE)
		return;
	if (r->o->dry_run) {
		plan(r, "%s on local: the promotion mark, one GTID of this node's own", MARK_SQL);
		return;
	}
	if (node_exec(r, db, "local", "promotion mark " MARK_SQL, MARK_SQL) != KA_OK)
		return;
	if (ka_db_value(db, "SELECT @@last_gtid", gtid, len, NULL, step_deadline(r), err,
			sizeof err) != 0) {
		gtid[0] = '\0';
		ka_log_warn("cannot read the promotion mark's GTID: %s", err);
	}
}
