/* Several nodes (issue 12): a --peer list (every other node keepalived runs) and
 * --replica nodes (read-only replicas keepalived does not run: never promoted, never
 * fenced, only repointed). A pair without --replica never comes here.
 *
 *   Probe: every node at once, a thread each: its TCP handshake and greeting within one
 *     shared PEER_GREETING_MS (dead, cut off or hung nodes cost that once in total), then
 *     its state within --timeout. A step per node.
 *   Promotion (others_promote_probe, before today's catch-up): a peer or replica that
 *     answers but cannot be read refuses (unknown: it may hold an acknowledged write); two
 *     writable peers refuse (name both); one writable peer is the old primary and becomes
 *     the run's current peer: today's gate and fence, unchanged.
 *   Most-advanced catch-up (others_catch_up, after today's catch-up, before read_only=0):
 *     every other reachable read-only node is read again and compared by lineage, with
 *     what its IO threads received counted as held (a semi-sync replica acknowledges an
 *     event once it is in its relay log: a lagging applier must not hide it; catching up
 *     from that node then waits until it applied it). GTIDs it holds that this node lacks, written by its OWN server_id in a stream this node
 *     never received, are errant (a replica's own writes, never acknowledged through the
 *     VIP; an old primary's writes continue a stream this node knows: not errant); a
 *     node with any, or one that also lacks GTIDs this node holds (diverged), is LEFT
 *     OUT: named in the journal ("diverged"), not caught up from, not repointed. Every
 *     other GTID some node holds and this node lacks may be an acknowledged write (semi-
 *     sync: ANY replica's ACK acknowledges a commit). One clean node must hold them all
 *     (the most advanced); none does: refuse (fail closed, also when the only holder of
 *     such a GTID was left out). This node then replicates from it on the connection
 *     'ka_catchup' (CHANGE MASTER TO its address, MASTER_USE_GTID=slave_pos, the
 *     [ka-replication] account), MASTER_GTID_WAIT in slices within --catchup-timeout,
 *     STOP SLAVE and RESET SLAVE ALL on it, and holds by lineage everything that node
 *     held, else refuse. When a connection of this node already has that source (a
 *     read-only old primary; MariaDB refuses a second one, 1934), its IO thread runs
 *     again for the wait instead.
 *   Repointing (others_repoint, after read_only=0 and the promotion mark): every other
 *     reachable read-only node that is not ahead, not left out, not the fenced old
 *     primary (its own keepalived's BACKUP notify rejoins it) and replicates on the
 *     default connection only, at once (a thread each): its IO thread killed (a STOP
 *     SLAVE on a dead source waits), STOP SLAVE, read again: a node that now holds or
 *     received GTIDs this node lacks (arrived after the catch-up looked, e.g. from an
 *     old primary cut off from this node only) is not repointed (a CHANGE MASTER would
 *     delete its relay log) and its replication runs again; the rest: CHANGE MASTER TO
 *     this node's --self address (MASTER_USE_GTID=slave_pos; current_pos on a node whose
 *     own binlog goes beyond its gtid_slave_pos, a former primary), START SLAVE, both
 *     threads Yes within REPOINT_CONFIRM_MS. A step per node; a failure is a warning, never the exit code.
 *     Without --self: the address the first reachable node sees this node's session
 *     from (information_schema.PROCESSLIST) and this node's @@port, journaled.
 *   Rejoin (others_pick_writable): the one writable peer; none: later; two: refused.
 */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { KIND_PEER, KIND_REPLICA };

/* One other node. A thread only touches its own entry; the journal is written after
 * the threads are joined. */
struct other {
	struct ka_endpoint ep;
	enum kind kind;
	struct ka_dbaddr addr;
	struct ka_db db;
	enum peer_state state;
	struct node_state st;
	struct ka_gtid_set hist;         /* what it holds (others_catch_up) */
	struct ka_gtid_set recv;         /* hist and what its IO threads received: a semi-
					  * sync replica acknowledges an event once it is in
					  * its relay log, applied or not */
	int64_t greet_deadline, deadline, t0, ms;
	char err[400];
	int current;                     /* the run's current peer (the old primary, fenced) */
	int left_out;                    /* errant or diverged: named, never touched */
	int active;                      /* selected for the parallel job at hand */
	int picked;                      /* to be repointed (others_repoint) */
	int held;                        /* stopped, then not repointed (repoint_hold_back) */
	int late;                        /* its last greeting timed out (late_note) */
	char result[16], detail[400];    /* the repointing's outcome */
	const char *use_gtid;
};

static struct {
	int n;
	struct other o[MAX_OTHERS];
	char self_host[64];
	unsigned int self_port;
	int64_t timeout_ms;
	const struct creds *cr;
} all;

struct job {
	struct other *x;
	void (*fn)(struct other *);
	pthread_t thread;
	int threaded;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->fn(j->x);
	return NULL;
}

/* Runs fn on every active node at once, a thread each (one whose thread cannot start
 * runs inline); returns when all are done. */
static void run_active(void (*fn)(struct other *))
{
	static struct job jobs[MAX_OTHERS];
	int n = 0;

	for (int i = 0; i < all.n; i++) {
		if (!all.o[i].active)
			continue;
		jobs[n].x = &all.o[i];
		jobs[n].fn = fn;
		jobs[n].threaded = pthread_create(&jobs[n].thread, NULL, job_main, &jobs[n]) == 0;
		n++;
	}
	for (int i = 0; i < n; i++)
		if (!jobs[i].threaded)
			fn(jobs[i].x);
	for (int i = 0; i < n; i++)
		if (jobs[i].threaded)
			pthread_join(jobs[i].thread, NULL);
}

static const char *kind_name(const struct other *x)
{
	return x->kind == KIND_PEER ? "peer" : "replica";
}

static const char *ep_text(const struct other *x, char *buf, size_t len)
{
	return ka_endpoint_text(&x->ep, buf, len);
}

int others_multi(const struct opts *o)
{
	return o->npeer > 1 || o->nreplica > 0;
}

