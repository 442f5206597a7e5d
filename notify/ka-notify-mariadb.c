/* ka-notify-mariadb: keepalived notify handler that promotes, demotes and rejoins the
 * local MariaDB without losing a write or leaving two writable primaries.
 *
 * How an event is handled: keepalived calls us as notify_master/backup/fault/stop
 * (one word), as the generic notify (INSTANCE|GROUP NAME STATE PRIORITY), or once as
 * the notify FIFO reader (--fifo PATH: one event per line, handled in order until
 * SIGTERM). Each event: take a ticket (state.c), wait for the run lock (bounded), give
 * up if a newer event took a ticket meanwhile ("latest wins", FACTS 9), then act:
 * MASTER promotes (promote.c), BACKUP/FAULT/STOP demote (demote.c), BACKUP also
 * rejoins the peer (rejoin.c). Every SQL statement is bounded by --timeout. Each event
 * ends with one JSON line in the journal and one result line on stdout.
 * Operators also run `clear-fault` (lift a FAULT we forced) and `rejoin`.
 */
#include "notify.h"

#include "args.h"
#include "conn.h"
#include "deadline.h"
#include "exitcode.h"
#include "log.h"
#include "optfile.h"
#include "sig.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_LOCK_DIR "/run/ka-mariadb"
#define DEFAULT_JOURNAL_DIR "/var/lib/ka-mariadb"

static const char *const client_groups[] = { "client", "client-server", "client-mariadb",
					      PROG, NULL };
static const char *const repl_groups[] = { "ka-replication", NULL };
static const char *const monitor_groups[] = { "ka-check-mariadb", NULL };

static char keep_buf[1024];

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [--socket PATH | --host IP [--port N]] [--defaults-file FILE]\n"
"       [--mode primary-replica|master-master] [--peer IP[:PORT][,IP[:PORT]...]]\n"
"       [--replica IP[:PORT][,...]] [--self IP[:PORT]] [--fault-file PATH]\n"
"       [--state-dir DIR] [--timeout MS] [--catchup-timeout SECONDS] [--hung-retry SECONDS]\n"
"       [--rejoin-retry SECONDS] [--keep-user USER[,USER...]] [--instance NAME | --group NAME]\n"
"       [--max-lag SECONDS] [--handover-timeout SECONDS]\n"
"       [--no-kill] [--no-rejoin] [--dry-run] [--json] [--verbose]\n"
"       master | backup | fault | stop | INSTANCE|GROUP NAME STATE PRIORITY | --fifo PATH\n"
"       " PROG " [options] clear-fault | rejoin | switchover [options]\n"
"       " PROG " --list-exit-codes | --help | --version\n");
}

static int parse_keep_users(struct opts *o, const char *list, char *err, size_t errlen)
{
	size_t used = strlen(keep_buf);
	char *tok, *save = NULL, *start = keep_buf + used + (used ? 1 : 0);

	if (used + strlen(list) + 2 > sizeof keep_buf) {
		snprintf(err, errlen, "--keep-user list too long");
		return -1;
	}
	strcpy(start, list);
	for (tok = strtok_r(start, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nkeep == MAX_KEEP_USERS) {
			snprintf(err, errlen, "too many users for --keep-user (at most %d)",
				 MAX_KEEP_USERS);
			return -1;
		}
		o->keep_users[o->nkeep++] = tok;
	}
	return 0;
}

static int parse_mode(struct opts *o, const char *s, char *err, size_t errlen)
{
	if (!strcmp(s, "primary-replica"))
		o->mode = MODE_PR;
	else if (!strcmp(s, "master-master"))
		o->mode = MODE_MM;
	else {
		snprintf(err, errlen, "invalid value '%s' for --mode: expected primary-replica or "
			 "master-master", s);
		return -1;
	}
	return 0;
}

