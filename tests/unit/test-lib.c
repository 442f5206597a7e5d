/* Unit checks of lib/ pieces that decide safety: GTID comparison, option-file parsing,
 * address parsing, JSON escaping. Prints "ok N - name" / "not ok N - name" and exits
 * non-zero on any failure; run by tests/unit/lib.bats. */
#include "args.h"
#include "gtid.h"
#include "json.h"
#include "optfile.h"
#include "tcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int n, failed;

static void check(int cond, const char *name)
{
	n++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
	if (!cond)
		failed++;
}

/* How many GTIDs of history b history a lacks; -1 when either text is malformed. */
static int lacks(const char *a, const char *b, char *desc, size_t len)
{
	static struct ka_gtid_set sa, sb;
	char err[256];

	if (ka_gtid_history(&sa, a, NULL, NULL, err, sizeof err) < 0 ||
	    ka_gtid_history(&sb, b, NULL, NULL, err, sizeof err) < 0)
		return -1;
	return ka_gtid_missing(&sa, &sb, desc, len);
}

static int order(const char *a, const char *b)
{
	static struct ka_gtid_set sa, sb;
	char err[256];

	if (ka_gtid_history(&sa, a, NULL, NULL, err, sizeof err) < 0 ||
	    ka_gtid_history(&sb, b, NULL, NULL, err, sizeof err) < 0)
		return -1;
	return (int)ka_gtid_compare(&sa, &sb);
}

static int succ(const char *a, const char *b)
{
	static struct ka_gtid_set sa, sb;
	char err[256];

	if (ka_gtid_history(&sa, a, NULL, NULL, err, sizeof err) < 0 ||
	    ka_gtid_history(&sb, b, NULL, NULL, err, sizeof err) < 0)
		return -9;
	return ka_gtid_successor(&sa, &sb);
}

/* A position of n domains, each d-1-4000000000, as text into buf. */
static void long_position(char *buf, size_t len, int n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int d = 0; d < n && used < len; d++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d-1-4000000000", d ? "," : "", d);
}