void others_close(void)
{
	for (int i = 0; i < all.n; i++)
		ka_db_close(&all.o[i].db);
}

/* The node list: the peers (with_peers) and the replicas (with_replicas). */
static void others_setup(struct run *r, int with_peers, int with_replicas)
{
	others_close();
	all.n = 0;
	all.cr = r->cr;
	all.timeout_ms = r->o->timeout_ms;
	for (int i = 0; with_peers && i < r->o->npeer; i++) {
		struct other *x = &all.o[all.n++];
		memset(x, 0, sizeof *x);
		x->ep = r->o->peers[i];
		x->kind = KIND_PEER;
	}
	for (int i = 0; with_replicas && i < r->o->nreplica; i++) {
		struct other *x = &all.o[all.n++];
		memset(x, 0, sizeof *x);
		x->ep = r->o->replicas[i];
		x->kind = KIND_REPLICA;
	}
	for (int i = 0; i < all.n; i++)
		node_addr_of(r, &all.o[i].ep, &all.o[i].addr);
	r->multi = 1;
}

/* 1 when the node's greeting arrives by its deadline (ka_tcp_greets), else 0 with
 * x->err saying why. */
static int greets(struct other *x)
{
	char err[300];
	enum ka_tcp_reach got = ka_tcp_greets(&x->ep, x->greet_deadline, err, sizeof err);

	x->late = got == KA_TCP_TIMED_OUT;
	if (got == KA_TCP_ANSWERS || got == KA_TCP_FAILED)
		return 1;
	snprintf(x->err, sizeof x->err, "%s%s", err, got == KA_TCP_TIMED_OUT ? " (within the "
		 "greeting budget: dead, cut off or hung)" : "");
	return 0;
}

/* In a thread: greeting, connect, state. A failed query is evidence of nothing until a
 * fresh greeting fails too (as node_peer_reask). */
static void probe_one(struct other *x)
{
	int code;

	x->t0 = ka_now_ms();
	x->state = PEER_UNREACHABLE;
	if (!greets(x))
		goto done;
	if (!x->db.my && ka_db_connect(&x->db, &x->addr, x->deadline, x->err,
				       sizeof x->err) < 0) {
		code = ka_db_exit_code(&x->db);
		ka_db_close(&x->db);
		x->state = code == KA_UNREACHABLE || code == KA_TIMEOUT ? PEER_UNREACHABLE
			   : PEER_ERROR;
		goto done;
	}
	if (node_query_raw(&x->db, &x->st, x->deadline, x->err, sizeof x->err) < 0) {
		int ours = x->db.timed_out || x->db.err >= 2000;
		ka_db_close(&x->db);
		x->greet_deadline = ka_deadline_in(PEER_GREETING_MS);
		x->state = ours && !greets(x) ? PEER_UNREACHABLE : PEER_ERROR;
		goto done;
	}
	x->state = x->st.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
done:
	x->ms = ka_now_ms() - x->t0;
}

/* After a thread read x: a history that cannot be read whole makes it "error" (never
 * counted as empty). */
static void readable_or_error(struct other *x)
{
	char why[sizeof x->st.unreadable];

	if (x->state != PEER_READ_ONLY && x->state != PEER_WRITABLE)
		return;
	node_check_readable(&x->st);
	if (!x->st.unreadable[0])
		return;
	memcpy(why, x->st.unreadable, sizeof why);
	snprintf(x->err, sizeof x->err, "its GTID positions cannot be read whole: %.300s", why);
	x->state = PEER_ERROR;
}

static const char *state_word(enum peer_state s)
{
	switch (s) {
	case PEER_UNREACHABLE: return "unreachable";
	case PEER_ERROR: return "cannot be read";
	case PEER_READ_ONLY: return "read-only";
	case PEER_WRITABLE: return "writable";
	default: return "not asked";
	}
}

/* A journal step for something a thread did (its own start and duration). */
static void step_done(struct run *r, const struct other *x, const char *what,
		      const char *result, const char *detail)
{
	char ep[80];
	struct step *s = step_open(r, "%s %s %s", what, kind_name(x), ep_text(x, ep, sizeof ep));

	step_close(r, s, result, "%s", detail);
	s->t0 = x->t0;
	s->ms = x->ms;
}

/* Probes every active node at once (see the top), then journals each. */
static void probe_active(struct run *r)
{
	int64_t greet = r->o->timeout_ms < PEER_GREETING_MS ? r->o->timeout_ms : PEER_GREETING_MS;
	int64_t greet_deadline = ka_deadline_in(greet), deadline = step_deadline(r);
	char detail[400];

	for (int i = 0; i < all.n; i++) {
		all.o[i].greet_deadline = greet_deadline;
		all.o[i].deadline = deadline;
		all.o[i].err[0] = '\0';
	}
	run_active(probe_one);
	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		if (!x->active)
			continue;
		readable_or_error(x);
		if (x->state == PEER_READ_ONLY || x->state == PEER_WRITABLE)
			snprintf(detail, sizeof detail, "%s, server_id %lu, gtid_current_pos %.200s, "
				 "replication=%zu", state_word(x->state), x->st.server_id,
				 x->st.current[0] ? x->st.current : "(empty)", x->st.nrows);
		else
			snprintf(detail, sizeof detail, "%s: %.300s", state_word(x->state), x->err);
		step_done(r, x, "probe", x->state == PEER_READ_ONLY || x->state == PEER_WRITABLE ?
			  "ok" : "failed", detail);
	}
}

static void activate_all(void)
{
	for (int i = 0; i < all.n; i++)
		all.o[i].active = 1;
}

/* The one writable peer becomes the run's current peer; its session moves to *peer. */
static void make_current(struct run *r, struct other *x, struct ka_db *peer)
{
	run_set_peer(r, &x->ep);
	r->peer = x->st;
	r->peer_state = x->state;
	x->current = 1;
	if (peer) {
		ka_db_close(peer);
		*peer = x->db;
		memset(&x->db, 0, sizeof x->db);
	}
}