/* One option of getopt_long into o. Returns 0, -1 (usage error) or 1 (done: --help). */
static int apply_option(struct opts *o, int c, char **argv, char *err, size_t errlen)
{
	long v;

	switch (c) {
	case 'S': o->socket = optarg; return 0;
	case 'h': o->host = optarg; return 0;
	case 'P':
		if (ka_parse_long("--port", optarg, 1, 65535, &v, err, errlen) < 0)
			return -1;
		o->port = (unsigned)v;
		return 0;
	case 'f': o->defaults_file = optarg; return 0;
	case 'm': return parse_mode(o, optarg, err, errlen);
	case 'p':
		return ka_parse_hostport_list("--peer", optarg, 3306, o->peers, KA_MAX_PEERS,
					      &o->npeer, err, errlen);
	case 'e':
		return ka_parse_hostport_list("--replica", optarg, 3306, o->replicas,
					      KA_MAX_PEERS, &o->nreplica, err, errlen);
	case 's':
		o->have_self = 1;
		return ka_parse_hostport("--self", optarg, 3306, o->self.host, sizeof o->self.host,
					 &o->self.port, err, errlen);
	case 'c': return ka_parse_long("--catchup-timeout", optarg, 0, 3600, &o->catchup_s, err,
				       errlen);
	case 'J': return ka_parse_long("--rejoin-retry", optarg, 0, 3600, &o->rejoin_retry_s,
				       err, errlen);
	case 'r': return ka_parse_long("--hung-retry", optarg, 0, 3600, &o->hung_retry_s, err,
				       errlen);
	case 'F': o->fault_file = optarg; return 0;
	case 'd': o->state_dir = optarg; return 0;
	case 't': return ka_parse_long("--timeout", optarg, 10, 60000, &o->timeout_ms, err,
				       errlen);
	case 'k': return parse_keep_users(o, optarg, err, errlen);
	case 'i': o->instance = optarg; return 0;
	case 'g': o->group = optarg; return 0;
	case 'I': o->fifo = optarg; return 0;
	case 'L': return ka_parse_long("--max-lag", optarg, 0, 86400, &o->max_lag_s, err,
				       errlen);
	case 'O': return ka_parse_long("--handover-timeout", optarg, 1, 600, &o->handover_s,
				       err, errlen);
	case 'K': o->no_kill = 1; return 0;
	case 'R': o->no_rejoin = 1; return 0;
	case 'n': o->dry_run = 1; return 0;
	case 'j': o->json = 1; return 0;
	case 'v': o->verbose = 1; return 0;
	default:
		return ka_args_common(c, PROG " " VERSION, usage, argv, err, errlen);
	}
}

/* An address given twice across --peer, --replica and --self: -1 with err filled. */
static int check_nodes(const struct opts *o, char *err, size_t errlen)
{
	const struct ka_endpoint *all[2 * KA_MAX_PEERS + 1];
	const char *opt[2 * KA_MAX_PEERS + 1];
	char t[80];
	int n = 0;

	for (int i = 0; i < o->npeer; i++, n++)
		all[n] = &o->peers[i], opt[n] = "--peer";
	for (int i = 0; i < o->nreplica; i++, n++)
		all[n] = &o->replicas[i], opt[n] = "--replica";
	if (o->have_self)
		all[n] = &o->self, opt[n++] = "--self";
	for (int i = 0; i < n; i++)
		for (int k = 0; k < i; k++)
			if (ka_endpoint_same(all[i], all[k])) {
				snprintf(err, errlen, "address '%s' given to both %s and %s: every node "
					 "once", ka_endpoint_text(all[i], t, sizeof t), opt[k], opt[i]);
				return -1;
			}
	return 0;
}

