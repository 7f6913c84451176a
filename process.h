/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What /proc says of processes, for the checks before loading. */
#ifndef TCPACCEPT_PROCESS_H
#define TCPACCEPT_PROCESS_H

#include <sys/types.h>
#include <linux/types.h>

/* -p: 0 if @pid is a process (a thread group's leader); else -1, said: a
 * PID that is no process, or a thread's ID, would trace nothing, silently,
 * as the filter is on the thread group. */
int process_check_pid(pid_t pid);

/* --netns=PATH: @path opened as a network namespace file (/proc/PID/ns/net,
 * /run/netns/NAME), its inode number in @inode; the fd, to keep open while
 * tracing (an open namespace file keeps the namespace, and so its inode
 * number, from being reused). -1 (said) if it is none. */
int process_netns_open(const char *path, __u32 *inode);

/* The inode number of the PID namespace this process's /proc numbers
 * processes in (what ps here shows: /proc/1/ns/pid), or 0 if that is the
 * initial namespace (or /proc cannot say). */
__u32 process_pidns(void);

#endif /* TCPACCEPT_PROCESS_H */
