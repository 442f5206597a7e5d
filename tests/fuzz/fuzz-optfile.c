/* MariaDB option files (lib/optfile.c): the input is the file's content. */
#include "fuzz.h"
#include "optfile.h"

#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char *const groups[] = { "client", "client-server", "ka-check-mariadb", NULL };
	struct ka_optvals v;
	char path[64], err[512];
	int fd = memfd_create("optfile", 0);

	if (fd < 0 || write(fd, d, n) != (ssize_t)n)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ka_optfile_read(path, groups, &v, err, sizeof err);
	ka_optfile_has_group(path, "ka-replication", err, sizeof err);
	close(fd);
	return 0;
}