/* Cross-option rules once everything is parsed. */
static int check_options(struct opts *o, char *err, size_t errlen)
{
	char host[64];
	unsigned int port;

	if (o->npeer > 1 && o->mode == MODE_MM)
		snprintf(err, errlen, "--mode master-master takes one --peer (got %d): a "
			 "master-master pair has no third writer; add read-only nodes with "
			 "--replica", o->npeer);
	else if (check_nodes(o, err, errlen) < 0)
		return -1;
	else if (o->socket && o->host)
		snprintf(err, errlen, "--socket and --host exclude each other");
	else if (o->instance && o->group)
		snprintf(err, errlen, "--instance and --group exclude each other");
	else if (o->host && ka_parse_hostport("--host", o->host, 3306, host, sizeof host, &port,
					      err, errlen) < 0)
		return -1;
	else if (o->fault_file && !*o->fault_file)
		snprintf(err, errlen, "--fault-file needs a path");
	else if (o->state_dir && !*o->state_dir)
		snprintf(err, errlen, "--state-dir needs a path");
	else
		return 0;
	return -1;
}

/* 1 when word starts keepalived's generic notify (INSTANCE|GROUP NAME STATE PRIORITY):
 * the words after it are keepalived's, never options (a name may start with '-'). */
static int notify_kind(const char *word)
{
	return !strcmp(word, "INSTANCE") || !strcmp(word, "GROUP");
}

/* Moves the words (words[0..n), in order) to the end of argv, options first, as GNU
 * getopt's permutation would. */
static void words_to_end(int argc, char **argv, const int *is_word, int n)
{
	char *opts[argc + 1], *wl[argc + 1];
	int no = 0, nw = 0;

	for (int i = 1; i < argc; i++) {
		if (is_word[i])
			wl[nw++] = argv[i];
		else
			opts[no++] = argv[i];
	}
	for (int i = 0; i < no; i++)
		argv[1 + i] = opts[i];
	for (int i = 0; i < nw && i < n; i++)
		argv[1 + no + i] = wl[i];
}

/* getopt_long over argv where options may also follow an event word (`switchover
 * --dry-run`, as GNU tools allow). "--" ends the options; after INSTANCE or GROUP every
 * word is keepalived's. The words end up at argv[*first..argc). Returns 0, -1 or 1. */