/* Appends "IP:PORT" of x to list. */
static void names_add(char *list, size_t len, const struct other *x)
{
	char ep[80];
	size_t used = strlen(list);

	snprintf(list + used, len - used, "%s%s", used ? ", " : "", ep_text(x, ep, sizeof ep));
}

int others_promote_probe(struct run *r, struct ka_db *peer, char *decision, size_t dlen,
			 char *why, size_t len)
{
	char writable[400] = "", ep[80];
	struct other *w = NULL;
	int nw = 0, gone = 0;

	others_setup(r, 1, 1);
	activate_all();
	probe_active(r);
	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		if (x->state == PEER_ERROR) {
			snprintf(decision, dlen, "refused-%s-unknown", kind_name(x));
			snprintf(why, len, "%s %s answers but cannot be read, so whether it holds "
				 "transactions this node lacks is unknown: %.400s", kind_name(x),
				 ep_text(x, ep, sizeof ep), x->err);
			return -1;
		}
		if (x->state == PEER_UNREACHABLE && x->kind == KIND_PEER)
			gone = 1;
		if (x->state == PEER_UNREACHABLE && x->kind == KIND_PEER && x->late)
			late_note(r, &x->ep);   /* asked again once promoted (latefence.c) */
		if (x->state == PEER_WRITABLE && x->kind == KIND_PEER) {
			nw++;
			w = x;
			names_add(writable, sizeof writable, x);
		}
	}
	if (nw > 1) {
		snprintf(decision, dlen, "refused-peers-writable");
		snprintf(why, len, "%d peers are writable (%s): which one is the primary is "
			 "unknown; make all but one read-only", nw, writable);
		return -1;
	}
	if (w)
		make_current(r, w, peer);
	else
		r->peer_state = gone ? PEER_UNREACHABLE : PEER_NONE;
	return 0;
}

int others_pick_writable(struct run *r, char *why, size_t len, int *code)
{
	char writable[400] = "", other[600] = "", ep[80];
	struct other *w = NULL;
	int nw = 0, errors = 0;

	*code = KA_OK;
	others_setup(r, 1, 0);
	activate_all();
	probe_active(r);
	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		size_t used = strlen(other);
		if (x->state == PEER_WRITABLE) {
			nw++;
			w = x;
			names_add(writable, sizeof writable, x);
			continue;
		}
		errors += x->state == PEER_ERROR;
		snprintf(other + used, sizeof other - used, "%s%s %s", used ? ", " : "",
			 ep_text(x, ep, sizeof ep), state_word(x->state));
	}
	if (nw > 1) {
		*code = KA_REFUSED;
		snprintf(why, len, "refused: %d peers are writable (%s): which one is the primary "
			 "is unknown", nw, writable);
		return -1;
	}
	if (!w) {
		*code = errors ? KA_UNFIT : KA_OK;
		snprintf(why, len, "skipped: no peer is writable (%s)", other);
		return 0;
	}
	make_current(r, w, NULL);
	ka_db_close(&w->db);
	return 1;
}

/* In a thread: reads an active node again on its session (reconnecting once). */
static void reread_one(struct other *x)
{
	x->t0 = ka_now_ms();
	x->deadline = ka_deadline_in(all.timeout_ms);
	if ((!x->db.my || x->db.timed_out) &&
	    (ka_db_close(&x->db), ka_db_connect(&x->db, &x->addr, x->deadline, x->err,
						  sizeof x->err) < 0)) {
		int code = ka_db_exit_code(&x->db);
		ka_db_close(&x->db);
		x->state = code == KA_UNREACHABLE || code == KA_TIMEOUT ? PEER_UNREACHABLE
			   : PEER_ERROR;
	} else if (node_query_raw(&x->db, &x->st, x->deadline, x->err, sizeof x->err) < 0) {
		ka_db_close(&x->db);
		x->state = PEER_ERROR;
	} else {
		x->state = x->st.read_only ? PEER_READ_ONLY : PEER_WRITABLE;
	}
	x->ms = ka_now_ms() - x->t0;
}

/* 1 when history h has an entry for g's domain and server (any seq_no). */
static int knows_stream(const struct ka_gtid_set *h, const struct ka_gtid *g)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->g[i].domain == g->domain && h->g[i].server == g->server)
			return 1;
	return 0;
}

/* The errant entries of extra (what a node with server_id sid holds and this node,
 * history mine, lacks): written by that node itself, in a stream this node never
 * received (a replica's own writes). The continuation of a stream this node knows (an
 * old primary's writes it did not get) is never errant: it may be acknowledged. */
static void errant_of(const struct ka_gtid_set *extra, unsigned long sid,
		      const struct ka_gtid_set *mine, struct ka_gtid_set *out)
{
	out->n = 0;
	for (size_t i = 0; i < extra->n; i++)
		if (extra->g[i].server == sid && !knows_stream(mine, &extra->g[i]))
			out->g[out->n++] = extra->g[i];
}

/* Adds the entries of s to u (per domain and server, the highest seq_no). */
static void set_union(struct ka_gtid_set *u, const struct ka_gtid_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		size_t k = 0;
		while (k < u->n && (u->g[k].domain != s->g[i].domain ||
				    u->g[k].server != s->g[i].server))
			k++;
		if (k == u->n && u->n < KA_GTID_MAX)
			u->g[u->n++] = s->g[i];
		else if (k < u->n && s->g[i].seq > u->g[k].seq)
			u->g[k].seq = s->g[i].seq;
	}
}

/* Judges node x against this node's history mine: left out (errant or diverged: r->diverged
 * names it) or clean; what it holds that may be acknowledged goes into *want. Returns
 * 0, or -1 (why: its history cannot be read whole). */
static int judge_other(struct run *r, struct other *x, const struct ka_gtid_set *mine,
		       struct ka_gtid_set *want, char *why, size_t len)
{
	static struct ka_gtid_set extra, own, one, io;
	char err[400], ep[80], text[600], lacks[400] = "";
	int lacks_ours;

