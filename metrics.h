/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* --metrics and -c -q: the Prometheus text exposition format, the log2
 * wait histograms in the terminal and in JSON, and the atomic file write.
 * Pure code but for metrics_write_file(); unit-tested. */
#ifndef TCPACCEPT_METRICS_H
#define TCPACCEPT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "tcpaccept.h"

struct metric_series {
	struct accept_labels key;
	struct count_value counts;
	/* --metrics-labels: what key.cgroup names (NULL: none, or not asked
	 * for); the series owns them. */
	char *container;
	char *unit;
};

struct listen_series {
	struct listen_key key;
	struct listen_stats st;
	bool peak_valid;	/* st.peak belongs to the interval just ended */
};

/* A listener's drops (its own counter) since tcpaccept first met it. */
struct listen_drops {
	struct listen_key key;
	__u64 drops;
};

/* Everything one write of the metrics file shows. */
struct metrics_snapshot {
	const struct metric_series *totals;
	size_t ntotals;
	const struct listen_series *listeners;
	size_t nlisteners;
	const struct listen_drops *drops;
	long ndrops;
	__u64 listeners_overflow;	/* listeners not followed: the map was full */
	__u64 lost;		/* events the ring buffer had no room for */
	__u64 unwritten;	/* rows the output did not take (disk full) */
	__u64 count_overflow;	/* -c's table was full */
	__u64 totals_overflow;	/* accepts beyond the series cap */
	__u64 listen_overflow;
	__u64 outside_pidns;	/* accept() calls of tasks outside tcpaccept's PID namespace */
	__u64 totals_evicted;	/* series given back to make room (series.c) */
	__u64 listen_evicted;
	unsigned int max_series;
	bool label_container;	/* --metrics-labels: the accept counters' */
	bool label_unit;
	const char *version;
	const char *libbpf;
	const char *way;
	double now;		/* Unix time of this write */
	double start;		/* Unix time tracing started */
};

/* Writes @s as the Prometheus text exposition format (version 0.0.4):
 * HELP and TYPE for every metric, label values escaped. */
void metrics_format(FILE *f, const struct metrics_snapshot *s);

/* --metrics-labels: series whose labels are the same (their cgroups
 * differ: a container's own directory and its sub-cgroups, a unit's) made
 * one, counts added, the others' names freed. Sorts @s; the series left. */
size_t metrics_merge_series(struct metric_series *s, size_t n);

/* Copies @src (at most @len bytes, up to a NUL) to @out as a label value:
 * '\\', '"' and newline escaped as the format says, other bytes outside
 * printable ASCII as \\xHH so the file stays ASCII. size >= 4 * len + 1
 * always suffices. */
size_t metrics_escape_label(char *out, size_t size, const char *src, size_t len);

/* -c -q: a listener's histogram, bcc's print_log2_hist style, in usecs. */
void metrics_hist_print(FILE *f, const struct listen_series *l);
/* -c -q -j: the same as one JSON line; @ts is Unix time. */
void metrics_hist_json(FILE *f, const struct listen_series *l, double ts);

/* @after - @before, slot by slot (-c -i prints each interval's part);
 * @after as it is if it counts less than @before (a series made anew). */
void metrics_stats_sub(struct listen_stats *after, const struct listen_stats *before);

/* Writes @len bytes to @path so that a reader sees either the old file or
 * the new one, whole: a temporary file in the same directory, fsync,
 * rename. Returns 0 or -errno. */
int metrics_write_file(const char *path, const char *data, size_t len);

/* At start: removes the temporary files of @path that writes cut short
 * left (tcpaccept killed between mkostemp() and rename()): its name
 * pattern only, regular files of ours with one link, not one a running
 * tcpaccept is writing (locked). */
void metrics_remove_stale(const char *path);

#endif /* TCPACCEPT_METRICS_H */