static int parse_permuted(int argc, char **argv, const struct option *lo, struct opts *o,
			  int *first, char *err, size_t errlen)
{
	int is_word[argc + 1], nwords = 0, c, ret, before;

	memset(is_word, 0, sizeof is_word);
	opterr = 0;
	for (;;) {
		/* "+": stop at each word; it is recorded and parsing goes on after it. */
		before = optind ? optind : 1;
		while ((c = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
			if ((ret = apply_option(o, c, argv, err, errlen)) != 0)
				return ret;
			before = optind;
		}
		if (optind >= argc)
			break;
		if ((optind == before + 1 && !strcmp(argv[before], "--")) ||
		    notify_kind(argv[optind])) {
			for (int i = optind; i < argc; i++, nwords++)
				is_word[i] = 1;
			break;
		}
		is_word[optind++] = 1;
		nwords++;
	}
	words_to_end(argc, argv, is_word, nwords);
	*first = argc - nwords;
	return 0;
}

/* Parses argv into o; *first is the index of the first positional argument. Returns
 * -1 (usage error, err filled), 0, or 1 when the run is already done (--help...). */
static int parse_args(int argc, char **argv, struct opts *o, int *first, char *err,
		      size_t errlen)
{
	static const struct option lo[] = {
		{ "socket", required_argument, 0, 'S' },
		{ "host", required_argument, 0, 'h' },
		{ "port", required_argument, 0, 'P' },
		{ "defaults-file", required_argument, 0, 'f' },
		{ "mode", required_argument, 0, 'm' },
		{ "peer", required_argument, 0, 'p' },
		{ "replica", required_argument, 0, 'e' },
		{ "self", required_argument, 0, 's' },
		{ "catchup-timeout", required_argument, 0, 'c' },
		{ "hung-retry", required_argument, 0, 'r' },
		{ "rejoin-retry", required_argument, 0, 'J' },
		{ "fault-file", required_argument, 0, 'F' },
		{ "state-dir", required_argument, 0, 'd' },
		{ "timeout", required_argument, 0, 't' },
		{ "keep-user", required_argument, 0, 'k' },
		{ "instance", required_argument, 0, 'i' },
		{ "group", required_argument, 0, 'g' },
		{ "fifo", required_argument, 0, 'I' },
		{ "no-kill", no_argument, 0, 'K' },
		{ "no-rejoin", no_argument, 0, 'R' },
		{ "dry-run", no_argument, 0, 'n' },
		{ "max-lag", required_argument, 0, 'L' },
		{ "handover-timeout", required_argument, 0, 'O' },
		KA_COMMON_LONG_OPTIONS
	};
	int ret;

	memset(o, 0, sizeof *o);
	o->timeout_ms = 2000;
	o->catchup_s = 30;
	o->hung_retry_s = 120;
	o->rejoin_retry_s = 60;
	o->max_lag_s = 5;
	o->handover_s = HANDOVER_DEFAULT_S;
	if ((ret = parse_permuted(argc, argv, lo, o, first, err, errlen)) != 0)
		return ret;
	if (check_options(o, err, errlen) < 0)
		return -1;
	o->have_peer = o->npeer > 0;
	if (o->have_peer)
		o->peer = o->peers[0];
	snprintf(o->lock_dir, sizeof o->lock_dir, "%s", o->state_dir ? o->state_dir
		 : DEFAULT_LOCK_DIR);
	snprintf(o->journal_dir, sizeof o->journal_dir, "%s", o->state_dir ? o->state_dir
		 : DEFAULT_JOURNAL_DIR);
	return 0;
}

/* The user of [group] in the option file into out ("" when the group is absent). */
static int group_user(const char *file, const char *group, const char *const *groups,
		      struct ka_optvals *out, char *err, size_t errlen)
{
	int has = ka_optfile_has_group(file, group, err, errlen);

	memset(out, 0, sizeof *out);
	if (has < 0 || (has && ka_optfile_read(file, groups, out, err, errlen) < 0))
		return -1;
	return 0;
}

/* Credentials: [client] for the HA account (local and every other node), [ka-replication]
 * for CHANGE MASTER, [ka-check-mariadb]'s user (the checker) to spare on demotion.
 * Returns 0 or -1 (err; the caller exits 78). */
static int setup_creds(const struct opts *o, struct creds *cr, char *err, size_t errlen)
{
	struct ka_optvals mon;

	memset(cr, 0, sizeof *cr);
	if (ka_conn_setup(&cr->local, o->defaults_file, client_groups, o->host, o->port,
			  o->socket, err, errlen) < 0)
		return -1;
	if (!o->defaults_file)
		return 0;
	if (group_user(o->defaults_file, "ka-replication", repl_groups, &cr->repl, err,
		       errlen) < 0 ||
	    group_user(o->defaults_file, "ka-check-mariadb", monitor_groups, &mon, err,
		       errlen) < 0)
		return -1;
	cr->have_repl = cr->repl.user[0] != '\0';
	snprintf(cr->monitor_user, sizeof cr->monitor_user, "%s", mon.user);
	return 0;
}

static int is_keepalived_event(enum event ev)
{
	return ev == EV_MASTER || ev == EV_BACKUP || ev == EV_FAULT || ev == EV_STOP;
}

/* Ticket, lock, supersession. Returns 1 to go on, 0 when the run is over (outcome set). */
static int serialize(struct run *r)
{
	const struct opts *o = r->o;
	char err[700];
	int timed_out;
	int64_t t0, deadline;

	if (is_keepalived_event(r->ev) && !r->ticket &&
	    ticket_take(o, &r->ticket, err, sizeof err) < 0) {
		outcome(r, KA_CONFIG, "ticket-failed", "%s", err);
		return 0;
	}
	t0 = ka_now_ms();
	deadline = r->ev == EV_STOP ? r->started + STOP_LOCK_MS
		   : t0 + o->catchup_s * 1000 + 20 * o->timeout_ms;
	r->lock_fd = lock_take(o, deadline, &timed_out, err, sizeof err);
	r->lock_wait_ms = ka_now_ms() - t0;
	if (r->lock_fd < 0 && r->ev == EV_STOP && timed_out) {
		/* keepalived kills us in 1 s: read_only=1 without the lock is still safe. */
		struct step *s = step_open(r, "lock");
		step_close(r, s, "skipped", "not free within %d ms: demoting without it",
			   STOP_LOCK_MS);
		return 1;
	}
	if (r->lock_fd < 0) {
		outcome(r, (ka_notify_term || timed_out) ? KA_TIMEOUT : KA_CONFIG,
			ka_notify_term ? "terminated" : "lock-failed", "%s", err);
		return 0;
	}
	if (superseded(r)) {
		outcome(r, KA_OK, "superseded", "a newer event took a ticket while this one "
			"waited: nothing done");
		return 0;
	}
	return 1;
}

static int do_clear_fault(struct run *r)
{
	char err[700];
	struct step *s;

	if (r->o->dry_run) {
		plan(r, "write 0 to fault file '%s'", r->o->fault_file);
		return outcome(r, KA_OK, "fault-cleared", "would clear '%s'", r->o->fault_file);
	}
	s = step_open(r, "clear fault file");
	if (fault_file_write(r->o->fault_file, 0, err, sizeof err) < 0) {
		step_close(r, s, "failed", "%s", err);
		return outcome(r, KA_CONFIG, "clear-fault-failed", "%s", err);
	}
	r->fault_cleared = 1;
	step_close(r, s, "ok", "'%s' = 0", r->o->fault_file);
	return outcome(r, KA_OK, "fault-cleared", "fault file '%s' cleared by the operator",
		       r->o->fault_file);
}

/* BACKUP: demote, then rejoin when configured for it. */
static int do_backup(struct run *r, struct ka_db *db)
{
	const struct opts *o = r->o;
	int code = demote_hung_retry(r, db);

	if (code == KA_OK && o->have_peer)
		unfence_on_demote(r, db);
	if (code != KA_OK || o->mode != MODE_PR || !o->have_peer)
		return code;
	if (o->no_rejoin) {
		snprintf(r->rejoin, sizeof r->rejoin, "skipped: --no-rejoin");
		return code;
	}
	return rejoin(r, db);
}

/* The operator's rejoin: only a read-only node. */
static int do_rejoin(struct run *r, struct ka_db *db)
{
	int code = node_connect(r, db, &r->cr->local.addr, "local");

	if (code != KA_OK)
		return outcome(r, code, "local-unreachable", "cannot rejoin: %s", r->local_error);
	code = rejoin(r, db);
	if (code == KA_OK && !r->decision[0])
		outcome(r, KA_OK, "rejoin", "%s", r->rejoin);
	else if (!r->decision[0])
		outcome(r, code, "rejoin-skipped", "%s", r->rejoin);
	return r->code;
}

static int act(struct run *r)
{
	struct ka_db db = { 0 };

	switch (r->ev) {
	case EV_MASTER: promote(r); break;
	case EV_BACKUP: do_backup(r, &db); break;
	case EV_FAULT:
		if (demote_hung_retry(r, &db) == KA_OK && r->o->have_peer)
			unfence_on_demote(r, &db);
		break;
	case EV_STOP: demote(r, &db); break;
	case EV_CLEAR_FAULT: do_clear_fault(r); break;
	case EV_REJOIN: do_rejoin(r, &db); break;
	default: break;
	}
	if (r->ev != EV_MASTER)
		node_read_after(r, &db);
	ka_db_close(&db);
	return r->code;
}

/* One event, start to journal line; ticket is the one main() took at once, or 0 (take
 * it in serialize). Returns its exit code. */
static int handle(const struct opts *o, const struct creds *cr, enum event ev,
		  const char *source, const char *why, long long ticket)
{
	static struct run r;   /* large: keep it off the stack */
	static char line[16400];
	char err[700];

	run_init(&r, o, cr, ev, source);
	r.ticket = ticket;
	if (!o->dry_run && state_dirs_ready(o, err, sizeof err) < 0)
		outcome(&r, KA_CONFIG, "state-dir", "%s", err);
	else if (ev == EV_IGNORED)
		outcome(&r, KA_OK, "ignored", "%s", why);
	else if (ev == EV_SWITCHOVER)
		switchover(&r);   /* its own locks: keepalived's runs go on meanwhile */
	else if (o->dry_run || serialize(&r))
		act(&r);
	if (!o->dry_run && r.decision[0] && strcmp(r.decision, "state-dir") != 0 &&
	    journal_append(o, journal_line(&r, line, sizeof line), err, sizeof err) < 0)
		ka_log_err("%s", err);
	lock_release(r.lock_fd);
	print_result(&r);
	return r.code;
}

/* One FIFO line: decoded and handled, or journaled as ignored/malformed. */
static void handle_line(const struct opts *o, const struct creds *cr, char *line)
{
	char source[300], why[300] = "", err[300];
	enum event ev;
	size_t n = strlen(line);

	while (n && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	if (!n)
		return;
	snprintf(source, sizeof source, "fifo %.280s", line);
	if (decode_fifo_line(o, line, &ev, why, sizeof why, err, sizeof err) < 0) {
		ev = EV_IGNORED;
		snprintf(why, sizeof why, "%s", err);
	}
	handle(o, cr, ev, source, why, 0);
}

/* --fifo: keepalived starts us once and writes one line per event (fifo.c); strict
 * order, until SIGTERM. */
static int fifo_loop(const struct opts *o, const struct creds *cr)
{
	char err[300], *line;

	if (fifo_open(o->fifo, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return KA_CONFIG;
	}
	ka_log_notice("reading keepalived events from '%s'", o->fifo);
	while ((line = fifo_next_line(err, sizeof err)))
		handle_line(o, cr, line);
	fifo_close();
	if (!ka_notify_term) {
		ka_log_err("'%s': %s", o->fifo, err);
		return KA_CONFIG;
	}
	ka_log_notice("terminated by a signal: stopped reading '%s'", o->fifo);
	return KA_TIMEOUT;   /* never 0 after SIGTERM (lib/sig.h) */
}

int main(int argc, char **argv)
{
	static struct opts o;
	static struct creds cr;
	char err[700], source[300] = "", why[300] = "";
	enum event ev = EV_NONE;
	long long ticket = 0;
	int first = 1;

	ka_sig_flag_on_term(&ka_notify_term);
	switch (parse_args(argc, argv, &o, &first, err, sizeof err)) {
	case 1:
		return KA_OK;
	case -1:
		goto usage_error;
	}
	if (!o.fifo && decode_argv(&o, argc - first, argv + first, &ev, source, sizeof source,
				   why, sizeof why, err, sizeof err) < 0)
		goto usage_error;
	if (o.fifo && argc - first > 0) {
		snprintf(err, sizeof err, "--fifo takes no event words (got '%s')", argv[first]);
		goto usage_error;
	}
	ka_log_open(PROG, o.verbose);
	/* The ticket first, before the option file is read: two processes forked back to
	 * back take their tickets in the order keepalived started them. */
	if (!o.fifo && !o.dry_run && is_keepalived_event(ev) &&
	    state_dirs_ready(&o, err, sizeof err) == 0)
		ticket_take(&o, &ticket, err, sizeof err);   /* failed: serialize says why */
	if (setup_creds(&o, &cr, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return KA_CONFIG;
	}
	if (o.fifo)
		return fifo_loop(&o, &cr);
	return handle(&o, &cr, ev, source, why, ticket);
usage_error:
	return ka_args_usage_error(PROG, err, usage);
}
