/* TCP reachability probes (witnesses, peers) bounded by a deadline. */
#ifndef KA_TCP_H
#define KA_TCP_H

#include <stddef.h>
#include <stdint.h>

struct ka_endpoint {
	char host[64];        /* numeric IPv4 or IPv6 address */
	unsigned int port;
};

/* Starts a TCP connect to every endpoint at once and waits until one accepts or the
 * deadline passes. Returns the index of the first that accepted, or -1 with err
 * describing each failure ("192.0.2.1:22 timed out, 192.0.2.2:22 refused"). */
int ka_tcp_any_accepts(const struct ka_endpoint *eps, size_t n, int64_t deadline,
		       char *err, size_t errlen);

#endif
