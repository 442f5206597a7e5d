/* ka-watch-mariadb: watches the local MariaDB for keepalived, through a track_file.
 *
 * How it works: one session to the local mysqld stays open. Every --interval-ms a probe
 * runs on it: the same probe, with the same options, as ka-check-mariadb (lib/probe.c,
 * lib/probe_args.c), bounded by --timeout. The probe's exit code decides the value of
 * the track file (0 fit, anything else FAULT with keepalived's weight 0), through
 * --fall and --rise: the value leaves 0 after --fall failing probes in a row and comes
 * back after --rise passing ones. The file is written only when its value changes, and
 * always whole: a temporary file in the same directory, then rename (keepalived re-reads
 * on IN_MOVED_TO, FACTS 11).
 *
 * Failing closed: at start the file says 1 before anything is probed (a 0 left by a dead
 * run never counts), and it says 0 only after --rise passing probes. On SIGTERM or SIGINT
 * it says 1 again, and the watcher exits 1, never 0 (FACTS 2). Between probes the idle
 * session is watched: the server never speaks first, so a readable socket means the
 * server closed or killed it, and the next probe runs at once (at most once an interval).
 * A lost session is reopened inside the probe (lib/probe.c: ka_probe_session), so a
 * killed connection to a healthy server is no failure, and a refused reconnect is one.
 */
#include "args.h"
#include "conn.h"
#include "deadline.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"
#include "probe.h"
#include "probe_args.h"
#include "probe_report.h"
#include "sig.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "ka-watch-mariadb"
#define VERSION "0.1.0"
#define NOT_WATCHED KA_UNFIT   /* the value before the first fit verdict and after a stop */
#define COUNT_MAX 1000000      /* consecutive probes are counted up to here */

struct opts {
	struct ka_probe_args a;    /* the probe's options (lib/probe_args.h) */
	const char *track_file;
	long interval_ms, fall, rise;
	int json, verbose;
};

/* The track file and what the watcher last put there. */
struct track {
	const char *path;
	char dir[PATH_MAX], base[NAME_MAX + 1];
	int value;                 /* -1 before the first write */
	struct stat st;            /* the file it renamed into place */
	int failing;               /* the last write failed (logged once a streak) */
};

/* The verdict the probes lead to, and the run of equal outcomes behind it. */
struct verdict {
	int value;                 /* what the track file should say */
	long fails, passes;        /* consecutive failing / passing probes */
};

static volatile sig_atomic_t stop;

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " --track-file PATH [--interval-ms MS] [--fall N] [--rise N]\n"
"       [--socket PATH | --host IP [--port N]] [--defaults-file FILE] [--timeout MS]\n"
"       [--replication] [--max-lag SECONDS] [--expect-read-only on|off]\n"
"       [--witness IP:PORT[,IP:PORT...]] [--witness-connect-only]\n"
"       [--peer IP[:PORT][,IP[:PORT]...]] [--json] [--verbose]\n"
"       " PROG " --list-exit-codes | --help | --version\n");
}

/* The watcher's own options; 0 when c is none of them, else 1 or -1. */
static int take_own(struct opts *o, int c, const char *arg, char *err, size_t errlen)
{
	switch (c) {
	case 'T':
		o->track_file = arg;
		return 1;
	case 'i':
		return ka_parse_long("--interval-ms", arg, 10, 60000, &o->interval_ms, err,
				     errlen) < 0 ? -1 : 1;
	case 'F':
		return ka_parse_long("--fall", arg, 1, 1000, &o->fall, err, errlen) < 0 ? -1 : 1;
	case 'R':
		return ka_parse_long("--rise", arg, 1, 1000, &o->rise, err, errlen) < 0 ? -1 : 1;
	case 'j': o->json = 1; return 1;
	case 'v': o->verbose = 1; return 1;
	default:
		return 0;
	}
}

/* Parses argv into o. Returns -1 (usage error, err filled), 0, or 1 when the run is
 * already done (--help, --version, --list-exit-codes). */
