/* Signals. keepalived SIGTERMs a check that overruns its timeout, and a check that
 * catches TERM and exits 0 counts as success (FACTS 2): we never do that. */
#ifndef KA_SIG_H
#define KA_SIG_H

#include <signal.h>

/* SIGTERM, SIGINT and SIGHUP end the process at once with exit code code (never 0);
 * SIGPIPE is ignored. */
void ka_sig_exit_on_term(int code);

/* SIGTERM and SIGINT set *flag instead (for loops that stop cleanly); SIGPIPE ignored.
 * Installed without SA_RESTART so blocking reads return EINTR. */
void ka_sig_flag_on_term(volatile sig_atomic_t *flag);

#endif
