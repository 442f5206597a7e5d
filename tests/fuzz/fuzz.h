/* Shared by the libFuzzer targets: turning fuzz input into C strings and argv vectors.
 * Targets keep stdout quiet (usage, --help, --list-exit-codes go to /dev/null); runs
 * pass -close_fd_mask=2 for the usage errors on stderr (libFuzzer keeps its reports). */
#ifndef KA_FUZZ_H
#define KA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of the input (NULs inside stay: C sees the first part). */
static inline char *fuzz_str(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

/* Splits the input at NUL bytes into argv (prog first, at most 64 words); *buf holds
 * the words and must be freed with the returned vector. */
static inline int fuzz_argv(const uint8_t *d, size_t n, const char *prog, char ***argvp,
			    char **buf)
{
	static char *argv[66];
	int argc = 0;
	char *p;

	*buf = malloc(n + 1);
	if (!*buf)
		abort();
	memcpy(*buf, d, n);
	(*buf)[n] = '\0';
	argv[argc++] = (char *)prog;
	p = *buf;
	while (p < *buf + n + 1 && argc < 65) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	argv[argc] = NULL;
	*argvp = argv;
	return argc;
}

static inline void fuzz_quiet(void)
{
	if (!freopen("/dev/null", "w", stdout))
		abort();
}

/* An option-table target: stdout quiet, the input split into argv (argc, argv in scope),
 * getopt reset, then the statements given (the binary's parse call). */
#define FUZZ_ARGV_TARGET(prog, ...) \
	int LLVMFuzzerInitialize(int *argc, char ***argv) \
	{ \
		(void)argc, (void)argv; \
		fuzz_quiet(); \
		return 0; \
	} \
	int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) \
	{ \
		char **argv, *buf; \
		int argc = fuzz_argv(d, n, prog, &argv, &buf); \
		optind = 0;   /* glibc: reinitialize getopt fully */ \
		__VA_ARGS__ \
		free(buf); \
		return 0; \
	}

#endif
