/* The end of a drill: count this run's rows on the current primary (and, with
 * --verify-all / --verify-hosts, on every other node) and compare them with the
 * write log.
 *
 * The table's id is a plain index, not a unique key, so a write applied twice shows up
 * as two rows (a unique key would have turned a wrong re-insert into a 1062 error and
 * hidden it). Per id: acknowledged and absent = lost; present more than once =
 * duplicated; failed (never sent or refused) but present = unacknowledged_present (not
 * a loss, but a client that was told "failed" and was wrong). Ambiguous writes still
 * unresolved are classified by presence.
 *
 * The primary is counted through a fresh connection that must reach the writer the
 * drill wrote to (same @@server_id, read_only 0). Every other node gets its replication
 * checked first (SHOW SLAVE STATUS): a write that ran on two servers (a stale INSERT a
 * hung old primary ran when it resumed) leaves every count right and shows only there,
 * as a broken replication. A node that replicates from the primary and misses rows gets
 * a bounded chance to catch up (MASTER_GTID_WAIT on the primary's @@gtid_binlog_pos);
 * rows still missing on a node that did not catch up are not_caught_up, not lost.
 */
#include "drill.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_TIMEOUT_MS 15000
#define CATCH_UP_S 5
#define VERIFY_TRIES 3      /* looks for the writer when the verification reached another */

/* Reads this run's per-id row counts on db into counts[seq] (saturating at 255). */
static int count_rows(const struct drill *d, struct ka_db *db, unsigned char *counts,
		      unsigned long *rows, int64_t deadline, char *err, size_t errlen)
{
	char sql[256];
	MYSQL_RES *res;
	MYSQL_ROW r;
	uint64_t lo = drill_id(d, 1), hi = drill_id(d, d->cap);

	snprintf(sql, sizeof sql, "SELECT id - %llu, COUNT(*) FROM `%s`.drill "
		 "WHERE id BETWEEN %llu AND %llu GROUP BY id", (unsigned long long)(lo - 1),
		 d->o.database, (unsigned long long)lo, (unsigned long long)hi);
	if (ka_db_query(db, sql, &res, deadline, err, errlen) < 0)
		return -1;
	memset(counts, 0, (size_t)d->cap + 1);
	*rows = 0;
	while (res && (r = mysql_fetch_row(res))) {
		unsigned long seq = r[0] ? strtoul(r[0], NULL, 10) : 0;
		unsigned long n = r[1] ? strtoul(r[1], NULL, 10) : 0;
		*rows += n;
		if (seq >= 1 && seq <= d->cap)
			counts[seq] = n > 255 ? 255 : (unsigned char)n;
	}
	if (res)
		mysql_free_result(res);
	return 0;
}

/* Compares counts with the write log into node. */
static void judge(const struct drill *d, const unsigned char *counts, struct drill_node *n)
{
	n->missing = n->duplicated = n->unacked_present = n->amb_present = n->amb_absent = 0;
	for (uint32_t s = 1; s < d->next_seq; s++) {
		if (counts[s] > 1)
			n->duplicated++;
		switch (d->state[s]) {
		case W_ACKED:
			if (!counts[s])
				n->missing++;
			break;
		case W_FAILED:
			if (counts[s])
				n->unacked_present++;
			break;
		case W_AMBIGUOUS:
			if (counts[s])
				n->amb_present++;
			else
				n->amb_absent++;
			break;
		}
	}
}

/* Row 1 of a result, column name ("" when absent or NULL). */
static const char *col(MYSQL_RES *res, MYSQL_ROW r, const char *name)
{
	int i = ka_db_column(res, name);

	return i >= 0 && r[i] ? r[i] : "";
}

/* Classifies one SHOW SLAVE STATUS row against the final primary's server_id (0:
 * unknown, not compared). An SQL-thread error or IO error 1236 (the source lacks the
 * replica's position: it holds transactions the source never had) is a divergence. */
static enum repl_state classify(MYSQL_RES *res, MYSQL_ROW r, unsigned long primary_id,
				struct drill_node *n)
{
	unsigned int io_err = (unsigned int)strtoul(col(res, r, "Last_IO_Errno"), NULL, 10);
	unsigned int sql_err = (unsigned int)strtoul(col(res, r, "Last_SQL_Errno"), NULL, 10);
	int io = strcmp(col(res, r, "Slave_IO_Running"), "Yes") == 0;
	int sql = strcmp(col(res, r, "Slave_SQL_Running"), "Yes") == 0;