static int parse_args(int argc, char **argv, struct opts *o, char *err, size_t errlen)
{
	static const struct option lo[] = {
		KA_PROBE_LONG_OPTIONS,
		{ "track-file", required_argument, 0, 'T' },
		{ "interval-ms", required_argument, 0, 'i' },
		{ "fall", required_argument, 0, 'F' },
		{ "rise", required_argument, 0, 'R' },
		KA_COMMON_LONG_OPTIONS
	};
	int c, taken;

	memset(o, 0, sizeof *o);
	ka_probe_args_init(&o->a, 300);
	o->interval_ms = 100;
	o->fall = 1;
	o->rise = 3;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		taken = ka_probe_args_take(&o->a, c, optarg, err, errlen);
		if (taken == 0)
			taken = take_own(o, c, optarg, err, errlen);
		if (taken < 0)
			return -1;
		if (taken == 0)
			return ka_args_common(c, PROG " " VERSION, usage, argv, err, errlen);
	}
	if (ka_args_no_operands(argc, argv, err, errlen) < 0)
		return -1;
	if (!o->track_file || !*o->track_file) {
		snprintf(err, errlen, "--track-file is required: the file keepalived's "
			 "track_file reads");
		return -1;
	}
	return ka_probe_args_check(&o->a, err, errlen);
}

/* Splits path into its directory and name and checks that the directory exists.
 * Returns 0, or -1 with err filled (exit 78). */
static int track_init(struct track *t, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	struct stat st;

	memset(t, 0, sizeof *t);
	t->path = path;
	t->value = -1;
	if (!slash)
		snprintf(t->dir, sizeof t->dir, ".");
	else
		snprintf(t->dir, sizeof t->dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	snprintf(t->base, sizeof t->base, "%s", slash ? slash + 1 : path);
	if (!t->base[0] || strlen(path) + 16 >= PATH_MAX) {
		snprintf(err, errlen, "invalid track file '%s': expected a file name", path);
		return -1;
	}
	if (stat(t->dir, &st) < 0) {
		snprintf(err, errlen, "cannot write track file '%s': directory '%s': %s", path,
			 t->dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot write track file '%s': '%s' is not a directory",
			 path, t->dir);
		return -1;
	}
	return 0;
}

/* Writes "VALUE\n" to the open temporary file fd and records its identity in *st. */
static int fill_temp(int fd, int value, struct stat *st)
{
	char buf[16];
	int n = snprintf(buf, sizeof buf, "%d\n", value);

	if (write(fd, buf, (size_t)n) != n)
		return -1;
	if (fchmod(fd, 0644) < 0 || fstat(fd, st) < 0)
		return -1;
	return 0;
}

/* Replaces the track file with value: a temporary file in the same directory, renamed
 * into place, so a reader sees the old file or the new one, never a part. No fsync: the
 * value means something only while the watcher runs, which rewrites it at start. */
static int track_write(struct track *t, int value, char *err, size_t errlen)
{
	char tmp[sizeof t->dir + sizeof t->base + 16];
	struct stat st;
	int fd;

	snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", t->dir, t->base);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "cannot write track file '%s': cannot create a temporary "
			 "file in '%s': %s", t->path, t->dir, strerror(errno));
		return -1;
	}
	int rc = fill_temp(fd, value, &st), e = errno;
	if (close(fd) < 0 && rc == 0)
		rc = -1, e = errno;
	if (rc == 0 && rename(tmp, t->path) < 0)
		rc = -1, e = errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot write track file '%s': %s", t->path, strerror(e));
		unlink(tmp);
		return -1;
	}
	t->value = value;
	t->st = st;
	return 0;
}

/* 1 when the file is no longer the one the watcher put there: removed, replaced or
 * rewritten by someone else (keepalived's init_file overwrite, an operator). */
static int track_changed(const struct track *t)
{
	struct stat st;

	if (stat(t->path, &st) < 0)
		return 1;
	return st.st_ino != t->st.st_ino || st.st_dev != t->st.st_dev ||
	       st.st_size != t->st.st_size || st.st_mtim.tv_sec != t->st.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != t->st.st_mtim.tv_nsec;
}

/* Makes the file say value when it does not already. Returns 1 when it wrote, 0 when
 * nothing was to do, -1 when the write failed (logged once a streak; retried by the
 * next call). */
