#include "exitcode.h"

#include <stddef.h>

static const struct {
	int code;
	const char *name;
	const char *meaning;
} table[] = {
	{ KA_OK, "ok", "healthy; or the action was done, or was already in effect" },
	{ KA_UNFIT, "unfit", "answered, but unfit (a condition failed)" },
	{ KA_UNREACHABLE, "unreachable", "unreachable (no socket, refused, server gone)" },
	{ KA_TIMEOUT, "timeout", "timeout: the --timeout deadline passed (hung server)" },
	{ KA_DENIED, "access-denied", "access denied / credentials wrong" },
	{ KA_SATURATED, "saturated", "saturated (too many connections)" },
	{ KA_IO_STOPPED, "io-thread-stopped", "replication IO thread not running" },
	{ KA_SQL_STOPPED, "sql-thread-stopped", "replication SQL thread not running" },
	{ KA_LAGGING, "lagging", "replication lag above the limit" },
	{ KA_REFUSED, "refused", "refused by a safety gate" },
	{ KA_ISOLATED, "isolated", "isolated: no witness reachable" },
	{ KA_SPLIT_BRAIN, "split-brain", "split brain: the peer is writable too and ahead or "
	  "diverged, or answers but cannot be queried" },
	{ KA_DEGRADED, "degraded", "degraded: a node down, a replica broken or lagging, semi-sync off" },
	{ KA_NO_PRIMARY, "no-primary", "no primary: no node is writable" },
	{ KA_DIVERGED, "diverged", "diverged: a node holds GTIDs the primary lacks (errant)" },
	{ KA_USAGE, "usage", "usage error (bad command line)" },
	{ KA_CONFIG, "config", "configuration error (option file or variables)" },
};

#define NCODES (sizeof table / sizeof table[0])

const char *ka_exit_name(int code)
{
	for (size_t i = 0; i < NCODES; i++)
		if (table[i].code == code)
			return table[i].name;
	return "unknown";
}

const char *ka_exit_meaning(int code)
{
	for (size_t i = 0; i < NCODES; i++)
		if (table[i].code == code)
			return table[i].meaning;
	return "unknown";
}

void ka_exit_foreach(void (*fn)(int, const char *, const char *, void *), void *arg)
{
	for (size_t i = 0; i < NCODES; i++)
		fn(table[i].code, table[i].name, table[i].meaning, arg);
}

/* FACTS 30: 2002/2003/2005/2006/2013 down, 1040/1203/1226 saturated, 1045/1698 denied.
 * A 1045 after the handshake is a query error (ProxySQL answers every admin SQL error so). */
int ka_exit_for_errno(unsigned int err, int at_connect)
{
	switch (err) {
	case 2002: case 2003: case 2005: case 2006: case 2013: case 2026: case 2055:
		return KA_UNREACHABLE;
	case 1040: case 1203: case 1226:
		return KA_SATURATED;
	case 1045: case 1698:
		return at_connect ? KA_DENIED : KA_UNFIT;
	case 1044: case 1142: case 1227:
		return KA_DENIED;
	default:
		return KA_UNFIT;
	}
}
