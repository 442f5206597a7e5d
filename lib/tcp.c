#include "tcp.h"
#include "deadline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EPS 16

/* Non-blocking connect; returns the fd (connect in progress or done) or -1 and errno. */
static int start_connect(const struct ka_endpoint *ep)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, ep->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)ep->port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ep->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)ep->port);
		sl = sizeof(struct sockaddr_in6);
	} else {
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

static void note(char *err, size_t errlen, const struct ka_endpoint *ep, const char *why)
{
	size_t used = strlen(err);

	if (used + 1 < errlen)
		snprintf(err + used, errlen - used, "%s%s:%u %s", used ? ", " : "", ep->host,
			 ep->port, why);
}

int ka_tcp_any_accepts(const struct ka_endpoint *eps, size_t n, int64_t deadline,
		       char *err, size_t errlen)
{
	struct pollfd pfd[MAX_EPS];
	int winner = -1;
	size_t pending = 0;

	err[0] = '\0';
	if (n > MAX_EPS)
		n = MAX_EPS;
	for (size_t i = 0; i < n; i++) {
		pfd[i].fd = start_connect(&eps[i]);
		pfd[i].events = POLLOUT;
		if (pfd[i].fd < 0)
			note(err, errlen, &eps[i], strerror(errno));
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
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr == 0) {
				winner = (int)i;
				break;
			}
			note(err, errlen, &eps[i], strerror(soerr));
			close(pfd[i].fd);
			pfd[i].fd = -1;
			pending--;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (pfd[i].fd < 0)
			continue;
		if (winner < 0)
			note(err, errlen, &eps[i], "timed out");
		close(pfd[i].fd);
	}
	return winner;
}
