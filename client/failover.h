/* Client-side failover for applications on the MariaDB C API: the seed's
 * failover(conn, errno), made safe.
 *
 * An application names its endpoints (a VIP alone, or server 1 then server 2) and runs
 * its statements through ka_fo_exec(). Only a lost connection (2002, 2003, 2006, 2013,
 * 2055, or a statement deadline that passed) moves the session: it is closed and the
 * library reconnects, starting with the endpoint after the one that failed, inside one
 * total deadline; each switch is reported to a callback. Every other error (duplicate
 * key, syntax, read-only, access) is the caller's: it is returned as it is and the
 * session stays where it was.
 *
 * How a failover retries: passes over the endpoint list begin retry_interval_ms (25)
 * apart, never closer (a pass that fails at once sleeps the rest: no busy loop), until
 * one endpoint answers as a writer, failover_timeout_ms has passed, or max_rounds
 * passes were made. While a failover is in progress (a session was lost and no new one
 * is open yet) each connect attempt -- TCP handshake, login and the @@read_only look --
 * is cut after retry_connect_timeout_ms (200) when that is shorter than
 * connect_timeout_ms: a SYN to a VIP that is moving gets no answer (the kernel would
 * send it again only after 1 s), a hung server accepts TCP but never greets; a fresh
 * attempt 25 ms later finds the VIP's new holder. A refused connect (RST: the address
 * answered, mysqld is down) fails in microseconds and is tried again at the next pass.
 * The first connect (ka_fo_open, or a later one when no session was ever open) gives
 * each attempt the whole connect_timeout_ms. So the client is back within about one
 * interval (plus one cut attempt at most) of the server being back, not after a sleep.
 * The cost: a client makes up to 1000 / retry_interval_ms passes a second while the
 * VIP moves, each a login on every live endpoint that is still read-only; and a login
 * slower than retry_connect_timeout_ms never succeeds during a failover (raise it for a
 * server that is that slow; each login cut on a hung server that resumes counts as an
 * aborted connection there, Aborted_connects).
 *
 * A hung server: a statement sent to a server that then hangs (SIGSTOP, a stalled disk)
 * gets neither an answer nor an error, and the VIP moves to the promoted node while the
 * session still waits on the frozen one. So once a statement on the writer session has
 * waited hung_probe_ms (250) for its answer, the library makes side connections to the
 * SAME endpoint, hung_probe_interval_ms (50) apart, each cut after hung_probe_timeout_ms
 * (50), and asks @@read_only and @@server_id (the connect's own look). When one reaches a
 * writable server with another @@server_id than the session's, the endpoint has moved:
 * the session is closed as if the server had dropped it (2013, "abandoned") and the
 * rules below decide, exactly as for a 2013 (an autocommit write is KA_FO_AMBIGUOUS, an
 * idempotent one is re-run on the new server). A side connection that fails, times out or
 * reaches the same server changes nothing: the statement waits on, query_timeout_ms at
 * most. The cost: a statement slower than hung_probe_ms on a live server makes a login
 * every hung_probe_interval_ms while it runs (20 a second, each side session closed at
 * once; they show in the server's Connections); 0 turns it off. The endpoint must lead to
 * one writer at a time (a VIP, a single server): behind a balancer that spreads
 * connections over several writable servers (master-master behind LVS or a proxy) a side
 * connection could reach the other writer and abandon a slow statement that was fine --
 * turn it off there. Only statements on the writer session are watched, and only when
 * its @@server_id is known; not the read session, not ka_fo_fence's looks, not connects
 * (during a failover each attempt is cut after retry_connect_timeout_ms anyway).
 *
 * The ambiguity: when a connection is lost after a statement was sent (2013, 2055, or
 * the deadline passed while waiting for the answer), the client cannot know whether the
 * server executed it. For a statement that commits (an autocommit INSERT, a COMMIT) the
 * commit may have happened on the old server and even reached the new one by
 * replication. Re-running it could write twice, not re-running it could lose it. So the
 * library re-runs such a statement only when the caller marks it KA_FO_IDEMPOTENT (or
 * KA_FO_READ); otherwise it reconnects and returns KA_FO_AMBIGUOUS, and the caller
 * resolves it, best by a client-chosen unique id: look the id up on the new server,
 * present => it committed, absent => it did not (run it again). ka-drill does exactly
 * that. A statement that was provably not sent (the session was found closed before
 * sending, or 2006: the send itself failed) is re-run on the new server, unless the
 * lost session held a transaction: then it returns KA_FO_TXN_LOST (redo it from BEGIN).
 * A session holds a transaction when the server's last answer said so
 * (SERVER_STATUS_IN_TRANS) or said autocommit is off (SET autocommit=0: the next
 * statement opens one; on a new session it would run with autocommit on and commit at
 * once, so a later ROLLBACK would undo nothing).
 *
 * What the library guarantees:
 * - a statement is re-run on a new session only when it was provably not sent and the
 *   lost session held no transaction, or when the caller flagged it idempotent (or a
 *   read) and no transaction was open; a statement flagged KA_FO_PINNED is never
 *   re-run on a new session;
 * - every wait is bounded (query_timeout_ms, connect_timeout_ms, failover_timeout_ms,
 *   max_rounds; a side connection by hung_probe_timeout_ms and the statement's deadline),
 *   retries are spaced (retry_interval_ms, at least 5 ms), and a new writer session
 *   answered @@read_only=0 (check_writable);
 * - KA_FO_AMBIGUOUS and KA_FO_TXN_LOST come back to the caller, never hidden.
 * What it does not:
 * - a new session is a new session: NO session state is restored. Not autocommit,
 *   sql_mode, time_zone, character set changes, the default database of a USE (the
 *   one of cfg.database is set again), user variables (@x), temporary tables, prepared
 *   statements, session variables of any kind, locks (LOCK TABLES, GET_LOCK). A caller
 *   that sets any of them must set them again after a switch (on_switch, or a
 *   KA_FO_TXN_LOST / KA_FO_AMBIGUOUS answer) and must not let a statement that depends
 *   on them be re-run alone: flag it KA_FO_PINNED or keep autocommit off;
 * - it cannot say whether an ambiguous statement committed (the caller looks it up),
 *   nor fence an old primary that is hung rather than dead: a statement sitting in its
 *   socket buffer can still run when it resumes (ka-drill's replication check shows
 *   the result);
 * - no automatic failback, no read-your-writes on the read session.
 *
 * Not thread-safe: one struct ka_fo per thread. The library never prints or exits.
 */
