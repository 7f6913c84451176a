// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * rowcost: what the user side spends formatting one row (format.c), in a
 * loop on one thread, no kernel and no I/O: a figure that other load on
 * the machine can only slow down (the fastest of several batches is
 * printed). Rows as -j writes them without the identity keys' names (a
 * host without cgroup v2), with a kind node's (a long path, a unit and a
 * container), -S's column, and the plain columns.
 *
 *   rowcost [-n ROWS] [-b BATCHES]      prints one "NAME ns_per_row bytes" line each
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "format.h"

static const struct fmt_names kind_names = {
	"/system.slice/docker-4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2.scope/"
	"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	"kubelet-kubepods-besteffort-pod8a1c3b5e_2f4d_4c6b_9e8a_7d6c5b4a3f21.slice/"
	"cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
	"docker-4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2.scope",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"0123456789ab",
};

static double ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The fastest batch's ns per row of @e under @st; its length in @bytes. */
static double time_rows(struct fmt_state *st, const struct event *e, long rows, int batches,
			size_t *bytes)
{
	static char buf[FMT_LINE_MAX];
	double best = 1e18;

	for (int b = 0; b < batches; b++) {
		double t0 = ns_now();

		for (long i = 0; i < rows; i++)
			*bytes = fmt_event(st, e, buf, sizeof(buf));
		if ((ns_now() - t0) / (double)rows < best)
			best = (ns_now() - t0) / (double)rows;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; bool json, service, names; } runs[] = {
		{ "columns", false, false, false },
		{ "columns-S", false, true, true },
		{ "json-no-names", true, false, false },
		{ "json-kind-names", true, false, true },
	};
	long rows = 200000;
	int batches = 9, opt;
	struct fmt_state st;
	struct event e;
	size_t bytes = 0;

	while ((opt = getopt(argc, argv, "n:b:")) != -1) {
		if (opt == 'n')
			rows = atol(optarg);
		else if (opt == 'b')
			batches = atoi(optarg);
		else
			return 64;
	}
	memset(&e, 0, sizeof(e));
	e.family = AF_INET;
	e.pid = e.tid = e.nspid = 31025;
	e.lport = 52569;
	e.rport = 40000;
	e.netns = 4026531833U;
	e.pidns = 4026531836U;
	e.mntns = 4026531832U;
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "127.0.0.1", e.raddr);
	memcpy(e.comm, "flood-srv", 10);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		fmt_init(&st, false, false, 0);
		st.json = runs[i].json;
		st.print_service = runs[i].service;
		e.names = runs[i].names ? kind_names : (struct fmt_names){ 0 };
		double ns = time_rows(&st, &e, rows, batches, &bytes);

		printf("%-16s %7.1f ns/row %4zu bytes %9.0f rows/s\n", runs[i].name, ns, bytes, 1e9 / ns);
	}
	return 0;
}
