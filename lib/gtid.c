#include "gtid.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_num(const char **p, unsigned long long *out)
{
	char *end;

	if (!isdigit((unsigned char)**p))
		return -1;
	errno = 0;
	*out = strtoull(*p, &end, 10);
	if (errno)
		return -1;
	*p = end;
	return 0;
}

static int parse_one(const char **p, struct ka_gtid *g)
{
	unsigned long long d, s, q;

	if (parse_num(p, &d) < 0 || **p != '-')
		return -1;
	(*p)++;
	if (parse_num(p, &s) < 0 || **p != '-')
		return -1;
	(*p)++;
	if (parse_num(p, &q) < 0)
		return -1;
	if (d > 0xffffffffULL || s > 0xffffffffULL)
		return -1;
	g->domain = (unsigned long)d;
	g->server = (unsigned long)s;
	g->seq = q;
	return 0;
}

/* The entry for (domain, server) in s, or NULL. */
static struct ka_gtid *find_pair(const struct ka_gtid_set *s, unsigned long d, unsigned long srv)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->g[i].domain == d && s->g[i].server == srv)
			return (struct ka_gtid *)&s->g[i];
	return NULL;
}

static void skip_space(const char **p)
{
	while (isspace((unsigned char)**p))
		(*p)++;
}

/* Shared by both parsers: per_domain 1 allows one entry per domain (a position), 0 one
 * per (domain, server) (a state). */
static int parse_set(const char *s, struct ka_gtid_set *out, int per_domain, char *err,
		     size_t errlen)
{
	const char *p = s, *why = "malformed";

	out->n = 0;
	skip_space(&p);
	while (*p) {
		struct ka_gtid g;
		if (out->n == KA_GTID_MAX) {
			why = "too many entries in";
			goto bad;
		}
		if (parse_one(&p, &g) < 0)
			goto bad;
		if (per_domain ? ka_gtid_domain(out, g.domain) != NULL
			       : find_pair(out, g.domain, g.server) != NULL)
			goto bad;   /* a position holds one GTID per domain */
		out->g[out->n++] = g;
		skip_space(&p);
		if (*p == ',') {
			p++;
			skip_space(&p);
			if (!*p)
				goto bad;
		} else if (*p) {
			goto bad;
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "%s gtid %s '%.200s%s'", why, per_domain ? "position" : "state", s,
		 strlen(s) > 200 ? "..." : "");
	out->n = 0;
	return -1;
}

int ka_gtid_parse(const char *s, struct ka_gtid_set *out, char *err, size_t errlen)
{
	return parse_set(s, out, 1, err, errlen);
}

int ka_gtid_parse_state(const char *s, struct ka_gtid_set *out, char *err, size_t errlen)
{
	return parse_set(s, out, 0, err, errlen);
}

int ka_gtid_history_add(struct ka_gtid_set *h, const char *text, const char *what, char *err,
			size_t errlen)
{
	static struct ka_gtid_set add;   /* 12 KB: off the stack (no threads here) */
	char why[300];

	if (ka_gtid_parse_state(text, &add, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", what, why);
		return -1;
	}
	for (size_t i = 0; i < add.n; i++) {
		struct ka_gtid *g = find_pair(h, add.g[i].domain, add.g[i].server);
		if (g) {
			if (add.g[i].seq > g->seq)
				g->seq = add.g[i].seq;
			continue;
		}
		if (h->n == KA_GTID_MAX) {
			snprintf(err, errlen, "%s: more than %d gtid entries", what, KA_GTID_MAX);
			return -1;
		}
		h->g[h->n++] = add.g[i];
	}
	return 0;
}

int ka_gtid_history(struct ka_gtid_set *h, const char *binlog_state, const char *slave_pos,
		    const char *current_pos, char *err, size_t errlen)
{
	h->n = 0;
	if ((binlog_state && ka_gtid_history_add(h, binlog_state, "gtid_binlog_state", err,
						 errlen) < 0) ||
	    (slave_pos && ka_gtid_history_add(h, slave_pos, "gtid_slave_pos", err, errlen) < 0) ||
	    (current_pos && ka_gtid_history_add(h, current_pos, "gtid_current_pos", err,
						errlen) < 0)) {
		h->n = 0;
		return -1;
	}
	return 0;
}

const struct ka_gtid *ka_gtid_domain(const struct ka_gtid_set *s, unsigned long d)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->g[i].domain == d)
			return &s->g[i];
	return NULL;
}

int ka_gtid_held(const struct ka_gtid_set *h, const struct ka_gtid *g)
{
	const struct ka_gtid *e = find_pair(h, g->domain, g->server);

	return g->seq == 0 || (e && e->seq >= g->seq);
}

/* The newest entry of domain d in h (highest seq_no), or NULL. */
static const struct ka_gtid *newest_in_domain(const struct ka_gtid_set *h, unsigned long d)
{
	const struct ka_gtid *best = NULL;

	for (size_t i = 0; i < h->n; i++)
		if (h->g[i].domain == d && (!best || h->g[i].seq > best->seq))
			best = &h->g[i];
	return best;
}

/* Appends ", " and one formatted description to desc; never overflows. */
static void describe(char *desc, size_t desclen, const struct ka_gtid *g,
		     const struct ka_gtid *near)
{
	size_t used = strlen(desc);

	if (used + 1 >= desclen)
		return;
	if (near)
		snprintf(desc + used, desclen - used, "%s%lu-%lu-%llu (holds %lu-%lu-%llu)",
			 used ? ", " : "", g->domain, g->server, g->seq, near->domain,
			 near->server, near->seq);
	else
		snprintf(desc + used, desclen - used, "%s%lu-%lu-%llu (domain %lu missing)",
			 used ? ", " : "", g->domain, g->server, g->seq, g->domain);
}

