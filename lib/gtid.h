/* MariaDB GTIDs (domain-server-seq) and the one comparison every safety gate uses.
 *
 * A position ("0-1-100,1-2-7") is the last GTID per domain: gtid_binlog_pos,
 * gtid_slave_pos, gtid_current_pos, Gtid_IO_Pos. A history is what a server holds: its
 * gtid_binlog_state (the last seq_no of EVERY server in every domain, kept through
 * failovers with log_slave_updates) merged with gtid_slave_pos and gtid_current_pos,
 * per (domain, server) the highest seq_no.
 *
 * The rule (FACTS 42): a GTID d-s-n is HELD by a history when the history has an entry
 * for the same domain d and the same server s with seq_no >= n. A higher seq_no from
 * another server proves nothing: after a failover the new primary writes 0-2-4 while
 * the old one holds 0-1-5, and neither holds the other's transaction. (gtid_strict_mode
 * keeps one server's seq_nos increasing within a domain, so d-s-m with m >= n means
 * that server's stream up to n was applied.) Entries with seq_no 0 name no transaction.
 */
#ifndef KA_GTID_H
#define KA_GTID_H

#include <stddef.h>

#define KA_GTID_MAX 512           /* entries in one set (domain-server pairs) */
#define KA_GTID_TEXT_MAX 16384    /* longest position or state text accepted */

struct ka_gtid {
	unsigned long domain;
	unsigned long server;
	unsigned long long seq;
};

struct ka_gtid_set {
	size_t n;
	struct ka_gtid g[KA_GTID_MAX];
};

/* How history a stands to history b. */
enum ka_gtid_order {
	KA_GTID_SAME,      /* each holds everything the other holds */
	KA_GTID_AHEAD,     /* a holds everything b holds, and more */
	KA_GTID_BEHIND,    /* b holds everything a holds, and more */
	KA_GTID_DIVERGED   /* each holds transactions the other lacks */
};

/* Parses a position: one GTID per domain ("" is the empty set). Returns 0 or -1 with
 * err filled (malformed, a domain twice, more than KA_GTID_MAX entries). */
int ka_gtid_parse(const char *s, struct ka_gtid_set *out, char *err, size_t errlen);

/* Parses a gtid_binlog_state: several servers per domain, each (domain, server) once. */
int ka_gtid_parse_state(const char *s, struct ka_gtid_set *out, char *err, size_t errlen);

/* Adds text (a position or a state; what names it in errors) to history h: per
 * (domain, server) the highest seq_no. Returns 0, or -1 when text is malformed or h
 * would exceed KA_GTID_MAX entries: a history that cannot be read whole is never used. */
int ka_gtid_history_add(struct ka_gtid_set *h, const char *text, const char *what, char *err,
			size_t errlen);

/* A server's history from its gtid_binlog_state, gtid_slave_pos and gtid_current_pos
 * (any may be NULL). Returns 0 or -1 with err filled. */
int ka_gtid_history(struct ka_gtid_set *h, const char *binlog_state, const char *slave_pos,
		    const char *current_pos, char *err, size_t errlen);

/* 1 when history h holds g (same domain and server, seq_no >= g's), else 0. */
int ka_gtid_held(const struct ka_gtid_set *h, const struct ka_gtid *g);

/* Counts the entries of `from` (a position or a history) that history `have` does not
 * hold, and lists them in desc ("0-2-4 (holds 0-1-5)", "1-1-1 (domain 1 missing)");
 * desc may be NULL. Returns that count (0: `have` holds all of `from`). */
int ka_gtid_missing(const struct ka_gtid_set *have, const struct ka_gtid_set *from, char *desc,
		    size_t desclen);

/* The entries of `from` that `have` does not hold, into out (a subset of from). */
void ka_gtid_missing_set(const struct ka_gtid_set *have, const struct ka_gtid_set *from,
			 struct ka_gtid_set *out);

/* How history a stands to history b (see enum ka_gtid_order). */
enum ka_gtid_order ka_gtid_compare(const struct ka_gtid_set *a, const struct ka_gtid_set *b);

/* For two DIVERGED histories: which one is the successor, i.e. was promoted after the
 * point where they parted, while the other kept writing as the old primary. Per domain
 * in which they differ: the common tip is the newest GTID both hold; a side whose
 * transactions beyond it come from the common tip's server CONTINUED the old lineage
 * (the old primary's writes the new one never got: unacknowledged in flight, or
 * async), a side whose newest transaction beyond it comes from another server was
 * PROMOTED. Returns 1 when a is the successor of b in every such domain, -1 when b is
 * a's, 0 when undecidable (no common tip, both promoted, domains disagree). */
int ka_gtid_successor(const struct ka_gtid_set *a, const struct ka_gtid_set *b);

/* "same", "ahead", "behind", "diverged". */
const char *ka_gtid_order_name(enum ka_gtid_order o);

/* The entry for domain d in s (the first, for a history), or NULL. */
const struct ka_gtid *ka_gtid_domain(const struct ka_gtid_set *s, unsigned long d);

/* Text of s ("0-1-5,1-2-7"). Returns 0, or -1 when it does not fit in len (out is then
 * cut at an entry boundary: never a number cut in the middle). */
int ka_gtid_text(const struct ka_gtid_set *s, char *out, size_t len);

/* Copies a GTID text read from a server into dst. Returns 0, or -1 with err filled when
 * it does not fit (a cut position would parse as a different, smaller one). */
int ka_gtid_copy(char *dst, size_t len, const char *src, const char *what, char *err,
		 size_t errlen);

#endif
