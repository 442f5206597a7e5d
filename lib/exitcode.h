/* Exit codes shared by every ka-mariadb binary (DESIGN.md "Contracts").
 * Numbered for good: never renumber, only add. Never 126, 127 or >= 128. */
#ifndef KA_EXITCODE_H
#define KA_EXITCODE_H

enum ka_exit {
	KA_OK = 0,           /* healthy; or the action was done or already in effect */
	KA_UNFIT = 1,        /* answered, but a condition failed */
	KA_UNREACHABLE = 2,  /* no socket, refused, server gone */
	KA_TIMEOUT = 3,      /* the --timeout deadline passed */
	KA_DENIED = 4,       /* access denied / credentials wrong */
	KA_SATURATED = 5,    /* too many connections */
	KA_IO_STOPPED = 6,   /* replication IO thread not running */
	KA_SQL_STOPPED = 7,  /* replication SQL thread not running */
	KA_LAGGING = 8,      /* replication lag above the limit */
	KA_REFUSED = 9,      /* refused by a safety gate */
	KA_ISOLATED = 10,    /* no witness reachable */
	KA_SPLIT_BRAIN = 11, /* peer writable too and ahead or diverged, or unqueryable */
	KA_DEGRADED = 12,    /* ka-status: a node down, a replica broken or lagging, semi-sync off */
	KA_NO_PRIMARY = 13,  /* ka-status: no writable node */
	KA_DIVERGED = 14,    /* ka-status: a node holds GTIDs the primary lacks */
	KA_USAGE = 64,       /* bad command line */
	KA_CONFIG = 78       /* option file or template variables wrong */
};

/* Short stable name of an exit code ("timeout"), or "unknown". */
const char *ka_exit_name(int code);

/* One-line meaning of an exit code, as in the README table. */
const char *ka_exit_meaning(int code);

/* Calls fn for every defined code in ascending order (for --list-exit-codes). */
void ka_exit_foreach(void (*fn)(int code, const char *name, const char *meaning, void *arg), void *arg);

/* Exit code for a client error number; at_connect tells whether it came from the handshake. */
int ka_exit_for_errno(unsigned int err, int at_connect);

#endif