	if (node_history(&x->st, 0, &x->hist, err, sizeof err) < 0 ||
	    node_io_pos(&x->st, &io, err, sizeof err) < 0) {
		snprintf(why, len, "%s %s: %.300s", kind_name(x), ep_text(x, ep, sizeof ep), err);
		return -1;
	}
	x->recv = x->hist;
	set_union(&x->recv, &io);
	ka_gtid_missing_set(mine, &x->recv, &extra);
	errant_of(&extra, x->st.server_id, mine, &own);
	lacks_ours = ka_gtid_missing(&x->hist, mine, lacks, sizeof lacks) > 0;
	x->left_out = own.n > 0 || (extra.n > 0 && lacks_ours);
	if (!x->left_out) {
		set_union(want, &extra);
		return 0;
	}
	/* Its errant writes were never acknowledged through the VIP; any other GTID it
	 * holds that this node lacks may be: a clean node must hold it (the caller). */
	for (size_t i = 0; i < extra.n; i++)
		if (extra.g[i].server != x->st.server_id || knows_stream(mine, &extra.g[i])) {
			one.n = 1;
			one.g[0] = extra.g[i];
			set_union(want, &one);
		}
	gtid_text(&extra, text, sizeof text);
	snprintf(x->detail, sizeof x->detail, "left out: %s (server_id %lu) holds %.150s this "
		 "node lacks%s%s%.150s", own.n ? "errant GTIDs:" : "diverged:", x->st.server_id,
		 text, own.n ? " (its own writes)" : "", lacks_ours ? "; it lacks " : "",
		 lacks_ours ? lacks : "");
	size_t used = strlen(r->diverged);
	snprintf(r->diverged + used, sizeof r->diverged - used, "%s%s %s: %.200s",
		 used ? "; " : "", kind_name(x), ep_text(x, ep, sizeof ep), text);
	step_done(r, x, "leave out", "skipped", x->detail);
	ka_log_warn("%s %s %s", kind_name(x), ep, x->detail);
	return 0;
}

/* MASTER_GTID_WAIT(pos, slice) on db: 0 (reached or not: decided by lineage after) or
 * -1 (err). */
static int wait_slice(struct run *r, struct ka_db *db, const char *pos, int64_t slice, char *err,
		      size_t errlen)
{
	static char sql[POS_LEN * 2 + 96], q[POS_LEN * 2];
	char v[16];

	node_sql_quote(pos, q, sizeof q);
	snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', %lld.%03lld)", q,
		 (long long)(slice / 1000), (long long)(slice % 1000));
	return ka_db_value(db, sql, v, sizeof v, NULL, ka_deadline_in(slice + r->o->timeout_ms),
			   err, errlen) < 0 ? -1 : 0;
}

/* The catch-up connection's row in st, or NULL. */
static const struct slave_row *catchup_row(const struct node_state *st)
{
	for (size_t i = 0; i < st->nrows; i++)
		if (!strcmp(st->rows[i].name, CATCHUP_CONNECTION))
			return &st->rows[i];
	return NULL;
}

/* CHANGE MASTER [name] TO host:port with the [ka-replication] account; the journal
 * label never holds the password (it comes last in the statement too). */
static void change_master_sql(const struct creds *cr, const char *name, const char *host,
			      unsigned int port, const char *use_gtid, char *sql, size_t len,
			      char *label, size_t lablen)
{
	char h[140], user[300], pass[560], conn[100] = "";

	node_sql_quote(host, h, sizeof h);
	node_sql_quote(cr->repl.user, user, sizeof user);
	node_sql_quote(cr->repl.password, pass, sizeof pass);
	if (*name)
		snprintf(conn, sizeof conn, "'%s' ", name);
	snprintf(label, lablen, "CHANGE MASTER %sTO MASTER_HOST='%s', MASTER_PORT=%u, "
		 "MASTER_USER='%s', MASTER_USE_GTID=%s, MASTER_CONNECT_RETRY=1, "
		 "MASTER_PASSWORD=<from [ka-replication]>", conn, h, port, user, use_gtid);
	snprintf(sql, len, "CHANGE MASTER %sTO MASTER_HOST='%s', MASTER_PORT=%u, "
		 "MASTER_USER='%s', MASTER_USE_GTID=%s, MASTER_CONNECT_RETRY=1, "
		 "MASTER_PASSWORD='%s'", conn, h, port, user, use_gtid, pass);
}

/* Removes the catch-up connection (bounded: a STOP on a dead source waits). */
static void catchup_remove(struct run *r, struct ka_db *db)
{
	if ((!db->my || db->timed_out) &&
	    (ka_db_close(db), node_connect(r, db, &r->cr->local.addr, "local again")) != KA_OK)
		return;
	node_exec_within(r, db, "local", "STOP SLAVE '" CATCHUP_CONNECTION "'",
			 "STOP SLAVE '" CATCHUP_CONNECTION "'", r->o->timeout_ms + STOP_SLAVE_EXTRA_MS);
	node_exec(r, db, "local", "RESET SLAVE '" CATCHUP_CONNECTION "' ALL",
		  "RESET SLAVE '" CATCHUP_CONNECTION "' ALL");
}

#define CATCH_OK 0
#define CATCH_REFUSE (-1)
#define CATCH_DONE (-2)    /* the outcome is set (superseded, terminated, local failure) */

/* Waits until this node holds what src holds or received (its relay log applied first),
 * in slices until end. Returns CATCH_OK, CATCH_REFUSE (why) or CATCH_DONE. */
