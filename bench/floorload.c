// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * floorload: the start-up floor for tcpaccept. Opens and loads
 * floorload.bpf.c (one tracepoint program, one CO-RE relocation, a ring
 * buffer) with the same static libbpf, attaches it, prints a header line as
 * tcpaccept does, and drains the ring until SIGINT/SIGTERM. bench/run.py
 * times exec -> header for both, alternating. --types: the program that
 * relocates tcpaccept's kernel types instead (floorload.bpf.c).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <bpf/libbpf.h>
#include "bench/floorload.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

int main(int argc, char **argv)
{
	bool all_types = argc > 1 && !strcmp(argv[1], "--types");
	struct floorload_bpf *skel;
	struct ring_buffer *rb = NULL;
	int err = 1;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	skel = floorload_bpf__open();
	if (!skel) {
		fprintf(stderr, "failed to open: %s\n", strerror(errno));
		return 1;
	}
	/* libbpf relocates only the programs it loads. */
	bpf_program__set_autoload(skel->progs.floor_exit_accept4, !all_types);
	bpf_program__set_autoload(skel->progs.floor_types, all_types);
	if (floorload_bpf__load(skel)) {
		fprintf(stderr, "failed to load: %s\n", strerror(errno));
		goto cleanup;
	}
	if (floorload_bpf__attach(skel)) {
		fprintf(stderr, "failed to attach: %s\n", strerror(errno));
		goto cleanup;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "failed to create the ring buffer reader: %s\n", strerror(errno));
		goto cleanup;
	}
	printf("PID COMM\n");
	fflush(stdout);
	while (!stop) {
		if (ring_buffer__poll(rb, 100) < 0 && errno != EINTR)
			break;
	}
	err = 0;
cleanup:
	ring_buffer__free(rb);
	floorload_bpf__destroy(skel);
	return err;
}
