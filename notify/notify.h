/* ka-notify-mariadb internals shared by its source files: the options, one run (one
 * keepalived event) with its journal record, and the helpers the actions use.
 *
 *   ka-notify-mariadb.c  arguments, credentials, serialization, FIFO loop, main
 *   event.c              decoding keepalived's words and FIFO lines into events
 *   fifo.c               the --fifo reader and its look-ahead for newer events
 *   state.c              state dirs, tickets, the run lock, the fault file, the journal file
 *   journal.c            steps, outcome, the journal line and the printed result
 *   node.c               reading a server (read_only, GTID positions, replication), kills
 *   others.c             several nodes: --peer lists and --replica, probed at once; the
 *                        most-advanced catch-up and the repointing after a promotion
 *   latefence.c          after a promotion: peers judged gone by the greeting budget get
 *                        one more chance, and a writable one is fenced
 *   promote.c demote.c rejoin.c   the actions
 */
#ifndef KA_NOTIFY_H
#define KA_NOTIFY_H

#include "args.h"
#include "conn.h"
#include "db.h"
#include "gtid.h"
#include "tcp.h"

#include <signal.h>
#include <stdint.h>

#define PROG "ka-notify-mariadb"
#define VERSION "0.1.0"

#define POS_LEN KA_GTID_TEXT_MAX /* a GTID position or state as text, read whole or refused */
#define MAX_KEEP_USERS 16
#define MAX_SLAVES 64         /* replication connections per server (more: state unreadable) */
#define MAX_STEPS 64
#define STOP_BUDGET_MS 800    /* keepalived SIGKILLs a STOP notify after 1 s (FACTS 9) */
#define STOP_LOCK_MS 300      /* part of that budget spent waiting for the lock */
#define CATCHUP_SLICE_MS 500  /* MASTER_GTID_WAIT slice between supersession checks */
#define STOP_SLAVE_EXTRA_MS 5000 /* STOP SLAVE takes ~2 s when the source hangs (measured) */
#define PEER_GREETING_MS 60   /* the peer's TCP handshake and greeting, else it is gone */
#define FORCE_SLICE_MS 100    /* read_only=1 waiting for writers: kill them this often */
#define HANDOVER_DEFAULT_S 5  /* switchover: the peer writable within this (switchover.c) */
#define MAX_MARKS 8           /* switchover timeline entries */
#define MAX_OTHERS (2 * KA_MAX_PEERS)   /* --peer and --replica nodes */
#define REPOINT_CONFIRM_MS 2000 /* a repointed node: both threads Yes within this */
#define CATCHUP_CONNECTION "ka_catchup" /* the most-advanced catch-up's connection name */

enum event {
	EV_NONE, EV_MASTER, EV_BACKUP, EV_FAULT, EV_STOP, /* keepalived states */
	EV_CLEAR_FAULT, EV_REJOIN, EV_SWITCHOVER,         /* operator actions */
	EV_IGNORED                                        /* a line or state we do not act on */
};

enum mode { MODE_PR, MODE_MM };

struct opts {
	const char *socket, *host, *defaults_file;
	unsigned int port;
	enum mode mode;
	struct ka_endpoint peer;         /* the first --peer (the peer of a pair) */
	int have_peer;
	struct ka_endpoint peers[KA_MAX_PEERS];   /* --peer IP[:PORT],... */
	int npeer;
	struct ka_endpoint replicas[KA_MAX_PEERS]; /* --replica: repointed, never promoted */
	int nreplica;
	struct ka_endpoint self;         /* --self: this node's address for the others */
	int have_self;
	long catchup_s;
	long hung_retry_s;               /* FAULT/BACKUP on a hung server: keep trying this long */
	long rejoin_retry_s;             /* BACKUP: retry a rejoin that cannot happen yet */
	long timeout_ms;
	long max_lag_s;                  /* switchover: the peer's lag limit */
	long handover_s;                 /* switchover: bound for the peer to become writable */
	const char *fault_file;
	const char *state_dir;           /* NULL: the two defaults below */
	char lock_dir[512];              /* tickets and the run lock */
	char journal_dir[512];           /* journal.jsonl */
	const char *keep_users[MAX_KEEP_USERS];
	size_t nkeep;
	const char *instance, *group;    /* which keepalived notifications to act on */
	const char *fifo;
	int no_kill, no_rejoin, dry_run, verbose, json;
};

/* Credentials and addresses, all from the option file and the command line. */
struct creds {
	struct ka_conn local;            /* [client] account, local address */
	struct ka_optvals repl;          /* [ka-replication] user/password for CHANGE MASTER */
	int have_repl;
	char monitor_user[128];          /* [ka-check-mariadb] user: its checks are not killed */
};

