/* The late fence (issue 10): the promotion judges a peer gone when its TCP handshake and
 * greeting do not come within PEER_GREETING_MS, so a hung old primary costs 60 ms. A LIVE
 * peer that greets later (a saturated host) whose keepalived is dead would then stay
 * writable next to the new primary. So, once the promotion is done (read_only=0, the
 * promotion mark, the other nodes repointed: nothing of it waits for this), every peer
 * judged gone that way gets one more chance:
 *
 *   - which: a greeting that timed out (ka_tcp_greets: no handshake, or no byte after it,
 *     within the budget: late_note). Refused, reset or no route: really down, never asked
 *     again. A greeting that came but a login that failed already had a whole --timeout.
 *   - how: a normal connect and read of read_only, every such peer at once (a thread
 *     each), within one shared --timeout. A step "late peer IP:PORT" each.
 *   - read-only, no answer: the step says so, nothing else. Answers but cannot be read
 *     (denied, too many connections): err logged, nothing else (before this fence such a
 *     peer was not asked at all; giving up the VIP over an unknown would make every
 *     saturated old primary an outage).
 *   - writable: fenced as the promotion fences (node_force_read_only, then its clients
 *     killed unless --no-kill, the fence mark), a step "fence late peer IP:PORT" and a
 *     warning. Not skipped for anything but a newer event (it decides instead) or SIGTERM.
 *   - a fence not confirmed: read_only read again on a fresh session. 1: fenced after all.
 *     No answer: gone again (as the gate's rule: only a connect that fails is evidence).
 *     0, or an answer that cannot be read: it stays writable. Once every late peer was
 *     handled, this node, which cannot stop such a peer, stops itself, as the gate refuses
 *     a promotion whose fence is not confirmed: read_only=1 here, its clients killed, the
 *     fault file (keepalived moves the VIP away), err logged, exit 11 (late-peer-writable).
 *     Two writable nodes go on taking writes that one of them will lose; this stops it.
 *
 * Cost: with such a peer hung, the notify run lasts one more --timeout after the
 * promotion; the VIP and the first write are not delayed.
 */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define LATE_OPERATOR "two nodes were writable after this promotion and the other one " \
	"could not be fenced: this node is read-only again and forced to FAULT. Find which " \
	"node took writes (journal, both binlogs), make the other read-only and rejoin it " \
	"under the primary ('" PROG " ... rejoin'), then lift the FAULT: '" PROG " ... " \
	"clear-fault'"

/* One peer asked again. A thread only touches its own entry. */
struct late {
	struct ka_endpoint ep;
	struct ka_dbaddr addr;
	struct ka_db db;
	int64_t deadline, t0, ms;
	int code, ro;
	char name[80];                   /* "IP:PORT" */
	char err[400];
	pthread_t thread;
	int threaded;
};

static int same_ep(const struct ka_endpoint *a, const struct ka_endpoint *b)
{
	return a->port == b->port && !strcmp(a->host, b->host);
}

void late_note(struct run *r, const struct ka_endpoint *ep)
{
	for (int i = 0; i < r->nlate; i++)
		if (same_ep(&r->late[i], ep))
			return;
	if (r->nlate < KA_MAX_PEERS)
		r->late[r->nlate++] = *ep;
}

/* 1 when the promotion still counts ep as gone: the run's current peer only while its
 * state is unreachable (a peer that greeted later in the run was asked then); any other
 * noted peer was left unreachable by the probe (others.c) and never asked again. */
static int still_gone(const struct run *r, const struct ka_endpoint *ep)
{
	return !same_ep(ep, &r->peer_ep) || r->peer_state == PEER_UNREACHABLE;
}

/* In a thread: connect and read read_only, both by the shared deadline. */
static void *ask_one(void *arg)
{
	struct late *x = arg;

	x->t0 = ka_now_ms();
	if (ka_db_connect(&x->db, &x->addr, x->deadline, x->err, sizeof x->err) < 0)
		x->code = ka_db_exit_code(&x->db);
	else
		x->code = node_read_only(&x->db, x->deadline, &x->ro, x->err, sizeof x->err);
	x->ms = ka_now_ms() - x->t0;
	return NULL;
}

