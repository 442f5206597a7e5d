/* keepalived's notify FIFO lines as ka-notify-mariadb decodes them (notify/event.c).
 * The first input byte picks the options (--instance / --group or none). */
#include "fuzz.h"
#include "notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct opts o;
	char *line, why[300], err[300];
	enum event ev;

	if (!n)
		return 0;
	memset(&o, 0, sizeof o);
	if (d[0] & 1)
		o.instance = "VI_DB";
	else if (d[0] & 2)
		o.group = "G_DB";
	line = fuzz_str(d + 1, n - 1);
	decode_fifo_line(&o, line, &ev, why, sizeof why, err, sizeof err);
	free(line);
	return 0;
}
