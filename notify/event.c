/* Decoding keepalived's notifications: the notify_* word, the generic notify's four words
 * (INSTANCE|GROUP NAME STATE PRIORITY, FACTS 8) and the FIFO's lines
 * (INSTANCE "VI_1" MASTER 100, FACTS 10) into one event, or EV_IGNORED with the reason. */
#include "notify.h"

#include "args.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum event state_event(const char *s)
{
	if (!strcasecmp(s, "master"))
		return EV_MASTER;
	if (!strcasecmp(s, "backup"))
		return EV_BACKUP;
	if (!strcasecmp(s, "fault"))
		return EV_FAULT;
	if (!strcasecmp(s, "stop"))
		return EV_STOP;
	return EV_NONE;
}

/* keepalived's four words (kind, name, state, priority) into an event. An event for
 * another instance or group, or a state we do not act on, is EV_IGNORED with why.
 * Returns -1 when the words are malformed (err filled). */
static int decode_notify(const struct opts *o, const char *kind, const char *name,
			 const char *state, const char *prio, enum event *ev, char *why,
			 size_t whylen, char *err, size_t errlen)
{
	long p;
	int group = !strcmp(kind, "GROUP");

	if (!group && strcmp(kind, "INSTANCE") != 0) {
		snprintf(err, errlen, "invalid notification kind '%s': expected INSTANCE or GROUP",
			 kind);
		return -1;
	}
	if (ka_parse_long("PRIORITY", prio, 0, 255, &p, err, errlen) < 0)
		return -1;
	*ev = state_event(state);
	if (*ev == EV_NONE)
		snprintf(why, whylen, "state '%s' is not acted on", state);
	else if (group && !o->group)
		snprintf(why, whylen, "GROUP notifications are acted on only with --group");
	else if (group && strcmp(name, o->group) != 0)
		snprintf(why, whylen, "group '%s' is not --group '%s'", name, o->group);
	else if (!group && o->group)
		snprintf(why, whylen, "INSTANCE notifications are not acted on with --group");
	else if (!group && o->instance && strcmp(name, o->instance) != 0)
		snprintf(why, whylen, "instance '%s' is not --instance '%s'", name, o->instance);
	else
		return 0;
	*ev = EV_IGNORED;
	return 0;
}

/* A FIFO line: INSTANCE "VI_1" MASTER 100 (the name may hold spaces). */
int decode_fifo_line(const struct opts *o, char *line, enum event *ev, char *why,
			    size_t whylen, char *err, size_t errlen)
{
	char kind[16], name[256], state[32], prio[16];
	char *p = line, *q;
	size_t n;

	if (sscanf(p, "%15s", kind) != 1)
		goto bad;
	p += strspn(p, " \t");
	p += strlen(kind);
	p += strspn(p, " \t");
	if (*p == '"') {
		const char *start = p + 1;
		if (!(q = strchr(start, '"')))
			goto bad;
		n = (size_t)(q - start);
		snprintf(name, sizeof name, "%.*s", (int)n, start);
		p = q + 1;
	} else if (sscanf(p, "%255s", name) == 1) {
		p += strlen(name);
	} else {
		goto bad;
	}
	if (sscanf(p, "%31s %15s %c", state, prio, &(char){0}) != 2)
		goto bad;
	if (strcmp(kind, "INSTANCE") && strcmp(kind, "GROUP")) {
		*ev = EV_IGNORED;
		snprintf(why, whylen, "'%s' lines are not acted on", kind);
		return 0;
	}
	return decode_notify(o, kind, name, state, prio, ev, why, whylen, err, errlen);
bad:
	snprintf(err, errlen, "malformed notify line '%.200s'", line);
	return -1;
}

/* The positional words into an event. Returns -1 (usage error) or 0. */
int decode_argv(const struct opts *o, int n, char **w, enum event *ev, char *source,
		       size_t srclen, char *why, size_t whylen, char *err, size_t errlen)
{
	if (o->fifo && n) {
		snprintf(err, errlen, "--fifo takes no event words (got '%s')", w[0]);
		return -1;
	}
	if (n == 4) {
		snprintf(source, srclen, "notify %s %s %s %s", w[0], w[1], w[2], w[3]);
		return decode_notify(o, w[0], w[1], w[2], w[3], ev, why, whylen, err, errlen);
	}
	if (n != 1) {
		snprintf(err, errlen, n ? "expected one event (master, backup, fault, stop, "
			 "clear-fault, rejoin, switchover) or INSTANCE|GROUP NAME STATE PRIORITY, "
			 "got %d words" : "missing event: master, backup, fault, stop, clear-fault, "
			 "rejoin, switchover, INSTANCE|GROUP NAME STATE PRIORITY or --fifo PATH", n);
		return -1;
	}
	snprintf(source, srclen, "argv %s", w[0]);
	*ev = state_event(w[0]);
	if (!strcmp(w[0], "clear-fault"))
		*ev = EV_CLEAR_FAULT;
	else if (!strcmp(w[0], "rejoin"))
		*ev = EV_REJOIN;
	else if (!strcmp(w[0], "switchover"))
		*ev = EV_SWITCHOVER;
	if (*ev == EV_NONE) {
		snprintf(err, errlen, "unknown event '%s': expected master, backup, fault, stop, "
			 "clear-fault, rejoin or switchover", w[0]);
		return -1;
	}
	if (*ev == EV_CLEAR_FAULT && !o->fault_file) {
		snprintf(err, errlen, "clear-fault needs --fault-file");
		return -1;
	}
	if (*ev == EV_REJOIN && (!o->have_peer || o->mode != MODE_PR)) {
		snprintf(err, errlen, "rejoin needs --peer and --mode primary-replica");
		return -1;
	}
	if (*ev == EV_SWITCHOVER && (!o->have_peer || !o->fault_file)) {
		snprintf(err, errlen, "switchover needs --peer and --fault-file");
		return -1;
	}
	return 0;
}

