/* The JSON writer's escaping (lib/json.c): whatever the string, the document must be
 * valid JSON, and a valid UTF-8 string must decode back to itself. A small strict
 * decoder of the one-string document checks both. */
#include "fuzz.h"
#include "json.h"

static struct ka_json j;

static int hexval(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= c - '0';
		else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
		else return -1;
	}
	return v;
}

/* Decodes the JSON string at *p (after the opening quote) into out; -1 when invalid. */
static int decode(const char **p, char *out, size_t *olen, int *replaced)
{
	const char *s = *p;
	size_t o = 0;

	while (*s != '"') {
		unsigned char c = (unsigned char)*s;
		if (!c || c < 0x20)
			return -1;
		if (c != '\\') {
			out[o++] = (char)c;
			s++;
			continue;
		}
		s++;
		if (strchr("\"\\/", *s)) out[o++] = *s++;
		else if (*s == 'n') out[o++] = '\n', s++;
		else if (*s == 't') out[o++] = '\t', s++;
		else if (*s == 'u') {
			int v = hexval(s + 1);
			if (v < 0)
				return -1;
			if (v == 0xfffd)
				*replaced = 1;
			else if (v < 0x20)
				out[o++] = (char)v;
			else
				return -1;   /* the writer escapes only control characters */
			s += 5;
		} else
			return -1;
	}
	*p = s + 1;
	*olen = o;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = fuzz_str(d, n), *out;
	const char *p;
	size_t olen;
	int replaced = 0;

	ka_json_begin(&j);
	ka_json_str(&j, "k", s);
	p = ka_json_end(&j);
	if (j.overflow) {
		if (strcmp(p, "{\"error\":\"json output too long\"}") != 0)
			abort();
		free(s);
		return 0;
	}
	out = malloc(strlen(p) + 1);
	if (!out || strncmp(p, "{\"k\":\"", 6) != 0)
		abort();
	p += 6;
	if (decode(&p, out, &olen, &replaced) < 0 || strcmp(p, "}") != 0)
		abort();   /* not valid JSON */
	if (!replaced && (olen != strlen(s) || memcmp(out, s, olen) != 0))
		abort();   /* did not round-trip */
	free(out);
	free(s);
	return 0;
}
