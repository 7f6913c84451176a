/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What /proc says of processes, for the checks before loading. */
#ifndef TCPACCEPT_PROCESS_H
#define TCPACCEPT_PROCESS_H

#include <sys/types.h>

/* -p: 0 if @pid is a process (a thread group's leader); else -1, said: a
 * PID that is no process, or a thread's ID, would trace nothing, silently,
 * as the filter is on the thread group. */
int process_check_pid(pid_t pid);

#endif /* TCPACCEPT_PROCESS_H */
