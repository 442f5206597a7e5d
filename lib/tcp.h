/* TCP probes (witnesses, the peer) bounded by a deadline, and the local-address test a
 * witness must pass. */
#ifndef KA_TCP_H
#define KA_TCP_H

#include <stddef.h>
#include <stdint.h>

struct ka_endpoint {
	char host[64];        /* numeric IPv4 or IPv6 address */
	unsigned int port;
};

/* What one TCP connect found out about an endpoint. */
enum ka_tcp_reach {
	KA_TCP_ANSWERS,       /* the handshake completed: something listens there */
	KA_TCP_REFUSED,       /* the host answered with a reset: nothing listens */
	KA_TCP_NO_ROUTE,      /* no route, host or network unreachable */
	KA_TCP_TIMED_OUT,     /* no answer before the deadline */
	KA_TCP_FAILED         /* any other local error (no socket, ...) */
};

/* "192.0.2.1:22" or "[2001:db8::1]:22", for messages. Returns buf. */
const char *ka_endpoint_text(const struct ka_endpoint *ep, char *buf, size_t len);

/* Starts a TCP connect to every endpoint at once and waits until one answers or the
 * deadline passes. An endpoint answers when the handshake completes and, with
 * need_banner, it then sends at least one byte (a proxy or NAT that completes the
 * handshake for an unreachable host cannot). Returns the index of the first that
 * answered, or -1 with err describing each endpoint ("192.0.2.1:22 timed out,
 * 192.0.2.2:22 Connection refused"); *timed_out (may be NULL) is set when at least one
 * endpoint was still pending at the deadline. */
int ka_tcp_any_answers(const struct ka_endpoint *eps, size_t n, int need_banner,
		       int64_t deadline, int *timed_out, char *err, size_t errlen);

/* One TCP connect to ep (handshake only) within the deadline; err says why it failed. */
enum ka_tcp_reach ka_tcp_reach(const struct ka_endpoint *ep, int64_t deadline, char *err,
			       size_t errlen);

/* Like ka_tcp_reach, but the endpoint answers only when, after the handshake, it sends
 * at least one byte (a MariaDB server's greeting) before the deadline. A hung server
 * (SIGSTOP) whose kernel completes the handshake times out; one that closes or resets
 * the connection without a byte counts as refused. */
enum ka_tcp_reach ka_tcp_greets(const struct ka_endpoint *ep, int64_t deadline, char *err,
				size_t errlen);

/* 1 when ip can never be a witness of this host: loopback, unspecified, or one of this
 * host's own interface addresses (getifaddrs, so a VIP held right now counts); why says
 * which. 0 when it is another host's address; -1 (why filled) when unreadable. */
int ka_ip_is_local(const char *ip, char *why, size_t whylen);

#endif
