// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "cgroup.h"
#include "clocks.h"
#include "identity.h"
#include "log.h"
#include "service.h"
#include "tcpaccept.h"

/* The most IDs whose names are kept; past it the cache starts over (each
 * name is made again from cgroup.c's paths on its next row). */
#define NAMES_MAX 4096

/* One cgroup's names, made once from its path. */
struct named {
	__u64 id;		/* 0: a free slot */
	char *cgroup;
	char *unit;		/* NULL: none */
	char *service;		/* the short ID, the unit or the path */
	char container[CONTAINER_ID_LEN + 1];	/* "": none */
};

struct identity {
	struct cgroup_paths *paths;	/* NULL: no cgroup v2 */
	struct ring_buffer *made;	/* the kernel's new cgroups; NULL: none */
	struct named *tab;		/* open addressing, linear probing */
	size_t cap, n;			/* cap: a power of two */
};

static int on_made(void *ctx, void *data, size_t size)
{
	struct identity *ids = ctx;
	const struct cgroup_made *m = data;

	/* The path is NUL-terminated within the record (the kernel side
	 * reads it so); an empty one could not be read. */
	if (size == sizeof(*m) && m->path[0] && memchr(m->path, '\0', sizeof(m->path)))
		cgroup_paths_add(ids->paths, m->id, m->path, monotonic_ns());
	return 0;
}

struct identity *identity_open(void)
{
	struct identity *ids = calloc(1, sizeof(*ids));
	struct cgroup_v2_mount m;
	FILE *mountinfo;
	bool found;

	if (!ids) {
		warn("failed to name cgroups: %s\n", strerror(ENOMEM));
		return NULL;
	}
	mountinfo = fopen("/proc/self/mountinfo", "re");
	found = mountinfo && cgroup_v2_mount_find(mountinfo, &m);
	if (mountinfo)
		fclose(mountinfo);
	if (!found) {
		if (verbose)
			warn("no cgroup v2 is mounted: cgroup, unit and container are null\n");
		return ids;
	}
	ids->paths = cgroup_paths_open(&m, IDENTITY_REWALK_NS, monotonic_ns());
	if (!ids->paths)
		warn("failed to read the cgroup v2 tree at %s: %s\n", m.point, strerror(errno));
	return ids;
}

