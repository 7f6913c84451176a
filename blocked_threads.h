/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The /proc scan for threads blocked in accept() (catchup.c uses it). */
#ifndef TCPACCEPT_BLOCKED_THREADS_H
#define TCPACCEPT_BLOCKED_THREADS_H

#include <sys/types.h>

/* Calls @fn for every thread (of process @pid, or of all if 0) that is
 * blocked in accept() or accept4() right now, with its listening fd, as
 * /proc/PID/task/TID/syscall shows it. Returns how many were found. */
int blocked_threads_each(pid_t pid, void (*fn)(pid_t tid, long fd, void *ctx),
			      void *ctx);

#endif /* TCPACCEPT_BLOCKED_THREADS_H */
