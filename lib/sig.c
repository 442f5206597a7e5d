#include "sig.h"

#include <string.h>
#include <unistd.h>

static int term_code = 3;
static volatile sig_atomic_t *term_flag;

static void on_term_exit(int sig)
{
	static const char msg[] = "terminated by signal before the check finished\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(term_code);
}

static void on_term_flag(int sig)
{
	(void)sig;
	if (term_flag)
		*term_flag = 1;
}

static void install(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

void ka_sig_exit_on_term(int code)
{
	term_code = code ? code : 3;
	install(SIGTERM, on_term_exit);
	install(SIGINT, on_term_exit);
	install(SIGHUP, on_term_exit);
	signal(SIGPIPE, SIG_IGN);
}

void ka_sig_flag_on_term(volatile sig_atomic_t *flag)
{
	term_flag = flag;
	install(SIGTERM, on_term_flag);
	install(SIGINT, on_term_flag);
	signal(SIGPIPE, SIG_IGN);
}
