// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * acceptloop: what a tracer adds to each accept(), without the flood's
 * scheduling noise. One thread, on one CPU, repeats: socket, connect to its
 * own loopback listener (the handshake completes inside connect()),
 * accept4, close both (the client with a RST). No other thread runs, so
 * the time per iteration moves only with the work done in it.
 *
 *   acceptloop [-d SECONDS] [-6]
 *
 * stdout, one line: pid= comm= port= accepts= ns_per_accept= cpu_ns_per_accept=
 * ns_per_accept is wall time, cpu_ns_per_accept the thread's CPU time.
 * Exit codes: 0 ok, 1 a syscall failed, 64 usage error.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -static -o acceptloop acceptloop.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define COMM "acceptloop"

static double seconds_of(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "acceptloop: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage addr = { 0 };
	socklen_t addrlen;
	double seconds = 1.0, t0, c0, t1, c1, deadline;
	unsigned long long accepts = 0;
	int family = AF_INET, opt, lfd;
	char *end;

	while ((opt = getopt(argc, argv, "d:6")) != -1) {
		switch (opt) {
		case 'd':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0 && seconds <= 600)) {
				fprintf(stderr, "acceptloop: -d takes 0 < SECONDS <= 600\n");
				return 64;
			}
			break;
		case '6':
			family = AF_INET6;
			break;
		default:
			fprintf(stderr, "usage: acceptloop [-d SECONDS] [-6]\n");
			return 64;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: acceptloop [-d SECONDS] [-6]\n");
		return 64;
	}
	prctl(PR_SET_NAME, COMM, 0, 0, 0);

	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&addr;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addrlen = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		addrlen = sizeof(*a);
	}
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, addrlen) || listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &addrlen))
		die("listener");

	t0 = seconds_of(CLOCK_MONOTONIC);
	c0 = seconds_of(CLOCK_THREAD_CPUTIME_ID);
	deadline = t0 + seconds;
	do {
		/* 256 iterations between clock reads. */
		for (int i = 0; i < 256; i++) {
			int cfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), afd;

			if (cfd < 0)
				die("socket");
			if (setsockopt(cfd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)))
				die("setsockopt(SO_LINGER)");
			if (connect(cfd, (struct sockaddr *)&addr, addrlen))
				die("connect");
			afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (afd < 0)
				die("accept4");
			close(afd);
			close(cfd);
			accepts++;
		}
		t1 = seconds_of(CLOCK_MONOTONIC);
	} while (t1 < deadline);
	c1 = seconds_of(CLOCK_THREAD_CPUTIME_ID);

	printf("pid=%d comm=%s port=%u accepts=%llu ns_per_accept=%.0f cpu_ns_per_accept=%.0f\n",
	       (int)getpid(), COMM,
	       ntohs(family == AF_INET ? ((struct sockaddr_in *)&addr)->sin_port
				       : ((struct sockaddr_in6 *)&addr)->sin6_port),
	       accepts, (t1 - t0) * 1e9 / (double)accepts, (c1 - c0) * 1e9 / (double)accepts);
	return 0;
}
