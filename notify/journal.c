/* One run's record: the steps it took (each timed), its outcome, and the two ways it
 * is told: one JSON journal line (also --json output) and one human result line. */
#include "notify.h"

#include "deadline.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const event_names[] = {
	[EV_NONE] = "none", [EV_MASTER] = "master", [EV_BACKUP] = "backup",
	[EV_FAULT] = "fault", [EV_STOP] = "stop", [EV_CLEAR_FAULT] = "clear-fault",
	[EV_REJOIN] = "rejoin", [EV_SWITCHOVER] = "switchover", [EV_IGNORED] = "ignored",
};

const char *event_name(enum event ev)
{
	return event_names[ev];
}

void run_init(struct run *r, const struct opts *o, const struct creds *cr, enum event ev,
	      const char *source)
{
	memset(r, 0, sizeof *r);
	r->o = o;
	r->cr = cr;
	r->ev = ev;
	r->lock_fd = -1;
	r->started = ka_now_ms();
	r->before.read_only = r->after.read_only = r->peer.read_only = -1;
	snprintf(r->event_text, sizeof r->event_text, "%s", event_name(ev));
	snprintf(r->source, sizeof r->source, "%s", source);
	r->write_pause_ms = -1;
	run_set_peer(r, &o->peer);
	if (ev == EV_STOP)
		r->budget_end = r->started + STOP_BUDGET_MS;
}

/* Deadline of the next step: --timeout from now, cut to the STOP budget. */
int64_t step_deadline(const struct run *r)
{
	int64_t d = ka_deadline_in(r->o->timeout_ms);

	if (r->budget_end && r->budget_end < d)
		d = r->budget_end;
	return d;
}

/* Starts a timed step; never fails (past MAX_STEPS the step is counted, not kept). */
struct step *step_open(struct run *r, const char *fmt, ...)
{
	struct step *s = r->nsteps < MAX_STEPS ? &r->steps[r->nsteps++] : &r->scratch;
	va_list ap;

	if (s == &r->scratch)
		r->steps_dropped++;
	memset(s, 0, sizeof *s);
	va_start(ap, fmt);
	vsnprintf(s->name, sizeof s->name, fmt, ap);
	va_end(ap);
	s->t0 = ka_now_ms();
	return s;
}

void step_close(struct run *r, struct step *s, const char *result, const char *fmt, ...)
{
	va_list ap;

	(void)r;
	s->ms = ka_now_ms() - s->t0;
	snprintf(s->result, sizeof s->result, "%s", result);
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof s->detail, fmt, ap);
	va_end(ap);
	ka_log_debug("step '%s': %s%s%s (%lld ms)", s->name, result, s->detail[0] ? ": " : "",
		     s->detail, (long long)s->ms);
}

/* Sets the run's exit code, decision and reason (a later call replaces them). Returns
 * code, so a failure reads as one statement: return outcome(r, KA_..., ...). */
int outcome(struct run *r, int code, const char *decision, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	snprintf(r->decision, sizeof r->decision, "%s", decision);
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	return code;
}

