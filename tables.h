/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What is read out of the kernel's maps rather than sent as events: the -c
 * count tables, the -c -q wait histograms and the --metrics file. */
#ifndef TCPACCEPT_TABLES_H
#define TCPACCEPT_TABLES_H

#include <stdbool.h>
#include "args.h"
#include "format.h"
#include "metrics.h"

struct tcpaccept_bpf;
struct identity;

/* -c -q with -i: the histograms printed last, to print the difference. */
struct hist_prev {
	struct listen_series *rows;
	long n;
};

/* Takes the counts out of the kernel (resetting them) and prints a table
 * sorted by count, headed by the time when @with_time; nothing if there
 * is nothing to show and @skip_if_empty. @ids names the keys' cgroups
 * (-c -S), or is NULL. 0 or -errno (said). */
int tables_print_counts(struct tcpaccept_bpf *skel, const struct config *cfg, struct fmt_state *fmt,
			struct identity *ids, bool with_time, bool skip_if_empty);

/* -c -q: the wait histogram of each listener after the count table; with
 * -i, of the interval only (the kernel's are cumulative, for --metrics). */
int tables_print_hists(struct tcpaccept_bpf *skel, const struct config *cfg, struct hist_prev *prev);

/* One write of the --metrics file, from the kernel maps; @ids names the
 * series' cgroups (--metrics-labels), or is NULL. 0 or -errno (said). */
int tables_write_metrics(struct tcpaccept_bpf *skel, const struct config *cfg,
			 struct identity *ids, const char *way, double start);

/* At exit: what tables.c keeps between reads. */
void tables_free(void);

#endif /* TCPACCEPT_TABLES_H */
