/* Where to connect and as whom: command-line address over option-file address over
 * the default socket; credentials only from the option file (never argv). */
#ifndef KA_CONN_H
#define KA_CONN_H

#include "db.h"
#include "optfile.h"

#define KA_DEFAULT_SOCKET "/run/mysqld/mysqld.sock"

struct ka_conn {
	struct ka_optvals vals;   /* what the option file said (or zeroes) */
	struct ka_dbaddr addr;    /* points into vals and the arguments */
};

/* Fills c from defaults_file (may be NULL: connect as the OS user, unix_socket auth)
 * read in groups, then the command-line host/port/socket (NULL/0 when not given).
 * A host, from either, must be a numeric IP address. Returns 0, or -1 with err filled
 * (the caller exits 78). */
int ka_conn_setup(struct ka_conn *c, const char *defaults_file, const char *const *groups,
		  const char *host, unsigned int port, const char *socket,
		  char *err, size_t errlen);

/* "127.0.0.1:3306" or the socket path, for messages. */
const char *ka_conn_target(const struct ka_conn *c, char *buf, size_t len);

#endif
