/* The state files ka-notify-mariadb reads back (notify/state.c): the ticket counter, the
 * fault file and the fence mark, each holding the input. They live in a directory made
 * under $TMPDIR at start and removed at exit. */
#include "fuzz.h"
#include "notify.h"

#include <fcntl.h>
#include <unistd.h>

static char dir[256], ticket[300], fault[300], fence[300];
static struct opts o;

static void cleanup(void)
{
	unlink(ticket);
	unlink(fault);
	unlink(fence);
	rmdir(dir);
}

static void put(const char *path, const uint8_t *d, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, d, n) != (ssize_t)n || close(fd) < 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc, (void)argv;
	snprintf(dir, sizeof dir, "%s/ka-fuzz-state.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(ticket, sizeof ticket, "%s/ka-notify-mariadb.ticket", dir);
	snprintf(fault, sizeof fault, "%s/fault", dir);
	snprintf(fence, sizeof fence, "%s/ka-notify-mariadb.fenced", dir);
	snprintf(o.lock_dir, sizeof o.lock_dir, "%s", dir);
	snprintf(o.journal_dir, sizeof o.journal_dir, "%s", dir);
	snprintf(o.peer.host, sizeof o.peer.host, "192.0.2.12");
	o.peer.port = 3306;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char err[700];
	long long t1, t2;

	put(ticket, d, n);
	if (ticket_latest(&o, &t1, err, sizeof err) == 0 &&
	    ticket_take(&o, &t2, err, sizeof err) == 0 && t2 <= 0)
		abort();   /* a ticket taken is always positive */
	put(fault, d, n);
	fault_file_value(fault);
	put(fence, d, n);
	fence_mark_held(&o);
	return 0;
}
