/* ka-status's option table (node lists, addresses, numbers): argv words separated by
 * NUL bytes. */
#define main ka_status_main
#include "../../check/ka-status.c"
#undef main
#include "fuzz.h"

FUZZ_ARGV_TARGET("ka-status", {
	static struct st_opts o;
	char err[512];
	parse_args(argc, argv, &o, err, sizeof err);
	if (o.nnodes > ST_MAX_NODES)
		abort();
})