	n->repl_source_id = strtoul(col(res, r, "Master_Server_Id"), NULL, 10);
	if (sql_err || io_err == 1236) {
		n->repl_errno = sql_err ? sql_err : io_err;
		snprintf(n->repl_error, sizeof n->repl_error, "%s",
			 col(res, r, sql_err ? "Last_SQL_Error" : "Last_IO_Error"));
		return REPL_BROKEN;
	}
	if (io_err) {
		n->repl_errno = io_err;
		snprintf(n->repl_error, sizeof n->repl_error, "%s", col(res, r, "Last_IO_Error"));
	}
	if (!sql)
		return REPL_STOPPED;
	if (!io)
		return REPL_CONNECTING;
	if (primary_id && n->repl_source_id != primary_id)
		return REPL_OTHER_SOURCE;
	return REPL_OK;
}

/* Fills n->repl from the node's SHOW SLAVE STATUS (default connection). */
static void check_replication(struct ka_db *db, unsigned long primary_id,
			      struct drill_node *n, int64_t deadline)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW r;
	char err[512];

	if (ka_db_query(db, "SHOW SLAVE STATUS", &res, deadline, err, sizeof err) < 0) {
		n->repl = REPL_UNKNOWN;
		n->repl_errno = db->err;
		snprintf(n->repl_error, sizeof n->repl_error, "cannot read SHOW SLAVE STATUS%s: %.150s",
			 db->err == 1227 ? " (the account needs SLAVE MONITOR)" : "", err);
		return;
	}
	if (!res || !(r = mysql_fetch_row(res)))
		n->repl = REPL_NOT_REPLICA;
	else
		n->repl = classify(res, r, primary_id, n);
	if (res)
		mysql_free_result(res);
}

/* @@server_id of the final primary (the verified one, else the writer session's). */
static unsigned long primary_id(const struct drill *d)
{
	return d->verified ? d->nodes[0].server_id : d->fo.server_id;
}

/* Reads @@server_id and @@global.read_only into n; for the primary, refuses a server
 * that is not the drill's writer (another server_id, or read-only). Returns 0 or -1. */
static int check_identity(const struct drill *d, struct ka_db *db, struct drill_node *n,
			  int64_t deadline, char *err, size_t errlen)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW r;
	int ro = 0;

	if (ka_db_query(db, "SELECT @@server_id, @@global.read_only", &res, deadline, err,
			errlen) < 0)
		return -1;
	if (res && (r = mysql_fetch_row(res)) && r[0] && r[1]) {
		n->server_id = strtoul(r[0], NULL, 10);
		ro = strcmp(r[1], "0") != 0;
	}
	if (res)
		mysql_free_result(res);
	if (n->primary && (n->server_id != d->fo.server_id || ro)) {
		n->not_writer = 1;
		snprintf(err, errlen, "'%s' answered as server_id %lu%s, not as the writer the drill "
			 "wrote to (server_id %lu)", n->server, n->server_id, ro ? ", read-only" : "",
			 d->fo.server_id);
		return -1;
	}
	return 0;
}

/* Counts and judges node n. A node other than the primary that has no table yet
 * (1146: replication has not brought it) has every row missing. Returns 0 or -1. */
static int count_node(const struct drill *d, struct ka_db *db, struct drill_node *n,
		      unsigned char *counts, int64_t deadline, char *err, size_t errlen)
{
	if (count_rows(d, db, counts, &n->rows, deadline, err, errlen) < 0) {
		if (n->primary || db->err != 1146)
			return -1;
		memset(counts, 0, (size_t)d->cap + 1);
		n->rows = 0;
	}
	judge(d, counts, n);
	return 0;
}

/* Gives a replicating node a bounded chance to reach the primary's position gtid, then
 * counts again. Sets n->caught_up. */
static int catch_up(const struct drill *d, struct ka_db *db, struct drill_node *n,
		    unsigned char *counts, const char *gtid, int64_t deadline, char *err,
		    size_t errlen)
{
	char sql[700], val[64];

	n->caught_up = n->missing == 0 || n->repl == REPL_SELF;   /* the primary itself */
	if (n->caught_up || n->repl != REPL_OK || !gtid[0] || strchr(gtid, '\''))
		return 0;
	snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', %d)", gtid, CATCH_UP_S);
	n->caught_up = ka_db_value(db, sql, val, sizeof val, NULL, deadline, err, errlen) == 0 &&
		       strcmp(val, "0") == 0;
	return count_node(d, db, n, counts, deadline, err, errlen);
}

/* Verifies one node; gtid is the primary's @@gtid_binlog_pos ("" unknown), filled when
 * the node is the primary. Other nodes also get their replication checked. */
