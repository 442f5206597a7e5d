/* ka-notify-mariadb's option table and event words (argv and keepalived's generic
 * notify: INSTANCE|GROUP NAME STATE PRIORITY): argv words separated by NUL bytes. */
#define main ka_notify_main
#include "../../notify/ka-notify-mariadb.c"
#undef main
#include "fuzz.h"

FUZZ_ARGV_TARGET("ka-notify-mariadb", {
	static struct opts o;
	char err[512], source[300], why[300];
	enum event ev;
	int first = 1;
	keep_buf[0] = '\0';
	if (parse_args(argc, argv, &o, &first, err, sizeof err) == 0)
		decode_argv(&o, argc - first, argv + first, &ev, source, sizeof source, why,
			    sizeof why, err, sizeof err);
})
