/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What a cgroup v2 ID from the kernel side names, for rows and labels:
 * the path as /proc/PID/cgroup's 0:: line says it (cgroup.c's walks of the
 * tree), the systemd unit and the container it names (service.c), cached
 * by ID. Never a /proc read per row. */
#ifndef TCPACCEPT_IDENTITY_H
#define TCPACCEPT_IDENTITY_H

#include <stdbool.h>
#include <linux/types.h>
#include "format.h"
#include "tcpaccept.h"

/* Walks before this long after the last one are not started by an unknown
 * ID: a flood of accepts from a cgroup the walk cannot see costs one walk
 * a second at most. */
#define IDENTITY_REWALK_NS 1000000000ULL

struct identity;


/* Finds cgroup v2 (the mount that shows the most of the hierarchy; on a
 * hybrid host /sys/fs/cgroup/unified) and walks it once: before the
 * capability drop, so that every directory is seen. A host without cgroup
 * v2 gets an identity that names nothing (said with -v). NULL on failure
 * (said). */
struct identity *identity_open(void);

/* From now on, also takes the paths of new cgroups from @made_fd, the
 * ring buffer of struct cgroup_made records (tcpaccept.h) the kernel side
 * sends as they are made. 0, or -1 (said). */
int identity_watch(struct identity *ids, int made_fd);

/* Takes in the cgroups made since the last call (each poll: their ring
 * must not fill up). */
void identity_drain(struct identity *ids);

/* True if there is a cgroup v2 tree to name things from. */
bool identity_has_cgroups(const struct identity *ids);

/* What cgroup @id names, into @n; NULL members: nothing (no cgroup v2, an
 * ID the walks cannot see, a path naming no unit or no container). Valid
 * until the next call into the identity. */
void identity_names(struct identity *ids, __u64 id, struct fmt_names *n);

/* --container: calls @fn(@id, @ctx) for the cgroup of every running
 * container whose ID one of @prefixes (@n of them) starts: the container's
 * own directory (its sub-cgroups, and containers nested in it, are below
 * it), from a new walk of the tree. With @unique, a prefix that starts
 * more than one container's ID is an error (docker's "multiple IDs
 * found"), and one that starts none is said: those made from now on are
 * matched. 0, or -1 (said: also when there is no cgroup v2). */
int identity_containers(struct identity *ids, const char (*prefixes)[CONTAINER_DIGITS + 1], int n,
			bool unique, int (*fn)(__u64 id, void *ctx), void *ctx);

void identity_close(struct identity *ids);

#endif /* TCPACCEPT_IDENTITY_H */
