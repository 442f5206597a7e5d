#include "probe_report.h"
#include "exitcode.h"

#include <stdio.h>

const char *ka_probe_role(const struct ka_probe_opts *o, const struct ka_probe_result *r)
{
	if (!r->connected || r->read_only < 0)
		return "unknown";
	if (!o->replication)
		return r->read_only ? "read-only" : "writable";
	if (r->detached)
		return "detached";
	return r->replica ? "replica" : "primary";
}

/* Peer i's endpoint (from the options when the guard did not run) and state. */
static const char *peer_ep(const struct ka_probe_opts *o, const struct ka_probe_result *r,
			   int i, char *buf, size_t len)
{
	return r->peers[i].ep[0] ? r->peers[i].ep : ka_endpoint_text(&o->peer[i], buf, len);
}

static const char *peer_state(const struct ka_probe_result *r, int i)
{
	return r->peers[i].state[0] ? r->peers[i].state : "not-asked";
}

void ka_probe_fields_text(const struct ka_probe_opts *o, const struct ka_probe_result *r,
			  char *buf, size_t len)
{
	char lag[24] = "-", ep[80];
	size_t n;

	if (r->lag >= 0)
		snprintf(lag, sizeof lag, "%ld", r->lag);
	n = (size_t)snprintf(buf, len, "code=%d role=%s read_only=%s", r->code,
			     ka_probe_role(o, r),
			     r->read_only < 0 ? "?" : r->read_only ? "ON" : "OFF");
	if (o->replication && n < len)
		n += (size_t)snprintf(buf + n, len - n, " io=%s sql=%s lag=%s",
				      r->replica ? r->io : "-", r->replica ? r->sql : "-",
				      r->replica ? lag : "-");
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " gtid=%s", r->gtid[0] ? r->gtid : "-");
	if (o->nwitness && n < len)
		n += (size_t)snprintf(buf + n, len - n, " witness=%s",
				      r->witness[0] ? r->witness : "none");
	if (o->npeer && n < len)
		n += (size_t)snprintf(buf + n, len - n, " peer=%s",
				      r->peer[0] ? r->peer : "not-asked");
	for (int i = 0; o->npeer > 1 && i < o->npeer && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s/%s", i ? "," : " peers=",
				      peer_ep(o, r, i, ep, sizeof ep), peer_state(r, i));
}

void ka_probe_fields_json(const struct ka_probe_opts *o, const struct ka_probe_result *r,
			  struct ka_json *j)
{
	char ep[80];

	ka_json_int(j, "code", r->code);
	ka_json_str(j, "code_name", ka_exit_name(r->code));
	ka_json_str(j, "reason", r->reason);
	ka_json_str(j, "role", ka_probe_role(o, r));
	if (r->read_only < 0)
		ka_json_null(j, "read_only");
	else
		ka_json_bool(j, "read_only", r->read_only);
	ka_json_str(j, "gtid", r->gtid[0] ? r->gtid : NULL);
	if (o->replication) {
		ka_json_str(j, "io", r->replica ? r->io : NULL);
		ka_json_str(j, "sql", r->replica ? r->sql : NULL);
		if (r->replica && r->lag >= 0)
			ka_json_int(j, "lag", r->lag);
		else
			ka_json_null(j, "lag");
	}
	if (o->nwitness)
		ka_json_str(j, "witness", r->witness[0] ? r->witness : NULL);
	if (!o->npeer)
		return;
	ka_json_str(j, "peer", r->peer[0] ? r->peer : "not-asked");
	ka_json_arr_open(j, "peers");
	for (int i = 0; i < o->npeer; i++) {
		ka_json_obj_open(j, NULL);
		ka_json_str(j, "endpoint", peer_ep(o, r, i, ep, sizeof ep));
		ka_json_str(j, "state", peer_state(r, i));
		ka_json_obj_close(j);
	}
	ka_json_arr_close(j);
}
