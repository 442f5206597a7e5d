/* ka-status's reader of journal lines (check/status-journal.c): whatever a line holds,
 * a field read from it is NUL-terminated inside its buffer, a second read gives the same
 * answer, and a line written by lib/json round-trips its string fields. */
#include "../../check/status-journal.c"
#include "fuzz.h"
#include "json.h"

static struct ka_json j;

/* Reads every field ka-status reads into small buffers; the properties must hold. */
static void read_fields(const char *line)
{
	static const char *const keys[] = { "time", "event", "decision", "code", "code_name",
					    "reason", "steps" };
	char a[16], b[16];

	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		memset(a, 'x', sizeof a);
		int r1 = st_json_field(line, keys[k], a, sizeof a);
		int r2 = st_json_field(line, keys[k], b, sizeof b);
		if (r1 != r2 || (r1 == 0 && (!memchr(a, '\0', sizeof a) || strcmp(a, b) != 0)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = fuzz_str(d, n), out[600];

	read_fields(s);
	ka_json_begin(&j);                   /* the input as a field of a real journal line */
	ka_json_int(&j, "code", 9);
	ka_json_str(&j, "reason", s);
	const char *line = ka_json_end(&j);
	if (!j.overflow && strlen(s) < sizeof out && !strchr(s, '\n') && !strchr(s, '\t') &&
	    strspn(s, " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
		      "abcdefghijklmnopqrstuvwxyz{|}~\"\\") == strlen(s)) {
		if (st_json_field(line, "reason", out, sizeof out) != 0 || strcmp(out, s) != 0)
			abort();   /* printable ASCII must round-trip */
	}
	free(s);
	return 0;
}
