/* The checker's probe of one MariaDB node, shared by ka-check-mariadb (one run per
 * keepalived interval) and the watcher (one session, many probes).
 *
 * A probe asks, in order, under one deadline: the basics (read_only and what the node
 * holds: gtid_binlog_state, gtid_slave_pos, gtid_current_pos), the replication
 * connections (when asked), the witnesses (when named) and the peers (when named and
 * the local node is writable). The first condition that fails decides the exit code
 * (lib/exitcode.h); the rules are in ka-check-mariadb(8):
 *
 * - Ahead is lineage (lib/gtid.h): a writable peer whose history holds what this node
 *   lacks, and lacks nothing of ours, is ahead: exit 11. Diverged histories (each holds
 *   what the other lacks) fail closed on both nodes (exit 11, no tie-break).
 * - A peer counts as gone only on evidence: refused TCP, no route, or a connect that
 *   timed out. A peer that answers but cannot be queried (login refused, no grant,
 *   saturated, an error) fails closed: exit 11.
 * - Several peers (every other database node) are asked at once, each with the whole
 *   time left (one thread each), and judged one by one as above: a writable node stays
 *   fit only when no peer fails it. The first peer in list order that gives exit 11
 *   decides; else the first that fails (1 or 3).
 * - A witness answers when the TCP handshake completes and it sends at least one byte
 *   (unless connect_only). Local addresses are refused by the caller (ka_ip_is_local).
 * - A network step that has less than a quarter of the timeout left when it starts and
 *   runs out of time is "not asked: deadline spent" (exit 3), never isolated/unreachable.
 */
#ifndef KA_PROBE_H
#define KA_PROBE_H

#include "args.h"
#include "db.h"
#include "gtid.h"
#include "tcp.h"

#include <stdint.h>

#define KA_PROBE_MAX_WITNESSES 8

struct ka_probe_opts {
	long timeout_ms;           /* the whole run's budget (for the network steps' share) */
	int replication;           /* judge SHOW ALL SLAVES STATUS */
	long max_lag;              /* -1: no limit */
	int expect_ro;             /* -1: no expectation */
	struct ka_endpoint witness[KA_PROBE_MAX_WITNESSES];
	size_t nwitness;
	int witness_connect_only;  /* a completed handshake is enough (weaker) */
	struct ka_endpoint peer[KA_MAX_PEERS];   /* --peer: every other database node */
	int npeer;
};

/* What the guard found about one peer. */
struct ka_probe_peer {
	char ep[80];               /* "192.0.2.12:3306" */
	char state[16];            /* as ka_probe_result.peer; "" when the peer's answer was
				      unusable (too long) or the guard was not reached */
};

/* What a probe found; every field is meaningful whatever the outcome. */
struct ka_probe_result {
	int code;
	char reason[8192];
	int connected;
	int read_only;             /* -1 unknown */
	char gtid[KA_GTID_TEXT_MAX];          /* gtid_current_pos */
	char binlog_state[KA_GTID_TEXT_MAX];  /* gtid_binlog_state */
	char slave_pos[KA_GTID_TEXT_MAX];     /* gtid_slave_pos */
	int replica;               /* a replication connection is configured */
	int detached;              /* --replication, read-only, none configured */
	char io[16], sql[16];
	long lag;                  /* -1 NULL/unknown */
	char witness[80];          /* endpoint that answered, "not-asked", or "" (none) */
	char peer[16];             /* "", "unreachable", "read-only", "writable",
				      "writable-stale", "unqueryable", "not-asked"; with
				      several peers the state of the one that decided a
				      failure, else the weightiest (writable-stale, writable,
				      read-only, unreachable) */
	struct ka_probe_peer peers[KA_MAX_PEERS];   /* each peer, in --peer order */
	char note[2048];           /* a warning the caller should log, or "" */
	char peer_why[2048];       /* why gone peers count as gone (for --verbose) */
};

/* Resets r to "nothing known yet". */
void ka_probe_result_init(struct ka_probe_result *r);

/* Opens the session to the local node. Returns the exit code (0 when connected). */
int ka_probe_connect(struct ka_db *db, const struct ka_dbaddr *addr,
		     struct ka_probe_result *r, int64_t deadline);

/* Probes the node behind the open session db; peer sessions use local's credentials.
 * Returns the exit code, also in r->code with r->reason. */
int ka_probe_node(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		  struct ka_db *db, struct ka_probe_result *r, int64_t deadline);

/* One probe over a long-lived session (the watcher): resets r, opens *db when it is
 * closed, probes, and when an open session turns out lost (the server closed or killed
 * it: a connection error, not a timeout) reconnects once within the same deadline and
 * probes again, so a killed connection to a healthy server is no failure. Leaves *db
 * closed after a timeout or a connection error (a cancelled session is dead, FACTS 41).
 * Returns the exit code, also in r->code with r->reason. */
int ka_probe_session(const struct ka_probe_opts *o, const struct ka_dbaddr *local,
		     struct ka_db *db, struct ka_probe_result *r, int64_t deadline);

#endif
