/* Option values every binary parses (lib/args.c): IP[:PORT] ([V6]:PORT), numbers,
 * on/off, numeric-IP tests. */
#include "fuzz.h"
#include "args.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = fuzz_str(d, n), host[64], err[512];
	unsigned int port;
	long v;
	int b;

	if (ka_parse_hostport("--peer", s, 3306, host, sizeof host, &port, err, sizeof err) == 0 &&
	    (port == 0 || port > 65535 || !ka_is_numeric_ip(host)))
		abort();   /* an accepted address is numeric, with a real port */
	ka_parse_hostport("--witness", s, 0, host, sizeof host, &port, err, sizeof err);
	if (ka_parse_long("--timeout", s, 10, 60000, &v, err, sizeof err) == 0 &&
	    (v < 10 || v > 60000))
		abort();
	ka_parse_onoff("--expect-read-only", s, &b, err, sizeof err);
	ka_is_numeric_ip(s);
	free(s);
	return 0;
}
