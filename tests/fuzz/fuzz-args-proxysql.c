/* ka-check-proxysql's option table: argv words separated by NUL bytes. */
#define main ka_check_proxysql_main
#include "../../check/ka-check-proxysql.c"
#undef main
#include "fuzz.h"

FUZZ_ARGV_TARGET("ka-check-proxysql", {
	static struct opts o;
	char err[512];
	parse_args(argc, argv, &o, err, sizeof err);
})