#ifndef KA_FAILOVER_H
#define KA_FAILOVER_H

#include "db.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define KA_FO_MAX_ENDPOINTS 8

/* Flags for ka_fo_exec(). */
#define KA_FO_IDEMPOTENT 0x1 /* safe to run twice: re-run after an ambiguous loss */
#define KA_FO_READ       0x2 /* a read: may go to the second server, implies IDEMPOTENT */
#define KA_FO_PINNED     0x4 /* runs on the current writer session (opened first if
			      * there is none, a switch) or not at all: never re-run
			      * on a new one (KA_FO_TXN_LOST: not executed,
			      * KA_FO_AMBIGUOUS: sent); never on the read session;
			      * for work tied to one server, like a look-up after
			      * ka_fo_fence() */

/* What ka_fo_exec() returns. */
enum ka_fo_rc {
	KA_FO_OK = 0,
	KA_FO_SQL_ERROR = -1,   /* the server answered with an error: no failover */
	KA_FO_UNAVAILABLE = -2, /* no endpoint usable within the deadline: not executed
				 * (an idempotent statement may have run once) */
	KA_FO_AMBIGUOUS = -3,   /* sent, then the connection was lost: may have committed */
	KA_FO_TXN_LOST = -4     /* not executed: the lost session held a transaction (or
				 * autocommit off: rolled back), or the statement was
				 * KA_FO_PINNED and its session was gone before sending */
};