static int catchup_wait(struct run *r, struct ka_db *db, const struct other *src, int64_t end,
			int *rounds, char *why, size_t len)
{
	static struct node_state cur;
	static struct ka_gtid_set mine, missing;
	static char target[POS_LEN];
	char err[512], desc[400];

	for (*rounds = 1; *rounds < 1000000; (*rounds)++) {
		if (ka_notify_term)
			return outcome(r, KA_TIMEOUT, "terminated", "terminated by a signal during "
				       "the most-advanced catch-up; this node stays read-only"),
			       CATCH_DONE;
		if (superseded(r))
			return outcome(r, KA_OK, "superseded", "a newer event arrived during the "
				       "most-advanced catch-up; this node stays read-only"), CATCH_DONE;
		if (node_query_state(db, &cur, step_deadline(r), err, sizeof err) < 0) {
			fault_set(r, "local mysqld stopped answering during promotion");
			return outcome(r, node_code(db), "promote-failed", "%s", err), CATCH_DONE;
		}
		if (node_history(&cur, 0, &mine, err, sizeof err) < 0) {
			snprintf(why, len, "this node: %s", err);
			return CATCH_REFUSE;
		}
		ka_gtid_missing_set(&mine, &src->recv, &missing);
		if (!missing.n)
			return CATCH_OK;
		const struct slave_row *w = catchup_row(&cur);
		if (w && (w->sql_errno || w->io_errno == 1236)) {
			snprintf(why, len, "replication from it failed: %.300s", w->sql_errno ?
				 w->sql_error : w->io_error);
			return CATCH_REFUSE;
		}
		int64_t slice = ka_remaining_ms(end);
		if (slice <= 0)
			break;
		if (slice > CATCHUP_SLICE_MS)
			slice = CATCHUP_SLICE_MS;
		gtid_wait_target(&missing, target, sizeof target);
		if (wait_slice(r, db, target, slice, err, sizeof err) < 0) {
			snprintf(why, len, "MASTER_GTID_WAIT failed: %.300s", err);
			return CATCH_REFUSE;
		}
	}
	gtid_text(&missing, desc, sizeof desc);
	snprintf(why, len, "timed out after %ld s: this node still lacks %s", r->o->catchup_s,
		 desc);
	return CATCH_REFUSE;
}

/* The connection of this node (as it was before the promotion) whose source is src, or
 * NULL: MariaDB refuses a second connection to the same source (1934). */
static const struct slave_row *existing_source(const struct run *r, const struct other *src)
{
	for (size_t i = 0; i < r->before.nrows; i++) {
		struct ka_endpoint ep = { .port = r->before.rows[i].port };
		snprintf(ep.host, sizeof ep.host, "%s", r->before.rows[i].host);
		if (ka_endpoint_same(&ep, &src->ep))
			return &r->before.rows[i];
	}
	return NULL;
}

/* Catch-up on the existing connection w from src (its IO thread was stopped or killed):
 * the IO thread runs again for the wait and is stopped after it (the rest of the
 * promotion ends or restarts replication as usual). */
static int catch_up_on(struct run *r, struct ka_db *db, const struct other *src,
		       const struct slave_row *w, char *why, size_t len)
{
	char stop[200], start[200], q[160], ep[80], held[600];
	int64_t end = ka_deadline_in(r->o->catchup_s * 1000);
	int rounds = 0, rc;
	struct step *s;

	ep_text(src, ep, sizeof ep);
	gtid_text(&src->recv, held, sizeof held);
	node_sql_quote(w->name, q, sizeof q);
	snprintf(stop, sizeof stop, "STOP SLAVE '%s' IO_THREAD", q);
	snprintf(start, sizeof start, "START SLAVE '%s' IO_THREAD", q);
	if (node_exec_within(r, db, "local", stop, stop, r->o->timeout_ms +
			     STOP_SLAVE_EXTRA_MS) != KA_OK ||
	    node_exec(r, db, "local", start, start) != KA_OK) {
		snprintf(why, len, "the IO thread of connection '%s' (from %s) did not start", w->name,
			 ep);
		return CATCH_REFUSE;
	}
	s = step_open(r, "catch up from %s %s", kind_name(src), ep);
	rc = catchup_wait(r, db, src, end, &rounds, why, len);
	step_close(r, s, rc == CATCH_OK ? "ok" : "failed", rc == CATCH_OK ? "holds everything "
		   "%s held (%.300s) after %d round(s), on connection '%s'" :
		   "%s; %.300s after %d round(s), on connection '%s'", rc == CATCH_OK ? ep : why,
		   held, rounds, w->name);
	if ((!db->my || db->timed_out) &&
	    (ka_db_close(db), node_connect(r, db, &r->cr->local.addr, "local again")) != KA_OK)
		return rc;
	node_exec_within(r, db, "local", stop, stop, r->o->timeout_ms + STOP_SLAVE_EXTRA_MS);
	return rc;
}

/* This node replicates from src until it holds everything src held. */
static int catch_up_from(struct run *r, struct ka_db *db, const struct other *src, char *why,
			 size_t len)
{
	static char sql[2000], label[900];
	char ep[80], held[600];
	int64_t end = ka_deadline_in(r->o->catchup_s * 1000);
	int rounds = 0, rc;
	struct step *s;
	const struct slave_row *w = existing_source(r, src);

	if (w)
		return catch_up_on(r, db, src, w, why, len);
	ep_text(src, ep, sizeof ep);
	gtid_text(&src->recv, held, sizeof held);
	if (!r->cr->have_repl) {
		snprintf(why, len, "no [ka-replication] group in the option file: this node cannot "
			 "replicate from %s", ep);
		return CATCH_REFUSE;
	}
	change_master_sql(r->cr, CATCHUP_CONNECTION, src->ep.host, src->ep.port, "slave_pos",
			  sql, sizeof sql, label, sizeof label);
	if (node_exec(r, db, "local", label, sql) != KA_OK) {
		snprintf(why, len, "CHANGE MASTER '%s' to %s failed", CATCHUP_CONNECTION, ep);
		return CATCH_REFUSE;
	}
	if (node_exec(r, db, "local", "START SLAVE '" CATCHUP_CONNECTION "'",
		      "START SLAVE '" CATCHUP_CONNECTION "'") != KA_OK) {
		catchup_remove(r, db);
		snprintf(why, len, "START SLAVE '%s' (from %s) failed", CATCHUP_CONNECTION, ep);
		return CATCH_REFUSE;
	}
	s = step_open(r, "catch up from %s %s", kind_name(src), ep);
	rc = catchup_wait(r, db, src, end, &rounds, why, len);
	step_close(r, s, rc == CATCH_OK ? "ok" : "failed", rc == CATCH_OK ? "holds everything "
		   "%s held (%.300s) after %d round(s)" : "%s; %.300s after %d round(s)",
		   rc == CATCH_OK ? ep : why, held, rounds);
	catchup_remove(r, db);
	return rc;
}

