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

int ka_gtid_parse(const char *s, struct ka_gtid_set *out, char *err, size_t errlen)
{
	const char *p = s;

	out->n = 0;
	while (isspace((unsigned char)*p))
		p++;
	while (*p) {
		struct ka_gtid g;
		if (out->n == KA_GTID_MAX_DOMAINS || parse_one(&p, &g) < 0)
			goto bad;
		if (ka_gtid_domain(out, g.domain))
			goto bad;   /* a position holds one GTID per domain */
		out->g[out->n++] = g;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ',') {
			p++;
			while (isspace((unsigned char)*p))
				p++;
			if (!*p)
				goto bad;
		} else if (*p) {
			goto bad;
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "malformed gtid position '%.200s'", s);
	return -1;
}

const struct ka_gtid *ka_gtid_domain(const struct ka_gtid_set *s, unsigned long d)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->g[i].domain == d)
			return &s->g[i];
	return NULL;
}

static void append(char *desc, size_t desclen, const char *fmt, const struct ka_gtid *a,
		   const struct ka_gtid *b)
{
	size_t used = strlen(desc);

	if (used >= desclen - 1)
		return;
	if (used)
		snprintf(desc + used, desclen - used, ", ");
	used = strlen(desc);
	if (b)
		snprintf(desc + used, desclen - used, fmt, a->domain, a->server, a->seq,
			 b->domain, b->server, b->seq);
	else
		snprintf(desc + used, desclen - used, fmt, a->domain, a->server, a->seq);
}

int ka_gtid_ahead(const struct ka_gtid_set *a, const struct ka_gtid_set *b, char *desc,
		  size_t desclen)
{
	int n = 0;

	if (desclen)
		desc[0] = '\0';
	for (size_t i = 0; i < a->n; i++) {
		const struct ka_gtid *ga = &a->g[i];
		const struct ka_gtid *gb = ka_gtid_domain(b, ga->domain);

		if (gb && gb->seq >= ga->seq)
			continue;
		if (!gb && ga->seq == 0)
			continue;
		n++;
		if (!desclen)
			continue;
		if (gb)
			append(desc, desclen, "%lu-%lu-%llu > %lu-%lu-%llu", ga, gb);
		else
			append(desc, desclen, "%lu-%lu-%llu (domain missing)", ga, NULL);
	}
	return n;
}
