// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * syscalltax: the cost of one cheap system call, getppid(), in a tight loop.
 * An enabled syscall tracepoint puts every thread of the machine on the
 * syscall slow path, so this measures what a tracer costs the processes it
 * does not trace. The loop runs in batches; the figure is the fastest
 * batch, which other load on the machine can only make slower, never
 * faster.
 *
 *   syscalltax [-d SECONDS] [-b CALLS_PER_BATCH]
 *
 * stdout, one line: batches= calls= ns_per_call_min= ns_per_call_median=
 * Exit codes: 0 ok, 1 a call failed, 64 usage error.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -static -o syscalltax syscalltax.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCHES 100000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: syscalltax [-d SECONDS (0.1-60)] [-b CALLS_PER_BATCH (100-1000000)]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	static double per_call[MAX_BATCHES];
	double seconds = 1.0, deadline, t0;
	long batch = 10000;
	int opt, n = 0;
	char *end;

	while ((opt = getopt(argc, argv, "d:b:")) != -1) {
		switch (opt) {
		case 'd':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds >= 0.1 && seconds <= 60))
				usage();
			break;
		case 'b':
			batch = strtol(optarg, &end, 10);
			if (*end || batch < 100 || batch > 1000000)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	deadline = now_ns() + seconds * 1e9;
	do {
		t0 = now_ns();
		/* syscall(), not getppid(): the libc wrapper must not cache. */
		for (long i = 0; i < batch; i++)
			if (syscall(SYS_getppid) < 0) {
				perror("syscalltax: getppid");
				return 1;
			}
		per_call[n++] = (now_ns() - t0) / (double)batch;
	} while (n < MAX_BATCHES && now_ns() < deadline);

	qsort(per_call, (size_t)n, sizeof(per_call[0]), by_value);
	printf("batches=%d calls=%ld ns_per_call_min=%.1f ns_per_call_median=%.1f\n",
	       n, (long)n * batch, per_call[0], per_call[n / 2]);
	return 0;
}
