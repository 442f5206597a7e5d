/* ka-check-mariadb's option table: argv words separated by NUL bytes. */
#define main ka_check_main
#include "../../check/ka-check-mariadb.c"
#undef main
#include "fuzz.h"

FUZZ_ARGV_TARGET("ka-check-mariadb", {
	static struct opts o;
	char err[512];
	parse_args(argc, argv, &o, err, sizeof err);
})
