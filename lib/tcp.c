#include "tcp.h"
#include "deadline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EPS 16
#define E_PENDING (-1)     /* still connecting or waiting for a byte at the deadline */
#define E_SILENT_EOF (-2)  /* connected, then closed without sending anything */

/* Fills ss from a numeric address. Returns its length, or 0 when ip is not numeric. */
static socklen_t to_sockaddr(const char *ip, unsigned int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		return sizeof *v4;
	}
	if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return sizeof *v6;
	}
	return 0;
}

/* Non-blocking connect; returns the fd (connect in progress or done) or -1 and errno. */
static int start_connect(const struct ka_endpoint *ep)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(ep->host, ep->port, &ss);
	int fd;

	if (!sl) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

const char *ka_endpoint_text(const struct ka_endpoint *ep, char *buf, size_t len)
{
	snprintf(buf, len, strchr(ep->host, ':') ? "[%s]:%u" : "%s:%u", ep->host, ep->port);
	return buf;
}

static const char *why_text(int e, int need_banner)
{
	if (e == E_PENDING)
		return need_banner ? "timed out (no handshake, or no byte after it)" : "timed out";
	if (e == E_SILENT_EOF)
		return "closed the connection without sending anything";
	return strerror(e);
}

static void note(char *err, size_t errlen, const struct ka_endpoint *ep, const char *why)
{
	size_t used = strlen(err);
	char t[80];

	if (used + 1 < errlen)
		snprintf(err + used, errlen - used, "%s%s %s", used ? ", " : "",
			 ka_endpoint_text(ep, t, sizeof t), why);
}

/* One poll event on a probe: returns 1 when it answered, 0 when it still waits (events
 * now POLLIN: connected, awaiting a byte), or -1 with *e set when it failed. */
static int advance(struct pollfd *p, int need_banner, int *e)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	char byte;

	if (p->events & POLLOUT) {
		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			*e = soerr;
			return -1;
		}
		if (!need_banner)
			return 1;
		p->events = POLLIN;
		return 0;
	}
	ssize_t n = recv(p->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		return 1;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	*e = n == 0 ? E_SILENT_EOF : errno;
	return -1;
}

/* The engine of both probes: errs[i] is 0 for the winner, else why endpoint i failed. */
static int probe(const struct ka_endpoint *eps, size_t n, int need_banner, int64_t deadline,
		 int *errs)
{
	struct pollfd pfd[MAX_EPS];
	int winner = -1;
	size_t pending = 0;

	for (size_t i = 0; i < n; i++) {
		errs[i] = E_PENDING;
		pfd[i].fd = start_connect(&eps[i]);
		pfd[i].events = POLLOUT;
		pfd[i].revents = 0;
		if (pfd[i].fd < 0)
			errs[i] = errno;
		else
			pending++;
	}
	while (pending && winner < 0) {
		int64_t left = ka_remaining_ms(deadline);
		if (left <= 0)
			break;
		int r = poll(pfd, n, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (size_t i = 0; i < n && winner < 0; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			int st = advance(&pfd[i], need_banner, &errs[i]);
			if (st > 0) {
				errs[i] = 0;
				winner = (int)i;
			} else if (st < 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				pending--;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	return winner;
}

int ka_tcp_any_answers(const struct ka_endpoint *eps, size_t n, int need_banner,
		       int64_t deadline, int *timed_out, char *err, size_t errlen)
{
	int errs[MAX_EPS];

	err[0] = '\0';
	if (timed_out)
		*timed_out = 0;
	if (n > MAX_EPS)
		n = MAX_EPS;
	int winner = probe(eps, n, need_banner, deadline, errs);
	if (winner >= 0)
		return winner;
	for (size_t i = 0; i < n; i++) {
		note(err, errlen, &eps[i], why_text(errs[i], need_banner));
		if (errs[i] == E_PENDING && timed_out)
			*timed_out = 1;
	}
	return -1;
}

/* One probe of ep, sorted into what it says about the endpoint. */
static enum ka_tcp_reach reach(const struct ka_endpoint *ep, int need_banner, int64_t deadline,
			       char *err, size_t errlen)
{
	int e;

	err[0] = '\0';
	if (probe(ep, 1, need_banner, deadline, &e) == 0)
		return KA_TCP_ANSWERS;
	note(err, errlen, ep, why_text(e, need_banner));
	switch (e) {
	case E_PENDING:
		return KA_TCP_TIMED_OUT;
	case ECONNREFUSED:
		return KA_TCP_REFUSED;
	case ECONNRESET: case E_SILENT_EOF:   /* accepted, then dropped without a byte */
		return need_banner ? KA_TCP_REFUSED : KA_TCP_FAILED;
	case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENETDOWN:
		return KA_TCP_NO_ROUTE;
	default:
		return KA_TCP_FAILED;
	}
}

enum ka_tcp_reach ka_tcp_reach(const struct ka_endpoint *ep, int64_t deadline, char *err,
			       size_t errlen)
{
	return reach(ep, 0, deadline, err, errlen);
}

enum ka_tcp_reach ka_tcp_greets(const struct ka_endpoint *ep, int64_t deadline, char *err,
				size_t errlen)
{
	return reach(ep, 1, deadline, err, errlen);
}

/* 1 for loopback and unspecified addresses, IPv4-mapped ones included. */
static int is_loopback_or_any(const struct sockaddr_storage *ss, const char **why)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *b;

	if (ss->ss_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
	} else {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a)) {
			*why = IN6_IS_ADDR_LOOPBACK(a) ? "a loopback address" : "the unspecified address";
			return 1;
		}
		if (memcmp(a->s6_addr, mapped, sizeof mapped) != 0)
			return 0;
		b = a->s6_addr + 12;
	}
	if (b[0] == 127 || (b[0] | b[1] | b[2] | b[3]) == 0) {
		*why = b[0] == 127 ? "a loopback address" : "the unspecified address";
		return 1;
	}
	return 0;
}

/* 1 when interface address ifa is the address in ss (IPv4 also as IPv4-mapped IPv6). */
static int same_addr(const struct sockaddr *ifa, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;

	if (ifa->sa_family == AF_INET6 && ss->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)ifa)->sin6_addr, &v6->sin6_addr, 16) == 0;
	if (ifa->sa_family != AF_INET)
		return 0;
	const void *four = &((const struct sockaddr_in *)ifa)->sin_addr;
	if (ss->ss_family == AF_INET)
		return memcmp(four, &((const struct sockaddr_in *)ss)->sin_addr, 4) == 0;
	return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && memcmp(four, v6->sin6_addr.s6_addr + 12, 4) == 0;
}

int ka_ip_is_local(const char *ip, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	struct ifaddrs *ifs, *i;
	const char *what;
	int found = 0;

	if (!to_sockaddr(ip, 0, &ss)) {
		snprintf(why, whylen, "'%s' is not a numeric address", ip);
		return -1;
	}
	if (is_loopback_or_any(&ss, &what)) {
		snprintf(why, whylen, "%s", what);
		return 1;
	}
	if (getifaddrs(&ifs) < 0) {
		snprintf(why, whylen, "cannot read this host's addresses: %s", strerror(errno));
		return -1;
	}
	for (i = ifs; i && !found; i = i->ifa_next)
		if (i->ifa_addr && same_addr(i->ifa_addr, &ss)) {
			snprintf(why, whylen, "an address of this host (interface %s)", i->ifa_name);
			found = 1;
		}
	freeifaddrs(ifs);
	return found;
}