/* Reads every reachable read-only node again (not the current peer: the gate and the
 * fence dealt with it). Returns 0, or -1 with why (one cannot be read now). */
static int reread_all(struct run *r, char *why, size_t len)
{
	char ep[80], detail[300];

	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		x->active = x->state == PEER_READ_ONLY && !x->current;
	}
	run_active(reread_one);
	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		if (!x->active)
			continue;
		readable_or_error(x);
		if (x->state == PEER_ERROR) {
			snprintf(why, len, "%s %s answered, then could not be read: %.300s",
				 kind_name(x), ep_text(x, ep, sizeof ep), x->err);
			return -1;
		}
		if (x->state != PEER_READ_ONLY)
			continue;
		snprintf(detail, sizeof detail, "gtid_current_pos %.200s", x->st.current[0] ?
			 x->st.current : "(empty)");
		step_done(r, x, "read", "ok", detail);
	}
	return 0;
}

/* The clean node (not left out, read-only, not the current peer) that holds or has
 * received all of want, or NULL. */
static struct other *most_advanced(const struct ka_gtid_set *want)
{
	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		if (x->state == PEER_READ_ONLY && !x->current && !x->left_out &&
		    ka_gtid_missing(&x->recv, want, NULL, 0) == 0)
			return x;
	}
	return NULL;
}

static void plan_others(struct run *r)
{
	char ep[80];

	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		if (x->state == PEER_READ_ONLY && !x->current)
			plan(r, "compare %s %s by lineage: when it holds transactions this node "
			     "lacks, replicate from the most advanced node on '%s' until this node "
			     "holds them", kind_name(x), ep_text(x, ep, sizeof ep), CATCHUP_CONNECTION);
	}
}

int others_catch_up(struct run *r, struct ka_db *db, char *decision, size_t dlen, char *why,
		    size_t len)
{
	static struct node_state cur;
	static struct ka_gtid_set mine, want;
	char err[512], text[600], ep[80];
	struct other *src;
	struct step *s;

	if (r->o->dry_run) {
		plan_others(r);
		return CATCH_OK;
	}
	snprintf(decision, dlen, "refused-position-unreadable");
	if (node_query_state(db, &cur, step_deadline(r), err, sizeof err) < 0) {
		fault_set(r, "local mysqld stopped answering during promotion");
		return outcome(r, node_code(db), "promote-failed", "%s", err), CATCH_DONE;
	}
	if (node_history(&cur, 0, &mine, err, sizeof err) < 0) {
		snprintf(why, len, "a GTID position of this node cannot be read whole: %s", err);
		return CATCH_REFUSE;
	}
	if (reread_all(r, why, len) < 0) {
		snprintf(decision, dlen, "refused-peer-unknown");
		return CATCH_REFUSE;
	}
	want.n = 0;
	for (int i = 0; i < all.n; i++)
		if (all.o[i].state == PEER_READ_ONLY && !all.o[i].current &&
		    judge_other(r, &all.o[i], &mine, &want, why, len) < 0)
			return CATCH_REFUSE;
	s = step_open(r, "most advanced node");
	if (!want.n) {
		step_close(r, s, "ok", "this node: no other node holds a transaction it lacks");
		return CATCH_OK;
	}
	gtid_text(&want, text, sizeof text);
	if (!(src = most_advanced(&want))) {
		step_close(r, s, "failed", "no clean node holds all of %s", text);
		snprintf(decision, dlen, "refused-no-most-advanced");
		snprintf(why, len, "other nodes hold transactions this node lacks (%s) and no "
			 "single reachable node that is neither errant nor diverged holds them all: "
			 "catching up from one would lose the others'", text);
		return CATCH_REFUSE;
	}
	step_close(r, s, "ok", "%s %s holds %.400s this node lacks", kind_name(src),
		   ep_text(src, ep, sizeof ep), text);
	snprintf(decision, dlen, "refused-catchup-failed");
	int rc = catch_up_from(r, db, src, why, len);
	if (rc == CATCH_REFUSE) {
		char tmp[900];
		snprintf(tmp, sizeof tmp, "catch-up from the most advanced node %s failed: %.700s",
			 ep, why);
		snprintf(why, len, "%s", tmp);
	}
	return rc;
}

/* This node's address for the others: --self, else the address a reachable node sees
 * this node's session from and this node's @@port. Returns 0 or -1 (detail says why). */
static int self_address(struct run *r, struct ka_db *db, char *detail, size_t len)
{
	char host[300] = "", port[16] = "", err[400], ep[80];
	struct other *via = NULL;

	if (r->o->have_self) {
		snprintf(all.self_host, sizeof all.self_host, "%s", r->o->self.host);
		all.self_port = r->o->self.port;
		snprintf(r->self_how, sizeof r->self_how, "--self");
		snprintf(detail, len, "%s (--self)", ka_endpoint_text(&r->o->self, ep, sizeof ep));
		return 0;
	}
	for (int i = 0; i < all.n && !via; i++)
		if (all.o[i].db.my && !all.o[i].db.timed_out)
			via = &all.o[i];
	if (!via) {
		snprintf(detail, len, "no --self and no reachable node to ask");
		return -1;
	}
	if (ka_db_value(&via->db, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = "
			"CONNECTION_ID()", host, sizeof host, NULL, step_deadline(r), err,
			sizeof err) != 0 ||
	    ka_db_value(db, "SELECT @@global.port", port, sizeof port, NULL, step_deadline(r),
			err, sizeof err) != 0) {
		snprintf(detail, len, "no --self, and asking failed: %.300s", err);
		return -1;
	}
	char *colon = strrchr(host, ':');   /* "IP:PORT" of our session */
	if (colon)
		*colon = '\0';
	if (!ka_is_numeric_ip(host) || atoi(port) <= 0) {
		snprintf(detail, len, "no --self, and %s sees this node as '%.100s' (not a numeric "
			 "address): give --self", ep_text(via, ep, sizeof ep), host);
		return -1;
	}
	snprintf(all.self_host, sizeof all.self_host, "%.63s", host);
	all.self_port = (unsigned)atoi(port);
	snprintf(r->self_how, sizeof r->self_how, "as seen by a node");
	snprintf(detail, len, "%s:%u (no --self: the address %s sees this node's session from, "
		 "and @@port)", host, all.self_port, ep_text(via, ep, sizeof ep));
	return 0;
}

