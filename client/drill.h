/* ka-drill's record of a run: every write's fate, errors, switches, phases, outages,
 * and the verification of each node. ka-drill.c runs the writes, record.c keeps the
 * books, verify.c checks the rows, report.c prints. */
#ifndef KA_DRILL_H
#define KA_DRILL_H

#include "failover.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define DRILL_PROG "ka-drill"
#define DRILL_MAX_WRITES 10000000u /* writes of one run at most (1 byte each) */
#define DRILL_MAX_EVENTS 1000      /* errors kept (all are counted) */
#define DRILL_MAX_SWITCHES 256
#define DRILL_MAX_PHASES 64
#define DRILL_MAX_OUTAGES 256
#define DRILL_MAX_PENDING 1024     /* ambiguous writes awaiting their lookup */
#define DRILL_MAX_NODES (2 * KA_FO_MAX_ENDPOINTS)
#define DRILL_NAME 80

/* Fate of one write, by sequence number. */
enum wstate {
	W_NONE = 0,     /* not attempted */
	W_ACKED,        /* the server said OK, or a lookup found it after an ambiguous loss */
	W_FAILED,       /* definitely not executed (not sent, or the server refused it) */
	W_AMBIGUOUS     /* lost after sending, not resolved yet */
};

struct drill_opts {
	struct ka_fo_config fo;        /* endpoints, timeouts (credentials filled later) */
	struct ka_fo_endpoint extra[KA_FO_MAX_ENDPOINTS]; /* --verify-hosts */
	size_t nextra;
	const char *defaults_file;
	char database[65];
	long rate, duration_s, timeout_ms, failover_timeout_ms;
	long retry_interval_ms, retry_timeout_ms;   /* the library's failover pacing */
	long hung_probe_ms;            /* the library's hung_probe_ms, 0 off */
	int verify_all, json, verbose;
};

struct drill_event {           /* one failed write or resolution */
	int64_t t_ms;
	unsigned int err;          /* errno, 0 for a deadline */
	char kind[20];             /* ka_fo_rc_name() */
	char server[DRILL_NAME];
	char msg[200];
};

struct drill_switch {
	int64_t t_ms, down_ms;
	char from[DRILL_NAME], to[DRILL_NAME];
	unsigned long from_server_id, to_server_id;
	unsigned int err;
	char reason[200];
};

struct drill_phase {           /* consecutive acknowledged writes on one server */
	char server[DRILL_NAME];
	unsigned long server_id;
	int64_t start_ms, end_ms;
	unsigned long acknowledged;
};

struct drill_outage {          /* first failed attempt after a success .. next ack */
	int64_t start_ms, end_ms;
	unsigned long failed;
	int open;                  /* the run ended inside it */
};

/* Replication of a node other than the primary, as its SHOW SLAVE STATUS says. */
enum repl_state {
	REPL_UNKNOWN = 0,  /* not checked or could not be (unreachable, no SLAVE MONITOR) */
	REPL_OK,           /* both threads run, source is the final primary */
	REPL_BROKEN,       /* stopped on an error that means divergence (SQL thread, 1236) */
	REPL_STOPPED,      /* SQL thread not running, no error */
	REPL_CONNECTING,   /* IO thread not running or connecting, no divergence error */
	REPL_NOT_REPLICA,  /* no replication configured */
	REPL_OTHER_SOURCE, /* replicates from another server than the final primary */
	REPL_SELF          /* the final primary itself, reached by another address */
};

struct drill_node {            /* verification on one server */
	char server[DRILL_NAME];
	int primary, reachable, caught_up;
	int not_writer;            /* primary: reached a read-only or another server */
	unsigned long server_id;
	unsigned long rows, missing, duplicated, unacked_present;
	unsigned long amb_present, amb_absent;
	char error[512];
	enum repl_state repl;
	unsigned int repl_errno;
	unsigned long repl_source_id;  /* Master_Server_Id */
	char repl_error[320];
};

struct drill {
	struct drill_opts o;
	struct ka_fo fo;
	uint32_t run;              /* random run id: ids are run << 32 | seq */
	char run_hex[12];
	int64_t t0, t_end;         /* ka_now_ms() at the first write and after the last */
	volatile sig_atomic_t *stop;

	unsigned char *state;      /* enum wstate by seq, 1..cap */
	uint32_t cap, next_seq;    /* next_seq - 1 writes attempted */
	int full;                  /* stopped because the write log was full */

	unsigned long attempted, acknowledged, failed, ambiguous;
	unsigned long amb_committed, amb_reinserted;
	unsigned long resolution_restarts; /* resolutions started over after a switch */
	struct drill_pending {     /* an ambiguous write and the session that sent it */
		uint32_t seq;
		unsigned long thread_id, server_id;
	} pending[DRILL_MAX_PENDING];
	size_t npending;
	unsigned long pending_dropped;

	struct drill_event events[DRILL_MAX_EVENTS];
	size_t nevents;
	unsigned long errors_total;
	struct drill_switch switches[DRILL_MAX_SWITCHES];
	size_t nswitches;
	unsigned long switches_total;
	struct drill_phase phases[DRILL_MAX_PHASES];
	size_t nphases;
	struct drill_outage outages[DRILL_MAX_OUTAGES];
	size_t noutages;
	unsigned long outages_total;
	int in_outage;
	struct drill_outage cur_outage, longest;
	int64_t last_ack_ms;       /* -1 before the first */
	int64_t max_write_ms;

	/* verification */
	int verified;              /* the primary answered the verification */
	struct drill_node nodes[DRILL_MAX_NODES];
	size_t nnodes;
	unsigned long lost, duplicated, unacked_present;
	unsigned long not_caught_up;  /* rows missing on a node that is not caught up */
	unsigned long amb_not_committed, amb_unresolved, amb_unfenced;
	enum repl_state replication;  /* the worst other node: summary of the check */
	int repl_checked;             /* nodes other than the primary were checked */

	int code;
	char reason[768];
};

/* record.c */
int drill_record_init(struct drill *d, uint32_t cap, char *err, size_t errlen);
void drill_record_free(struct drill *d);
int64_t drill_ms(const struct drill *d);           /* ms since the run began */
uint64_t drill_id(const struct drill *d, uint32_t seq);
/* Opens an outage at t_start_ms unless one is open (the next ack closes it). */
void drill_open_outage(struct drill *d, int64_t t_start_ms);
void drill_ack(struct drill *d, uint32_t seq, int64_t t_ms, const char *server,
	       unsigned long server_id);
void drill_fail(struct drill *d, int64_t t_start_ms, int rc, unsigned int err,
		const char *server, const char *msg);
void drill_add_pending(struct drill *d, uint32_t seq, unsigned long thread_id,
		       unsigned long server_id);
void drill_on_switch(const struct ka_fo_switch *sw, void *arg);
void drill_close_outage(struct drill *d, int64_t t_end_ms);

/* verify.c: fills nodes, lost, duplicated...; returns the exit code. */
int drill_verify(struct drill *d);
const char *drill_repl_name(enum repl_state r);
const char *drill_replication_summary(const struct drill *d);

/* report.c */
void drill_print_json(const struct drill *d);
void drill_print_human(const struct drill *d);
void drill_print_progress(const struct drill *d);

#endif