struct ka_fo_endpoint {
	char host[64];        /* numeric IPv4 or IPv6 address */
	unsigned int port;
};

/* What the switch callback gets; pointers are valid during the call only. */
struct ka_fo_switch {
	int64_t at_ms;            /* ka_now_ms() when the new session was ready */
	int64_t down_ms;          /* from the loss to the new session */
	int from, to;             /* endpoint indexes (from = to after a VIP reconnect) */
	const char *from_name;    /* "192.0.2.100:3306" */
	const char *to_name;
	unsigned long from_server_id, to_server_id;
	unsigned int err;         /* errno that caused it, 0 for a timeout or a caller's drop */
	const char *reason;       /* what went wrong on the old session */
};

struct ka_fo_config {
	struct ka_fo_endpoint ep[KA_FO_MAX_ENDPOINTS];
	size_t n;                      /* number of endpoints, in order of preference */
	const char *user, *password, *database;  /* kept as pointers: keep them alive */
	int64_t connect_timeout_ms;    /* one connect attempt, login and @@read_only look
				        * included (default 1000) */
	int64_t retry_connect_timeout_ms; /* one connect attempt while failing over, when
				        * shorter than connect_timeout_ms (default 200; 0: use
				        * connect_timeout_ms) */
	int64_t retry_interval_ms;     /* passes over the endpoints begin this far apart
				        * (default 25; less than 5 counts as 5) */
	int64_t query_timeout_ms;      /* one statement, answer included (default 5000) */
	int64_t failover_timeout_ms;   /* one whole failover, all attempts (default 10000) */
	int max_rounds;                /* passes over the endpoint list at most (default 0:
				        * as many as failover_timeout_ms allows) */
	int64_t hung_probe_ms;         /* a statement without an answer this long makes
				        * side connections to its endpoint: see "A hung
				        * server" above (default 250; 0: off) */
	int64_t hung_probe_timeout_ms; /* one side connection, login and look included
				        * (default 50) */
	int64_t hung_probe_interval_ms; /* side connections begin this far apart (default
				        * 50; less than 5 counts as 5) */
	int check_writable;            /* skip endpoints answering @@read_only=1 (default 1) */
	int read_secondary;            /* KA_FO_READ goes to another endpoint (default 0) */
	void (*on_switch)(const struct ka_fo_switch *sw, void *arg); /* may be NULL */
	void *arg;
	volatile sig_atomic_t *cancel; /* when set non-zero, waits and retries stop early */
};

struct ka_fo {
	struct ka_fo_config cfg;
	struct ka_db db;               /* the writer session; db.my is NULL when closed */
	int cur;                       /* its endpoint, -1 when closed */
	int last;                      /* endpoint of the previous session, -1 before any */
	unsigned long server_id;       /* @@server_id of the writer session */
	unsigned long last_server_id;
	struct ka_db rdb;              /* the read session (read_secondary), or closed */
	int rcur;
	int64_t rdown_until;           /* no read-session attempt before this time */
	unsigned int err;              /* errno of the last failure (0: timeout or none) */
	int timed_out;                 /* the last failure was a deadline */
	int at_connect;                /* the last failure came from a connect attempt */
	int64_t lost_at;               /* when the writer session was lost, 0 when not */
	unsigned int lost_err;
	char lost_reason[256];
	unsigned long switches;        /* sessions opened after a loss */
	unsigned long hung_probes;     /* side connections made (hung_probe_ms) */
	unsigned long hung_abandoned;  /* statements abandoned because the endpoint moved */
	int64_t hard_deadline;         /* ka_now_ms() time after which no attempt starts; 0 none */
	char names[KA_FO_MAX_ENDPOINTS][80]; /* "IP:PORT" of each endpoint */
	unsigned long amb_thread_id;   /* session of the last ambiguous statement, 0 none */
	unsigned long amb_server_id;   /* and its server */
};

/* Fills cfg with the defaults above and no endpoint. */
void ka_fo_defaults(struct ka_fo_config *cfg);

/* Appends "IP:PORT[,IP:PORT...]" (port default_port when left out) to cfg's endpoints.
 * Returns 0 or -1 with err filled. */
