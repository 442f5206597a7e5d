/* GTID positions, states and the lineage comparison (lib/gtid.c). The input is two
 * texts separated by a newline; besides not crashing, the comparison must be
 * antisymmetric, agree with ka_gtid_missing, and text must round-trip. */
#include "fuzz.h"
#include "gtid.h"

static struct ka_gtid_set a, b, back;
static char text[KA_GTID_TEXT_MAX];

static enum ka_gtid_order mirror(enum ka_gtid_order o)
{
	return o == KA_GTID_AHEAD ? KA_GTID_BEHIND : o == KA_GTID_BEHIND ? KA_GTID_AHEAD : o;
}

static void check_pair(void)
{
	enum ka_gtid_order ab = ka_gtid_compare(&a, &b), ba = ka_gtid_compare(&b, &a);
	int a_lacks = ka_gtid_missing(&a, &b, NULL, 0) > 0;
	int b_lacks = ka_gtid_missing(&b, &a, NULL, 0) > 0;

	if (ab != mirror(ba))
		abort();   /* antisymmetric */
	if ((ab == KA_GTID_SAME) != (!a_lacks && !b_lacks) ||
	    (ab == KA_GTID_AHEAD) != (!a_lacks && b_lacks))
		abort();   /* consistent with what each lacks */
	if (ka_gtid_compare(&a, &a) != KA_GTID_SAME)
		abort();   /* reflexive */
	if (ka_gtid_successor(&a, &b) != -ka_gtid_successor(&b, &a) ||
	    (ab != KA_GTID_DIVERGED && ka_gtid_successor(&a, &b) != 0))
		abort();   /* one successor at most, and only of a divergence */
}

static void check_round_trip(const struct ka_gtid_set *s)
{
	char err[300];

	if (ka_gtid_text(s, text, sizeof text) < 0)
		return;
	if (ka_gtid_parse_state(text, &back, err, sizeof err) < 0 || back.n != s->n ||
	    memcmp(back.g, s->g, s->n * sizeof s->g[0]) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = fuzz_str(d, n), *nl = strchr(s, '\n'), err[300], desc[200];

	if (nl)
		*nl = '\0';
	ka_gtid_parse(s, &a, err, sizeof err);
	if (ka_gtid_history(&a, s, NULL, NULL, err, sizeof err) == 0 &&
	    ka_gtid_history(&b, nl ? nl + 1 : "", s, NULL, err, sizeof err) == 0) {
		check_pair();
		check_round_trip(&a);
		ka_gtid_missing(&a, &b, desc, sizeof desc);
		ka_gtid_copy(text, 64, s, "fuzz", err, sizeof err);
	}
	free(s);
	return 0;
}
