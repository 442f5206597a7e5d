#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put(struct ka_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct ka_json *j, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof j->buf - j->len;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(j->buf + j->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		j->overflow = 1;
		j->len = sizeof j->buf - 1;
		return;
	}
	j->len += (size_t)n;
}

static void put_string(struct ka_json *j, const char *s)
{
	put(j, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(j, "\\%c", c);
		else if (c == '\n')
			put(j, "\\n");
		else if (c == '\t')
			put(j, "\\t");
		else if (c < 0x20)
			put(j, "\\u%04x", c);
		else
			put(j, "%c", c);
	}
	put(j, "\"");
}

static void sep_key(struct ka_json *j, const char *key)
{
	if (!j->first[j->depth])
		put(j, ",");
	j->first[j->depth] = 0;
	if (key) {
		put_string(j, key);
		put(j, ":");
	}
}

static void open_level(struct ka_json *j, const char *key, const char *bracket)
{
	sep_key(j, key);
	put(j, "%s", bracket);
	if (j->depth < KA_JSON_DEPTH - 1)
		j->depth++;
	else
		j->overflow = 1;
	j->first[j->depth] = 1;
}

void ka_json_begin(struct ka_json *j)
{
	j->len = 0;
	j->buf[0] = '\0';
	j->depth = 0;
	j->overflow = 0;
	put(j, "{");
	j->first[0] = 1;
}

const char *ka_json_end(struct ka_json *j)
{
	put(j, "}");
	return j->buf;
}

void ka_json_str(struct ka_json *j, const char *key, const char *val)
{
	sep_key(j, key);
	if (val)
		put_string(j, val);
	else
		put(j, "null");
}

void ka_json_int(struct ka_json *j, const char *key, long long val)
{
	sep_key(j, key);
	put(j, "%lld", val);
}

void ka_json_bool(struct ka_json *j, const char *key, int val)
{
	sep_key(j, key);
	put(j, "%s", val ? "true" : "false");
}

void ka_json_null(struct ka_json *j, const char *key)
{
	sep_key(j, key);
	put(j, "null");
}

void ka_json_obj_open(struct ka_json *j, const char *key)
{
	open_level(j, key, "{");
}

void ka_json_obj_close(struct ka_json *j)
{
	put(j, "}");
	if (j->depth > 0)
		j->depth--;
}

void ka_json_arr_open(struct ka_json *j, const char *key)
{
	open_level(j, key, "[");
}

void ka_json_arr_close(struct ka_json *j)
{
	put(j, "]");
	if (j->depth > 0)
		j->depth--;
}

void ka_json_arr_str(struct ka_json *j, const char *val)
{
	sep_key(j, NULL);
	put_string(j, val);
}