static int track_sync(struct track *t, int value)
{
	char err[PATH_MAX + 256];
	int changed = t->value != value;

	if (!changed && !track_changed(t))
		return 0;
	if (track_write(t, value, err, sizeof err) < 0) {
		if (!t->failing)
			ka_log_err("%s", err);
		t->failing = 1;
		return -1;
	}
	if (t->failing)
		ka_log_notice("track file '%s' written again", t->path);
	else if (!changed)
		ka_log_warn("track file '%s' was changed by someone else: %d written again",
			    t->path, value);
	t->failing = 0;
	return 1;
}

/* Counts one probe's code: the value leaves 0 after --fall failures in a row, and comes
 * back to 0 after --rise passes in a row. While not 0 it follows the latest failure. */
static void count_probe(struct verdict *v, const struct opts *o, int code)
{
	if (code == KA_OK) {
		v->fails = 0;
		if (v->passes < COUNT_MAX)
			v->passes++;
		if (v->passes >= o->rise)
			v->value = KA_OK;
		return;
	}
	v->passes = 0;
	if (v->fails < COUNT_MAX)
		v->fails++;
	if (v->value != KA_OK || v->fails >= o->fall)
		v->value = code;
}

/* One line on stdout for a change of the track file's value (text or --json). */
static void print_change(const struct opts *o, const struct verdict *v,
			 const struct ka_probe_result *r, int64_t probe_ms)
{
	static char fields[KA_GTID_TEXT_MAX + 1024];
	static struct ka_json j;
	char now[40];

	ka_wallclock_iso(now, sizeof now);
	if (!o->json) {
		ka_probe_fields_text(&o->a.probe, r, fields, sizeof fields);
		printf("track=%d %s %s | %s fails=%ld passes=%ld probe_ms=%lld time=%s\n", v->value,
		       r->code == KA_OK ? "OK" : "FAIL", r->reason, fields, v->fails, v->passes,
		       (long long)probe_ms, now);
		return;
	}
	ka_json_begin(&j);
	ka_json_str(&j, "event", "change");
	ka_json_int(&j, "track", v->value);
	ka_json_str(&j, "status", r->code == KA_OK ? "OK" : "FAIL");
	ka_probe_fields_json(&o->a.probe, r, &j);
	ka_json_int(&j, "fails", v->fails);
	ka_json_int(&j, "passes", v->passes);
	ka_json_int(&j, "probe_ms", probe_ms);
	ka_json_str(&j, "time", now);
	printf("%s\n", ka_json_end(&j));
}

/* One line on stdout for the start or the stop of the watcher: word in text, event in
 * JSON. */
static void print_event(const struct opts *o, const char *word, const char *event,
			int value, const char *why)
{
	static struct ka_json j;
	char now[40];

	ka_wallclock_iso(now, sizeof now);
	if (!o->json) {
		printf("track=%d %s %s | time=%s\n", value, word, why, now);
		return;
	}
	ka_json_begin(&j);
	ka_json_str(&j, "event", event);
	ka_json_int(&j, "track", value);
	ka_json_str(&j, "reason", why);
	ka_json_str(&j, "time", now);
	printf("%s\n", ka_json_end(&j));
}

/* The syslog line of a change: 0 is a notice, a split brain an error, the rest warnings. */
static void log_change(const struct track *t, const struct verdict *v,
		       const struct ka_probe_result *r)
{
	const char *what = "track file '%s' set to %d (%s): %s";

	if (v->value == KA_OK)
		ka_log_notice("track file '%s' set to 0 (fit): %ld passing probes", t->path,
			      v->passes);
	else if (v->value == KA_SPLIT_BRAIN)
		ka_log_err(what, t->path, v->value, ka_exit_name(v->value), r->reason);
	else
		ka_log_warn(what, t->path, v->value, ka_exit_name(v->value), r->reason);
}

/* Sleeps until next, watching the idle session when watch is set. Returns 1 when the
 * session turned readable (the server closed or killed it; now closed here), else 0 at
 * next or when a signal asked to stop. */
static int wait_next(struct ka_db *db, int64_t next, int watch)
{
	for (int i = 0; i < 1000 && !stop; i++) {
		int64_t left = next - ka_now_ms();
		struct pollfd pfd = { .fd = -1, .events = POLLIN };

		if (left <= 0)
			return 0;
		if (watch && db->my)
			pfd.fd = mysql_get_socket(db->my);
		int n = poll(&pfd, 1, (int)left);
		if (n > 0) {
			ka_db_close(db);
			return 1;
		}
		if (n == 0 || errno != EINTR)
			return 0;
	}
	return 0;
}

