/* ka-drill's option table: argv words separated by NUL bytes. */
#define main ka_drill_main
#include "../../client/ka-drill.c"
#undef main
#include "fuzz.h"

FUZZ_ARGV_TARGET("ka-drill", {
	static struct drill_opts o;
	char err[512];
	parse_args(argc, argv, &o, err, sizeof err);
})
