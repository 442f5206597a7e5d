/* How a probe's result reads, shared by ka-check-mariadb and ka-watch-mariadb so both
 * print the same fields with the same words: formatting only, never printing. */
#ifndef KA_PROBE_REPORT_H
#define KA_PROBE_REPORT_H

#include "json.h"
#include "probe.h"

#include <stddef.h>

/* "unknown", "writable", "read-only", and with --replication "primary", "replica" or
 * "detached". */
const char *ka_probe_role(const struct ka_probe_opts *o, const struct ka_probe_result *r);

/* The fields of the result line into buf: "code=N role=R read_only=ON|OFF|?", then
 * "io= sql= lag=" (with --replication), "gtid=", "witness=" and "peer=" (when asked),
 * and with several peers "peers=EP/STATE,..." in --peer order. */
void ka_probe_fields_text(const struct ka_probe_opts *o, const struct ka_probe_result *r,
			  char *buf, size_t len);

/* The same fields as JSON members (code, code_name, reason, role, read_only, gtid, io,
 * sql, lag, witness, peer, and peers: [{endpoint, state}] for every --peer; those of
 * options not given are left out). */
void ka_probe_fields_json(const struct ka_probe_opts *o, const struct ka_probe_result *r,
			  struct ka_json *j);

#endif