/* Why x is not repointed ("" when it is). */
static const char *repoint_skip(const struct other *x, const struct ka_gtid_set *mine)
{
	if (x->state == PEER_UNREACHABLE)
		return "unreachable";
	if (x->state == PEER_ERROR)
		return "cannot be read";
	if (x->current)
		return "the fenced old primary: its own keepalived's BACKUP notify rejoins it";
	if (x->state == PEER_WRITABLE)
		return "writable: left alone";
	if (x->left_out)
		return "left out (errant or diverged)";
	if (ka_gtid_missing(mine, &x->hist, NULL, 0) > 0)
		return "holds transactions this node lacks";
	for (size_t i = 0; i < x->st.nrows; i++)
		if (x->st.rows[i].name[0])
			return "replicates on a named connection: repoint it by hand";
	return "";
}

/* In a thread: one statement on x within ms. Returns 0 or -1 (x->detail). */
static int exec_on(struct other *x, const char *label, const char *sql, int64_t ms)
{
	char err[300];

	if (ka_db_query(&x->db, sql, NULL, ka_deadline_in(ms), err, sizeof err) == 0)
		return 0;
	snprintf(x->detail, sizeof x->detail, "%.150s failed: %.200s", label,
		 x->db.timed_out ? "timed out" : err);
	return -1;
}

/* In a thread: kills x's IO threads, so the STOP SLAVE after does not wait on a dead
 * source for long (as promote.c's stop_io). */
static void kill_io_of(struct other *x)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long long ids[MAX_SLAVES];
	size_t n = 0;
	char err[300], sql[64];

	if (ka_db_query(&x->db, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = "
			"'Slave_IO'", &res, ka_deadline_in(all.timeout_ms), err, sizeof err) < 0)
		return;
	while (res && (row = mysql_fetch_row(res)) && n < MAX_SLAVES)
		ids[n++] = strtoull(row[0] ? row[0] : "0", NULL, 10);
	if (res)
		mysql_free_result(res);
	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof sql, "KILL CONNECTION %llu", ids[i]);
		ka_db_query(&x->db, sql, NULL, ka_deadline_in(all.timeout_ms), err, sizeof err);
	}
}

/* In a thread: both threads of x's default connection Yes, from this node, within
 * REPOINT_CONFIRM_MS. Returns 0 or -1 (x->detail). */
static int confirm_on(struct other *x)
{
	int64_t end = ka_deadline_in(REPOINT_CONFIRM_MS);
	const struct slave_row *w = NULL;
	char err[300];

	for (int i = 0; i < 1000; i++) {
		if (node_query_raw(&x->db, &x->st, ka_deadline_in(all.timeout_ms), err,
				   sizeof err) < 0) {
			snprintf(x->detail, sizeof x->detail, "cannot read it: %.200s", err);
			return -1;
		}
		w = x->st.nrows ? &x->st.rows[0] : NULL;
		if (w && (w->sql_errno || w->io_errno == 1236)) {
			snprintf(x->detail, sizeof x->detail, "replication failed: %.300s",
				 w->sql_errno ? w->sql_error : w->io_error);
			return -1;
		}
		if (w && !strcmp(w->io, "Yes") && !strcmp(w->sql, "Yes"))
			return 0;
		if (ka_remaining_ms(end) <= 0)
			break;
		sleep_ms(50);
	}
	snprintf(x->detail, sizeof x->detail, "not confirmed within %d ms: io=%s sql=%s%s%.200s",
		 REPOINT_CONFIRM_MS, w ? w->io : "-", w ? w->sql : "-",
		 w && w->io_errno ? ", last IO error: " : "", w && w->io_errno ? w->io_error : "");
	return -1;
}

/* In a thread: x's IO threads killed and its replication stopped, then x read again, so
 * what it received is final: x->result "stopped", else "failed" with x->detail. */
static void repoint_stop(struct other *x)
{
	char err[300];

	x->t0 = ka_now_ms();
	snprintf(x->result, sizeof x->result, "failed");
	if ((!x->db.my || x->db.timed_out) &&
	    (ka_db_close(&x->db), ka_db_connect(&x->db, &x->addr, ka_deadline_in(all.timeout_ms),
						  err, sizeof err) < 0)) {
		snprintf(x->detail, sizeof x->detail, "cannot connect: %.300s", err);
		goto done;
	}
	if (x->st.nrows) {
		kill_io_of(x);
		if (exec_on(x, "STOP SLAVE", "STOP SLAVE", all.timeout_ms + STOP_SLAVE_EXTRA_MS) < 0)
			goto done;
	}
	if (node_query_raw(&x->db, &x->st, ka_deadline_in(all.timeout_ms), err, sizeof err) < 0) {
		snprintf(x->detail, sizeof x->detail, "cannot read it after STOP SLAVE: %.200s", err);
		goto done;
	}
	snprintf(x->result, sizeof x->result, "stopped");
done:
	x->ms = ka_now_ms() - x->t0;
}

