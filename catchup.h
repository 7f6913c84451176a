/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Catch-up: a thread blocked in accept() since before the probes were
 * attached is never seen returning by fexit or kretprobe, nor by a
 * sys_enter program. Such threads are found at start (/proc) and the
 * syscall exit programs report them. */
#ifndef TCPACCEPT_CATCHUP_H
#define TCPACCEPT_CATCHUP_H

#include <stdbool.h>
#include <sys/types.h>
#include "ways.h"

struct catchup {
	int threads;		/* found already in accept() at start */
	bool links;		/* the exit programs are attached for them */
};

/* Starts catching up if the way in @c needs it, with the threads of
 * process @pid (0: all). */
void catchup_start(struct catchup *cu, struct tcpaccept_bpf *skel, const struct choice *c,
		   pid_t pid);
/* Once a second: stops once every thread found was reported. */
void catchup_check(struct catchup *cu, struct tcpaccept_bpf *skel);

#endif /* TCPACCEPT_CATCHUP_H */