static void test_gtid_lineage(void)
{
	static struct ka_gtid_set s;
	static char big[KA_GTID_TEXT_MAX], cut[512];
	char err[256], d[256];

	check(lacks("0-1-10", "0-1-10", d, sizeof d) == 0, "equal positions: nothing lacking");
	check(lacks("0-1-10", "0-1-11", d, sizeof d) == 1 && strcmp(d, "0-1-11 (holds 0-1-10)") == 0,
	      "a higher seq_no of the same server is lacking, described");
	check(lacks("0-1-11", "0-1-10", d, sizeof d) == 0, "a lower seq_no of the same server is held");
	check(lacks("0-1-5", "0-2-4", d, sizeof d) == 1,
	      "0-1-5 does not hold 0-2-4 although 5 > 4 (another server's lineage)");
	check(lacks("0-2-4", "0-1-5", d, sizeof d) == 1, "0-2-4 does not hold 0-1-5");
	check(order("0-1-5", "0-2-4") == KA_GTID_DIVERGED && order("0-1-5", "0-2-5") == KA_GTID_DIVERGED,
	      "same or lower seq_no from another server is divergence, not ahead");
	check(order("0-1-5,0-2-4", "0-2-4") == KA_GTID_AHEAD,
	      "a binlog state holding both servers' lineage is ahead of one of them");
	check(order("0-1-3,0-2-9", "0-1-5") == KA_GTID_DIVERGED,
	      "a promoted node that missed 0-1-4..5 and wrote 0-2-9 diverged from the old primary");
	check(order("0-1-10,0-2-15", "0-1-10") == KA_GTID_AHEAD && order("0-1-10", "0-1-10,0-2-15") == KA_GTID_BEHIND,
	      "the new primary after a clean failover is ahead of the old one");
	check(succ("0-1-3,0-2-4", "0-1-5") == 1 && succ("0-1-5", "0-1-3,0-2-4") == -1,
	      "the node promoted at 0-1-3 (wrote 0-2-4) succeeds the old primary that went on to 0-1-5");
	check(succ("0-11-203,0-12-260", "0-11-204") == 1,
	      "a hung old primary's unacknowledged 0-11-204 does not unseat the promoted node");
	check(succ("0-1-18,0-2-19", "0-1-20,0-2-15") == 1,
	      "after earlier failovers the side that changed writer at the parting point succeeds");
	check(succ("0-1-5", "0-2-5") == 0, "no common tip: undecidable");
	check(succ("0-1-3,0-2-4", "0-1-3,0-3-4") == 0, "both promoted after the same point: undecidable");
	check(succ("0-1-5,1-1-1", "0-2-5,2-2-1") == 0, "a domain each lacks: undecidable");
	check(succ("0-1-3,0-2-4,1-5-9", "0-1-5,1-5-3,1-6-4") == 0,
	      "domains that name different successors: undecidable");
	check(succ("0-1-10", "0-1-8") == 0, "not diverged: no successor");
	check(order("0-1-5,1-1-1", "0-2-5,2-2-1") == KA_GTID_DIVERGED,
	      "each holding a domain the other lacks is divergence");
	check(lacks("0-1-5", "0-1-5,1-2-3", d, sizeof d) == 1 && strstr(d, "domain 1 missing"),
	      "a domain the other holds is lacking");
	check(lacks("0-1-5,1-2-3", "0-1-5", d, sizeof d) == 0, "an extra domain of ours lacks nothing");
	check(lacks("", "0-1-1", d, sizeof d) == 1 && lacks("0-1-1", "", d, sizeof d) == 0,
	      "empty against non-empty");
	check(lacks("", "0-1-0", d, sizeof d) == 0, "seq_no 0 names no transaction");
	check(ka_gtid_parse_state("0-1-5,0-2-4", &s, err, sizeof err) == 0 && s.n == 2,
	      "a binlog state holds several servers per domain");
	check(ka_gtid_parse_state("0-1-5,0-1-6", &s, err, sizeof err) < 0,
	      "a binlog state naming one server twice in a domain is malformed");
	long_position(big, sizeof big, 58);
	check(ka_gtid_history(&s, big, NULL, NULL, err, sizeof err) == 0 && s.n == 58,
	      "58 domains (over 1000 characters) are read whole");
	long_position(big, sizeof big, KA_GTID_MAX + 1);
	check(ka_gtid_history(&s, big, NULL, NULL, err, sizeof err) < 0 && strstr(err, "too many"),
	      "more entries than the set holds fail, never count as fewer");
	long_position(big, sizeof big, 40);
	check(ka_gtid_copy(cut, sizeof cut, big, "gtid_current_pos", err, sizeof err) < 0 &&
	      strstr(err, "too long"), "a position longer than the buffer fails instead of being cut");
	check(ka_gtid_parse("0-1-5,1-2-6", &s, err, sizeof err) == 0 &&
	      ka_gtid_text(&s, cut, 8) < 0 && strcmp(cut, "0-1-5") == 0,
	      "text that does not fit is cut between entries and reported");
}

static void test_gtid(void)
{
	struct ka_gtid_set s;
	char err[256];

	check(ka_gtid_parse("", &s, err, sizeof err) == 0 && s.n == 0, "empty position is the empty set");
	check(ka_gtid_parse("0-1-100,1-2-7", &s, err, sizeof err) == 0 && s.n == 2 &&
	      s.g[1].domain == 1 && s.g[1].server == 2 && s.g[1].seq == 7, "two domains parse");
	check(ka_gtid_parse("0-1-100, 1-2-7", &s, err, sizeof err) == 0 && s.n == 2, "space after comma");
	check(ka_gtid_parse("0-1", &s, err, sizeof err) < 0, "missing seq_no is malformed");
	check(ka_gtid_parse("0-1-2,", &s, err, sizeof err) < 0, "trailing comma is malformed");
	check(ka_gtid_parse("0-1-2,0-3-4", &s, err, sizeof err) < 0, "a domain twice is malformed");
	check(ka_gtid_parse("a-1-2", &s, err, sizeof err) < 0, "letters are malformed");
}

