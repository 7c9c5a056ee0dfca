// SPDX-License-Identifier: GPL-2.0
/*
 * colo-now: print CLOCK_MONOTONIC in microseconds, for shell timings finer
 * than busybox date (which has no %N) or /proc/uptime (10 ms).
 */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("%lld\n", (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	return 0;
}
