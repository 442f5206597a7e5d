/* The end of a drill: count this run's rows on the current primary (and, with
 * --verify-all, on every other node) and compare them with the write log.
 *
 * The table's id is a plain index, not a unique key, so a write applied twice shows up
 * as two rows (a unique key would have turned a wrong re-insert into a 1062 error and
 * hidden it). Per id: acknowledged and absent = lost; present more than once =
 * duplicated; failed (never sent or refused) but present = unacknowledged_present (not
 * a loss, but a client that was told "failed" and was wrong). Ambiguous writes still
 * unresolved are classified by presence. A node other than the primary that misses
 * rows is given a bounded chance to catch up (MASTER_GTID_WAIT on the primary's
 * @@gtid_binlog_pos) before it is counted again.
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

/* Verifies one node; gtid is the primary's @@gtid_binlog_pos ("" unknown), filled when
 * the node is the primary. */
static void verify_node(const struct drill *d, struct drill_node *n, const char *host,
			unsigned int port, unsigned char *counts, char *gtid, size_t gtidlen)
{
	struct ka_dbaddr a = { .host = host, .port = port, .user = d->o.fo.user,
			       .password = d->o.fo.password };
	struct ka_db db;
	char err[512], val[64];
	int64_t deadline = ka_deadline_in(VERIFY_TIMEOUT_MS);

	if (ka_db_connect(&db, &a, deadline, err, sizeof err) < 0)
		goto fail;
	n->reachable = 1;
	if (ka_db_value(&db, "SELECT @@server_id", val, sizeof val, NULL, deadline, err,
			sizeof err) == 0)
		n->server_id = strtoul(val, NULL, 10);
	if (n->primary && ka_db_value(&db, "SELECT @@global.gtid_binlog_pos", gtid, gtidlen,
				      NULL, deadline, err, sizeof err) != 0)
		gtid[0] = '\0';
	if (count_rows(d, &db, counts, &n->rows, deadline, err, sizeof err) < 0)
		goto fail;
	judge(d, counts, n);
	n->caught_up = 1;
	if (!n->primary && n->missing && gtid[0] && !strchr(gtid, '\'')) {
		char sql[700];
		snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', %d)", gtid, CATCH_UP_S);
		n->caught_up = ka_db_value(&db, sql, val, sizeof val, NULL, deadline, err,
					   sizeof err) == 0 && strcmp(val, "0") == 0;
		if (count_rows(d, &db, counts, &n->rows, deadline, err, sizeof err) < 0)
			goto fail;
		judge(d, counts, n);
	}
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

/* Sets the run's totals from the nodes: the worst reachable node counts. */
static void totals(struct drill *d)
{
	const struct drill_node *p = &d->nodes[0];

	for (size_t i = 0; i < d->nnodes; i++) {
		const struct drill_node *n = &d->nodes[i];
		if (!n->reachable || n->error[0])
			continue;
		if (n->missing > d->lost)
			d->lost = n->missing;
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
 * count (best effort; an unfenced one is still classified by presence). */
static void fence_pending(struct drill *d)
{
	char err[512];

	for (size_t i = 0; i < d->npending; i++) {
		d->fo.amb_thread_id = d->pending[i].thread_id;
		d->fo.amb_server_id = d->pending[i].server_id;
		if (ka_fo_fence(&d->fo, err, sizeof err) < 0)
			ka_log_debug("ambiguous write %u not fenced: %s", d->pending[i].seq, err);
	}
}

int drill_verify(struct drill *d)
{
	char err[512], gtid[512] = "";
	unsigned char *counts = malloc((size_t)d->cap + 1);
	struct drill_node *p;

	if (!counts) {
		snprintf(d->reason, sizeof d->reason, "cannot allocate the verification table");
		return d->code = KA_UNREACHABLE;
	}
	d->fo.hard_deadline = 0;
	fence_pending(d);
	/* A statement, not just "a session exists": a writer that died after the last
	 * write is noticed here and the verification moves with the failover. */
	if (ka_fo_exec(&d->fo, "SELECT @@server_id", KA_FO_IDEMPOTENT, NULL, err,
		       sizeof err) != KA_FO_OK) {
		p = add_node(d, "none", 1);
		snprintf(p->error, sizeof p->error, "%s", err);
		d->code = ka_fo_exit_code(&d->fo);
		if (d->code != KA_TIMEOUT)
			d->code = KA_UNREACHABLE;
		snprintf(d->reason, sizeof d->reason, "cannot verify: %s", err);
	} else {
		p = add_node(d, ka_fo_current(&d->fo), 1);
		verify_node(d, p, d->o.fo.ep[d->fo.cur].host, d->o.fo.ep[d->fo.cur].port, counts,
			    gtid, sizeof gtid);
		d->verified = p->reachable && !p->error[0];
		if (!d->verified) {
			d->code = KA_UNREACHABLE;
			snprintf(d->reason, sizeof d->reason, "cannot verify on %s: %s", p->server,
				 p->error);
		}
	}
	verify_others(d, counts, gtid, sizeof gtid);
	free(counts);
	totals(d);
	d->amb_unresolved = d->verified ? 0 : d->npending + d->pending_dropped;
	if (!d->verified)
		return d->code;
	if (d->lost || d->duplicated) {
		d->code = KA_UNFIT;
		snprintf(d->reason, sizeof d->reason, "%lu acknowledged write(s) lost, %lu duplicated",
			 d->lost, d->duplicated);
	} else {
		d->code = KA_OK;
		snprintf(d->reason, sizeof d->reason,
			 "every acknowledged write is present exactly once");
	}
	return d->code;
}