static void test_optfile(void)
{
	char path[] = "/tmp/ka-test-lib.XXXXXX", err[256];
	const char *groups[] = { "client", "ka-replication", NULL };
	struct ka_optvals v;
	int fd = mkstemp(path);
	const char *text =
		"# comment\n[mysqld]\nuser=mysql\n[client]\nuser = ka_check\n"
		"password=\"p#ss word\"\nport=3307\n\n[other]\npassword=nope\n"
		"[ka-replication]\nsocket='/run/x.sock' # trailing comment\n";

	if (fd < 0 || write(fd, text, strlen(text)) < 0) {
		check(0, "temp option file");
		return;
	}
	close(fd);
	check(ka_optfile_read(path, groups, &v, err, sizeof err) == 0, "reads a valid option file");
	check(strcmp(v.user, "ka_check") == 0, "user from [client], not [mysqld]");
	check(strcmp(v.password, "p#ss word") == 0, "quoted password keeps # and spaces");
	check(v.port == 3307, "port parsed");
	check(strcmp(v.socket, "/run/x.sock") == 0, "single quotes and trailing comment removed");
	check(ka_optfile_has_group(path, "ka-replication", err, sizeof err) == 1, "finds a group");
	check(ka_optfile_has_group(path, "nope", err, sizeof err) == 0, "misses an absent group");
	check(ka_optfile_check(path, err, sizeof err) == 0, "0600 file passes the check");
	chmod(path, 0644);
	check(ka_optfile_check(path, err, sizeof err) < 0 && strstr(err, "accessible by others"),
	      "0644 file fails the check");
	unlink(path);
}

static void test_args(void)
{
	char host[64], err[256];
	unsigned int port;

	check(ka_parse_hostport("-", "192.0.2.1:3306", 0, host, sizeof host, &port, err, sizeof err) == 0 &&
	      strcmp(host, "192.0.2.1") == 0 && port == 3306, "ipv4 with port");
	check(ka_parse_hostport("-", "[::1]:33", 0, host, sizeof host, &port, err, sizeof err) == 0 &&
	      strcmp(host, "::1") == 0 && port == 33, "bracketed ipv6 with port");
	check(ka_parse_hostport("-", "192.0.2.1", 3306, host, sizeof host, &port, err, sizeof err) == 0 &&
	      port == 3306, "default port");
	check(ka_parse_hostport("-", "192.0.2.1:0", 3306, host, sizeof host, &port, err, sizeof err) < 0,
	      "port 0 refused");
	check(ka_parse_hostport("-", "db1:3306", 3306, host, sizeof host, &port, err, sizeof err) < 0,
	      "names refused");
}

/* ka_parse_hostport_list on s with default port 3306 and room for max; returns its
 * result, the count in *cnt and the error text in err. */
static int plist(const char *s, int max, struct ka_endpoint *eps, int *cnt, char *err,
		 size_t errlen)
{
	err[0] = '\0';
	return ka_parse_hostport_list("--peer", s, 3306, eps, max, cnt, err, errlen);
}