static void verify_node(const struct drill *d, struct drill_node *n, const char *host,
			unsigned int port, unsigned char *counts, char *gtid, size_t gtidlen)
{
	struct ka_dbaddr a = { .host = host, .port = port, .user = d->o.fo.user,
			       .password = d->o.fo.password };
	struct ka_db db;
	char err[512];
	int64_t deadline = ka_deadline_in(VERIFY_TIMEOUT_MS);

	if (ka_db_connect(&db, &a, deadline, err, sizeof err) < 0)
		goto fail;
	n->reachable = 1;
	if (check_identity(d, &db, n, deadline, err, sizeof err) < 0)
		goto fail;
	if (n->primary && ka_db_value(&db, "SELECT @@global.gtid_binlog_pos", gtid, gtidlen,
				      NULL, deadline, err, sizeof err) != 0)
		gtid[0] = '\0';
	if (!n->primary && n->server_id == primary_id(d))
		n->repl = REPL_SELF;
	else if (!n->primary)
		check_replication(&db, primary_id(d), n, deadline);
	if (count_node(d, &db, n, counts, deadline, err, sizeof err) < 0)
		goto fail;
	if (n->primary)
		n->caught_up = 1;
	else if (catch_up(d, &db, n, counts, gtid, deadline, err, sizeof err) < 0)
		goto fail;
	ka_db_close(&db);
	return;
fail:
	snprintf(n->error, sizeof n->error, "%s", err);
	ka_db_close(&db);
}

static struct drill_node *add_node(struct drill *d, const char *name, int primary)
{
	struct drill_node *n = &d->nodes[d->nnodes++];

	memset(n, 0, sizeof *n);
	snprintf(n->server, sizeof n->server, "%s", name);
	n->primary = primary;
	return n;
}

/* The other nodes of --verify-all and --verify-hosts, each once. */
static void verify_others(struct drill *d, unsigned char *counts, char *gtid, size_t gtidlen)
{
	struct ka_fo tmp = { .cfg = d->o.fo };
	char name[DRILL_NAME];

	for (size_t i = 0; d->o.verify_all && i < d->o.fo.n; i++) {
		if ((int)i == d->fo.cur || d->nnodes >= DRILL_MAX_NODES)
			continue;
		struct drill_node *n = add_node(d, d->fo.names[i], 0);
		verify_node(d, n, d->o.fo.ep[i].host, d->o.fo.ep[i].port, counts, gtid, gtidlen);
	}
	for (size_t i = 0; i < d->o.nextra && d->nnodes < DRILL_MAX_NODES; i++) {
		tmp.cfg.ep[0] = d->o.extra[i];
		tmp.cfg.n = 1;
		ka_fo_endpoint_name(&tmp, 0, name, sizeof name);
		struct drill_node *n = add_node(d, name, 0);
		verify_node(d, n, d->o.extra[i].host, d->o.extra[i].port, counts, gtid, gtidlen);
	}
}

/* How bad a replication state is for the summary: the worst node decides. */
static int repl_rank(enum repl_state r)
{
	switch (r) {
	case REPL_OK:
	case REPL_SELF: return 0;
	case REPL_UNKNOWN: return 1;
	case REPL_BROKEN: return 3;
	default: return 2;    /* stopped, connecting, not a replica, other source */
	}
}

const char *drill_repl_name(enum repl_state r)
{
	switch (r) {
	case REPL_OK: return "ok";
	case REPL_BROKEN: return "broken";
	case REPL_STOPPED: return "stopped";
	case REPL_CONNECTING: return "connecting";
	case REPL_NOT_REPLICA: return "not-a-replica";
	case REPL_OTHER_SOURCE: return "other-source";
	case REPL_SELF: return "primary";
	default: return "unknown";
	}
}

const char *drill_replication_summary(const struct drill *d)
{
	if (!d->repl_checked)
		return "not-checked";
	switch (repl_rank(d->replication)) {
	case 0: return "ok";
	case 1: return "unknown";
	case 2: return "not-replicating";
	default: return "broken";
	}
}

/* Sets the run's totals from the nodes: the worst reachable node counts. Rows missing
 * on a node that is not caught up with the primary are not lost there: they are
 * counted as not_caught_up. */
static void totals(struct drill *d)
{
	const struct drill_node *p = &d->nodes[0];

	d->replication = REPL_OK;
	for (size_t i = 0; i < d->nnodes; i++) {
		const struct drill_node *n = &d->nodes[i];
		if (!n->primary) {
			d->repl_checked = 1;
			if (repl_rank(n->repl) > repl_rank(d->replication))
				d->replication = n->repl;
		}
		if (!n->reachable || n->error[0])
			continue;
		unsigned long *sum = n->primary || n->caught_up ? &d->lost : &d->not_caught_up;
		if (n->missing > *sum)
			*sum = n->missing;
		if (n->duplicated > d->duplicated)
			d->duplicated = n->duplicated;
	}
	if (d->verified) {
		d->unacked_present = p->unacked_present;
		d->amb_committed += p->amb_present;
		d->amb_not_committed = p->amb_absent;
	}
}

/* Ambiguous writes still open: make sure their statements cannot commit after the
 * count (best effort, all of them within one failover plus one statement deadline;
 * an unfenced one is still classified by presence, and counted unfenced). */
