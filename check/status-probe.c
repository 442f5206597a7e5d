/* Asking the nodes: one session per node (and one through the VIP), all driven
 * together by lib/dbmulti under one deadline, then each answer read into st_node.
 * Three statements per node, in order of importance: the variables (no privilege
 * needed), the semi-sync status (none either), the replication status (SLAVE MONITOR). */
#include "status.h"

#include "dbmulti.h"
#include "deadline.h"
#include "exitcode.h"

#include <stdlib.h>
#include <string.h>

enum { Q_VARS, Q_SEMI, Q_SLAVES };

static const char *const node_sql[] = {
	[Q_VARS] = ("SELECT @@global.server_id, @@global.read_only, @@global.gtid_current_pos, "
		    "@@global.gtid_slave_pos, @@global.gtid_binlog_pos, @@global.gtid_binlog_state, "
		    "@@global.rpl_semi_sync_master_enabled, @@version"),
	[Q_SEMI] = ("SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', "
		    "'Rpl_semi_sync_slave_status')"),
	[Q_SLAVES] = "SHOW ALL SLAVES STATUS",
};

static const char *field(MYSQL_RES *res, MYSQL_ROW row, const char *name)
{
	int i = ka_db_column(res, name);

	return (i >= 0 && row[i]) ? row[i] : NULL;
}

static char *dup_text(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();   /* a few bytes: nothing sensible is left to do without them */
	return d;
}

/* The variables row; the node counts as answered only with it. */
static void read_vars(struct st_node *nd, MYSQL_RES *res)
{
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;

	if (!row || mysql_num_fields(res) < 8)
		return;
	nd->answered = 1;
	nd->server_id = row[0] ? atol(row[0]) : 0;
	nd->read_only = row[1] && strcmp(row[1], "0") != 0;
	nd->current = dup_text(row[2]);
	nd->slave = dup_text(row[3]);
	nd->binlog = dup_text(row[4]);
	nd->state = dup_text(row[5]);
	nd->semi_master_enabled = row[6] && strcmp(row[6], "0") != 0;
	snprintf(nd->version, sizeof nd->version, "%s", row[7] ? row[7] : "");
}

static void read_semi(struct st_node *nd, MYSQL_RES *res)
{
	MYSQL_ROW row;

	while (res && (row = mysql_fetch_row(res))) {
		if (!row[0] || !row[1])
			continue;
		if (strcmp(row[0], "Rpl_semi_sync_master_status") == 0)
			snprintf(nd->semi_master, sizeof nd->semi_master, "%s", row[1]);
		else if (strcmp(row[0], "Rpl_semi_sync_slave_status") == 0)
			snprintf(nd->semi_slave, sizeof nd->semi_slave, "%s", row[1]);
	}
}

static void copy_or(char *dst, size_t len, const char *s, const char *dflt)
{
	snprintf(dst, len, "%s", s ? s : dflt);
}

/* One SHOW ALL SLAVES STATUS row with a source into r. */
static void read_repl_row(struct st_repl *r, MYSQL_RES *res, MYSQL_ROW row)
{
	const char *port = field(res, row, "Master_Port");
	const char *lag = field(res, row, "Seconds_Behind_Master");
	const char *msid = field(res, row, "Master_Server_Id");
	const char *host = field(res, row, "Master_Host");

	copy_or(r->name, sizeof r->name, field(res, row, "Connection_name"), "");
	snprintf(r->source, sizeof r->source, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host,
		 port ? port : "3306");
	copy_or(r->io, sizeof r->io, field(res, row, "Slave_IO_Running"), "?");
	copy_or(r->sql, sizeof r->sql, field(res, row, "Slave_SQL_Running"), "?");
	copy_or(r->io_error, sizeof r->io_error, field(res, row, "Last_IO_Error"), "");
	copy_or(r->sql_error, sizeof r->sql_error, field(res, row, "Last_SQL_Error"), "");
	r->lag = lag ? atol(lag) : -1;
	r->master_server_id = msid ? atol(msid) : 0;
}