struct slave_row {
	char name[72];                   /* connection name, "" for the default one */
	char host[256];
	unsigned int port;
	char io[16], sql[16];
	char io_state[128];
	char io_pos[POS_LEN];            /* Gtid_IO_Pos: last GTID received */
	char master_log_file[256];       /* file and position received ... */
	char relay_master_log_file[256]; /* ... and executed (file/position replication) */
	char using_gtid[16];             /* No, Slave_Pos, Current_Pos */
	long long read_pos, exec_pos;
	unsigned int io_errno, sql_errno;
	char io_error[256], sql_error[256];
};

struct node_state {
	int known;
	int read_only;
	unsigned long server_id;
	char binlog[POS_LEN], slave[POS_LEN], current[POS_LEN];
	char binlog_state[POS_LEN];      /* gtid_binlog_state: every server's last GTID */
	char unreadable[400];            /* why a position could not be read whole ("": all were) */
	struct slave_row rows[MAX_SLAVES];
	size_t nrows;                    /* configured connections (Master_Host set) */
};

enum peer_state { PEER_NONE, PEER_UNREACHABLE, PEER_ERROR, PEER_READ_ONLY, PEER_WRITABLE };

struct step {
	char name[64];
	char result[16];                 /* ok, failed, skipped, planned */
	char detail[700];
	int64_t t0, ms;
};

/* One event handled from start to journal line. */
struct run {
	const struct opts *o;
	const struct creds *cr;
	enum event ev;
	char event_text[24];             /* "master", "ignored", ... */
	char source[200];                /* how it arrived: argv, notify line, FIFO line */
	long long ticket;                /* 0: none (dry run, operator action, ignored) */
	int64_t started;
	int64_t budget_end;              /* 0: none; STOP: everything ends by then */
	int64_t lock_wait_ms;
	int lock_fd;
	int code;
	char decision[48];
	char reason[1024];
	char operator_action[512];
	char rejoin[1300];               /* rejoin outcome after a BACKUP demote */
	char diverged[768];              /* GTIDs that diverge */
	struct step steps[MAX_STEPS];
	int nsteps, steps_dropped;
	struct step scratch;
	struct node_state before, after, peer;
	enum peer_state peer_state;
	char peer_error[600];
	char local_error[600];           /* why the local server could not be reached */
	int fenced, fence_tried, unfenced;
	int io_killed;                   /* promote: IO threads killed, maybe still ending */
	int fault_written, fault_cleared;
	int killed;
	struct { char name[24]; int64_t at; } marks[MAX_MARKS];   /* switchover timeline */
	int nmarks;
	int64_t write_pause_ms;          /* switchover: read_only=1 here to a writable node */
	struct ka_endpoint peer_ep;      /* the current peer: --peer, or the one chosen of */
	struct ka_dbaddr peer_addr;      /* several (others.c); its address to connect to */
	char self_addr[96];              /* the address the others were repointed to */
	char self_how[24];               /* "--self" or how it was found */
	int multi;                       /* several nodes: others.c took part */
	struct ka_endpoint late[KA_MAX_PEERS];   /* peers judged gone by the greeting budget */
	int nlate;                       /* (no greeting within PEER_GREETING_MS: late_note) */
};

extern volatile sig_atomic_t ka_notify_term;   /* SIGTERM/SIGINT seen (state.c) */

/* event.c: return -1 on malformed input (err filled), else 0 with *ev set; EV_IGNORED
 * comes with why. decode_argv also names the source ("argv master", "notify ..."). */
int decode_argv(const struct opts *o, int n, char **w, enum event *ev, char *source,
		size_t srclen, char *why, size_t whylen, char *err, size_t errlen);
int decode_fifo_line(const struct opts *o, char *line, enum event *ev, char *why,
		     size_t whylen, char *err, size_t errlen);

/* journal.c */
void run_init(struct run *r, const struct opts *o, const struct creds *cr, enum event ev,
	      const char *source);
