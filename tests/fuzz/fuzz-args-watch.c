/* ka-watch-mariadb's option table: argv words separated by NUL bytes. */
#define main ka_watch_main
#include "../../check/ka-watch-mariadb.c"
#undef main
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct opts o;
	char **argv, *buf, err[512];
	int argc = fuzz_argv(d, n, "ka-watch-mariadb", &argv, &buf);

	optind = 0;   /* glibc: reinitialize getopt fully */
	parse_args(argc, argv, &o, err, sizeof err);
	free(buf);
	return 0;
}