/* Logs a probe's note (a warning the checker logs every run) only when it changes. */
static void log_note(const struct ka_probe_result *r)
{
	static char last[sizeof r->note];

	if (strcmp(last, r->note) == 0)
		return;
	snprintf(last, sizeof last, "%s", r->note);
	if (r->note[0])
		ka_log_warn("%s", r->note);
}

/* One probe and what follows from it: the count, and on a change the file, a line on
 * stdout and one in syslog. */
static void probe_once(const struct opts *o, const struct ka_conn *c, struct ka_db *db,
		       struct track *t, struct verdict *v)
{
	static struct ka_probe_result r;
	int64_t started = ka_now_ms();
	int before = t->value;     /* what the file says (a failed write left it) */

	ka_probe_session(&o->a.probe, &c->addr, db, &r, started + o->a.probe.timeout_ms);
	int64_t took = ka_now_ms() - started;
	ka_log_debug("probe: exit %d (%s) in %lld ms: %s", r.code, ka_exit_name(r.code),
		     (long long)took, r.reason);
	log_note(&r);
	count_probe(v, o, r.code);
	if (track_sync(t, v->value) > 0 && v->value != before) {
		print_change(o, v, &r, took);
		log_change(t, v, &r);
	}
}

/* Probes every --interval-ms until a signal asks to stop. */
static void watch(const struct opts *o, const struct ka_conn *c, struct track *t)
{
	struct ka_db db = { 0 };
	struct verdict v = { .value = NOT_WATCHED };
	int watch_socket = 1;

	while (!stop) {
		int64_t started = ka_now_ms();
		probe_once(o, c, &db, t, &v);
		if (stop)
			break;
		int lost = wait_next(&db, started + o->interval_ms, watch_socket);
		if (lost)
			ka_log_debug("the server closed the idle session: probing at once");
		watch_socket = !lost;   /* at most one early probe an interval */
	}
	ka_db_close(&db);
}

/* Writes the value of a stopped watcher. Returns the exit status: 1, or 78 when the
 * file could not be written (it may still say 0). */
static int stop_watch(const struct opts *o, struct track *t)
{
	char why[PATH_MAX + 64];

	if (track_sync(t, NOT_WATCHED) < 0)
		return KA_CONFIG;
	snprintf(why, sizeof why, "stopped by a signal: '%s' is not watched", t->path);
	print_event(o, "STOP", "stop", NOT_WATCHED, why);
	ka_log_warn("stopping: track file '%s' set to %d (%s): not watched", t->path,
		    NOT_WATCHED, ka_exit_name(NOT_WATCHED));
	return NOT_WATCHED;
}

/* Writes the first value (before any probe) and says so. Returns 0 or -1 (exit 78). */
static int start_watch(const struct opts *o, const struct ka_conn *c, struct track *t)
{
	char err[PATH_MAX + 256], target[300], why[600];

	if (track_init(t, o->track_file, err, sizeof err) < 0 ||
	    track_write(t, NOT_WATCHED, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return -1;
	}
	snprintf(why, sizeof why, "watching '%s' every %ld ms (timeout %ld ms, fall %ld, "
		 "rise %ld): not fit until %ld probes pass", ka_conn_target(c, target, sizeof target),
		 o->interval_ms, o->a.probe.timeout_ms, o->fall, o->rise, o->rise);
	print_event(o, "START", "start", NOT_WATCHED, why);
	ka_log_notice("track file '%s' set to %d: %s", t->path, NOT_WATCHED, why);
	return 0;
}

int main(int argc, char **argv)
{
	static struct opts o;
	static struct track t;
	struct ka_conn c;
	char err[512];

	ka_sig_flag_on_term(&stop);
	signal(SIGHUP, SIG_IGN);
	switch (parse_args(argc, argv, &o, err, sizeof err)) {
	case 1:
		return KA_OK;
	case -1:
		return ka_args_usage_error(PROG, err, usage);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ka_log_open(PROG, o.verbose);
	if (ka_probe_args_conn(&o.a, PROG, &c, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		return KA_CONFIG;
	}
	if (start_watch(&o, &c, &t) < 0)
		return KA_CONFIG;
	watch(&o, &c, &t);
	return stop_watch(&o, &t);
}
