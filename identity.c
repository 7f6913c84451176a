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

struct identity *identity_open(int made_fd)
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
	if (!ids->paths) {
		warn("failed to read the cgroup v2 tree at %s: %s\n", m.point, strerror(errno));
		return ids;
	}
	if (made_fd >= 0 && !(ids->made = ring_buffer__new(made_fd, on_made, ids, NULL))) {
		warn("failed to read new cgroups: %s\n", strerror(errno));
		identity_close(ids);
		return NULL;
	}
	return ids;
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

void identity_close(struct identity *ids)
{
	if (!ids)
		return;
	forget_all(ids);
	ring_buffer__free(ids->made);
	cgroup_paths_free(ids->paths);
	free(ids);
}
