/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* --metrics: which label sets give their place in a full metric back.
 * The kernel's maps hold at most --metrics-max-series label sets per
 * metric and admit new ones first come, first served, so junk series
 * (any local user can make them: task names, listeners on 127.x.y.z)
 * could otherwise keep a real service out until restart. Pure code,
 * unit-tested; tables.c deletes what it names from the maps. */
#ifndef TCPACCEPT_SERIES_H
#define TCPACCEPT_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* A series without an accept in this many metrics writes gives its place
 * back, once the metric has turned accepts away since the last write. */
#define SERIES_IDLE_WRITES 3
#define SERIES_KEY_MAX 48	/* struct accept_labels */

/* One series as a metrics write read it from the kernel. */
struct series_seen {
	const void *key;
	__u64 activity;		/* grows with every accept the series counts */
};

struct series_age {
	__u8 key[SERIES_KEY_MAX];
	__u64 activity;
	unsigned int idle;	/* writes since activity last moved */
};

/* What one metric's series looked like at the last write. */
struct series_ages {
	size_t key_size;	/* <= SERIES_KEY_MAX */
	__u64 overflow;		/* the metric's refused accepts, then */
	struct series_age *v;	/* sorted by key */
	size_t n;
	__u64 evicted;		/* series given back since start */
};

/* One metrics write of a metric: its @n series now (@seen, any order) and
 * how many accepts it has turned away since start (@overflow). A series
 * whose activity moved, or that is new, is 0 writes idle, others one more.
 * If @overflow moved since the last write (someone was refused a place),
 * sets @evict[i] for every series idle for SERIES_IDLE_WRITES writes or
 * more, and forgets them (one that comes back is new). Returns how many,
 * or -ENOMEM. */
long series_age(struct series_ages *a, const struct series_seen *seen, size_t n,
		__u64 overflow, bool *evict);

/* The same for the rows a metrics write read from a map: @n rows of
 * @row_size bytes at @rows, each starting with its key, @activity_of(row)
 * its activity. @evict(row, @ctx) gives each series to evict back (deletes
 * it from the map): the rows it says true for are taken out of @rows and
 * counted in a->evicted. Returns how many rows are left, or -ENOMEM. */
long series_give_back(struct series_ages *a, void *rows, size_t n, size_t row_size,
		      __u64 (*activity_of)(const void *row), __u64 overflow,
		      bool (*evict)(const void *row, void *ctx), void *ctx);

void series_free(struct series_ages *a);

#endif /* TCPACCEPT_SERIES_H */
