/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Where cgroup v2 is mounted, for -C's error message. */
#ifndef TCPACCEPT_CGROUP_H
#define TCPACCEPT_CGROUP_H

#include <stddef.h>

/* The mount points of every cgroup2 file system this process sees
 * (/proc/self/mountinfo), ", "-separated, into @buf: "" if there is none
 * or mountinfo cannot be read. */
void cgroup2_mounts(char *buf, size_t size);

#endif /* TCPACCEPT_CGROUP_H */