int ka_gtid_missing(const struct ka_gtid_set *have, const struct ka_gtid_set *from, char *desc,
		    size_t desclen)
{
	int n = 0;

	if (desc && desclen)
		desc[0] = '\0';
	for (size_t i = 0; i < from->n; i++) {
		if (ka_gtid_held(have, &from->g[i]))
			continue;
		n++;
		if (desc && desclen)
			describe(desc, desclen, &from->g[i],
				 newest_in_domain(have, from->g[i].domain));
	}
	return n;
}

void ka_gtid_missing_set(const struct ka_gtid_set *have, const struct ka_gtid_set *from,
			 struct ka_gtid_set *out)
{
	out->n = 0;
	for (size_t i = 0; i < from->n; i++)
		if (!ka_gtid_held(have, &from->g[i]))
			out->g[out->n++] = from->g[i];
}

enum ka_gtid_order ka_gtid_compare(const struct ka_gtid_set *a, const struct ka_gtid_set *b)
{
	int a_lacks = ka_gtid_missing(a, b, NULL, 0) > 0;
	int b_lacks = ka_gtid_missing(b, a, NULL, 0) > 0;

	if (a_lacks && b_lacks)
		return KA_GTID_DIVERGED;
	if (a_lacks)
		return KA_GTID_BEHIND;
	return b_lacks ? KA_GTID_AHEAD : KA_GTID_SAME;
}

/* The newest GTID of domain d that both histories hold, or 0 when none (*server set). */
static unsigned long long common_tip(const struct ka_gtid_set *a, const struct ka_gtid_set *b,
				     unsigned long d, unsigned long *server)
{
	unsigned long long best = 0;

	for (size_t i = 0; i < a->n; i++) {
		const struct ka_gtid *x = &a->g[i], *y;
		if (x->domain != d || !(y = find_pair(b, d, x->server)))
			continue;
		unsigned long long both = x->seq < y->seq ? x->seq : y->seq;
		if (both > best) {
			best = both;
			*server = x->server;
		}
	}
	return best;
}

/* How side x left the common tip (tip_server) in domain d: 0 nothing beyond it, 1 it
 * continued the tip's server, 2 its newest transaction beyond it is another server's. */
static int departure(const struct ka_gtid_set *x, const struct ka_gtid_set *other,
		     unsigned long d, unsigned long tip_server)
{
	const struct ka_gtid *newest = NULL;

	for (size_t i = 0; i < x->n; i++)
		if (x->g[i].domain == d && !ka_gtid_held(other, &x->g[i]) &&
		    (!newest || x->g[i].seq > newest->seq))
			newest = &x->g[i];
	if (!newest)
		return 0;
	return newest->server == tip_server ? 1 : 2;
}

/* Successor in domain d: 1 a, -1 b, 0 undecidable, 2 the domain does not differ. */
static int successor_in(const struct ka_gtid_set *a, const struct ka_gtid_set *b, unsigned long d)
{
	unsigned long server = 0;
	int da, db;

	if (!common_tip(a, b, d, &server))
		return 0;
	da = departure(a, b, d, server);
	db = departure(b, a, d, server);
	if (!da && !db)
		return 2;
	if (da == 2 && db == 1)
		return 1;
	if (da == 1 && db == 2)
		return -1;
	return (da == 0 || db == 0) ? 2 : 0;   /* one side only ahead: not a divergence here */
}

int ka_gtid_successor(const struct ka_gtid_set *a, const struct ka_gtid_set *b)
{
	int verdict = 2;

	if (ka_gtid_compare(a, b) != KA_GTID_DIVERGED)
		return 0;
	for (int side = 0; side < 2; side++) {
		const struct ka_gtid_set *s = side ? b : a;
		for (size_t i = 0; i < s->n; i++) {
			int v = successor_in(a, b, s->g[i].domain);
			if (v == 2)
				continue;
			if (v == 0 || (verdict != 2 && v != verdict))
				return 0;
			verdict = v;
		}
	}
	return verdict == 2 ? 0 : verdict;
}

const char *ka_gtid_order_name(enum ka_gtid_order o)
{
	switch (o) {
	case KA_GTID_SAME: return "same";
	case KA_GTID_AHEAD: return "ahead";
	case KA_GTID_BEHIND: return "behind";
	default: return "diverged";
	}
}

int ka_gtid_text(const struct ka_gtid_set *s, char *out, size_t len)
{
	size_t used = 0;
	char one[80];

	if (!len)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		int n = snprintf(one, sizeof one, "%s%lu-%lu-%llu", i ? "," : "", s->g[i].domain,
				 s->g[i].server, s->g[i].seq);
		if (used + (size_t)n >= len)
			return -1;
		memcpy(out + used, one, (size_t)n + 1);
		used += (size_t)n;
	}
	return 0;
}

int ka_gtid_copy(char *dst, size_t len, const char *src, const char *what, char *err,
		 size_t errlen)
{
	size_t n = strlen(src);

	if (n >= len) {
		if (len)
			dst[0] = '\0';
		snprintf(err, errlen, "%s is too long to read whole (%zu characters, at most %zu)",
			 what, n, len - 1);
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}