/* In a thread: x (stopped) replicates from this node, both threads confirmed. */
static void repoint_attach(struct other *x)
{
	char sql[2000], label[900];
	int64_t t1 = ka_now_ms();

	snprintf(x->result, sizeof x->result, "failed");
	x->use_gtid = strcmp(x->st.slave, x->st.current) ? "current_pos" : "slave_pos";
	change_master_sql(all.cr, "", all.self_host, all.self_port, x->use_gtid, sql, sizeof sql,
			  label, sizeof label);
	if (exec_on(x, "CHANGE MASTER TO this node", sql, all.timeout_ms) < 0 ||
	    exec_on(x, "START SLAVE", "START SLAVE", all.timeout_ms) < 0 || confirm_on(x) < 0)
		goto done;
	snprintf(x->result, sizeof x->result, "ok");
	snprintf(x->detail, sizeof x->detail, "replicates from %s:%u (MASTER_USE_GTID=%s), io=Yes "
		 "sql=Yes", all.self_host, all.self_port, x->use_gtid);
done:
	x->ms += ka_now_ms() - t1;
}

/* In a thread: x's replication runs again as it was (it received what this node lacks:
 * a CHANGE MASTER would delete that from its relay log). */
static void repoint_restore(struct other *x)
{
	if (x->st.nrows)
		exec_on(x, "START SLAVE", "START SLAVE", all.timeout_ms);
}

/* After repoint_stop, in the main thread (the GTID parser is not thread-safe): a stopped
 * node whose history or relay log holds GTIDs this node (mine) lacks -- received after
 * the catch-up looked, e.g. from an old primary cut off from this node only -- is not
 * repointed. Marks the nodes to attach active; returns how many were held back. */
static int repoint_hold_back(const struct ka_gtid_set *mine)
{
	static struct ka_gtid_set io;
	char err[300], desc[300];
	int held = 0;

	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		if (!x->active || strcmp(x->result, "stopped") != 0) {
			x->active = 0;
			continue;
		}
		if (node_history(&x->st, 0, &x->recv, err, sizeof err) < 0 ||
		    node_io_pos(&x->st, &io, err, sizeof err) < 0) {
			snprintf(x->detail, sizeof x->detail, "cannot read its positions whole: "
				 "%.200s; not repointed, its replication started again", err);
			goto hold;
		}
		set_union(&x->recv, &io);
		if (ka_gtid_missing(mine, &x->recv, desc, sizeof desc) == 0)
			continue;
		snprintf(x->detail, sizeof x->detail, "received %.200s this node lacks (after the "
			 "catch-up looked): not repointed, its replication started again", desc);
hold:
		snprintf(x->result, sizeof x->result, "failed");
		x->active = 0;
		x->held = 1;       /* its replication runs again (repoint_restore) */
		held++;
	}
	return held;
}

void others_repoint(struct run *r, struct ka_db *db, char *summary, size_t len)
{
	static struct node_state cur;
	static struct ka_gtid_set mine;
	char detail[400], err[400], ep[80];
	int n = 0, ok = 0;
	struct step *s;

	summary[0] = '\0';
	if (!r->multi || !all.n)
		return;
	if (r->o->dry_run) {
		for (int i = 0; i < all.n; i++)
			if (all.o[i].state == PEER_READ_ONLY && !all.o[i].current)
				plan(r, "repoint %s %s to this node (CHANGE MASTER TO its --self "
				     "address, MASTER_USE_GTID=slave_pos, START SLAVE)",
				     kind_name(&all.o[i]), ep_text(&all.o[i], ep, sizeof ep));
		return;
	}
	if (node_query_state(db, &cur, step_deadline(r), err, sizeof err) < 0 ||
	    node_history(&cur, 0, &mine, err, sizeof err) < 0) {
		ka_log_warn("no node repointed: cannot read this node: %s", err);
		snprintf(summary, len, "; no node repointed: cannot read this node");
		return;
	}
	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		const char *skip = repoint_skip(x, &mine);
		x->active = x->picked = !*skip;
		x->held = 0;
		n += x->active;
		if (*skip && x->state != PEER_UNREACHABLE)
			step_done(r, x, "repoint", "skipped", skip);
	}
	if (!n)
		return;
	s = step_open(r, "self address");
	if (self_address(r, db, detail, sizeof detail) < 0) {
		step_close(r, s, "failed", "%s", detail);
		ka_log_warn("no node repointed: %s", detail);
		snprintf(summary, len, "; %d node(s) not repointed: this node's address is unknown "
			 "(give --self)", n);
		return;
	}
	step_close(r, s, "ok", "%s", detail);
	snprintf(r->self_addr, sizeof r->self_addr, "%s:%u", all.self_host, all.self_port);
	run_active(repoint_stop);
	int held = repoint_hold_back(&mine);
	run_active(repoint_attach);
	if (held) {
		for (int i = 0; i < all.n; i++)
			all.o[i].active = all.o[i].held;
		run_active(repoint_restore);
	}
	for (int i = 0; i < all.n; i++) {
		struct other *x = &all.o[i];
		if (!x->picked)
			continue;
		ok += !strcmp(x->result, "ok");
		step_done(r, x, "repoint", x->result, x->detail);
		if (strcmp(x->result, "ok") != 0)
			ka_log_warn("%s %s not repointed to %s: %s", kind_name(x),
				    ep_text(x, ep, sizeof ep), r->self_addr, x->detail);
	}
	snprintf(summary, len, "; repointed %d of %d node(s) to %s", ok, n, r->self_addr);
}

/* The nodes for the journal ("peers"): endpoint, role, state, and what was done. */
void others_json(const struct run *r, struct ka_json *j)
{
	char ep[80];

	if (!r->multi)
		return;
	ka_json_arr_open(j, "peers");
	for (int i = 0; i < all.n; i++) {
		const struct other *x = &all.o[i];
		ka_json_obj_open(j, NULL);
		ka_json_str(j, "endpoint", ep_text(x, ep, sizeof ep));
		ka_json_str(j, "role", kind_name(x));
		ka_json_str(j, "state", x->state == PEER_ERROR ? "error" : state_word(x->state));
		if (x->st.known && x->state != PEER_UNREACHABLE)
			ka_json_str(j, "gtid_current_pos", x->st.current);
		if (x->current)
			ka_json_bool(j, "current", 1);
		if (x->left_out)
			ka_json_bool(j, "left_out", 1);
		if (x->result[0])
			ka_json_str(j, "repointed", x->result);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
}
