/* Telling the cluster: a table with a row per node (and a row per extra replication
 * connection), the VIP and journal lines, then one verdict line; or one JSON document. */
#include "status.h"

#include "exitcode.h"
#include "json.h"

#include <string.h>

enum { C_NODE, C_ROLE, C_RO, C_GTID, C_SOURCE, C_IO, C_SQL, C_LAG, C_SEMI_M, C_SEMI_S,
       C_ERRANT, NCOL };

static const char *const header[NCOL] = {
	"NODE", "ROLE", "RO", "GTID_CURRENT_POS", "SOURCE", "IO", "SQL", "LAG", "SEMI_M",
	"SEMI_S", "ERRANT",
};

struct row {
	const char *cell[NCOL];
	char lag[24];
};

static const char *or_dash(const char *s)
{
	return (s && *s) ? s : "-";
}

/* The replication cells of row w from connection r (or dashes when r is NULL). */
static void fill_repl(struct row *w, const struct st_repl *r)
{
	w->cell[C_SOURCE] = r ? r->source : "-";
	w->cell[C_IO] = r ? r->io : "-";
	w->cell[C_SQL] = r ? r->sql : "-";
	w->cell[C_LAG] = "-";
	if (r && r->lag >= 0) {
		snprintf(w->lag, sizeof w->lag, "%ld", r->lag);
		w->cell[C_LAG] = w->lag;
	} else if (r) {
		w->cell[C_LAG] = "NULL";
	}
}

static void fill_node(struct row *w, const struct st_node *nd)
{
	for (int k = 0; k < NCOL; k++)
		w->cell[k] = "-";
	w->cell[C_NODE] = nd->addr;
	w->cell[C_ROLE] = nd->role;
	if (!nd->answered)
		return;
	w->cell[C_RO] = nd->read_only ? "ON" : "OFF";
	w->cell[C_GTID] = or_dash(nd->current);
	w->cell[C_SEMI_M] = or_dash(nd->semi_master);
	w->cell[C_SEMI_S] = or_dash(nd->semi_slave);
	w->cell[C_ERRANT] = nd->errant < 0 ? "-" : nd->errant == 0 ? "none" : nd->errant_text;
	fill_repl(w, nd->nrepl ? &nd->repl[0] : NULL);
}

/* Rows for every node; returns their count. */
static size_t build_rows(const struct st_cluster *c, struct row *rows, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n && n < max; i++) {
		const struct st_node *nd = &c->node[i];
		fill_node(&rows[n++], nd);
		for (int k = 1; k < nd->nrepl && n < max; k++) {
			struct row *w = &rows[n++];
			for (int j = 0; j < NCOL; j++)
				w->cell[j] = "";
			fill_repl(w, &nd->repl[k]);
		}
	}
	return n;
}

/* One line of cells, each padded to its column's width (the last one not). */
static void print_line(const char *const *cell, const size_t *width, FILE *f)
{
	for (int k = 0; k < NCOL - 1; k++)
		fprintf(f, "%-*s  ", (int)width[k], cell[k]);
	fprintf(f, "%s\n", cell[NCOL - 1]);
}

static void print_rows(const struct row *rows, size_t n, FILE *f)
{
	size_t width[NCOL];

	for (int k = 0; k < NCOL; k++) {
		width[k] = strlen(header[k]);
		for (size_t i = 0; i < n; i++)
			if (strlen(rows[i].cell[k]) > width[k])
				width[k] = strlen(rows[i].cell[k]);
	}
	print_line(header, width, f);
	for (size_t i = 0; i < n; i++)
		print_line(rows[i].cell, width, f);
}

static void print_vip(const struct st_cluster *c, FILE *f)
{
	const struct st_vip *v = &c->vip;

	if (!v->answered)
		fprintf(f, "vip %s: no answer (%s)\n", v->addr, v->error);
	else if (v->node < 0)
		fprintf(f, "vip %s -> server_id %ld (not one of --nodes)\n", v->addr, v->server_id);
	else
		fprintf(f, "vip %s -> %s (server_id %ld, %s)\n", v->addr, c->node[v->node].addr,
			v->server_id, c->node[v->node].role);
}

static void print_journal(const struct st_journal *j, FILE *f)
{
	if (j->error[0]) {
		fprintf(f, "journal %s: %s\n", j->path, j->error);
		return;
	}
	fprintf(f, "journal %s (last %d):\n", j->path, j->n);
	for (int i = 0; i < j->n; i++) {
		if (!j->line[i].time[0])   /* not a journal line: the reason says what it was */
			fprintf(f, "  %s\n", j->line[i].reason);
		else
			fprintf(f, "  %s %s %s %ld %s: %s\n", j->line[i].time, j->line[i].event,
				j->line[i].decision, j->line[i].code, j->line[i].code_name,
				j->line[i].reason);
	}
}

/* The verdict line: VERDICT headline; finding; ... | code=N ... */
static void print_verdict(const struct st_cluster *c, FILE *f)
{
	const char *sep = c->headline[0] ? "; " : "";

	fprintf(f, "%s %s", c->verdict, c->headline);
	for (int i = 0; i < c->nfindings; i++, sep = "; ")
		fprintf(f, "%s%s", sep, c->finding[i]);
	fprintf(f, " | code=%d nodes=%zu answered=%d writable=%d elapsed_ms=%lld\n", c->code,
		c->n, c->nanswered, c->nwritable, (long long)c->elapsed_ms);
}

void st_print_table(const struct st_opts *o, const struct st_cluster *c, FILE *f)
{
	static struct row rows[ST_MAX_NODES * ST_MAX_CONNS];

	(void)o;
	print_rows(rows, build_rows(c, rows, sizeof rows / sizeof rows[0]), f);
	if (c->have_vip)
		print_vip(c, f);
	if (c->have_journal)
		print_journal(&c->journal, f);
	print_verdict(c, f);
	fflush(f);
}
