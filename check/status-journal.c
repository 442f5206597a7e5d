/* --state-dir DIR: the last transitions of this node's journal (DIR/journal.jsonl, one
 * JSON object per line, written by ka-notify-mariadb), one line each. Only the tail of
 * the file is read; a line that is not a JSON object is shown as unreadable, not fatal.
 * The parser is strict and small: it reads top-level string and number fields and skips
 * everything else (nested objects, arrays) without interpreting it. */
#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_BYTES (ST_JOURNAL_LINES * 17000)   /* a journal line is at most 16 KiB */

static void skip_ws(const char **p)
{
	while (isspace((unsigned char)**p))
		(*p)++;
}

/* A JSON string at *p into out (may be NULL); \uXXXX outside ASCII becomes '?'.
 * Returns 0 or -1 when malformed. */
static int read_string(const char **p, char *out, size_t len)
{
	size_t o = 0;
	const char *s = *p;

	if (*s++ != '"')
		return -1;
	for (; *s && *s != '"'; s++) {
		char ch = *s;
		if (ch == '\\') {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *e = strchr(from, *++s);
			if (*s == 'u') {
				if (strspn(s + 1, "0123456789abcdefABCDEF") < 4)
					return -1;
				long v = strtol((char[5]){ s[1], s[2], s[3], s[4], 0 }, NULL, 16);
				ch = v < 0x80 && v >= 0x20 ? (char)v : '?';
				s += 4;
			} else if (!e || !*s) {
				return -1;
			} else {
				ch = to[e - from];
			}
		}
		if (out && o + 1 < len)
			out[o++] = ch;
	}
	if (*s != '"')
		return -1;
	if (out && len)
		out[o] = '\0';
	*p = s + 1;
	return 0;
}

/* Skips one value of any kind at *p (strings aware of escapes, nesting counted).
 * Scalars are copied into out when out is not NULL. Returns 0 or -1. */
static int skip_value(const char **p, char *out, size_t len)
{
	int depth = 0;

	skip_ws(p);
	if (**p == '"')
		return read_string(p, out, len);
	if (**p != '{' && **p != '[') {
		size_t n = strcspn(*p, ",}] \t\r\n");
		if (n == 0)
			return -1;
		if (out)
			snprintf(out, len, "%.*s", (int)n, *p);
		*p += n;
		return 0;
	}
	do {
		if (**p == '"') {
			if (read_string(p, NULL, 0) < 0)
				return -1;
			continue;
		}
		if (!**p)
			return -1;
		depth += (**p == '{' || **p == '[') - (**p == '}' || **p == ']');
		(*p)++;
	} while (depth > 0);
	return 0;
}

int st_json_field(const char *line, const char *key, char *out, size_t outlen)
{
	const char *p = line;
	char name[64];

	skip_ws(&p);
	if (*p++ != '{')
		return -1;
	for (int guard = 0; guard < 1000; guard++) {   /* fields per line, bounded */
		skip_ws(&p);
		if (read_string(&p, name, sizeof name) < 0)
			return -1;
		skip_ws(&p);
		if (*p++ != ':')
			return -1;
		skip_ws(&p);
		int match = strcmp(name, key) == 0;
		if (match && (*p == '{' || *p == '['))
			return -1;                      /* not a string or a number */
		if (skip_value(&p, match ? out : NULL, outlen) < 0)
			return -1;
		if (match)
			return 0;
		skip_ws(&p);
		if (*p++ != ',')
			return -1;
	}
	return -1;
}

/* The file's last len-1 bytes into buf (NUL-terminated); *cut tells whether the file
 * is longer. Returns the length read, or -1 with err filled. */
static ssize_t read_tail(const char *path, char *buf, size_t len, int *cut, char *err,
			 size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0, r;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot read: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	off_t from = st.st_size > (off_t)(len - 1) ? st.st_size - (off_t)(len - 1) : 0;
	*cut = from > 0;
	while ((size_t)got < len - 1 && (r = pread(fd, buf + got, len - 1 - (size_t)got,
						   from + got)) > 0)
		got += r;
	close(fd);
	buf[got] = '\0';
	return got;
}

static void read_line(const char *text, struct st_journal *j, int i)
{
	char code[24] = "";

	memset(&j->line[i], 0, sizeof j->line[i]);
	j->line[i].code = -1;
	if (st_json_field(text, "time", j->line[i].time, sizeof j->line[i].time) < 0) {
		snprintf(j->line[i].reason, sizeof j->line[i].reason, "(unreadable line: %.60s)",
			 text);
		return;
	}
	st_json_field(text, "event", j->line[i].event, sizeof j->line[i].event);
	st_json_field(text, "decision", j->line[i].decision, sizeof j->line[i].decision);
	st_json_field(text, "code_name", j->line[i].code_name, sizeof j->line[i].code_name);
	st_json_field(text, "reason", j->line[i].reason, sizeof j->line[i].reason);
	if (st_json_field(text, "code", code, sizeof code) == 0)
		j->line[i].code = atol(code);
}

void st_journal_read(const char *dir, struct st_journal *j)
{
	static char buf[TAIL_BYTES + 1];
	char *lines[ST_JOURNAL_LINES + 1], *save = NULL, *tok;
	int n = 0, cut = 0;

	memset(j, 0, sizeof *j);
	snprintf(j->path, sizeof j->path, "%s/journal.jsonl", dir);
	if (read_tail(j->path, buf, sizeof buf, &cut, j->error, sizeof j->error) < 0)
		return;
	char *start = buf;
	if (cut && strchr(buf, '\n'))
		start = strchr(buf, '\n') + 1;         /* the first line is cut: skip it */
	for (tok = strtok_r(start, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
		if (n == ST_JOURNAL_LINES + 1) {
			memmove(lines, lines + 1, sizeof lines[0] * ST_JOURNAL_LINES);
			n--;
		}
		lines[n++] = tok;
	}
	int first = n > ST_JOURNAL_LINES ? n - ST_JOURNAL_LINES : 0;
	for (int i = first; i < n; i++)
		read_line(lines[i], j, j->n++);
	if (!j->n)
		snprintf(j->error, sizeof j->error, "empty");
}
