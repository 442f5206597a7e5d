#include "deadline.h"

#include <stdio.h>
#include <time.h>

int64_t ka_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ka_deadline_in(int64_t ms)
{
	return ka_now_ms() + ms;
}

int64_t ka_remaining_ms(int64_t deadline)
{
	int64_t left = deadline - ka_now_ms();

	return left > 0 ? left : 0;
}

void ka_wallclock_iso(char *buf, unsigned long len)
{
	struct timespec ts;
	struct tm tm;
	char sec[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}
