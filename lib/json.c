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

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not
 * one (a stray continuation byte, an overlong form, a surrogate, a cut sequence). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; bytes that are not
 * valid UTF-8 become U+FFFD, so the output always parses (RFC 8259 wants UTF-8). */
static void put_string(struct ka_json *j, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	put(j, "\"");
	while (*s) {
		size_t n = utf8_len(s);
		if (!n) {
			put(j, "\\ufffd");
			s++;
		} else if (*s == '"' || *s == '\\') {
			put(j, "\\%c", *s++);
		} else if (*s == '\n') {
			put(j, "\\n");
			s++;
		} else if (*s == '\t') {
			put(j, "\\t");
			s++;
		} else if (*s < 0x20) {
			put(j, "\\u%04x", *s++);
		} else {
			put(j, "%.*s", (int)n, (const char *)s);
			s += n;
		}
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
	if (j->overflow)   /* never print a cut document: say so in one that parses */
		snprintf(j->buf, sizeof j->buf, "{\"error\":\"json output too long\"}");
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
