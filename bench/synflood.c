// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * synflood: SYNs against a full listener, for the cost of tcpaccept -x on
 * the SYN path. A listener on 127.0.0.1 with backlog 0 that never accepts;
 * once one handshake filled its accept queue, every SYN after is dropped
 * at the SYN (the kernel's ListenOverflows). Each connect() is
 * non-blocking and its socket closed at once (a socket in SYN_SENT sends
 * nothing more). Runs for -d seconds, prints one line:
 *
 *   syns=N port=P
 *
 * Build: cc -O2 -static -o synflood synflood.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	double seconds = 2, end;
	unsigned long syns = 0;
	int opt, lfd, fd;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			fprintf(stderr, "usage: synflood [-d SECONDS]\n");
			return 64;
		}
		seconds = atof(optarg);
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 0) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		perror("synflood: listener");
		return 1;
	}
	end = now() + seconds;
	while (now() < end) {
		for (int i = 0; i < 256; i++) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0) {
				perror("synflood: socket");
				return 1;
			}
			if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS)
				syns++;
			close(fd);
		}
	}
	printf("syns=%lu port=%u\n", syns, ntohs(a.sin_port));
	close(lfd);
	return 0;
}
