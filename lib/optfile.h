/* Credentials from a MariaDB-syntax option file (--defaults-file), never from argv.
 * Connector/C silently ignores a missing file (FACTS 29), so we check and parse it. */
#ifndef KA_OPTFILE_H
#define KA_OPTFILE_H

#include <stddef.h>

struct ka_optvals {
	char user[128];
	char password[256];
	char host[256];
	char socket[256];
	char database[128];
	unsigned int port;    /* 0 when not set */
};

/* Checks that path is a regular, readable file that others cannot read or write.
 * Returns 0, or -1 with err filled (the caller exits 78). */
int ka_optfile_check(const char *path, char *err, size_t errlen);

/* Reads user, password, host, port, socket and database from the groups named in
 * groups (NULL-terminated, e.g. {"client", "client-mariadb", NULL}); a later line wins.
 * Other keys are ignored. Returns 0, or -1 on an unreadable file or a malformed line. */
int ka_optfile_read(const char *path, const char *const *groups, struct ka_optvals *out,
		    char *err, size_t errlen);

/* 1 when the file has a [group] section, 0 when not, -1 when unreadable. */
int ka_optfile_has_group(const char *path, const char *group, char *err, size_t errlen);

#endif
