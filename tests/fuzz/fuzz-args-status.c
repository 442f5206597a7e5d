/* ka-status's option table (node lists, addresses, numbers): argv words separated by
 * NUL bytes. */
#define main ka_status_main
#include "../../check/ka-status.c"
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
	static struct st_opts o;
	char **argv, *buf, err[512];
	int argc = fuzz_argv(d, n, "ka-status", &argv, &buf);

	optind = 0;   /* glibc: reinitialize getopt fully */
	parse_args(argc, argv, &o, err, sizeof err);
	if (o.nnodes > ST_MAX_NODES)
		abort();
	free(buf);
	return 0;
}