int ka_fo_parse_endpoints(struct ka_fo_config *cfg, const char *list,
			  unsigned int default_port, char *err, size_t errlen);

/* Prepares fo and connects to the first usable endpoint (bounded by the failover
 * deadline). Returns 0, or -1 with err filled; fo is usable either way (ka_fo_exec
 * connects later) and must be closed with ka_fo_close(). */
int ka_fo_open(struct ka_fo *fo, const struct ka_fo_config *cfg, char *err, size_t errlen);

/* Runs one statement on the writer session (or the read session for KA_FO_READ),
 * failing over on a lost connection as the header comment says. *res (when res is not
 * NULL) gets the stored result or NULL. Returns an enum ka_fo_rc; err filled unless OK. */
int ka_fo_exec(struct ka_fo *fo, const char *sql, int flags, MYSQL_RES **res,
	       char *err, size_t errlen);

/* After KA_FO_AMBIGUOUS, before looking the write up: makes sure the lost statement can
 * no longer commit behind the lookup's back. When the writer session is on the same
 * server (same @@server_id) as the lost one, waits until the lost session's thread is
 * gone from the PROCESSLIST, killing it (KILL CONNECTION, allowed on one's own
 * sessions) if needed, within the statement deadline. The look and the KILL run on
 * that one session, never re-run elsewhere; after a lost connection the server_id is
 * compared again, so a thread id is never looked up or killed on another server. A
 * different server is taken as fenced: after a proper promotion the old primary no
 * longer feeds it. The fence holds for the writer session it returns on: look the
 * write up on that session (KA_FO_PINNED) and start over when it moved (fo->switches
 * changed). Returns 0 when fenced, -1 (err filled) when unsure: look up later. */
int ka_fo_fence(struct ka_fo *fo, char *err, size_t errlen);

/* The seed's entry point, for code that calls mysql_* on ka_fo_mysql() itself: after a
 * failed call with errno err, returns 0 when err is not a connection error (nothing
 * done: handle it), 1 when the session moved to a new endpoint (re-run the statement
 * only if it was not sent or is idempotent), 2 when it moved but the lost session held
 * a transaction or had autocommit off (never re-run the statement alone: redo the
 * transaction, and SET autocommit=0 again if you want it), -1 when no endpoint is
 * usable (err filled). */
int ka_failover(struct ka_fo *fo, unsigned int err, char *errbuf, size_t errlen);

/* Makes sure a writer session exists (reconnecting as a failover would).
 * Returns 0 or -1 with err filled. */
int ka_fo_connect(struct ka_fo *fo, char *err, size_t errlen);

/* Drops the writer session on the caller's word (e.g. it answered 1290, read-only):
 * the next statement reconnects, starting with the next endpoint. */
void ka_fo_disconnect(struct ka_fo *fo, const char *reason);

/* 1 for 2002, 2003, 2006, 2013, 2055: the errors that mean the connection is gone. */
int ka_fo_is_connection_error(unsigned int err);

/* The writer session's handle, or NULL when closed. Blocking mysql_* calls work on it,
 * but without a deadline: a hung server hangs them (ka_fo_exec never does). */
MYSQL *ka_fo_mysql(struct ka_fo *fo);

/* "IP:PORT" of the writer session's endpoint, or NULL when closed. */
const char *ka_fo_current(const struct ka_fo *fo);

/* "IP:PORT" of endpoint i into buf. */
const char *ka_fo_endpoint_name(const struct ka_fo *fo, int i, char *buf, size_t len);

/* Exit code (lib/exitcode.h) for the last failure: 2 unreachable, 3 timeout, 4 denied... */
int ka_fo_exit_code(const struct ka_fo *fo);

/* Name of a ka_fo_exec() result: "ok", "sql-error", "unavailable", "ambiguous",
 * "transaction-lost". */
const char *ka_fo_rc_name(int rc);

/* Closes every session. */
void ka_fo_close(struct ka_fo *fo);

#endif