struct step *step_open(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void step_close(struct run *r, struct step *s, const char *result, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int64_t step_deadline(const struct run *r);
int outcome(struct run *r, int code, const char *decision, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void plan(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *journal_line(const struct run *r, char *buf, size_t len);
void print_result(const struct run *r);
const char *event_name(enum event ev);

/* state.c */
int state_dirs_ready(const struct opts *o, char *err, size_t errlen);
int ticket_take(const struct opts *o, long long *ticket, char *err, size_t errlen);
int ticket_latest(const struct opts *o, long long *ticket, char *err, size_t errlen);
int lock_take(const struct opts *o, int64_t deadline, int *timed_out, char *err, size_t errlen);
void lock_release(int fd);
int journal_append(const struct opts *o, const char *line, char *err, size_t errlen);
int fault_file_write(const char *path, int value, char *err, size_t errlen);
int fault_file_value(const char *path);
int superseded(struct run *r);
void fault_set(struct run *r, const char *why);
int fence_mark_write(const struct opts *o, const struct ka_endpoint *ep, char *err,
		     size_t errlen);
int fence_mark_held(const struct opts *o);
int fence_mark_peer(const struct opts *o, struct ka_endpoint *ep);
void fence_mark_clear(const struct opts *o);
void fault_clear(struct run *r, const char *why);

/* fifo.c: the --fifo reader; fifo_has_newer: a waiting line is a newer event than ev */
int fifo_open(const char *path, char *err, size_t errlen);
char *fifo_next_line(char *err, size_t errlen);
void fifo_close(void);
int fifo_has_newer(const struct opts *o, enum event ev);

/* node.c */
int node_connect(struct run *r, struct ka_db *db, const struct ka_dbaddr *a, const char *who);
int node_query_state(struct ka_db *db, struct node_state *st, int64_t deadline, char *err,
		     size_t errlen);
int node_query_raw(struct ka_db *db, struct node_state *st, int64_t deadline, char *err,
		   size_t errlen);
void node_check_readable(struct node_state *st);
void node_addr_of(const struct run *r, const struct ka_endpoint *ep, struct ka_dbaddr *out);
void run_set_peer(struct run *r, const struct ka_endpoint *ep);
int node_read(struct run *r, struct ka_db *db, const char *who, struct node_state *st);
int node_code(const struct ka_db *db);
void node_read_after(struct run *r, struct ka_db *db);
int node_exec(struct run *r, struct ka_db *db, const char *who, const char *label,
	      const char *sql);
int node_exec_within(struct run *r, struct ka_db *db, const char *who, const char *label,
		     const char *sql, int64_t ms);
int node_set_writable(struct run *r, struct ka_db *db, const char *who, int64_t *settled);
int node_read_only(struct ka_db *db, int64_t deadline, int *ro, char *err, size_t errlen);
int node_force_read_only(struct run *r, struct ka_db *db, const struct ka_dbaddr *addr,
			 const char *who, int64_t ms);
int node_kill_clients(struct run *r, struct ka_db *db, const char *who);
int node_io_connected(const struct node_state *st);
int node_sql_running(const struct node_state *st);
int node_uses_gtid(const struct slave_row *w);
int node_io_pos(const struct node_state *st, struct ka_gtid_set *out, char *err, size_t errlen);
int node_history(const struct node_state *st, int binlog_only, struct ka_gtid_set *out,
		 char *err, size_t errlen);
int gtid_missing(const struct ka_gtid_set *have, const struct ka_gtid_set *from, char *desc,
		 size_t desclen);
void gtid_text(const struct ka_gtid_set *s, char *out, size_t len);
void gtid_wait_target(const struct ka_gtid_set *s, char *out, size_t len);
int peer_probe(struct run *r, struct ka_db *peer);
int node_peer_reask(struct run *r, struct ka_db *peer);
int node_peer_greets(struct run *r, const char *who);
void node_sql_quote(const char *s, char *out, size_t len);

/* others.c: several nodes (see there). others_multi: this run handles more than a pair. */
struct ka_json;
int others_multi(const struct opts *o);
int others_pick_writable(struct run *r, char *why, size_t len, int *code);
int others_promote_probe(struct run *r, struct ka_db *peer, char *decision, size_t dlen,
			 char *why, size_t len);
int others_catch_up(struct run *r, struct ka_db *db, char *decision, size_t dlen, char *why,
		    size_t len);
void others_repoint(struct run *r, struct ka_db *db, char *summary, size_t len);
void others_close(void);
void others_json(const struct run *r, struct ka_json *j);

/* latefence.c: late_note records a peer whose greeting did not come within the budget;
 * late_fence, at the very end of a promotion that succeeded, asks those still judged gone
 * again within one --timeout and fences a writable one. Returns the run's exit code. */
void late_note(struct run *r, const struct ka_endpoint *ep);
int late_fence(struct run *r, struct ka_db *db);

/* promote.c, demote.c, rejoin.c */
int promote(struct run *r);
int demote(struct run *r, struct ka_db *db);
int demote_hung_retry(struct run *r, struct ka_db *db);
void unfence_on_demote(struct run *r, struct ka_db *db);
int rejoin(struct run *r, struct ka_db *db);

/* mark.c: after read_only=0 over an unreachable peer, one transaction of the promoted
 * lineage (gtid: its GTID, "" when not written; best effort) */
void promotion_mark(struct run *r, struct ka_db *db, char *gtid, size_t len);

/* switchover.c: the operator's planned switchover, run on the VIP holder */
int switchover(struct run *r);

#endif