/* Asks every entry at once (one whose thread cannot start runs inline). */
static void ask_all(struct late *xs, int n)
{
	for (int i = 0; i < n; i++)
		xs[i].threaded = pthread_create(&xs[i].thread, NULL, ask_one, &xs[i]) == 0;
	for (int i = 0; i < n; i++)
		if (!xs[i].threaded)
			ask_one(&xs[i]);
	for (int i = 0; i < n; i++)
		if (xs[i].threaded)
			pthread_join(xs[i].thread, NULL);
}

/* A journal step for what a thread found (its own start and duration). */
static void step_found(struct run *r, const struct late *x, const char *result,
		       const char *fmt, const char *what)
{
	struct step *s = step_open(r, "late peer %s", x->name);

	step_close(r, s, result, fmt, what);
	s->t0 = x->t0;
	s->ms = x->ms;
}

/* The fence did not hold: 1 when a fresh session reads read_only=0 (still writable), 0
 * when it reads 1 or the peer no longer answers; why says which. */
static int stays_writable(struct run *r, struct late *x, char *why, size_t len)
{
	char err[400];
	int ro = 0, code;

	ka_db_close(&x->db);
	if (ka_db_connect(&x->db, &x->addr, step_deadline(r), err, sizeof err) < 0)
		code = ka_db_exit_code(&x->db);
	else
		code = node_read_only(&x->db, step_deadline(r), &ro, err, sizeof err);
	if (code == KA_OK) {
		snprintf(why, len, "read_only=%d read back on a fresh session", ro);
		return !ro;
	}
	if (code == KA_UNREACHABLE || code == KA_TIMEOUT) {
		snprintf(why, len, "no longer answers: gone again (%.120s)", err);
		return 0;
	}
	snprintf(why, len, "read_only cannot be read again (%.120s): counted writable", err);
	return 1;
}

/* Some late peer stays writable and this node cannot stop it: this node stops (read_only=1,
 * clients killed, FAULT), as a promotion whose fence is not confirmed is refused. */
static void give_up(struct run *r, struct ka_db *db, const char *names)
{
	int code = KA_OK;

	ka_log_err("late peer(s) %s writable after this promotion and not fenced: this node "
		   "gives up the VIP (never two writable primaries)", names);
	fault_set(r, "a late peer stays writable after the promotion: two writable nodes");
	if (!db->my || db->timed_out) {
		ka_db_close(db);
		code = node_connect(r, db, &r->cr->local.addr, "local again");
	}
	if (code == KA_OK)
		code = node_force_read_only(r, db, &r->cr->local.addr, "local", r->o->timeout_ms);
	if (code == KA_OK && !r->o->no_kill)
		node_kill_clients(r, db, "local");
	if (code != KA_OK)
		ka_log_err("local node not confirmed read-only after late peer(s) %s stayed "
			   "writable (exit %d)", names, code);
	outcome(r, KA_SPLIT_BRAIN, "late-peer-writable", "promoted, then late peer(s) %s "
		"answered writable and read_only=1 was not confirmed there: %s, forced to FAULT "
		"(never two writable primaries)", names, code == KA_OK ?
		"this node is read-only again" : "this node could NOT be made read-only again");
	snprintf(r->operator_action, sizeof r->operator_action, "%s", LATE_OPERATOR);
}

/* Appends text to the run's reason (the promoted outcome's line). */
static void reason_add(struct run *r, const char *what, const char *name)
{
	size_t used = strlen(r->reason);

	snprintf(r->reason + used, sizeof r->reason - used, "; late peer %s %s", name, what);
}

