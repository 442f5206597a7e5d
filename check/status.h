/* ka-status: the whole cluster at a glance. One run: every node (and the VIP) is asked
 * in parallel under one deadline (status-probe.c), roles, errant GTIDs and the verdict
 * are derived from the answers (status-verdict.c), then told as a table or JSON
 * (status-output.c) and as Prometheus metrics (status-prom.c); --state-dir adds the
 * last lines of the local journal (status-journal.c). ka-status.c has the options and
 * the --watch loop. */
#ifndef KA_STATUS_H
#define KA_STATUS_H

#include "gtid.h"
#include "optfile.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROG "ka-status"
#define VERSION "0.1.0"
#define ST_MAX_NODES 32
#define ST_MAX_CONNS 8          /* replication connections kept per node */
#define ST_MAX_FINDINGS 48
#define ST_JOURNAL_LINES 5

struct st_addr {
	char host[64];              /* numeric IPv4 or IPv6 address */
	unsigned int port;
};

struct st_opts {
	const char *defaults_file;
	const char *state_dir;
	const char *prom_file;
	struct st_addr node[ST_MAX_NODES], vip;
	size_t nnodes;
	int have_vip;
	long timeout_ms;
	long max_lag;               /* seconds; a replica above it is degraded */
	long watch_s;               /* 0: one run */
	int json, verbose;
	struct ka_optvals creds;    /* user and password from the option file */
};

/* One SHOW ALL SLAVES STATUS row. */
struct st_repl {
	char name[64];              /* Connection_name, "" for the default connection */
	char source[96];            /* Master_Host:Master_Port */
	char io[16], sql[16];       /* Yes / No / Connecting / Preparing */
	long lag;                   /* Seconds_Behind_Master, -1 when NULL */
	long master_server_id;      /* 0 when unknown (never connected) */
	char io_error[256], sql_error[256];
};

struct st_node {
	char addr[80];              /* "127.0.0.1:3306", "[::1]:3306" */
	int answered;               /* the basic query came back */
	int code;                   /* exit code of the failure (2 unreachable, 3 timeout, ...) */
	char error[512];            /* why it did not answer fully, "" when it did */
	const char *role;           /* primary, replica, detached, down, unknown */
	long server_id;
	int read_only;
	char version[64];
	char *current, *slave, *binlog, *state;   /* GTID texts (heap), never NULL once read */
	char semi_master[8], semi_slave[8];       /* ON / OFF / "" unknown */
	int semi_master_enabled;
	int repl_known;             /* SHOW ALL SLAVES STATUS answered */
	struct st_repl repl[ST_MAX_CONNS];
	int nrepl;
	int history_ok;
	struct ka_gtid_set history;
	int errant;                 /* GTID entries the primary lacks; -1 not compared */
	char errant_text[1024];     /* "0-3-12,1-3-4" */
};

struct st_vip {
	char addr[80];
	int answered;
	long server_id;
	int node;                   /* index of the node with that server_id, -1 none */
	char error[512];
};

struct st_journal {
	char path[600];
	char error[300];            /* why it could not be read, "" when it was */
	int n;
	struct { char time[40], event[40], decision[64], code_name[32], reason[512];
		 long code; } line[ST_JOURNAL_LINES];
};

struct st_cluster {
	struct st_node node[ST_MAX_NODES];
	size_t n;
	struct st_vip vip;
	int have_vip;
	int nanswered, nwritable, primary;   /* primary: index when exactly one writable, else -1 */
	int code;                   /* the verdict's exit code */
	const char *verdict;        /* OK, DEGRADED, NO PRIMARY, SPLIT BRAIN, DIVERGED */
	char headline[1024];        /* the verdict's main reason */
	char finding[ST_MAX_FINDINGS][400];   /* everything else worth a look */
	int nfindings;
	char time[40];              /* wall clock of the run */
	int64_t elapsed_ms;
	int have_journal;
	struct st_journal journal;
};

/* status-probe.c: asks every node and the VIP under one deadline and fills c (roles
 * and verdict not yet). Returns 0, or -1 when the run was interrupted by *stop. */
int st_probe(const struct st_opts *o, struct st_cluster *c, volatile sig_atomic_t *stop);

/* Frees what st_probe allocated. */
void st_free(struct st_cluster *c);

/* status-verdict.c: roles, histories, errant GTIDs, findings and the verdict. */
void st_judge(const struct st_opts *o, struct st_cluster *c);

/* status-output.c: the table and the verdict line, or one JSON document. */
void st_print_table(const struct st_opts *o, const struct st_cluster *c, FILE *f);
void st_print_json(const struct st_opts *o, const struct st_cluster *c, FILE *f);

/* status-prom.c: the Prometheus text format into path, atomically (temp + rename).
 * Returns 0 or -1 with err filled. */
int st_write_prom(const struct st_opts *o, const struct st_cluster *c, const char *path,
		  char *err, size_t errlen);

/* status-journal.c: the last ST_JOURNAL_LINES lines of DIR/journal.jsonl into j; a file
 * that cannot be read is told in j->error, never fatal. */
void st_journal_read(const char *dir, struct st_journal *j);

/* Top-level string or number field key of the JSON object in line, into out. Returns 0,
 * or -1 when the line is not a JSON object or has no such field. */
int st_json_field(const char *line, const char *key, char *out, size_t outlen);

#endif
