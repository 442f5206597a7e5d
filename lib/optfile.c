#include "optfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ka_optfile_check(const char *path, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "cannot read option file '%s': %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "option file '%s' is not a regular file", path);
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		snprintf(err, errlen, "option file '%s' is accessible by others (mode %04o): "
			 "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read option file '%s': %s", path, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Unquotes a value in place: 'x' or "x" lose their quotes and anything after the
 * closing quote (a comment); an unquoted value ends at " #". Backslash escapes \\ \"
 * \' \n \t \s are kept MariaDB's way. */
static void unquote(char *v)
{
	char *r, *w, *t = trim(v);

	memmove(v, t, strlen(t) + 1);
	if (v[0] == '"' || v[0] == '\'') {
		char q = v[0];
		for (r = v + 1; *r && *r != q; r++)
			if (*r == '\\' && r[1])
				r++;
		*r = '\0';
		memmove(v, v + 1, strlen(v + 1) + 1);
	} else {
		for (r = v; *r; r++)
			if (*r == '#' && r > v && isspace((unsigned char)r[-1])) {
				*r = '\0';
				break;
			}
		t = trim(v);
		memmove(v, t, strlen(t) + 1);
	}
	for (r = w = v; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r == 's' ? ' ' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static int in_groups(const char *name, const char *const *groups)
{
	for (; *groups; groups++)
		if (strcmp(name, *groups) == 0)
			return 1;
	return 0;
}

static int set_value(struct ka_optvals *o, const char *key, const char *val)
{
	char k[64];
	size_t i;

	/* Option names accept '-' and '_' alike. */
	for (i = 0; key[i] && i < sizeof k - 1; i++)
		k[i] = key[i] == '-' ? '_' : key[i];
	k[i] = '\0';
	if (strcmp(k, "user") == 0)
		snprintf(o->user, sizeof o->user, "%s", val);
	else if (strcmp(k, "password") == 0)
		snprintf(o->password, sizeof o->password, "%s", val);
	else if (strcmp(k, "host") == 0)
		snprintf(o->host, sizeof o->host, "%s", val);
	else if (strcmp(k, "socket") == 0)
		snprintf(o->socket, sizeof o->socket, "%s", val);
	else if (strcmp(k, "database") == 0)
		snprintf(o->database, sizeof o->database, "%s", val);
	else if (strcmp(k, "port") == 0) {
		char *end;
		long p = strtol(val, &end, 10);
		if (*val == '\0' || *end || p < 1 || p > 65535)
			return -1;
		o->port = (unsigned)p;
	}
	return 0;
}

/* Parses one line; *group tracks the current section. Returns -1 when malformed. */
static int parse_line(char *line, char *group, size_t grouplen, const char *const *groups,
		      struct ka_optvals *out)
{
	char *s = trim(line);

	if (*s == '\0' || *s == '#' || *s == ';' || *s == '!')
		return 0;   /* blank, comment, !include (not followed: credentials stay here) */
	if (*s == '[') {
		char *e = strchr(s, ']');
		if (!e || e[1] != '\0')
			return -1;
		*e = '\0';
		snprintf(group, grouplen, "%s", trim(s + 1));
		return 0;
	}
	if (!in_groups(group, groups))
		return 0;
	char *eq = strchr(s, '=');
	if (!eq)
		return set_value(out, trim(s), "") < 0 ? -1 : 0;
	*eq = '\0';
	char *val = eq + 1;
	unquote(val);
	return set_value(out, trim(s), val);
}

int ka_optfile_read(const char *path, const char *const *groups, struct ka_optvals *out,
		    char *err, size_t errlen)
{
	char line[1024], group[128] = "";
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	memset(out, 0, sizeof *out);
	if (!f) {
		snprintf(err, errlen, "cannot read option file '%s': %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (parse_line(line, group, sizeof group, groups, out) < 0) {
			snprintf(err, errlen, "malformed line %u in option file '%s'", lineno, path);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int ka_optfile_has_group(const char *path, const char *group, char *err, size_t errlen)
{
	char line[1024];
	int found = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "cannot read option file '%s': %s", path, strerror(errno));
		return -1;
	}
	while (!found && fgets(line, sizeof line, f)) {
		char *s = trim(line), *e;
		if (*s == '[' && (e = strchr(s, ']'))) {
			*e = '\0';
			found = strcmp(trim(s + 1), group) == 0;
		}
	}
	fclose(f);
	return found;
}
