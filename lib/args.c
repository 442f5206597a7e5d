#include "args.h"
#include "exitcode.h"
#include "tcp.h"

#include <getopt.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ka_parse_long(const char *opt, const char *s, long min, long max, long *out,
		  char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno || v < min || v > max) {
		snprintf(err, errlen, "invalid value '%s' for %s: expected an integer from %ld to %ld",
			 s, opt, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int ka_parse_onoff(const char *opt, const char *s, int *out, char *err, size_t errlen)
{
	if (!strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "ON"))
		*out = 1;
	else if (!strcmp(s, "off") || !strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "OFF"))
		*out = 0;
	else {
		snprintf(err, errlen, "invalid value '%s' for %s: expected on or off", s, opt);
		return -1;
	}
	return 0;
}

int ka_is_numeric_ip(const char *h)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* 1 when s, a bare IPv6 address, could also be read as ADDRESS:PORT: its last group is
 * decimal and what comes before it is an address too ("2001:db8::12:3307"). */
static int ipv6_port_ambiguous(const char *s)
{
	const char *last = strrchr(s, ':');
	char head[64];
	unsigned char buf[16];
	size_t hl;

	if (!last || !last[1] || strspn(last + 1, "0123456789") != strlen(last + 1))
		return 0;
	hl = (size_t)(last - s);
	if (hl == 0 || hl >= sizeof head)
		return 0;
	memcpy(head, s, hl);
	head[hl] = '\0';
	return inet_pton(AF_INET6, head, buf) == 1;
}

int ka_split_hostport(const char *opt, const char *s, char *host, size_t hostlen,
		      unsigned int *port, char *err, size_t errlen)
{
	const char *hs = s, *colon;
	size_t hl;
	long p = 0;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb)
			goto bad;
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] && !colon)
			goto bad;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL;   /* bare IPv6: an address without a port */
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= hostlen)
		goto bad;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (colon) {
		char *end;
		p = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end || p < 1 || p > 65535)
			goto bad;
	}
	if (!ka_is_numeric_ip(host)) {
		snprintf(err, errlen, "invalid address '%s' for %s: use a numeric IP address, "
			 "not a name", s, opt);
		return -1;
	}
	if (*s != '[' && ipv6_port_ambiguous(host)) {
		snprintf(err, errlen, "ambiguous address '%s' for %s: write an IPv6 address with "
			 "a port as [ADDRESS]:PORT, and this address alone as [%s]", s, opt, s);
		return -1;
	}
	*port = (unsigned int)p;
	return 0;
bad:
	snprintf(err, errlen, "invalid address '%s' for %s: expected HOST:PORT or [IPV6]:PORT",
		 s, opt);
	return -1;
}

int ka_parse_hostport(const char *opt, const char *s, unsigned int default_port, char *host,
		      size_t hostlen, unsigned int *port, char *err, size_t errlen)
{
	unsigned int p;

	if (ka_split_hostport(opt, s, host, hostlen, &p, err, errlen) < 0)
		return -1;
	if (!p && !default_port) {
		snprintf(err, errlen, "invalid address '%s' for %s: expected HOST:PORT%s", s, opt,
			 strchr(host, ':') ? " (an IPv6 address with a port is [ADDRESS]:PORT)" : "");
		return -1;
	}
	*port = p ? p : default_port;
	return 0;
}

int ka_endpoint_same(const struct ka_endpoint *a, const struct ka_endpoint *b)
{
	unsigned char x[16], y[16];
	int fam = strchr(a->host, ':') ? AF_INET6 : AF_INET;

	if (a->port != b->port)
		return 0;
	if (inet_pton(fam, a->host, x) != 1 || inet_pton(fam, b->host, y) != 1)
		return strcmp(a->host, b->host) == 0;
	return memcmp(x, y, fam == AF_INET6 ? 16 : 4) == 0;
}

/* One item of a list (len bytes at s) into ep; err names the item. */
static int parse_list_item(const char *opt, const char *s, size_t len,
			   unsigned int default_port, struct ka_endpoint *ep, char *err,
			   size_t errlen)
{
	char item[128];

	if (len >= sizeof item) {
		snprintf(err, errlen, "invalid address '%.*s...' for %s: too long", 40, s, opt);
		return -1;
	}
	memcpy(item, s, len);
	item[len] = '\0';
	return ka_parse_hostport(opt, item, default_port, ep->host, sizeof ep->host, &ep->port,
				 err, errlen);
}

int ka_parse_hostport_list(const char *opt, const char *s, unsigned int default_port,
			   struct ka_endpoint *out, int max, int *n, char *err, size_t errlen)
{
	char t[80];

	*n = 0;
	if (!*s) {
		snprintf(err, errlen, "%s needs at least one IP[:PORT]", opt);
		return -1;
	}
	for (const char *p = s;; p++) {
		size_t len = strcspn(p, ",");
		if (len == 0) {
			snprintf(err, errlen, "empty address in '%s' for %s: separate addresses "
				 "with one comma, without a comma at either end", s, opt);
			return -1;
		}
		if (*n == max) {
			snprintf(err, errlen, "too many addresses in '%s' for %s (at most %d)", s,
				 opt, max);
			return -1;
		}
		if (parse_list_item(opt, p, len, default_port, &out[*n], err, errlen) < 0)
			return -1;
		for (int i = 0; i < *n; i++)
			if (ka_endpoint_same(&out[i], &out[*n])) {
				snprintf(err, errlen, "duplicate address '%s' in '%s' for %s",
					 ka_endpoint_text(&out[*n], t, sizeof t), s, opt);
				return -1;
			}
		(*n)++;
		p += len;
		if (!*p)
			return 0;
	}
}

static void print_code(int code, const char *name, const char *meaning, void *arg)
{
	(void)arg;
	printf("%d\t%s\t%s\n", code, name, meaning);
}

int ka_args_common(int c, const char *prog_version, void (*usage)(FILE *), char **argv,
		   char *err, size_t errlen)
{
	switch (c) {
	case 'E':
		ka_exit_foreach(print_code, NULL);
		return 1;
	case 'H':
		usage(stdout);
		return 1;
	case 'V':
		printf("%s\n", prog_version);
		return 1;
	case ':':
		snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		return -1;
	default:
		snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
		return -1;
	}
}

int ka_args_no_operands(int argc, char **argv, char *err, size_t errlen)
{
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

int ka_args_usage_error(const char *prog, const char *err, void (*usage)(FILE *))
{
	fprintf(stderr, "%s: %s\n", prog, err);
	usage(stderr);
	return KA_USAGE;
}
