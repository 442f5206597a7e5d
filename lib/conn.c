#include "conn.h"
#include "args.h"

#include <stdio.h>
#include <string.h>

int ka_conn_setup(struct ka_conn *c, const char *defaults_file, const char *const *groups,
		  const char *host, unsigned int port, const char *socket,
		  char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (defaults_file) {
		if (ka_optfile_check(defaults_file, err, errlen) < 0)
			return -1;
		if (ka_optfile_read(defaults_file, groups, &c->vals, err, errlen) < 0)
			return -1;
	}
	/* Connector/C resolves names with a blocking getaddrinfo, outside any deadline
	 * (and a static binary's NSS is unreliable, FACTS 31): only numeric addresses. */
	if (host && !ka_is_numeric_ip(host)) {
		snprintf(err, errlen, "host '%s' is not a numeric IP address: a check never "
			 "waits on DNS", host);
		return -1;
	}
	if (!host && !socket && c->vals.host[0] && strcmp(c->vals.host, "localhost") != 0 &&
	    !ka_is_numeric_ip(c->vals.host)) {
		snprintf(err, errlen, "host '%s' in option file '%s' is not a numeric IP address: "
			 "a check never waits on DNS", c->vals.host, defaults_file);
		return -1;
	}
	c->addr.user = c->vals.user[0] ? c->vals.user : NULL;
	c->addr.password = c->vals.password[0] ? c->vals.password : NULL;
	c->addr.database = c->vals.database[0] ? c->vals.database : NULL;
	if (host || socket) {
		/* The command line names the server: the file's address does not apply. */
		c->addr.host = host;
		c->addr.port = host ? (port ? port : 3306) : 0;
		c->addr.socket = socket;
	} else if (c->vals.host[0] && strcmp(c->vals.host, "localhost") != 0) {
		c->addr.host = c->vals.host;
		c->addr.port = port ? port : (c->vals.port ? c->vals.port : 3306);
	} else if (port) {
		c->addr.host = "127.0.0.1";
		c->addr.port = port;
	} else {
		c->addr.socket = c->vals.socket[0] ? c->vals.socket : KA_DEFAULT_SOCKET;
	}
	return 0;
}

const char *ka_conn_target(const struct ka_conn *c, char *buf, size_t len)
{
	if (c->addr.host)
		snprintf(buf, len, "%s:%u", c->addr.host, c->addr.port);
	else
		snprintf(buf, len, "%s", c->addr.socket ? c->addr.socket : KA_DEFAULT_SOCKET);
	return buf;
}
