/* ka-drill's output: one JSON object (--json, keys stable: the lab and bench read
 * them), a human report, and the live progress line on a terminal. */
#include "drill.h"

#include "exitcode.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

#define JSON_MAX_EVENTS 20
#define JSON_MAX_SWITCHES 20
#define JSON_MAX_PHASES 20
#define JSON_MAX_OUTAGES 10

static long long outage_ms(const struct drill_outage *o)
{
	return (long long)(o->end_ms - o->start_ms);
}

static void json_outage_fields(struct ka_json *j, const struct drill_outage *o)
{
	ka_json_int(j, "start_ms", o->start_ms);
	ka_json_int(j, "end_ms", o->end_ms);
	ka_json_int(j, "ms", outage_ms(o));
	ka_json_int(j, "failed_attempts", (long long)o->failed);
	ka_json_bool(j, "open", o->open);
}

static void json_lists(struct ka_json *j, const struct drill *d, int with_errors)
{
	ka_json_arr_open(j, "outages");
	for (size_t i = 0; i < d->noutages && i < JSON_MAX_OUTAGES; i++) {
		ka_json_obj_open(j, NULL);
		json_outage_fields(j, &d->outages[i]);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
	ka_json_arr_open(j, "phases");
	for (size_t i = 0; i < d->nphases && i < JSON_MAX_PHASES; i++) {
		const struct drill_phase *p = &d->phases[i];
		ka_json_obj_open(j, NULL);
		ka_json_str(j, "server", p->server);
		ka_json_int(j, "server_id", (long long)p->server_id);
		ka_json_int(j, "start_ms", p->start_ms);
		ka_json_int(j, "end_ms", p->end_ms);
		ka_json_int(j, "acknowledged", (long long)p->acknowledged);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
	ka_json_arr_open(j, "switches");
	for (size_t i = 0; i < d->nswitches && i < JSON_MAX_SWITCHES; i++) {
		const struct drill_switch *s = &d->switches[i];
		ka_json_obj_open(j, NULL);
		ka_json_int(j, "t_ms", s->t_ms);
		ka_json_str(j, "from", s->from);
		ka_json_int(j, "from_server_id", (long long)s->from_server_id);
		ka_json_str(j, "to", s->to);
		ka_json_int(j, "to_server_id", (long long)s->to_server_id);
		ka_json_int(j, "down_ms", s->down_ms);
		ka_json_int(j, "errno", s->err);
		ka_json_str(j, "reason", s->reason);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
	ka_json_arr_open(j, "nodes");
	for (size_t i = 0; i < d->nnodes; i++) {
		const struct drill_node *n = &d->nodes[i];
		ka_json_obj_open(j, NULL);
		ka_json_str(j, "server", n->server);
		ka_json_str(j, "role", n->primary ? "primary" : "other");
		ka_json_bool(j, "verified", n->reachable && !n->error[0]);
		ka_json_int(j, "server_id", (long long)n->server_id);
		ka_json_int(j, "rows", (long long)n->rows);
		ka_json_int(j, "missing", (long long)n->missing);
		ka_json_int(j, "duplicated", (long long)n->duplicated);
		ka_json_int(j, "unacknowledged_present", (long long)n->unacked_present);
		ka_json_bool(j, "caught_up", n->caught_up);
		ka_json_str(j, "error", n->error[0] ? n->error : NULL);
		ka_json_str(j, "replication", n->primary ? NULL : drill_repl_name(n->repl));
		ka_json_int(j, "replication_errno", n->repl_errno);
		ka_json_str(j, "replication_error", n->repl_error[0] ? n->repl_error : NULL);
		ka_json_int(j, "replication_source_id", (long long)n->repl_source_id);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
	if (!with_errors)
		return;
	ka_json_arr_open(j, "errors");
	for (size_t i = 0; i < d->nevents && i < JSON_MAX_EVENTS; i++) {
		const struct drill_event *e = &d->events[i];
		ka_json_obj_open(j, NULL);
		ka_json_int(j, "t_ms", e->t_ms);
		ka_json_str(j, "kind", e->kind);
		ka_json_int(j, "errno", e->err);
		ka_json_str(j, "server", e->server);
		ka_json_str(j, "message", e->msg);
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
}

/* Builds the object; with_errors 0 leaves the error list out (when it would not fit). */
static void build_json(struct ka_json *j, const struct drill *d, int with_errors)
{
	ka_json_begin(j);
	ka_json_str(j, "status", d->code == KA_OK ? "OK" : "FAIL");
	ka_json_int(j, "code", d->code);
	ka_json_str(j, "code_name", ka_exit_name(d->code));
	ka_json_str(j, "reason", d->reason);
	ka_json_str(j, "run_id", d->run_hex);
	ka_json_str(j, "database", d->o.database);
	ka_json_arr_open(j, "hosts");
	for (size_t i = 0; i < d->o.fo.n; i++)
		ka_json_arr_str(j, d->fo.names[i]);
	ka_json_arr_close(j);
	ka_json_int(j, "rate", d->o.rate);
	ka_json_int(j, "elapsed_ms", d->t_end);
	ka_json_int(j, "attempted", (long long)d->attempted);
	ka_json_int(j, "acknowledged", (long long)d->acknowledged);
	ka_json_int(j, "failed", (long long)d->failed);
	ka_json_int(j, "lost", (long long)d->lost);
	ka_json_int(j, "duplicated", (long long)d->duplicated);
	ka_json_int(j, "unacknowledged_present", (long long)d->unacked_present);
	ka_json_int(j, "ambiguous", (long long)d->ambiguous);
	ka_json_int(j, "ambiguous_committed", (long long)d->amb_committed);
	ka_json_int(j, "ambiguous_reinserted", (long long)d->amb_reinserted);
	ka_json_int(j, "ambiguous_not_committed", (long long)d->amb_not_committed);
	ka_json_int(j, "ambiguous_unresolved", (long long)d->amb_unresolved);
	ka_json_bool(j, "verified", d->verified);
	ka_json_int(j, "longest_outage_ms", d->outages_total ? outage_ms(&d->longest) : 0);
	if (d->outages_total) {
		ka_json_int(j, "outage_start_ms", d->longest.start_ms);
		ka_json_int(j, "outage_end_ms", d->longest.end_ms);
	} else {
		ka_json_null(j, "outage_start_ms");
		ka_json_null(j, "outage_end_ms");
	}
	ka_json_int(j, "outage_count", (long long)d->outages_total);
	ka_json_int(j, "switch_count", (long long)d->switches_total);
	ka_json_int(j, "errors_total", (long long)d->errors_total);
	ka_json_int(j, "max_write_ms", d->max_write_ms);
	ka_json_int(j, "not_caught_up", (long long)d->not_caught_up);
	ka_json_int(j, "ambiguous_unfenced", (long long)d->amb_unfenced);
	ka_json_int(j, "resolution_restarts", (long long)d->resolution_restarts);
	ka_json_str(j, "replication", drill_replication_summary(d));
	json_lists(j, d, with_errors);
}

void drill_print_json(const struct drill *d)
{
	static struct ka_json j;

	build_json(&j, d, 1);
	if (j.overflow)
		build_json(&j, d, 0);
	printf("%s\n", ka_json_end(&j));
}

void drill_print_human(const struct drill *d)
{
	if (!d->attempted && !d->nnodes) {   /* stopped before the first write */
		printf("FAIL %s (exit %d)\n", d->reason, d->code);
		return;
	}
	printf("%s: run %s on %s (database %s), %ld writes/s for %.1f s\n", DRILL_PROG,
	       d->run_hex, d->o.fo.n ? d->fo.names[0] : "-", d->o.database, d->o.rate,
	       (double)d->t_end / 1000.0);
	for (size_t i = 1; i < d->o.fo.n; i++)
		printf("  endpoint %zu: %s\n", i + 1, d->fo.names[i]);
	printf("  attempted %lu, acknowledged %lu, failed %lu, lost %lu, duplicated %lu\n",
	       d->attempted, d->acknowledged, d->failed, d->lost, d->duplicated);
	printf("  ambiguous %lu: committed %lu, re-inserted %lu, not committed %lu, unresolved %lu\n",
	       d->ambiguous, d->amb_committed, d->amb_reinserted, d->amb_not_committed,
	       d->amb_unresolved);
	if (d->unacked_present)
		printf("  %lu write(s) reported failed are present anyway\n", d->unacked_present);
	if (d->amb_unfenced)
		printf("  %lu ambiguous write(s) could not be fenced before the count\n",
		       d->amb_unfenced);
	if (d->resolution_restarts)
		printf("  %lu resolution(s) started over: the session moved during one\n",
		       d->resolution_restarts);
	if (d->not_caught_up)
		printf("  %lu row(s) missing on a node not caught up with the primary (not lost)\n",
		       d->not_caught_up);
	if (d->outages_total)
		printf("  longest outage %lld ms (from %lld ms to %lld ms%s), %lu outage(s)\n",
		       outage_ms(&d->longest), (long long)d->longest.start_ms,
		       (long long)d->longest.end_ms, d->longest.open ? ", still open at the end" : "",
		       d->outages_total);
	else
		printf("  no outage\n");
	for (size_t i = 0; i < d->nphases; i++)
		printf("  phase %zu: %s (server_id %lu) from %lld to %lld ms, %lu acknowledged\n",
		       i + 1, d->phases[i].server, d->phases[i].server_id,
		       (long long)d->phases[i].start_ms, (long long)d->phases[i].end_ms,
		       d->phases[i].acknowledged);
	for (size_t i = 0; i < d->nswitches; i++)
		printf("  switch at %lld ms: %s -> %s after %lld ms (%s)\n",
		       (long long)d->switches[i].t_ms, d->switches[i].from, d->switches[i].to,
		       (long long)d->switches[i].down_ms, d->switches[i].reason);
	for (size_t i = 0; i < d->nnodes; i++) {
		const struct drill_node *n = &d->nodes[i];
		if (n->error[0] && !strcmp(n->server, "none"))
			printf("  verify: no endpoint reachable: %s\n", n->error);
		else if (n->error[0])
			printf("  verify %s (%s): %s\n", n->server, n->primary ? "primary" : "other",
			       n->error);
		else
			printf("  verify %s (%s, server_id %lu): %lu rows, %lu missing, "
			       "%lu duplicated%s\n", n->server, n->primary ? "primary" : "other",
			       n->server_id, n->rows, n->missing, n->duplicated,
			       n->caught_up ? "" : " (not caught up)");
		if (!n->primary)
			printf("  replication on %s: %s%s%s\n", n->server, drill_repl_name(n->repl),
			       n->repl_error[0] ? ": " : "", n->repl_error);
	}
	if (d->nnodes)
		printf("  replication from the primary: %s\n", drill_replication_summary(d));
	if (d->errors_total)
		printf("  %lu error(s), first: %s\n", d->errors_total, d->events[0].msg);
	printf("%s %s (exit %d)\n", d->code == KA_OK ? "OK" : "FAIL", d->reason, d->code);
}

void drill_print_progress(const struct drill *d)
{
	const char *on = ka_fo_current(&d->fo);
	long long out = d->in_outage ? (long long)(drill_ms(d) - d->cur_outage.start_ms) : 0;

	printf("\r%s: %6.1f s  attempted %lu  acknowledged %lu  failed %lu  ambiguous %lu  on %s",
	       DRILL_PROG, (double)drill_ms(d) / 1000.0, d->attempted, d->acknowledged, d->failed,
	       d->ambiguous, on ? on : "-");
	if (out)
		printf("  outage %lld ms", out);
	printf("\033[K");
	fflush(stdout);
}
