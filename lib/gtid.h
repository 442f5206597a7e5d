/* MariaDB GTID positions ("0-1-100,1-2-7": domain-server-seq, one per domain) and the
 * comparison the safety gates use (FACTS 22, 23). */
#ifndef KA_GTID_H
#define KA_GTID_H

#include <stddef.h>

#define KA_GTID_MAX_DOMAINS 64

struct ka_gtid {
	unsigned long domain;
	unsigned long server;
	unsigned long long seq;
};

struct ka_gtid_set {
	size_t n;
	struct ka_gtid g[KA_GTID_MAX_DOMAINS];
};

/* Parses a position ("" is the empty set). Returns 0 or -1 with err filled. */
int ka_gtid_parse(const char *s, struct ka_gtid_set *out, char *err, size_t errlen);

/* Counts the domains in which a holds transactions that b lacks (a's seq_no above
 * b's, or a domain b does not have), and describes them in desc ("0-2-15 > 0-1-12").
 * Returns that count (0: b has everything a has). */
int ka_gtid_ahead(const struct ka_gtid_set *a, const struct ka_gtid_set *b, char *desc,
		  size_t desclen);

/* The entry for domain d in s, or NULL. */
const struct ka_gtid *ka_gtid_domain(const struct ka_gtid_set *s, unsigned long d);

#endif
