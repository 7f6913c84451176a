// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "catchup.h"
#include "log.h"
#include "tcpaccept.h"
#include "tcpaccept.skel.h"
#include "blocked_threads.h"
#include "tracefs.h"

struct catchup_ctx {
	struct tcpaccept_bpf *skel;
	int map_fd;
};

static void add_catchup(pid_t tid, long fd, void *ctx)
{
	struct catchup_ctx *c = ctx;
	__u32 key = (__u32)tid;
	__u64 value = (__u64)fd;

	if (bpf_map_update_elem(c->map_fd, &key, &value, BPF_ANY) == 0)
		__atomic_fetch_add(&c->skel->bss->catchup_pending, 1, __ATOMIC_SEQ_CST);
}

static void catchup_stop(struct catchup *cu, struct tcpaccept_bpf *skel)
{
	skel->bss->catchup_active = false;
	if (cu->links) {
		bpf_link__destroy(skel->links.tp_exit_accept);
		bpf_link__destroy(skel->links.tp_exit_accept4);
		skel->links.tp_exit_accept = skel->links.tp_exit_accept4 = NULL;
		cu->links = false;
	}
	if (verbose && cu->threads)
		warn("caught up with the %d thread(s) that were in accept() at start\n",
		     cu->threads);
	cu->threads = 0;
}

void catchup_start(struct catchup *cu, struct tcpaccept_bpf *skel, const struct choice *c,
		   pid_t pid)
{
	struct catchup_ctx ctx = { skel, bpf_map__fd(skel->maps.catchup) };

	if (!ways[c->way].misses_blocked(c))
		return;
	if (!ways[c->way].owns_syscall_exit) {
		if (tracefs_dir()) {
			skel->links.tp_exit_accept = bpf_program__attach(skel->progs.tp_exit_accept);
			skel->links.tp_exit_accept4 = bpf_program__attach(skel->progs.tp_exit_accept4);
		}
		cu->links = true;
		if (!skel->links.tp_exit_accept || !skel->links.tp_exit_accept4) {
			warn("cannot report accept() calls already blocked at start: failed to attach the syscall tracepoints: %s\n",
			     strerror(errno));
			catchup_stop(cu, skel);
			return;
		}
	}
	/* Active before the scan: a thread seen by the probe from now on
	 * takes its entry out again. */
	skel->bss->catchup_active = true;
	cu->threads = blocked_threads_each(pid, add_catchup, &ctx);
	if (verbose && cu->threads)
		warn("%d thread(s) already in accept(): reported through the syscall exit tracepoints\n",
		     cu->threads);
	if (!cu->threads)
		catchup_stop(cu, skel);
}

/* Every entry is consumed at its thread's syscall exit (a thread killed
 * in accept() passes there too): stop catching up once none is left. */
void catchup_check(struct catchup *cu, struct tcpaccept_bpf *skel)
{
	if (skel->bss->catchup_active &&
	    __atomic_load_n(&skel->bss->catchup_pending, __ATOMIC_SEQ_CST) == 0)
		catchup_stop(cu, skel);
}
