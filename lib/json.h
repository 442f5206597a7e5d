/* A small JSON writer into a fixed buffer: enough for one result line or journal line. */
#ifndef KA_JSON_H
#define KA_JSON_H

#include <stddef.h>

#define KA_JSON_DEPTH 8

struct ka_json {
	char buf[65536];
	size_t len;
	int depth;
	int first[KA_JSON_DEPTH];
	int overflow;         /* set when output did not fit; ka_json_end then returns
	                         {"error":"json output too long"} */
};

void ka_json_begin(struct ka_json *j);                     /* { */
const char *ka_json_end(struct ka_json *j);                /* } and the text */
void ka_json_str(struct ka_json *j, const char *key, const char *val); /* NULL -> null */
void ka_json_int(struct ka_json *j, const char *key, long long val);
void ka_json_bool(struct ka_json *j, const char *key, int val);
void ka_json_null(struct ka_json *j, const char *key);
void ka_json_obj_open(struct ka_json *j, const char *key); /* key NULL inside arrays */
void ka_json_obj_close(struct ka_json *j);
void ka_json_arr_open(struct ka_json *j, const char *key);
void ka_json_arr_close(struct ka_json *j);
void ka_json_arr_str(struct ka_json *j, const char *val);  /* one string array element */

#endif
