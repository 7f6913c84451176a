/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The cgroup v2 hierarchy: -C's directory, where cgroup v2 is mounted,
 * and the path of a cgroup ID, from walking the tree. */
#ifndef TCPACCEPT_CGROUP_H
#define TCPACCEPT_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <limits.h>
#include <linux/types.h>

/* The mount points of every cgroup2 file system this process sees
 * (/proc/self/mountinfo), ", "-separated, into @buf: "" if there is none
 * or mountinfo cannot be read. */
void cgroup_v2_mounts(char *buf, size_t size);

/* -C: @path opened as a cgroup v2 directory; -1 (said, naming where
 * cgroup v2 is mounted if @path is not one) if it cannot be. */
int cgroup_open(const char *path);

/* True unless this process is in a cgroup namespace of its own, where
 * /proc/PID/cgroup's paths start at the namespace's root, not at the
 * hierarchy's. */
bool cgroup_ns_initial(void);

/* A cgroup2 mount: its mount point, and the cgroup at its top as
 * mountinfo's ROOT field says it ("/" unless a subtree is mounted; a
 * path relative to this process's cgroup namespace). */
struct cgroup_v2_mount {
	char point[PATH_MAX];
	char root[PATH_MAX];
};

/* The cgroup2 mount of @mountinfo (the text of /proc/PID/mountinfo) that
 * shows the most of the hierarchy: the shortest ROOT, the first such
 * line. False if there is none: a host with no cgroup v2, or a hybrid one
 * that does not mount it. */
bool cgroup_v2_mount_find(FILE *mountinfo, struct cgroup_v2_mount *m);

/* The cgroup ID of the cgroup v2 directory @path: its inode number (kernfs
 * gives a directory its node's 64-bit ID as inode number on 64-bit
 * kernels, 5.5+; name_to_handle_at() says the same); 0 with errno set if
 * @path cannot be stat'ed. */
__u64 cgroup_id_of(const char *path);

/* Cgroup IDs -> paths, for the rows' "cgroup": from walks of the tree
 * below a cgroup2 mount, cached by ID (kernfs never reuses an ID and a
 * cgroup v2 directory cannot be renamed, so an entry never goes stale).
 * Only directories this process may list are seen: as uid 0 without
 * CAP_DAC_READ_SEARCH, those whose owner is root or that are readable and
 * searchable by all (what cgroupfs and systemd create, delegated subtrees
 * included). */
struct cgroup_paths;

/* Walks the tree at @m->point once. @rewalk_ns: the least time between
 * two walks that lookups of unknown IDs start; @now_ns: the monotonic
 * clock now. NULL with errno set if the mount point cannot be opened. */
struct cgroup_paths *cgroup_paths_open(const struct cgroup_v2_mount *m, __u64 rewalk_ns,
				       __u64 now_ns);

/* The path of cgroup @id ("/" for the top, else ROOT joined with the
 * directory's place below the mount point), valid until the next call
 * into @c; NULL if unknown. An unknown ID walks the tree again if the last
 * walk is @rewalk_ns old, so a cgroup made since (a new container) is
 * found; one that is gone again before that stays unknown. */
const char *cgroup_paths_lookup(struct cgroup_paths *c, __u64 id, __u64 now_ns);

/* Walks the tree again now, whenever the last walk was. 0 or -errno. */
int cgroup_paths_walk(struct cgroup_paths *c, __u64 now_ns);

/* Adds @id's @path as another source (the kernel's cgroup_mkdir
 * tracepoint) saw it. Walks forget it once it is gone (or once the walks
 * cannot list its directory: a 0700 one of another user, after the
 * capability drop); when the paths added since the last walk outnumber
 * the ones it found (and 1024), the tree is walked again (at most once
 * per rewalk_ns). 0, or -errno. */
int cgroup_paths_add(struct cgroup_paths *c, __u64 id, const char *path, __u64 now_ns);

/* Calls @fn for every known cgroup, in no order, until it returns
 * non-zero; returns that, or 0. */
int cgroup_paths_foreach(struct cgroup_paths *c,
			 int (*fn)(__u64 id, const char *path, void *ctx), void *ctx);

struct cgroup_paths_stats {
	__u64 walks;		/* the one at open included */
	__u64 entries;		/* IDs known now */
	__u64 unreadable;	/* directories the last walk could not list */
};

void cgroup_paths_stats(const struct cgroup_paths *c, struct cgroup_paths_stats *st);

void cgroup_paths_free(struct cgroup_paths *c);

#endif /* TCPACCEPT_CGROUP_H */
