/* The books of a drill run. Times are milliseconds since the first write (drill_ms).
 *
 * Outage, as measured here: it starts at the start of the first failed write attempt
 * after the last acknowledged one, and ends when the next write is acknowledged (or the
 * run ends: an open outage). A write that was acknowledged only after the library failed
 * over inside it (a switch during the call) counts too: from its start to its
 * acknowledgement the application had no writer. It is a lower bound of what the application saw, since
 * the service may have failed somewhat before that attempt; the last acknowledgement
 * before it is recorded too, as the upper bound's start.
 */
#include "drill.h"

#include "deadline.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int drill_record_init(struct drill *d, uint32_t cap, char *err, size_t errlen)
{
	d->cap = cap;
	d->next_seq = 1;
	d->last_ack_ms = -1;
	d->state = calloc((size_t)cap + 1, 1);
	if (!d->state) {
		snprintf(err, errlen, "cannot allocate the write log for %u writes", cap);
		return -1;
	}
	return 0;
}

void drill_record_free(struct drill *d)
{
	free(d->state);
	d->state = NULL;
}

int64_t drill_ms(const struct drill *d)
{
	return ka_now_ms() - d->t0;
}

uint64_t drill_id(const struct drill *d, uint32_t seq)
{
	return ((uint64_t)d->run << 32) | seq;
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void drill_close_outage(struct drill *d, int64_t t_end_ms)
{
	struct drill_outage *o = &d->cur_outage;

	if (!d->in_outage)
		return;
	o->end_ms = t_end_ms;
	if (d->noutages < DRILL_MAX_OUTAGES)
		d->outages[d->noutages++] = *o;
	d->outages_total++;
	if (d->outages_total == 1 ||
	    o->end_ms - o->start_ms > d->longest.end_ms - d->longest.start_ms)
		d->longest = *o;
	d->in_outage = 0;
}

/* Extends the current phase, or starts a new one when the server changed. */
static void note_phase(struct drill *d, int64_t t_ms, const char *server, unsigned long sid)
{
	struct drill_phase *p = d->nphases ? &d->phases[d->nphases - 1] : NULL;

	if (!p || strcmp(p->server, server) != 0 || p->server_id != sid) {
		if (d->nphases < DRILL_MAX_PHASES) {
			p = &d->phases[d->nphases++];
			memset(p, 0, sizeof *p);
			copy(p->server, sizeof p->server, server);
			p->server_id = sid;
			p->start_ms = t_ms;
		}
	}
	p->end_ms = t_ms;
	p->acknowledged++;
}

void drill_open_outage(struct drill *d, int64_t t_start_ms)
{
	if (d->in_outage)
		return;
	memset(&d->cur_outage, 0, sizeof d->cur_outage);
	d->cur_outage.start_ms = t_start_ms;
	d->in_outage = 1;
}

void drill_ack(struct drill *d, uint32_t seq, int64_t t_ms, const char *server,
	       unsigned long server_id)
{
	d->state[seq] = W_ACKED;
	d->acknowledged++;
	if (d->in_outage) {
		drill_close_outage(d, t_ms);
		ka_log_debug("write %u acknowledged on %s at %lld ms: outage over (%lld ms)", seq,
			     server, (long long)t_ms,
			     (long long)(d->cur_outage.end_ms - d->cur_outage.start_ms));
	}
	d->last_ack_ms = t_ms;
	note_phase(d, t_ms, server, server_id);
}

void drill_fail(struct drill *d, int64_t t_start_ms, int rc, unsigned int err,
		const char *server, const char *msg)
{
	d->errors_total++;
	if (d->nevents < DRILL_MAX_EVENTS) {
		struct drill_event *e = &d->events[d->nevents++];
		e->t_ms = t_start_ms;
		e->err = err;
		copy(e->kind, sizeof e->kind, ka_fo_rc_name(rc));
		copy(e->server, sizeof e->server, server ? server : "none");
		copy(e->msg, sizeof e->msg, msg);
	}
	drill_open_outage(d, t_start_ms);
	d->cur_outage.failed++;
	ka_log_debug("%lld ms: %s on %s: %s", (long long)t_start_ms, ka_fo_rc_name(rc),
		     server ? server : "none", msg);
}

void drill_add_pending(struct drill *d, uint32_t seq, unsigned long thread_id,
		       unsigned long server_id)
{
	if (d->npending < DRILL_MAX_PENDING)
		d->pending[d->npending++] = (struct drill_pending){ seq, thread_id, server_id };
	else
		d->pending_dropped++;  /* stays W_AMBIGUOUS: the verification classifies it */
}

void drill_on_switch(const struct ka_fo_switch *sw, void *arg)
{
	struct drill *d = arg;

	d->switches_total++;
	ka_log_debug("switched from %s (server_id %lu) to %s (server_id %lu) after %lld ms: %s",
		     sw->from_name, sw->from_server_id, sw->to_name, sw->to_server_id,
		     (long long)sw->down_ms, sw->reason);
	if (d->nswitches >= DRILL_MAX_SWITCHES)
		return;
	struct drill_switch *s = &d->switches[d->nswitches++];
	s->t_ms = sw->at_ms - d->t0;
	s->down_ms = sw->down_ms;
	copy(s->from, sizeof s->from, sw->from_name);
	copy(s->to, sizeof s->to, sw->to_name);
	s->from_server_id = sw->from_server_id;
	s->to_server_id = sw->to_server_id;
	s->err = sw->err;
	copy(s->reason, sizeof s->reason, sw->reason);
}
