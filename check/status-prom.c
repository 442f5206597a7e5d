/* --prom FILE: the Prometheus text format (version 0.0.4) for node_exporter's textfile
 * collector, written to a temp file in FILE's directory and renamed over FILE, so the
 * collector never reads half a file. Per node: up, read_only, primary, IO/SQL running
 * and lag per replication connection, semi-sync status, errant GTIDs; per cluster: the
 * verdict (one series per verdict, 1 for the current one), writable and answering nodes. */
#include "status.h"

#include "exitcode.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const verdicts[][2] = {
	{ "OK", "ok" }, { "DEGRADED", "degraded" }, { "NO PRIMARY", "no_primary" },
	{ "SPLIT BRAIN", "split_brain" }, { "DIVERGED", "diverged" },
};

/* A label value with \, " and newline escaped (the format's only escapes). */
static const char *label(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			buf[o++] = '\\';
			buf[o++] = *s == '\n' ? 'n' : *s;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

static void family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One gauge per answering node: name{node="..."} value(node). */
static void per_node(FILE *f, const struct st_cluster *c, const char *name, const char *help,
		     int all, long (*value)(const struct st_node *))
{
	char l[200];

	family(f, name, help);
	for (size_t i = 0; i < c->n; i++)
		if (all || c->node[i].answered)
			fprintf(f, "%s{node=\"%s\"} %ld\n", name,
				label(c->node[i].addr, l, sizeof l), value(&c->node[i]));
}

static long v_up(const struct st_node *n) { return n->answered; }
static long v_ro(const struct st_node *n) { return n->read_only; }
static long v_primary(const struct st_node *n) { return strcmp(n->role, "primary") == 0; }
static long v_semi_m(const struct st_node *n) { return strcmp(n->semi_master, "ON") == 0; }
static long v_semi_s(const struct st_node *n) { return strcmp(n->semi_slave, "ON") == 0; }

/* name{node,connection} for every replication connection; lag only when known. */
static void per_conn(FILE *f, const struct st_cluster *c, const char *name, const char *help,
		     int what)
{
	char l[200], cn[160];

	family(f, name, help);
	for (size_t i = 0; i < c->n; i++) {
		for (int k = 0; k < c->node[i].nrepl; k++) {
			const struct st_repl *r = &c->node[i].repl[k];
			long v = what == 0 ? !strcmp(r->io, "Yes") : what == 1 ? !strcmp(r->sql, "Yes")
									 : r->lag;
			if (what == 2 && r->lag < 0)
				continue;
			fprintf(f, "%s{node=\"%s\",connection=\"%s\"} %ld\n", name,
				label(c->node[i].addr, l, sizeof l), label(r->name, cn, sizeof cn), v);
		}
	}
}

static void errant(FILE *f, const struct st_cluster *c)
{
	char l[200];

	family(f, "ka_status_errant_gtids", "GTIDs (last per domain and server) this node "
	       "holds that the primary lacks; absent without one primary");
	for (size_t i = 0; i < c->n; i++)
		if (c->node[i].errant >= 0)
			fprintf(f, "ka_status_errant_gtids{node=\"%s\"} %d\n",
				label(c->node[i].addr, l, sizeof l), c->node[i].errant);
}

static void cluster(FILE *f, const struct st_cluster *c)
{
	family(f, "ka_status_verdict", "1 for the current verdict of the cluster, 0 for the others");
	for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++)
		fprintf(f, "ka_status_verdict{verdict=\"%s\"} %d\n", verdicts[i][1],
			strcmp(c->verdict, verdicts[i][0]) == 0);
	family(f, "ka_status_exit_code", "exit code of the run (0 ok, 11 split brain, 12 "
	       "degraded, 13 no primary, 14 diverged)");
	fprintf(f, "ka_status_exit_code %d\n", c->code);
	family(f, "ka_status_writable_nodes", "nodes with read_only OFF");
	fprintf(f, "ka_status_writable_nodes %d\n", c->nwritable);
	family(f, "ka_status_nodes", "nodes named in --nodes");
	fprintf(f, "ka_status_nodes %zu\n", c->n);
	family(f, "ka_status_nodes_answered", "nodes that answered within --timeout");
	fprintf(f, "ka_status_nodes_answered %d\n", c->nanswered);
	family(f, "ka_status_run_duration_seconds", "how long the run took");
	fprintf(f, "ka_status_run_duration_seconds %.3f\n", c->elapsed_ms / 1000.0);
	family(f, "ka_status_last_run_timestamp_seconds", "when the run ended (Unix time)");
	fprintf(f, "ka_status_last_run_timestamp_seconds %lld\n", (long long)time(NULL));
}

static void write_metrics(FILE *f, const struct st_cluster *c)
{
	per_node(f, c, "ka_status_up", "1 when the node answered within --timeout", 1, v_up);
	per_node(f, c, "ka_status_read_only", "@@read_only of the node", 0, v_ro);
	per_node(f, c, "ka_status_primary", "1 when the node is the one writable node (or one "
		 "of several)", 0, v_primary);
	per_conn(f, c, "ka_status_replication_io_running", "1 when the IO thread runs", 0);
	per_conn(f, c, "ka_status_replication_sql_running", "1 when the SQL thread runs", 1);
	per_conn(f, c, "ka_status_replication_lag_seconds", "Seconds_Behind_Master (absent "
		 "when NULL)", 2);
	per_node(f, c, "ka_status_semi_sync_master_on", "Rpl_semi_sync_master_status is ON",
		 0, v_semi_m);
	per_node(f, c, "ka_status_semi_sync_slave_on", "Rpl_semi_sync_slave_status is ON",
		 0, v_semi_s);
	errant(f, c);
	cluster(f, c);
}

/* A temp file beside path ("DIR/.NAME.XXXXXX", not matched by the collector's *.prom). */
static FILE *open_temp(const char *path, char *tmp, size_t len, char *err, size_t errlen)
{
	char d[600], b[600];
	int fd;

	snprintf(d, sizeof d, "%s", path);
	snprintf(b, sizeof b, "%s", path);
	snprintf(tmp, len, "%s/.%s.XXXXXX", dirname(d), basename(b));
	fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0644) < 0) {
		snprintf(err, errlen, "cannot create a temp file beside '%s': %s", path,
			 strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
	}
	return f;
}

int st_write_prom(const struct st_opts *o, const struct st_cluster *c, const char *path,
		  char *err, size_t errlen)
{
	char tmp[700];
	FILE *f;

	(void)o;
	if (!(f = open_temp(path, tmp, sizeof tmp, err, errlen)))
		return -1;
	write_metrics(f, c);
	int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0;
	if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