static void read_slaves(struct st_node *nd, MYSQL_RES *res)
{
	MYSQL_ROW row;

	nd->repl_known = 1;
	while ((row = mysql_fetch_row(res)) && nd->nrepl < ST_MAX_CONNS) {
		const char *host = field(res, row, "Master_Host");
		if (host && *host)
			read_repl_row(&nd->repl[nd->nrepl++], res, row);
	}
}

/* Exit code for what went wrong in session s (KA_OK when nothing did). */
static int session_code(const struct ka_dbm *s)
{
	if (!s->err[0])
		return KA_OK;
	if (s->db.timed_out || s->db.err)
		return ka_db_exit_code(&s->db);
	for (int q = 0; q < KA_DBM_MAX_SQL; q++)   /* a statement's server error */
		if (s->sql_err[q])
			return ka_exit_for_errno(s->sql_err[q], 0);
	return KA_UNFIT;
}

/* What session s learned about node nd; the first failure is kept in nd->error. */
static void read_node(struct st_node *nd, struct ka_dbm *s)
{
	if (s->res[Q_VARS])
		read_vars(nd, s->res[Q_VARS]);
	read_semi(nd, s->res[Q_SEMI]);
	if (s->res[Q_SLAVES])
		read_slaves(nd, s->res[Q_SLAVES]);
	snprintf(nd->error, sizeof nd->error, "%s", s->err);
	nd->code = session_code(s);
	if (!nd->answered && !nd->error[0]) {
		snprintf(nd->error, sizeof nd->error, "no answer to the status query");
		nd->code = KA_UNFIT;
	}
}

static void read_vip(struct st_vip *v, struct ka_dbm *s)
{
	MYSQL_ROW row = s->res[0] ? mysql_fetch_row(s->res[0]) : NULL;

	v->node = -1;
	if (row && row[0]) {
		v->answered = 1;
		v->server_id = atol(row[0]);
	} else {
		snprintf(v->error, sizeof v->error, "%s", s->err[0] ? s->err : "no answer");
	}
}

static void set_addr(struct ka_dbm *s, const struct st_opts *o, const char *host,
		     unsigned int port)
{
	s->addr.host = host;
	s->addr.port = port;
	s->addr.user = o->creds.user[0] ? o->creds.user : NULL;
	s->addr.password = o->creds.password[0] ? o->creds.password : NULL;
}

int st_probe(const struct st_opts *o, struct st_cluster *c, volatile sig_atomic_t *stop)
{
	static struct ka_dbm s[ST_MAX_NODES + 1];
	size_t n = o->nnodes;

	memset(s, 0, sizeof s);
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		set_addr(&s[i], o, o->node[i].host, o->node[i].port);
		memcpy(s[i].sql, node_sql, sizeof node_sql);
		snprintf(c->node[i].addr, sizeof c->node[i].addr,
			 strchr(o->node[i].host, ':') ? "[%s]:%u" : "%s:%u", o->node[i].host,
			 o->node[i].port);
	}
	if (o->have_vip) {
		set_addr(&s[n], o, o->vip.host, o->vip.port);
		s[n].sql[0] = "SELECT @@global.server_id";
		snprintf(c->vip.addr, sizeof c->vip.addr, strchr(o->vip.host, ':') ? "[%s]:%u" :
			 "%s:%u", o->vip.host, o->vip.port);
	}
	c->have_vip = o->have_vip;
	ka_dbm_run(s, n + (o->have_vip ? 1 : 0), ka_deadline_in(o->timeout_ms), stop);
	for (size_t i = 0; i < n; i++)
		read_node(&c->node[i], &s[i]);
	if (o->have_vip)
		read_vip(&c->vip, &s[n]);
	ka_dbm_close(s, n + (o->have_vip ? 1 : 0));
	return (stop && *stop) ? -1 : 0;
}

void st_free(struct st_cluster *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->node[i].current);
		free(c->node[i].slave);
		free(c->node[i].binlog);
		free(c->node[i].state);
		c->node[i].current = c->node[i].slave = c->node[i].binlog = c->node[i].state = NULL;
	}
}
