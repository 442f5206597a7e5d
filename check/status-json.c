/* --json: the run as one JSON document on one line. lib/json writes into a fixed-size
 * buffer, so the document is assembled from pieces that each fit: the cluster summary,
 * one object per node, the journal. A node whose GTID texts do not fit is written
 * without them ("gtid_truncated": true) rather than as invalid JSON. */
#include "status.h"

#include "exitcode.h"
#include "json.h"

#include <string.h>

static struct ka_json j;   /* large: off the stack */

static void json_repl(const struct st_node *nd)
{
	ka_json_arr_open(&j, "replication");
	for (int k = 0; k < nd->nrepl; k++) {
		const struct st_repl *r = &nd->repl[k];
		ka_json_obj_open(&j, NULL);
		ka_json_str(&j, "connection", r->name);
		ka_json_str(&j, "source", r->source);
		ka_json_str(&j, "io", r->io);
		ka_json_str(&j, "sql", r->sql);
		if (r->lag >= 0)
			ka_json_int(&j, "lag", r->lag);
		else
			ka_json_null(&j, "lag");
		ka_json_int(&j, "master_server_id", r->master_server_id);
		ka_json_str(&j, "last_io_error", r->io_error[0] ? r->io_error : NULL);
		ka_json_str(&j, "last_sql_error", r->sql_error[0] ? r->sql_error : NULL);
		ka_json_obj_close(&j);
	}
	ka_json_arr_close(&j);
}

static void json_gtids(const struct st_node *nd)
{
	ka_json_str(&j, "gtid_current_pos", nd->current);
	ka_json_str(&j, "gtid_binlog_pos", nd->binlog);
	ka_json_str(&j, "gtid_slave_pos", nd->slave);
	if (nd->errant >= 0)
		ka_json_str(&j, "errant", nd->errant_text);
	else
		ka_json_null(&j, "errant");
}

/* One node's object; with_gtids 0 leaves out the long GTID texts. */
static const char *json_node(const struct st_node *nd, int with_gtids)
{
	ka_json_begin(&j);
	ka_json_str(&j, "address", nd->addr);
	ka_json_str(&j, "role", nd->role);
	ka_json_bool(&j, "answered", nd->answered);
	ka_json_str(&j, "error", nd->error[0] ? nd->error : NULL);
	if (nd->answered) {
		ka_json_int(&j, "server_id", nd->server_id);
		ka_json_str(&j, "version", nd->version);
		ka_json_bool(&j, "read_only", nd->read_only);
		if (with_gtids)
			json_gtids(nd);
		else
			ka_json_bool(&j, "gtid_truncated", 1);
		if (nd->errant >= 0)
			ka_json_int(&j, "errant_count", nd->errant);
		else
			ka_json_null(&j, "errant_count");
		ka_json_bool(&j, "semi_sync_master_enabled", nd->semi_master_enabled);
		ka_json_str(&j, "semi_sync_master", nd->semi_master[0] ? nd->semi_master : NULL);
		ka_json_str(&j, "semi_sync_slave", nd->semi_slave[0] ? nd->semi_slave : NULL);
		json_repl(nd);
	}
	return ka_json_end(&j);
}

static void json_vip(const struct st_cluster *c)
{
	const struct st_vip *v = &c->vip;

	ka_json_obj_open(&j, "vip");
	ka_json_str(&j, "address", v->addr);
	ka_json_bool(&j, "answered", v->answered);
	if (v->answered)
		ka_json_int(&j, "server_id", v->server_id);
	ka_json_str(&j, "node", v->node >= 0 ? c->node[v->node].addr : NULL);
	ka_json_str(&j, "error", v->error[0] ? v->error : NULL);
	ka_json_obj_close(&j);
}

/* The summary object (verdict, the first max findings, vip) into j. */
static void build_summary(const struct st_cluster *c, int max)
{
	ka_json_begin(&j);
	ka_json_str(&j, "time", c->time);
	ka_json_str(&j, "verdict", c->verdict);
	ka_json_int(&j, "code", c->code);
	ka_json_str(&j, "code_name", ka_exit_name(c->code));
	ka_json_str(&j, "headline", c->headline);
	ka_json_arr_open(&j, "findings");
	for (int i = 0; i < c->nfindings && i < max; i++)
		ka_json_arr_str(&j, c->finding[i]);
	ka_json_arr_close(&j);
	if (max < c->nfindings)
		ka_json_int(&j, "findings_dropped", c->nfindings - max);
	ka_json_int(&j, "nodes_total", (long long)c->n);
	ka_json_int(&j, "nodes_answered", c->nanswered);
	ka_json_int(&j, "writable", c->nwritable);
	ka_json_str(&j, "primary", c->primary >= 0 ? c->node[c->primary].addr : NULL);
	if (c->have_vip)
		json_vip(c);
	ka_json_int(&j, "elapsed_ms", c->elapsed_ms);
	ka_json_end(&j);
}

/* The summary without its closing brace; findings are dropped until it fits. */
static void print_summary(const struct st_cluster *c, FILE *f)
{
	int max = c->nfindings;

	build_summary(c, max);
	while (j.overflow && max > 0) {
		max /= 2;
		build_summary(c, max);
	}
	fprintf(f, "%.*s", (int)strlen(j.buf) - 1, j.buf);   /* without its "}" */
}

static void print_journal(const struct st_journal *jr, FILE *f)
{
	ka_json_begin(&j);
	ka_json_str(&j, "file", jr->path);
	ka_json_str(&j, "error", jr->error[0] ? jr->error : NULL);
	ka_json_arr_open(&j, "lines");
	for (int i = 0; i < jr->n; i++) {
		ka_json_obj_open(&j, NULL);
		ka_json_str(&j, "time", jr->line[i].time);
		ka_json_str(&j, "event", jr->line[i].event);
		ka_json_str(&j, "decision", jr->line[i].decision);
		ka_json_int(&j, "code", jr->line[i].code);
		ka_json_str(&j, "code_name", jr->line[i].code_name);
		ka_json_str(&j, "reason", jr->line[i].reason);
		ka_json_obj_close(&j);
	}
	ka_json_arr_close(&j);
	fprintf(f, ",\"journal\":%s", ka_json_end(&j));
}

void st_print_json(const struct st_opts *o, const struct st_cluster *c, FILE *f)
{
	(void)o;
	print_summary(c, f);
	fprintf(f, ",\"nodes\":[");
	for (size_t i = 0; i < c->n; i++) {
		const char *text = json_node(&c->node[i], 1);
		if (j.overflow)
			text = json_node(&c->node[i], 0);
		fprintf(f, "%s%s", i ? "," : "", text);
	}
	fprintf(f, "]");
	if (c->have_journal)
		print_journal(&c->journal, f);
	fprintf(f, "}\n");
	fflush(f);
}
