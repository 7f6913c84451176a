/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#ifndef TCPACCEPT_CLOCKS_H
#define TCPACCEPT_CLOCKS_H

#include <time.h>
#include <linux/types.h>

#define NSEC_PER_SEC 1000000000ULL

/* CLOCK_MONOTONIC, the clock of the kernel side's bpf_ktime_get_ns(). */
static inline __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

/* Seconds since the epoch, for --metrics and -j. */
static inline double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* TCPACCEPT_CLOCKS_H */
