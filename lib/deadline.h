/* Monotonic millisecond clock and deadlines: one --timeout bounds a whole run. */
#ifndef KA_DEADLINE_H
#define KA_DEADLINE_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t ka_now_ms(void);

/* Deadline ms milliseconds from now. */
int64_t ka_deadline_in(int64_t ms);

/* Milliseconds left before deadline, never negative. */
int64_t ka_remaining_ms(int64_t deadline);

/* Wall clock as "2026-11-21T14:48:37.123Z" into buf (at least 32 bytes). */
void ka_wallclock_iso(char *buf, unsigned long len);

#endif
