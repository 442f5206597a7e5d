/* From answers to a verdict. Roles first (a writable node is a primary), then GTID
 * histories and errant GTIDs against the one primary (lib/gtid, the same rule the checker
 * and the notify hook use), then every finding worth a look, then the verdict, in order
 * of what an operator must act on first:
 *   SPLIT BRAIN  two or more writable nodes                       exit 11
 *   NO PRIMARY   no writable node                                  exit 13
 *   DIVERGED     a node holds GTIDs the primary lacks (errant)     exit 14
 *   DEGRADED     any finding: a node down, a replica broken or
 *                lagging, semi-sync off, the VIP astray            exit 12
 *   OK           none of these                                     exit 0 */
#include "status.h"

#include "exitcode.h"

#include <stdarg.h>
#include <string.h>

static void add_finding(struct st_cluster *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_finding(struct st_cluster *c, const char *fmt, ...)
{
	va_list ap;

	if (c->nfindings == ST_MAX_FINDINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(c->finding[c->nfindings++], sizeof c->finding[0], fmt, ap);
	va_end(ap);
}

static const char *role_of(const struct st_node *nd)
{
	if (!nd->answered)
		return (nd->code == KA_UNREACHABLE || nd->code == KA_TIMEOUT) ? "down" : "unknown";
	if (!nd->read_only)
		return "primary";
	if (nd->nrepl)
		return "replica";
	return nd->repl_known ? "detached" : "unknown";
}

static void assign_roles(struct st_cluster *c)
{
	c->nanswered = c->nwritable = 0;
	c->primary = -1;
	for (size_t i = 0; i < c->n; i++) {
		struct st_node *nd = &c->node[i];
		nd->role = role_of(nd);
		nd->errant = -1;
		if (!nd->answered)
			continue;
		c->nanswered++;
		if (!nd->read_only) {
			c->nwritable++;
			c->primary = (int)i;
		}
	}
	if (c->nwritable != 1)
		c->primary = -1;
}

/* Each answering node's history (binlog state, slave pos, current pos). */
static void read_histories(struct st_cluster *c)
{
	char err[400];

	for (size_t i = 0; i < c->n; i++) {
		struct st_node *nd = &c->node[i];
		if (!nd->answered)
			continue;
		nd->history_ok = ka_gtid_history(&nd->history, nd->state, nd->slave, nd->current,
						 err, sizeof err) == 0;
		if (!nd->history_ok)
			add_finding(c, "cannot read the GTID history of %s: %s", nd->addr, err);
	}
}

/* Errant GTIDs: what each node holds that the primary lacks. Returns how many nodes
 * have some; their descriptions go into desc. */
static int compare_errant(struct st_cluster *c, char *desc, size_t desclen)
{
	const struct st_node *p = &c->node[c->primary];
	static struct ka_gtid_set extra;
	int nodes = 0;

	desc[0] = '\0';
	if (!p->history_ok)
		return 0;
	for (size_t i = 0; i < c->n; i++) {
		struct st_node *nd = &c->node[i];
		if ((int)i == c->primary || !nd->history_ok)
			continue;
		nd->errant = ka_gtid_missing(&p->history, &nd->history, NULL, 0);
		ka_gtid_missing_set(&p->history, &nd->history, &extra);
		if (ka_gtid_text(&extra, nd->errant_text, sizeof nd->errant_text) < 0 &&
		    strlen(nd->errant_text) >= 3)   /* cut at an entry: mark it */
			snprintf(nd->errant_text + strlen(nd->errant_text) - 3, 4, "...");
		if (nd->errant > 0) {
			size_t used = strlen(desc);
			snprintf(desc + used, desclen - used, "%s%s holds %s", nodes ? "; " : "",
				 nd->addr, nd->errant_text);
			nodes++;
		}
	}
	return nodes;
}

/* One replication connection of node nd. */
static void judge_repl(const struct st_opts *o, struct st_cluster *c, const struct st_node *nd,
		       const struct st_repl *r)
{
	const char *conn = r->name[0] ? r->name : "default";

	if (strcmp(r->io, "Yes") != 0)
		add_finding(c, "%s: replication IO thread of '%s' (from %s) is %s%s%s", nd->addr,
			    conn, r->source, r->io, r->io_error[0] ? ": " : "", r->io_error);
	if (strcmp(r->sql, "Yes") != 0)
		add_finding(c, "%s: replication SQL thread of '%s' is %s%s%s", nd->addr, conn,
			    r->sql, r->sql_error[0] ? ": " : "", r->sql_error);
	if (strcmp(r->io, "Yes") || strcmp(r->sql, "Yes"))
		return;
	if (r->lag < 0)
		add_finding(c, "%s: replication lag of '%s' is unknown", nd->addr, conn);
	else if (r->lag > o->max_lag)
		add_finding(c, "%s: replication lag of '%s' is %ld s, above --max-lag %ld",
			    nd->addr, conn, r->lag, o->max_lag);
	if (c->primary >= 0 && nd != &c->node[c->primary] && r->master_server_id &&
	    r->master_server_id != c->node[c->primary].server_id)
		add_finding(c, "%s replicates from server_id %ld, not from the primary %s "
			    "(server_id %ld)", nd->addr, r->master_server_id,
			    c->node[c->primary].addr, c->node[c->primary].server_id);
}

static void judge_nodes(const struct st_opts *o, struct st_cluster *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct st_node *nd = &c->node[i];
		if (!nd->answered)
			add_finding(c, "%s is %s: %s", nd->addr, nd->role, nd->error);
		else if (nd->error[0])
			add_finding(c, "%s answered in part: %s", nd->addr, nd->error);
		if (strcmp(nd->role, "detached") == 0)
			add_finding(c, "%s is read-only and replicates from no source", nd->addr);
		for (int k = 0; k < nd->nrepl; k++)
			judge_repl(o, c, nd, &nd->repl[k]);
	}
}

/* The primary must wait for a replica's acknowledgement; replicas must give it. */
static void judge_semi_sync(struct st_cluster *c)
{
	const struct st_node *p = &c->node[c->primary];

	if (c->n > 1 && !p->semi_master_enabled)
		add_finding(c, "semi-sync is disabled on the primary %s: commits do not wait for "
			    "a replica", p->addr);
	else if (c->n > 1 && strcmp(p->semi_master, "ON") != 0)
		add_finding(c, "semi-sync on the primary %s is %s: it fell back to asynchronous "
			    "replication", p->addr, p->semi_master[0] ? p->semi_master : "unknown");
	for (size_t i = 0; i < c->n; i++) {
		const struct st_node *nd = &c->node[i];
		if (strcmp(nd->role, "replica") || !nd->nrepl || strcmp(nd->repl[0].io, "Yes"))
			continue;
		if (strcmp(nd->semi_slave, "ON") != 0)
			add_finding(c, "semi-sync is %s on the replica %s: it acknowledges no commit",
				    nd->semi_slave[0] ? nd->semi_slave : "unknown", nd->addr);
	}
}

/* Which node answers on the VIP (by server_id), and whether it may take writes. */
static void judge_vip(struct st_cluster *c)
{
	struct st_vip *v = &c->vip;

	if (!v->answered) {
		add_finding(c, "the VIP %s does not answer: %s", v->addr, v->error);
		return;
	}
	for (size_t i = 0; i < c->n && v->node < 0; i++)
		if (c->node[i].answered && c->node[i].server_id == v->server_id)
			v->node = (int)i;
	if (v->node < 0)
		add_finding(c, "the VIP %s answers on server_id %ld, which is none of --nodes",
			    v->addr, v->server_id);
	else if (c->node[v->node].read_only)
		add_finding(c, "the VIP %s answers on the read-only node %s", v->addr,
			    c->node[v->node].addr);
}

static void set_verdict(struct st_cluster *c, int code, const char *verdict)
{
	c->code = code;
	c->verdict = verdict;
}

/* How history a stands to history b, in words. */
static void describe_order(const struct st_node *a, const struct st_node *b, char *out,
			   size_t len)
{
	switch (ka_gtid_compare(&a->history, &b->history)) {
	case KA_GTID_SAME:
		snprintf(out, len, "both hold the same transactions");
		break;
	case KA_GTID_AHEAD:
		snprintf(out, len, "%s holds transactions %s lacks", a->addr, b->addr);
		break;
	case KA_GTID_BEHIND:
		snprintf(out, len, "%s holds transactions %s lacks", b->addr, a->addr);
		break;
	default:
		snprintf(out, len, "each holds transactions the other lacks");
	}
}

/* SPLIT BRAIN: the writable nodes, and how the first two stand to each other. */
static void split_brain(struct st_cluster *c)
{
	int w[2] = { -1, -1 }, k = 0;
	char order[300];
	size_t used;

	set_verdict(c, KA_SPLIT_BRAIN, "SPLIT BRAIN");
	snprintf(c->headline, sizeof c->headline, "%d writable nodes:", c->nwritable);
	for (size_t i = 0; i < c->n; i++) {
		if (!c->node[i].answered || c->node[i].read_only)
			continue;
		if (k < 2)
			w[k++] = (int)i;
		used = strlen(c->headline);
		snprintf(c->headline + used, sizeof c->headline - used, " %s", c->node[i].addr);
	}
	if (!c->node[w[0]].history_ok || !c->node[w[1]].history_ok)
		return;
	describe_order(&c->node[w[0]], &c->node[w[1]], order, sizeof order);
	used = strlen(c->headline);
	snprintf(c->headline + used, sizeof c->headline - used, " (%s)", order);
}

void st_judge(const struct st_opts *o, struct st_cluster *c)
{
	char errant[sizeof c->headline - 64];
	int nerrant = 0;

	c->nfindings = 0;
	c->headline[0] = '\0';
	assign_roles(c);
	read_histories(c);
	if (c->primary >= 0)
		nerrant = compare_errant(c, errant, sizeof errant);
	judge_nodes(o, c);
	if (c->primary >= 0)
		judge_semi_sync(c);
	if (c->have_vip)
		judge_vip(c);
	if (c->nwritable >= 2) {
		split_brain(c);
	} else if (c->nwritable == 0) {
		set_verdict(c, KA_NO_PRIMARY, "NO PRIMARY");
		snprintf(c->headline, sizeof c->headline, "no writable node among %zu (%d answered)",
			 c->n, c->nanswered);
	} else if (nerrant) {
		set_verdict(c, KA_DIVERGED, "DIVERGED");
		snprintf(c->headline, sizeof c->headline, "errant GTIDs the primary %s lacks: %s",
			 c->node[c->primary].addr, errant);
	} else if (c->nfindings) {
		set_verdict(c, KA_DEGRADED, "DEGRADED");
	} else {
		set_verdict(c, KA_OK, "OK");
		snprintf(c->headline, sizeof c->headline, "primary %s, %zu replica%s healthy",
			 c->node[c->primary].addr, c->n - 1, c->n == 2 ? "" : "s");
		if (c->n == 1)
			snprintf(c->headline, sizeof c->headline, "primary %s (no other node named)",
				 c->node[c->primary].addr);
	}
}
