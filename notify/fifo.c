/* The --fifo reader (FACTS 10, 45): keepalived's notify FIFO, read into one buffer and
 * handed out a line at a time, and the look-ahead a running event uses to give way to a
 * newer one. Only a waiting line that is an event for this instance or group (what
 * decode_fifo_line acts on) AND a different state from the running event counts as
 * newer: other instances, the INSTANCE half of a sync group, MASTER_RX_LOWER_PRI and
 * repeats of the same state never cancel the event being handled. */
#include "notify.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIFO_BUF 8192
#define FIFO_READS_AHEAD 16   /* reads per look-ahead, at most */

static struct {
	int fd;
	char buf[FIFO_BUF];
	size_t len;    /* bytes in buf */
	size_t pos;    /* start of what is not handed out yet */
} fifo = { .fd = -1 };

int fifo_open(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a FIFO%s%s", path, errno == ENOENT ? ": " : "",
			 errno == ENOENT ? strerror(errno) : "");
		return -1;
	}
	/* Read-write: we never see end-of-file between keepalived's writes. */
	if ((fifo.fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open FIFO '%s': %s", path, strerror(errno));
		return -1;
	}
	fifo.len = fifo.pos = 0;
	return 0;
}

void fifo_close(void)
{
	if (fifo.fd >= 0)
		close(fifo.fd);
	fifo.fd = -1;
}

/* Appends one read() to the buffer (never moves what is in it). Returns its result. */
static ssize_t fifo_fill(void)
{
	ssize_t n = read(fifo.fd, fifo.buf + fifo.len, FIFO_BUF - 1 - fifo.len);

	if (n > 0) {
		fifo.len += (size_t)n;
		fifo.buf[fifo.len] = '\0';
	}
	return n;
}

/* The next line (no newline; valid until the next call), blocking until one is complete.
 * NULL on SIGTERM (ka_notify_term) or when the FIFO fails (err filled). */
char *fifo_next_line(char *err, size_t errlen)
{
	for (int overflows = 0; !ka_notify_term && overflows < 1000;) {
		char *nl = memchr(fifo.buf + fifo.pos, '\n', fifo.len - fifo.pos);
		if (nl) {
			char *line = fifo.buf + fifo.pos;
			*nl = '\0';
			fifo.pos = (size_t)(nl - fifo.buf) + 1;
			return line;
		}
		memmove(fifo.buf, fifo.buf + fifo.pos, fifo.len - fifo.pos);
		fifo.len -= fifo.pos;
		fifo.pos = 0;
		if (fifo.len == FIFO_BUF - 1) {
			ka_log_warn("FIFO line longer than %d bytes dropped", FIFO_BUF - 1);
			fifo.len = 0;
			overflows++;
		}
		ssize_t n = fifo_fill();
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot read FIFO: %s", n ? strerror(errno) : "EOF");
			return NULL;
		}
	}
	snprintf(err, errlen, "terminated");
	return NULL;
}

/* Reads what is waiting in the FIFO without blocking. */
static void fifo_read_ahead(void)
{
	struct pollfd p = { .fd = fifo.fd, .events = POLLIN };

	for (int i = 0; i < FIFO_READS_AHEAD && fifo.len < FIFO_BUF - 1; i++)
		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN) || fifo_fill() <= 0)
			break;
}

/* 1 when one line of text is an event we act on, in another state than ev. */
static int line_is_newer(const struct opts *o, const char *text, size_t n, enum event ev)
{
	char line[512], why[300], err[300];
	enum event next;

	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	if (!n || n >= sizeof line)
		return 0;
	memcpy(line, text, n);
	line[n] = '\0';
	if (decode_fifo_line(o, line, &next, why, sizeof why, err, sizeof err) < 0)
		return 0;
	return next != EV_IGNORED && next != EV_NONE && next != ev;
}

int fifo_has_newer(const struct opts *o, enum event ev)
{
	const char *p, *nl;

	if (fifo.fd < 0)
		return 0;
	fifo_read_ahead();
	for (p = fifo.buf + fifo.pos; (nl = memchr(p, '\n', (size_t)(fifo.buf + fifo.len - p)));
	     p = nl + 1)
		if (line_is_newer(o, p, (size_t)(nl - p), ev))
			return 1;
	return 0;
}