static void test_hostport_list(void)
{
	struct ka_endpoint eps[KA_MAX_PEERS];
	char err[512];
	int cnt;

	check(plist("192.0.2.12", KA_MAX_PEERS, eps, &cnt, err, sizeof err) == 0 && cnt == 1 &&
	      strcmp(eps[0].host, "192.0.2.12") == 0 && eps[0].port == 3306,
	      "list: one address takes the default port");
	check(plist("192.0.2.12:3307,[2001:db8::13]:3308,2001:db8::14", KA_MAX_PEERS, eps, &cnt,
		    err, sizeof err) == 0 && cnt == 3 && eps[0].port == 3307 &&
	      strcmp(eps[1].host, "2001:db8::13") == 0 && eps[1].port == 3308 &&
	      strcmp(eps[2].host, "2001:db8::14") == 0 && eps[2].port == 3306,
	      "list: ipv4, bracketed and bare ipv6 in order");
	check(plist("192.0.2.12,192.0.2.13,", KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "empty address in '192.0.2.12,192.0.2.13,' for --peer") != NULL,
	      "list: a trailing comma is an empty item");
	check(plist(",192.0.2.12", KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "empty address") != NULL, "list: a leading comma is an empty item");
	check(plist("192.0.2.12,,192.0.2.13", KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "empty address") != NULL, "list: two commas make an empty item");
	check(plist("", KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strcmp(err, "--peer needs at least one IP[:PORT]") == 0, "list: empty list refused");
	check(plist("192.0.2.12,192.0.2.12:3306", KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "duplicate address '192.0.2.12:3306' in") != NULL,
	      "list: the default port spelled out is a duplicate");
	check(plist("[2001:db8::13]:3306,[2001:db8:0:0::13]", KA_MAX_PEERS, eps, &cnt, err,
		    sizeof err) < 0 && strstr(err, "duplicate address '[2001:db8:0:0::13]:3306'") != NULL,
	      "list: ipv6 duplicates are found in any spelling");
	check(plist("192.0.2.12:3306,192.0.2.12:3307", KA_MAX_PEERS, eps, &cnt, err, sizeof err) == 0 &&
	      cnt == 2, "list: one address on two ports is two endpoints");
	check(plist("192.0.2.1,192.0.2.2,192.0.2.3", 2, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "too many addresses in '192.0.2.1,192.0.2.2,192.0.2.3' for --peer (at most 2)") != NULL,
	      "list: more than max refused");
	check(plist("192.0.2.12,db3", KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "invalid address 'db3' for --peer: use a numeric IP address") != NULL,
	      "list: a name in the list is refused by name");
	check(plist("192.0.2.12,2001:db8::12:3307", KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "ambiguous address '2001:db8::12:3307'") != NULL,
	      "list: an ambiguous ipv6 item is refused");
	char longv[300];
	memset(longv, '1', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	check(plist(longv, KA_MAX_PEERS, eps, &cnt, err, sizeof err) < 0 &&
	      strstr(err, "too long") != NULL, "list: an overlong item is refused");
}

static void test_json(void)
{
	struct ka_json j;

	ka_json_begin(&j);
	ka_json_str(&j, "a", "q\"b\\\n\x01");
	ka_json_arr_open(&j, "l");
	ka_json_arr_str(&j, "x");
	ka_json_arr_str(&j, "y");
	ka_json_arr_close(&j);
	ka_json_null(&j, "n");
	const char *out = ka_json_end(&j);
	check(strcmp(out, "{\"a\":\"q\\\"b\\\\\\n\\u0001\",\"l\":[\"x\",\"y\"],\"n\":null}") == 0,
	      "json escapes and nests");
}

/* The model: a history with entry d-s-n holds transactions d-s-1 .. d-s-n. Over two
 * domains and two servers with seq_no 0..2 (81 histories), the lineage comparison must
 * agree with inclusion of those transaction sets, and be antisymmetric. */
#define MODEL_PAIRS 4   /* (domain, server) in {0,1} x {1,2} */

static void model_history(int code, struct ka_gtid_set *h, int seqs[MODEL_PAIRS])
{
	h->n = 0;
	for (int p = 0; p < MODEL_PAIRS; p++, code /= 3) {
		seqs[p] = code % 3;
		if (seqs[p])
			h->g[h->n++] = (struct ka_gtid){ (unsigned long)(p / 2),
							 (unsigned long)(p % 2 + 1),
							 (unsigned long long)seqs[p] };
	}
}

static enum ka_gtid_order model_order(const int a[MODEL_PAIRS], const int b[MODEL_PAIRS])
{
	int a_lacks = 0, b_lacks = 0;

	for (int p = 0; p < MODEL_PAIRS; p++) {
		a_lacks |= a[p] < b[p];
		b_lacks |= b[p] < a[p];
	}
	if (a_lacks && b_lacks)
		return KA_GTID_DIVERGED;
	return a_lacks ? KA_GTID_BEHIND : b_lacks ? KA_GTID_AHEAD : KA_GTID_SAME;
}

static void test_gtid_properties(void)
{
	static struct ka_gtid_set a, b;
	int sa[MODEL_PAIRS], sb[MODEL_PAIRS], agree = 1, antisym = 1;

	for (int i = 0; i < 81; i++)
		for (int k = 0; k < 81; k++) {
			model_history(i, &a, sa);
			model_history(k, &b, sb);
			enum ka_gtid_order ab = ka_gtid_compare(&a, &b), ba = ka_gtid_compare(&b, &a);
			agree &= ab == model_order(sa, sb);
			antisym &= (ab == KA_GTID_AHEAD) == (ba == KA_GTID_BEHIND) &&
				   (ab == KA_GTID_SAME) == (ba == KA_GTID_SAME) &&
				   (ab == KA_GTID_DIVERGED) == (ba == KA_GTID_DIVERGED);
		}
	check(agree, "gtid comparison agrees with inclusion of transaction sets (81x81 histories)");
	check(antisym, "gtid comparison is antisymmetric (81x81 histories)");
}

/* json-echo: stdin as one JSON string {"s":"..."} on stdout (property tests with jq). */
static int json_echo(void)
{
	static char in[8192];
	static struct ka_json j;
	size_t n = fread(in, 1, sizeof in - 1, stdin);

	in[n] = '\0';
	ka_json_begin(&j);
	ka_json_str(&j, "s", in);
	printf("%s\n", ka_json_end(&j));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "json-echo"))
		return json_echo();
	test_gtid();
	test_gtid_properties();
	test_gtid_lineage();
	test_optfile();
	test_args();
	test_hostport_list();
	test_json();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
