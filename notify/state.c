/* Files in the state dirs, and the fault file.
 *
 * Serialization, "latest event wins" (FACTS 9): every keepalived event takes a ticket
 * (a counter in LOCKDIR/ka-notify-mariadb.ticket, incremented under a short flock) when
 * its process starts, before it waits for the run lock (LOCKDIR/ka-notify-mariadb.lock,
 * flock held for the whole run). A run that gets the lock and finds a newer ticket was
 * superseded while it waited: it does nothing. Long waits inside a run (catch-up) look
 * again, so a newer event never waits behind an older one for long. flock locks die
 * with their process: a run SIGKILLed by keepalived leaves nothing stale behind.
 */
#include "notify.h"

#include "deadline.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TICKET_FILE "ka-notify-mariadb.ticket"
#define LOCK_FILE "ka-notify-mariadb.lock"
#define JOURNAL_FILE "journal.jsonl"
#define TICKET_LOCK_MS 2000
#define FENCE_FILE "ka-notify-mariadb.fenced"

volatile sig_atomic_t ka_notify_term;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Creates dir with mode 0700 when it is missing. */
static int dir_ready(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create state dir '%s': %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state dir '%s' is not a directory", dir);
		return -1;
	}
	return 0;
}

int state_dirs_ready(const struct opts *o, char *err, size_t errlen)
{
	if (dir_ready(o->lock_dir, err, errlen) < 0)
		return -1;
	return strcmp(o->lock_dir, o->journal_dir) ? dir_ready(o->journal_dir, err, errlen) : 0;
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* flock with a deadline (flock itself has none): tries every 10 ms. */
static int flock_until(int fd, int how, int64_t deadline)
{
	for (;;) {
		if (flock(fd, how | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (ka_remaining_ms(deadline) <= 0 || ka_notify_term) {
			errno = ETIMEDOUT;
			return -1;
		}
		sleep_ms(10);
	}
}

/* Opens the ticket file locked; returns the fd and the counter in *value, or -1. */
static int ticket_open(const struct opts *o, int how, long long *value, char *err,
		       size_t errlen)
{
	char path[600], buf[32];
	int fd;
	ssize_t n;

	path_in(path, sizeof path, o->lock_dir, TICKET_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock_until(fd, how, ka_deadline_in(TICKET_LOCK_MS)) < 0) {
		snprintf(err, errlen, "cannot lock ticket file '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	*value = strtoll(buf, NULL, 10);
	if (*value < 0 || *value > LLONG_MAX / 2)
		*value = 0;   /* a damaged counter restarts: a taken ticket is always >= 1 */
	return fd;
}

int ticket_take(const struct opts *o, long long *ticket, char *err, size_t errlen)
{
	char buf[32];
	long long v;
	int fd = ticket_open(o, LOCK_EX, &v, err, errlen);

	if (fd < 0)
		return -1;
	*ticket = v + 1;
	int n = snprintf(buf, sizeof buf, "%lld\n", *ticket);
	if (pwrite(fd, buf, (size_t)n, 0) != n || ftruncate(fd, n) < 0) {
		snprintf(err, errlen, "cannot write ticket file in '%s': %s", o->lock_dir,
			 strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int ticket_latest(const struct opts *o, long long *ticket, char *err, size_t errlen)
{
	int fd = ticket_open(o, LOCK_SH, ticket, err, errlen);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int lock_take(const struct opts *o, int64_t deadline, int *timed_out, char *err,
	      size_t errlen)
{
	char path[600];
	int fd;

	*timed_out = 0;
	path_in(path, sizeof path, o->lock_dir, LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open lock file '%s': %s", path, strerror(errno));
		return -1;
	}
	if (flock_until(fd, LOCK_EX, deadline) < 0) {
		*timed_out = errno == ETIMEDOUT;
		snprintf(err, errlen, "cannot take lock '%s': %s", path,
			 *timed_out ? (ka_notify_term ? "terminated while waiting"
					 : "another run held it past the wait limit")
				    : strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Appends line and a newline in one write() on an O_APPEND descriptor: concurrent
 * runs never interleave inside a line. */
int journal_append(const struct opts *o, const char *line, char *err, size_t errlen)
{
	static char buf[16400];
	char path[600];
	int fd, n;

	path_in(path, sizeof path, o->journal_dir, JOURNAL_FILE);
	n = snprintf(buf, sizeof buf, "%s\n", line);
	if (n < 0 || (size_t)n >= sizeof buf) {
		snprintf(err, errlen, "journal line too long");
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		snprintf(err, errlen, "cannot append to journal '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Writes value ("1" forces keepalived FAULT through a weight-0 track_file, "0" lifts
 * it) atomically: a temp file in the same directory, then rename (FACTS 11). */
int fault_file_write(const char *path, int value, char *err, size_t errlen)
{
	char tmp[600], dcopy[600], text[4];
	int fd, n = snprintf(text, sizeof text, "%d\n", value ? 1 : 0);

	snprintf(dcopy, sizeof dcopy, "%s", path);
	snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dirname(dcopy), strrchr(path, '/') ?
		 strrchr(path, '/') + 1 : path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write fault file '%s': %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, text, (size_t)n) != n || fchmod(fd, 0644) < 0 || fsync(fd) < 0 ||
	    close(fd) < 0) {
		snprintf(err, errlen, "cannot write fault file '%s': %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename '%s' to fault file '%s': %s", tmp, path,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* 1 when the fault file forces FAULT, 0 when it does not or is missing, -1 unreadable. */
int fault_file_value(const char *path)
{
	char buf[32];
	FILE *f = fopen(path, "r");

	if (!f)
		return errno == ENOENT ? 0 : -1;
	if (!fgets(buf, sizeof buf, f))
		buf[0] = '\0';
	fclose(f);
	return strtol(buf, NULL, 10) != 0;
}

/* 1 when a newer keepalived event has taken a ticket since this run took its own. */
int superseded(struct run *r)
{
	char err[512];
	long long latest;

	if (r->o->fifo && !r->o->dry_run && fifo_has_newer(r->o, r->ev))
		return 1;   /* strict order: a waiting line is the newer event */
	if (!r->ticket || r->o->dry_run)
		return 0;
	if (ticket_latest(r->o, &latest, err, sizeof err) < 0) {
		ka_log_warn("%s", err);
		return 0;
	}
	return latest > r->ticket;
}

/* Forces FAULT through --fault-file (no-op without it or in a dry run). */
void fault_set(struct run *r, const char *why)
{
	char err[700];
	struct step *s;

	if (!r->o->fault_file)
		return;
	if (r->o->dry_run) {
		plan(r, "write 1 to fault file '%s' (%s)", r->o->fault_file, why);
		return;
	}
	s = step_open(r, "set fault file");
	if (fault_file_write(r->o->fault_file, 1, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		step_close(r, s, "failed", "%s", err);
		return;
	}
	r->fault_written = 1;
	step_close(r, s, "ok", "'%s' = 1: %s", r->o->fault_file, why);
	ka_log_warn("fault file '%s' set: %s", r->o->fault_file, why);
}

/* Lifts a FAULT this binary forced, when the file says 1. */
void fault_clear(struct run *r, const char *why)
{
	char err[700];
	struct step *s;

	if (!r->o->fault_file || fault_file_value(r->o->fault_file) == 0)
		return;
	if (r->o->dry_run) {
		plan(r, "write 0 to fault file '%s' (%s)", r->o->fault_file, why);
		return;
	}
	s = step_open(r, "clear fault file");
	if (fault_file_write(r->o->fault_file, 0, err, sizeof err) < 0) {
		ka_log_err("%s", err);
		step_close(r, s, "failed", "%s", err);
		return;
	}
	r->fault_cleared = 1;
	step_close(r, s, "ok", "'%s' = 0: %s", r->o->fault_file, why);
	ka_log_notice("fault file '%s' cleared: %s", r->o->fault_file, why);
}

/* The fence this node's promotion set on --peer, remembered in LOCKDIR (a line "HOST
 * PORT") so that a later demotion of this node can undo it (case: a flap, MASTER then
 * BACKUP, while the peer kept the VIP read-only). Returns 0 or -1 (err). */
int fence_mark_write(const struct opts *o, const struct ka_endpoint *ep, char *err,
		     size_t errlen)
{
	char path[600], tmp[620], text[320];
	int fd, n = snprintf(text, sizeof text, "%s %u\n", ep->host, ep->port);

	path_in(path, sizeof path, o->lock_dir, FENCE_FILE);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		int ok = write(fd, text, (size_t)n) == n;
		if (close(fd) == 0 && ok && rename(tmp, path) == 0)
			return 0;
	}
	snprintf(err, errlen, "cannot write fence mark '%s': %s", path, strerror(errno));
	unlink(tmp);
	return -1;
}

/* 1 when the fence mark names one of the --peer endpoints (copied into ep). */
int fence_mark_peer(const struct opts *o, struct ka_endpoint *ep)
{
	char path[600], line[320], want[320];
	FILE *f;
	int held = 0;

	path_in(path, sizeof path, o->lock_dir, FENCE_FILE);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fgets(line, sizeof line, f))
		for (int i = 0; i < o->npeer && !held; i++) {
			snprintf(want, sizeof want, "%s %u\n", o->peers[i].host, o->peers[i].port);
			if (!strcmp(line, want)) {
				*ep = o->peers[i];
				held = 1;
			}
		}
	fclose(f);
	return held;
}

/* 1 when the fence mark names one of the --peer endpoints. */
int fence_mark_held(const struct opts *o)
{
	struct ka_endpoint ep;

	return fence_mark_peer(o, &ep);
}

void fence_mark_clear(const struct opts *o)
{
	char path[600];

	path_in(path, sizeof path, o->lock_dir, FENCE_FILE);
	unlink(path);
}