static void fence_pending(struct drill *d)
{
	char err[512];
	int64_t end = ka_now_ms() + d->o.failover_timeout_ms + d->o.timeout_ms;

	d->amb_unfenced = d->pending_dropped;
	d->fo.hard_deadline = end;
	for (size_t i = 0; i < d->npending; i++) {
		if (ka_now_ms() >= end) {
			ka_log_debug("%zu ambiguous write(s) not fenced: out of time",
				     d->npending - i);
			d->amb_unfenced += d->npending - i;
			break;
		}
		d->fo.amb_thread_id = d->pending[i].thread_id;
		d->fo.amb_server_id = d->pending[i].server_id;
		if (ka_fo_fence(&d->fo, err, sizeof err) < 0) {
			ka_log_debug("ambiguous write %u not fenced: %s", d->pending[i].seq, err);
			d->amb_unfenced++;
		}
	}
	d->fo.hard_deadline = 0;
}

/* Counts on the primary: the writer session's server, reached by a fresh connection
 * that must answer with the same server_id and read_only 0 (a VIP may have moved);
 * when it does not, the writer is looked for again, VERIFY_TRIES times at most. */
static struct drill_node *verify_primary(struct drill *d, unsigned char *counts, char *gtid,
					 size_t gtidlen)
{
	char err[512];
	struct drill_node *p = NULL;

	for (int try = 0; try < VERIFY_TRIES; try++) {
		d->nnodes = 0;
		/* A statement, not just "a session exists": a writer that died after the
		 * last write is noticed here and the verification moves with the failover. */
		if (ka_fo_exec(&d->fo, "SELECT @@server_id", KA_FO_IDEMPOTENT, NULL, err,
			       sizeof err) != KA_FO_OK) {
			p = add_node(d, "none", 1);
			snprintf(p->error, sizeof p->error, "%s", err);
			return p;
		}
		p = add_node(d, ka_fo_current(&d->fo), 1);
		verify_node(d, p, d->o.fo.ep[d->fo.cur].host, d->o.fo.ep[d->fo.cur].port, counts,
			    gtid, gtidlen);
		if (!p->not_writer)
			break;
		ka_log_warn("verification: %s: looking for the writer again", p->error);
		ka_fo_disconnect(&d->fo, p->error);
	}
	return p;
}

/* The first broken node, or NULL. */
static const struct drill_node *broken_node(const struct drill *d)
{
	for (size_t i = 0; i < d->nnodes; i++)
		if (d->nodes[i].repl == REPL_BROKEN)
			return &d->nodes[i];
	return NULL;
}

/* Exit code and reason of a verified run: lost or duplicated acknowledged writes, or a
 * node whose replication from the primary broke (a write executed on two servers shows
 * up there and nowhere else), make it unfit. */
static int verdict(struct drill *d)
{
	const struct drill_node *b = broken_node(d);
	size_t o = 0;

	d->reason[0] = '\0';
	if (d->lost || d->duplicated)
		o = (size_t)snprintf(d->reason, sizeof d->reason,
				     "%lu acknowledged write(s) lost, %lu duplicated", d->lost,
				     d->duplicated);
	if (b && o < sizeof d->reason)
		snprintf(d->reason + o, sizeof d->reason - o,
			 "%sreplication from the primary is broken on %s: error %u: %.300s",
			 o ? "; " : "", b->server, b->repl_errno, b->repl_error);
	if (d->lost || d->duplicated || b)
		return d->code = KA_UNFIT;
	snprintf(d->reason, sizeof d->reason, "every acknowledged write is present exactly once");
	return d->code = KA_OK;
}

int drill_verify(struct drill *d)
{
	char gtid[512] = "";
	unsigned char *counts = malloc((size_t)d->cap + 1);
	struct drill_node *p;

	if (!counts) {
		snprintf(d->reason, sizeof d->reason, "cannot allocate the verification table");
		return d->code = KA_UNREACHABLE;
	}
	d->fo.hard_deadline = 0;
	fence_pending(d);
	p = verify_primary(d, counts, gtid, sizeof gtid);
	d->verified = p->reachable && !p->error[0];
	if (!d->verified && !strcmp(p->server, "none")) {
		d->code = ka_fo_exit_code(&d->fo);
		if (d->code != KA_TIMEOUT)
			d->code = KA_UNREACHABLE;
		snprintf(d->reason, sizeof d->reason, "cannot verify: %s", p->error);
	} else if (!d->verified) {
		d->code = KA_UNREACHABLE;
		snprintf(d->reason, sizeof d->reason, "cannot verify on %s: %s", p->server, p->error);
	}
	verify_others(d, counts, gtid, sizeof gtid);
	free(counts);
	totals(d);
	d->amb_unresolved = d->verified ? 0 : d->npending + d->pending_dropped;
	if (!d->verified)
		return d->code;
	return verdict(d);
}
