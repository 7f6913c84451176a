/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* cgroup v2: -C's directory, and where cgroup v2 is mounted. */
#ifndef TCPACCEPT_CGROUP_H
#define TCPACCEPT_CGROUP_H

#include <stddef.h>

/* The mount points of every cgroup2 file system this process sees
 * (/proc/self/mountinfo), ", "-separated, into @buf: "" if there is none
 * or mountinfo cannot be read. */
void cgroup_v2_mounts(char *buf, size_t size);

/* -C: @path opened as a cgroup v2 directory; -1 (said, naming where
 * cgroup v2 is mounted if @path is not one) if it cannot be. */
int cgroup_open(const char *path);

#endif /* TCPACCEPT_CGROUP_H */