/* --dry-run: one line per change the run would make. */
void plan(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	(void)r;
	printf("plan: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void json_rows(struct ka_json *j, const struct node_state *st)
{
	ka_json_arr_open(j, "replication");
	for (size_t i = 0; i < st->nrows; i++) {
		const struct slave_row *w = &st->rows[i];
		ka_json_obj_open(j, NULL);
		ka_json_str(j, "connection", w->name);
		ka_json_str(j, "source", w->host);
		ka_json_int(j, "port", w->port);
		ka_json_str(j, "io", w->io);
		ka_json_str(j, "sql", w->sql);
		ka_json_str(j, "gtid_io_pos", w->io_pos);
		ka_json_str(j, "master_log_file", w->master_log_file);
		ka_json_int(j, "read_master_log_pos", w->read_pos);
		ka_json_int(j, "exec_master_log_pos", w->exec_pos);
		if (w->io_errno)
			ka_json_str(j, "last_io_error", w->io_error);
		if (w->sql_errno)
			ka_json_str(j, "last_sql_error", w->sql_error);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
}

static void json_node(struct ka_json *j, const char *key, const struct node_state *st)
{
	if (!st->known) {
		ka_json_null(j, key);
		return;
	}
	ka_json_obj_open(j, key);
	ka_json_bool(j, "read_only", st->read_only);
	ka_json_str(j, "gtid_binlog_pos", st->binlog);
	ka_json_str(j, "gtid_slave_pos", st->slave);
	ka_json_str(j, "gtid_current_pos", st->current);
	json_rows(j, st);
	ka_json_obj_close(j);
}

static const char *peer_state_name(enum peer_state p)
{
	switch (p) {
	case PEER_UNREACHABLE: return "unreachable";
	case PEER_ERROR: return "error";
	case PEER_READ_ONLY: return "read-only";
	case PEER_WRITABLE: return "writable";
	default: return "not-asked";
	}
}

static void json_peer(struct ka_json *j, const struct run *r)
{
	char addr[96];

	if (!r->o->have_peer) {
		ka_json_null(j, "peer");
		return;
	}
	snprintf(addr, sizeof addr, "%s:%u", r->peer_ep.host, r->peer_ep.port);
	ka_json_obj_open(j, "peer");
	ka_json_str(j, "address", addr);
	ka_json_str(j, "state", peer_state_name(r->peer_state));
	if (r->peer_error[0])
		ka_json_str(j, "error", r->peer_error);
	if (r->peer.known) {
		ka_json_str(j, "gtid_binlog_pos", r->peer.binlog);
		ka_json_str(j, "gtid_current_pos", r->peer.current);
	}
	ka_json_bool(j, "fenced", r->fenced);
	if (r->unfenced)
		ka_json_bool(j, "unfenced", 1);
	ka_json_obj_close(j);
}

static void json_steps(struct ka_json *j, const struct run *r)
{
	ka_json_arr_open(j, "steps");
	for (int i = 0; i < r->nsteps; i++) {
		const struct step *s = &r->steps[i];
		ka_json_obj_open(j, NULL);
		ka_json_str(j, "step", s->name);
		ka_json_int(j, "duration_ms", s->ms);
		ka_json_str(j, "result", s->result);
		if (s->detail[0])
			ka_json_str(j, "detail", s->detail);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
	if (r->steps_dropped)
		ka_json_int(j, "steps_dropped", r->steps_dropped);
}

/* Switchover: the timeline (ms since the run started) and the write pause. */
static void json_timeline(struct ka_json *j, const struct run *r)
{
	ka_json_obj_open(j, "timeline_ms");
	for (int i = 0; i < r->nmarks; i++)
		ka_json_int(j, r->marks[i].name, r->marks[i].at - r->started);
	ka_json_obj_close(j);
	if (r->write_pause_ms >= 0)
		ka_json_int(j, "write_pause_ms", r->write_pause_ms);
	else
		ka_json_null(j, "write_pause_ms");
}

/* Switchover, human output: one line per timeline entry before the result line. */
static void print_timeline(const struct run *r)
{
	for (int i = 0; i < r->nmarks; i++)
		printf("timeline: %-14s +%lld ms\n", r->marks[i].name,
		       (long long)(r->marks[i].at - r->started));
	if (r->nmarks && r->write_pause_ms >= 0)
		printf("timeline: write pause %lld ms\n", (long long)r->write_pause_ms);
}

/* The journal line (no newline). Falls back to a short line when the full one does not
 * fit the JSON buffer, so a line is always valid JSON. */
const char *journal_line(const struct run *r, char *buf, size_t len)
{
	static struct ka_json j;   /* 16 KiB: keep it off the stack */
	char now[40];

	for (int full = 1; full >= 0; full--) {
		ka_wallclock_iso(now, sizeof now);
		ka_json_begin(&j);
		ka_json_str(&j, "time", now);
		ka_json_str(&j, "prog", PROG);
		ka_json_int(&j, "pid", (long long)getpid());
		ka_json_str(&j, "event", r->event_text);
		ka_json_str(&j, "source", r->source);
		if (r->ticket)
			ka_json_int(&j, "ticket", r->ticket);
		else
			ka_json_null(&j, "ticket");
		ka_json_str(&j, "mode", r->o->mode == MODE_MM ? "master-master" : "primary-replica");
		ka_json_bool(&j, "dry_run", r->o->dry_run);
		ka_json_str(&j, "decision", r->decision);
		ka_json_int(&j, "code", r->code);
		ka_json_str(&j, "code_name", ka_exit_name(r->code));
		ka_json_str(&j, "reason", r->reason);
		if (r->operator_action[0])
			ka_json_str(&j, "operator_action", r->operator_action);
		if (r->rejoin[0])
			ka_json_str(&j, "rejoin", r->rejoin);
		if (r->diverged[0])
			ka_json_str(&j, "diverged", r->diverged);
		ka_json_int(&j, "lock_wait_ms", r->lock_wait_ms);
		if (r->fault_written || r->fault_cleared)
			ka_json_str(&j, "fault_file", r->fault_written ? "set" : "cleared");
		if (r->nmarks)
			json_timeline(&j, r);
		if (full) {
			json_node(&j, "before", &r->before);
			json_node(&j, "after", &r->after);
			json_peer(&j, r);
			others_json(r, &j);
			json_steps(&j, r);
		}
		ka_json_int(&j, "elapsed_ms", ka_now_ms() - r->started);
		ka_json_end(&j);
		if (!j.overflow && strlen(j.buf) < len)
			break;   /* else again without the detail: never a cut line */
	}
	snprintf(buf, len, "%s", j.buf);
	return buf;
}

/* The run's result: one line on stdout (or the JSON line with --json); syslog too. */
void print_result(const struct run *r)
{
	static char line[16384];

	if (r->o->json) {
		printf("%s\n", journal_line(r, line, sizeof line));
	} else {
		print_timeline(r);
		printf("%s %s: %s%s%s | code=%d event=%s", r->o->dry_run ? "DRY-RUN" :
		       r->code == KA_OK ? "OK" : "FAIL", r->decision, r->reason,
		       r->rejoin[0] ? "; rejoin: " : "", r->rejoin, r->code, r->event_text);
		if (r->ticket)
			printf(" ticket=%lld", r->ticket);
		printf(" elapsed_ms=%lld\n", (long long)(ka_now_ms() - r->started));
	}
	fflush(stdout);
	if (r->code == KA_OK)
		ka_log_notice("%s %s: %s%s%s", r->event_text, r->decision, r->reason,
			      r->rejoin[0] ? "; rejoin: " : "", r->rejoin);
	else
		ka_log_warn("%s %s (exit %d, %s): %s%s%s", r->event_text, r->decision, r->code,
			    ka_exit_name(r->code), r->reason, r->rejoin[0] ? "; rejoin: " : "",
			    r->rejoin);
}