/* Fences one late peer that answered writable. Returns 1 when it stays writable. */
static int fence_late(struct run *r, struct late *x, int *marked)
{
	char who[96], why[200], err[512];
	struct step *s = step_open(r, "fence late peer %s", x->name);
	int code;

	snprintf(who, sizeof who, "late peer %s", x->name);
	code = node_force_read_only(r, &x->db, &x->addr, who, r->o->timeout_ms);
	if (code == KA_OK) {
		if (!*marked && fence_mark_write(r->o, &x->ep, err, sizeof err) < 0)
			ka_log_warn("%s", err);
		*marked = 1;
		if (same_ep(&x->ep, &r->peer_ep))
			r->fenced = 1;
		if (!r->o->no_kill)
			node_kill_clients(r, &x->db, who);
		step_close(r, s, "ok", "writable after the promotion: read_only=1 read back%s",
			   r->o->no_kill ? ", clients kept (--no-kill)" : ", clients killed");
		ka_log_warn("late peer %s was writable after this promotion (no greeting within "
			    "%d ms): fenced, read_only=1", x->name, PEER_GREETING_MS);
		reason_add(r, "was writable: fenced", x->name);
		return 0;
	}
	if (stays_writable(r, x, why, sizeof why)) {
		step_close(r, s, "failed", "read_only=1 not confirmed (exit %d); %s: two writable "
			   "nodes", code, why);
		return 1;
	}
	step_close(r, s, "failed", "read_only=1 not confirmed (exit %d); %s", code, why);
	ka_log_warn("fence of late peer %s not confirmed (exit %d); %s", x->name, code, why);
	return 0;
}

/* Journals what one peer answered; fences it when writable unless a newer event or a
 * signal came (newer: asked once, -1 until then). Returns 1 when it stays writable. */
static int judge_late(struct run *r, struct late *x, int *marked, int *newer)
{
	if (x->code == KA_UNREACHABLE || x->code == KA_TIMEOUT) {
		step_found(r, x, "skipped", "no answer within --timeout either: gone (%.300s)",
			   x->err);
		return 0;
	}
	if (x->code != KA_OK) {
		step_found(r, x, "failed", "answers but cannot be read, writable or not is "
			   "unknown: %.300s", x->err);
		ka_log_err("late peer %s answers after the promotion but cannot be read: %s; if "
			   "it is writable, two nodes are", x->name, x->err);
		return 0;
	}
	if (x->ro) {
		step_found(r, x, "ok", "%s", "answered read-only: nothing to do");
		return 0;
	}
	step_found(r, x, "ok", "%s", "answered writable: fencing it");
	if (*newer < 0)
		*newer = superseded(r);
	if (*newer || ka_notify_term) {
		struct step *s = step_open(r, "fence late peer %s", x->name);
		step_close(r, s, "skipped", "%s", ka_notify_term ? "terminated by a signal" :
			   "a newer event arrived: it decides");
		ka_log_warn("late peer %s is writable after this promotion; not fenced: %s",
			    x->name, ka_notify_term ? "terminated" : "a newer event arrived");
		reason_add(r, "is writable: not fenced (a newer event or a signal came)", x->name);
		return 0;
	}
	return fence_late(r, x, marked);
}

/* Appends name to a comma-separated list. */
static void names_add(char *list, size_t len, const char *name)
{
	size_t used = strlen(list);

	snprintf(list + used, len - used, "%s%s", used ? ", " : "", name);
}

/* --dry-run: a plan line per peer that would be asked again. */
static void plan_late(struct run *r, const struct late *xs, int n)
{
	for (int i = 0; i < n; i++)
		plan(r, "after the promotion: connect to late peer %s within %ld ms (no greeting "
		     "within %d ms) and fence it if it is writable", xs[i].name, r->o->timeout_ms,
		     PEER_GREETING_MS);
}

int late_fence(struct run *r, struct ka_db *db)
{
	static struct late xs[KA_MAX_PEERS];
	char writable[KA_MAX_PEERS * 80] = "";
	int n = 0, marked = r->fenced, newer = -1;
	int64_t deadline = step_deadline(r);

	for (int i = 0; i < r->nlate; i++) {
		struct late *x = &xs[n];
		if (!still_gone(r, &r->late[i]))
			continue;
		memset(x, 0, sizeof *x);
		x->ep = r->late[i];
		node_addr_of(r, &x->ep, &x->addr);
		x->deadline = deadline;
		ka_endpoint_text(&x->ep, x->name, sizeof x->name);
		n++;
	}
	if (!n)
		return r->code;
	if (r->o->dry_run) {
		plan_late(r, xs, n);
		return r->code;
	}
	ask_all(xs, n);
	for (int i = 0; i < n; i++)
		if (judge_late(r, &xs[i], &marked, &newer))
			names_add(writable, sizeof writable, xs[i].name);
	for (int i = 0; i < n; i++)
		ka_db_close(&xs[i].db);
	if (writable[0])
		give_up(r, db, writable);
	return r->code;
}