int identity_watch(struct identity *ids, int made_fd)
{
	if (!ids->paths || ids->made)
		return 0;
	ids->made = ring_buffer__new(made_fd, on_made, ids, NULL);
	if (!ids->made) {
		warn("failed to read new cgroups: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

void identity_drain(struct identity *ids)
{
	if (ids && ids->made)
		ring_buffer__consume(ids->made);
}

bool identity_has_cgroups(const struct identity *ids)
{
	return ids->paths != NULL;
}

static size_t slot_of(const struct identity *ids, __u64 id)
{
	size_t i = (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (ids->cap - 1);

	while (ids->tab[i].id && ids->tab[i].id != id)
		i = (i + 1) & (ids->cap - 1);
	return i;
}

static void forget_all(struct identity *ids)
{
	for (size_t i = 0; i < ids->cap; i++) {
		free(ids->tab[i].cgroup);
		free(ids->tab[i].unit);
		free(ids->tab[i].service);
	}
	free(ids->tab);
	ids->tab = NULL;
	ids->cap = ids->n = 0;
}

/* Room for one more entry: a larger table, or an empty one when full. */
static bool make_room(struct identity *ids)
{
	struct named *old = ids->tab;
	size_t old_cap = ids->cap, cap = old_cap ? 2 * old_cap : 64;

	if (2 * (ids->n + 1) <= ids->cap)
		return true;
	if (ids->n >= NAMES_MAX) {
		forget_all(ids);
		cap = 64;
		old = NULL;
		old_cap = 0;
	}
	ids->tab = calloc(cap, sizeof(*ids->tab));
	if (!ids->tab) {
		ids->tab = old;
		return false;
	}
	ids->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].id)
			ids->tab[slot_of(ids, old[i].id)] = old[i];
	free(old);
	return true;
}

/* The names of cgroup @id at @path, kept; NULL if out of memory. */
static const struct named *remember(struct identity *ids, __u64 id, const char *path)
{
	struct service s;
	struct named *e;

	if (!make_room(ids))
		return NULL;
	char label[CGROUP_PATH_MAX];

	service_of_cgroup(path, &s);
	e = &ids->tab[slot_of(ids, id)];
	e->cgroup = strdup(path);
	e->unit = s.unit[0] ? strdup(s.unit) : NULL;
	e->service = strdup(service_label(&s, path, label, sizeof(label)));
	if (!e->cgroup || (s.unit[0] && !e->unit) || !e->service) {
		free(e->cgroup);
		free(e->unit);
		free(e->service);
		e->cgroup = e->unit = e->service = NULL;
		return NULL;
	}
	memcpy(e->container, s.container, sizeof(e->container));
	e->id = id;
	ids->n++;
	return e;
}

void identity_names(struct identity *ids, __u64 id, struct fmt_names *n)
{
	const struct named *e = NULL;
	const char *path;

	*n = (struct fmt_names){ NULL, NULL, NULL, NULL };
	if (!id || !ids->paths)
		return;
	if (ids->cap && ids->tab[slot_of(ids, id)].id == id)
		e = &ids->tab[slot_of(ids, id)];
	if (!e) {
		/* A cgroup made since the last poll: its path is in the ring. */
		identity_drain(ids);
		path = cgroup_paths_lookup(ids->paths, id, monotonic_ns());
		if (!path)
			return;
		e = remember(ids, id, path);
		if (!e) {
			n->cgroup = n->service = path;	/* valid until the next lookup */
			return;
		}
	}
	n->cgroup = e->cgroup;
	n->unit = e->unit;
	n->container = e->container[0] ? e->container : NULL;
	n->service = e->service;
}

/* --- --container ------------------------------------------------------------- */

struct container_match {
	const char (*prefixes)[CONTAINER_DIGITS + 1];
	int n;
	int (*fn)(__u64 id, void *ctx);
	void *ctx;
	/* Per prefix: the first two containers found whose ID it starts. */
	char found[CONTAINERS_MAX][2][CONTAINER_ID_LEN + 1];
};

_Static_assert(CONTAINER_DIGITS == CONTAINER_ID_LEN, "one length of a container ID");

static int match_dir(__u64 id, const char *path, void *arg)
{
	struct container_match *m = arg;
	const char *last = strrchr(path, '/');
	bool matched = false;
	struct service s;

	service_of_cgroup(path, &s);
	/* The container's own directory, not a sub-cgroup of it. */
	if (!s.container[0] || !last || !strstr(last, s.container))
		return 0;
	for (int i = 0; i < m->n; i++) {
		char (*found)[CONTAINER_ID_LEN + 1] = m->found[i];

		if (strncmp(s.container, m->prefixes[i], strlen(m->prefixes[i])))
			continue;
		matched = true;
		if (!found[0][0])
			memcpy(found[0], s.container, sizeof(s.container));
		else if (!found[1][0] && strcmp(found[0], s.container))
			memcpy(found[1], s.container, sizeof(s.container));
	}
	return matched && m->fn ? m->fn(id, m->ctx) : 0;
}

/* Each prefix named one container: else said. 0 or -1. */
static int check_unique(const struct container_match *m)
{
	for (int i = 0; i < m->n; i++) {
		if (m->found[i][1][0]) {
			warn("'%s' starts the IDs of more than one running container (%.12s, %.12s): give more of its digits\n",
			     m->prefixes[i], m->found[i][0], m->found[i][1]);
			return -1;
		}
		if (!m->found[i][0][0])
			warn("no running container's ID starts with '%s': one made from now on whose ID does is traced\n",
			     m->prefixes[i]);
	}
	return 0;
}

int identity_containers(struct identity *ids, const char (*prefixes)[CONTAINER_DIGITS + 1], int n,
			bool unique, int (*fn)(__u64 id, void *ctx), void *ctx)
{
	struct container_match m = { .prefixes = prefixes, .n = n, .fn = fn, .ctx = ctx };
	int err;

	if (!ids->paths) {
		warn("--container needs cgroup v2, which is not mounted here\n");
		return -1;
	}
	err = cgroup_paths_walk(ids->paths, monotonic_ns());
	if (err) {
		warn("failed to read the cgroup v2 tree: %s\n", strerror(-err));
		return -1;
	}
	if (cgroup_paths_foreach(ids->paths, match_dir, &m))
		return -1;
	return unique ? check_unique(&m) : 0;
}

void identity_close(struct identity *ids)
{
	if (!ids)
		return;
	forget_all(ids);
	ring_buffer__free(ids->made);
	cgroup_paths_free(ids->paths);
	free(ids);
}
