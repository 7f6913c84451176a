// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcpaccept: trace successful TCP accept()s, one line each.
 *
 * A CO-RE re-creation of bcc's tcpaccept(8) as one static binary: no kernel
 * headers, no compiler and no Python on the host, only a kernel with BTF.
 *
 * This file is the lifecycle: parse -> plan -> preflight -> choose and
 * start a way in -> trace -> finish -> clean up. plan.c decides what the
 * kernel side loads, ways.c knows the ways in, rows.c turns records into
 * rows, output.c writes them, tables.c reads the maps, catchup.c handles
 * the threads already in accept() at start.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "args.h"
#include "capabilities.h"
#include "catchup.h"
#include "cgroup.h"
#include "clocks.h"
#include "identity.h"
#include "kernel_probes.h"
#include "log.h"
#include "metrics.h"
#include "output.h"
#include "plan.h"
#include "process.h"
#include "rows.h"
#include "tables.h"
#include "tcpaccept.h"
#include "tcpaccept.skel.h"
#include "ways.h"

#define POLL_TIMEOUT_MS 100

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reopen_output;	/* -o: SIGHUP came */

/* Everything one run of tcpaccept holds, from parse to clean-up. */
struct tracer {
	struct config cfg;
	struct plan plan;
	struct choice choice;
	struct tcpaccept_bpf *skel;
	struct rows rows;
	struct catchup catchup;
	struct identity *ids;		/* names cgroups, if the plan reads them */
	int cgroup_fd;			/* -C, or -1 */
	int netns_fd;			/* --netns=PATH, or -1 */
	double start_time;		/* --metrics: when tracing began */
	struct hist_prev hist_prev;	/* -c -q -i */
};

static int libbpf_print(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	if (!verbose)
		return 0;
	return vfprintf(stderr, format, args);
}

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
	output_stop();	/* a write() that blocks cannot hold up the end */
}

static void on_sighup(int sig)
{
	(void)sig;
	reopen_output = 1;
}

/* --- preflight: what is checked before anything is loaded ---------------- */

static void set_signals(const struct config *cfg)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (cfg->output) {
		struct sigaction hup = { .sa_handler = on_sighup };

		sigaction(SIGHUP, &hup, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
}

static int check_btf(const struct config *cfg)
{
	if (cfg->btf_path && kernel_btf_check(cfg->btf_path))
		return -1;
	if (!cfg->btf_path && access("/sys/kernel/btf/vmlinux", R_OK)) {
		warn("the kernel has no BTF (/sys/kernel/btf/vmlinux: %s); it needs CONFIG_DEBUG_INFO_BTF=y, or --btf=PATH with a BTF file for this kernel\n",
		     strerror(errno));
		return -1;
	}
	return 0;
}

static int preflight(struct tracer *t)
{
	const struct config *cfg = &t->cfg;

	if (!caps_have_bpf()) {
		warn("needs root, or the CAP_BPF and CAP_PERFMON capabilities\n");
		return -1;
	}
	if (check_btf(cfg))
		return -1;
	if (cfg->pid && process_check_pid(cfg->pid))
		return -1;
	if (cfg->cgroup && (t->cgroup_fd = cgroup_open(cfg->cgroup)) < 0)
		return -1;
	/* --container: each ID names one container, if any (a walk). */
	if (cfg->ncontainers &&
	    (!(t->ids = identity_open()) ||
	     identity_containers(t->ids, cfg->containers, cfg->ncontainers, true, NULL, NULL)))
		return -1;
	/* --netns=PATH: the namespace's inode number is known from here. */
	if (cfg->netns_path &&
	    (t->netns_fd = process_netns_open(cfg->netns_path, &t->plan.settings.netns)) < 0)
		return -1;
	if (cfg->output && output_open(cfg->output))
		return -1;
	if (cfg->metrics)
		metrics_remove_stale(cfg->metrics);
	ways_preflight();
	set_signals(cfg);
	return 0;
}

/* --- choose and start a way in --------------------------------------------- */

static int set_cgroup(struct tcpaccept_bpf *skel, int cgroup_fd)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.cgroup_map), &zero, &cgroup_fd, BPF_ANY))
		return -errno;
	return 0;
}

static int add_container(__u64 id, void *ctx)
{
	__u8 one = 1;

	if (bpf_map_update_elem(*(int *)ctx, &id, &one, BPF_ANY))
		return -errno;
	return 0;
}

/* --container: the running containers' cgroups, walked again now that
 * cgroup_mkdir adds those made from here on: none is missed between the
 * two, and the way's programs, attached after this, find them all. */
static int set_containers(struct tracer *t, struct tcpaccept_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.container_cgroups);

	return identity_containers(t->ids, t->cfg.containers, t->cfg.ncontainers, false,
				   add_container, &fd);
}

/* Opens, loads and attaches the programs the plan and the chosen way in
 * need; if that fails, why in the way's why_not. */
static int start_way(struct tracer *t)
{
	struct choice *c = &t->choice;
	char *why = c->why_not[c->way];
	size_t len = sizeof(c->why_not[c->way]);
	/* --btf: CO-RE reads the kernel's types from that file. */
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = t->cfg.btf_path);
	struct tcpaccept_bpf *skel;
	int err;

	skel = tcpaccept_bpf__open_opts(&open_opts);
	if (!skel) {
		snprintf(why, len, "failed to open the BPF object: %s", strerror(errno));
		return -errno;
	}
	err = plan_apply(&t->plan, skel, c);
	if (!err)
		err = tcpaccept_bpf__load(skel);
	if (err) {
		/* CO-RE relocated against --btf's types: name the file. */
		snprintf(why, len, "failed to load the BPF programs%s%s%s: %s",
			 t->cfg.btf_path ? " with the kernel types of --btf '" : "",
			 t->cfg.btf_path ? t->cfg.btf_path : "", t->cfg.btf_path ? "'" : "",
			 kernel_strerror(-err));
		goto fail;
	}
	if (t->cgroup_fd >= 0 && (err = set_cgroup(skel, t->cgroup_fd))) {
		snprintf(why, len, "failed to set the cgroup filter: %s", strerror(-err));
		goto fail;
	}
	err = plan_attach(&t->plan, skel, c, why, len);
	if (err)
		goto fail;
	if (t->cfg.ncontainers && set_containers(t, skel)) {
		err = -EIO;
		snprintf(why, len, "failed to set the container filter");
		goto fail;
	}
	err = ways[c->way].attach(skel, c);
	if (err) {
		snprintf(why, len, "failed to attach the BPF programs: %s", kernel_strerror(-err));
		goto fail;
	}
	t->skel = skel;
	return 0;
fail:
	ways_detach(c);
	tcpaccept_bpf__destroy(skel);
	return err;
}

/* The first way in (in FOR_EACH_WAY's order) that this kernel allows and
 * that starts, or the one --way names. */
static int choose_and_start(struct tracer *t)
{
	struct choice *c = &t->choice;
	enum way forced = t->cfg.way;
	char msg[NR_WAYS * (WHY_NOT_LEN + 16)];
	size_t len = 0;

	for (int w = WAY_AUTO + 1; w < NR_WAYS; w++) {
		if (forced != WAY_AUTO && (int)forced != w)
			continue;
		c->way = (enum way)w;
		if (ways[w].probe(&t->cfg, c, c->why_not[w], sizeof(c->why_not[w])) &&
		    start_way(t) == 0)
			return 0;
	}
	c->way = WAY_AUTO;	/* none is attached */
	if (forced != WAY_AUTO) {
		warn("the %s way in is not available: %s\n", args_way_name(forced), c->why_not[forced]);
		return -1;
	}
	/* "no way in is available: fexit: ...; kprobe: ...; tracepoint: ..." */
	for (int w = WAY_AUTO + 1; w < NR_WAYS; w++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s %s: %s",
					w == WAY_AUTO + 1 ? ":" : ";", args_way_name((enum way)w),
					c->why_not[w]);
	warn("no way in is available%s\n", msg);
	return -1;
}

/* -v: the way in, and why the ones before it were passed over. */
static void say_choice(const struct tracer *t)
{
	const struct choice *c = &t->choice;

	warn("way in: %s", args_way_name(c->way));
	ways[c->way].describe(c, stderr);
	if (t->cfg.way != WAY_AUTO)
		fprintf(stderr, " (forced by --way)");
	fputc('\n', stderr);
	for (int w = WAY_AUTO + 1; w < (int)c->way && t->cfg.way == WAY_AUTO; w++)
		warn("passed over %s: %s\n", args_way_name((enum way)w), c->why_not[w]);
	plan_describe(&t->plan, c);
}

/* From attached programs to tracing: the reader, catch-up, capabilities
 * dropped. */
static int begin_tracing(struct tracer *t)
{
	const struct config *cfg = &t->cfg;
	int err;

	/* Before dropping capabilities: the walk of the cgroup tree sees
	 * every directory; the reader asks the kernel about the map. */
	if (t->plan.settings.need_cgroup && !t->ids && !(t->ids = identity_open()))
		return -1;
	if (t->plan.settings.feed_cgroups &&
	    identity_watch(t->ids, bpf_map__fd(t->skel->maps.cgroups_made)))
		return -1;
	if (rows_open(&t->rows, t->skel, cfg, &t->plan.settings, t->ids))
		return -1;
	catchup_start(&t->catchup, t->skel, &t->choice, cfg->pid);
	/* From here on tracing only reads memory-mapped maps and closes fds,
	 * but for the counts the plan reads with bpf(). */
	err = caps_drop(t->plan.keep_bpf);
	if (err) {
		warn("failed to drop capabilities: %s\n", strerror(-err));
		return -1;
	}
	if (verbose) {
		say_choice(t);
		if (t->plan.settings.pidns)
			warn("in PID namespace %u: PIDs as its /proc shows them; processes outside it are not traced\n",
			     t->plan.settings.pidns);
		warn("%s\n", t->plan.keep_bpf ?
		     "dropped every capability but CAP_BPF (to read the counts)" :
		     "dropped every capability: tracing needs none from here on");
	}
	return 0;
}

/* --- trace ------------------------------------------------------------------ */

static void print_tables(struct tracer *t, bool with_time, bool skip_if_empty)
{
	tables_print_counts(t->skel, &t->cfg, &t->rows.fmt, t->ids, with_time, skip_if_empty);
	if (t->cfg.queue)
		tables_print_hists(t->skel, &t->cfg, &t->hist_prev);
}

static int write_metrics_now(struct tracer *t)
{
	return tables_write_metrics(t->skel, &t->cfg, t->ids, args_way_name(t->choice.way),
				    t->start_time);
}

/* -c without -i prints nothing until the end: on a terminal, say so (as
 * bcc's "Tracing... Hit Ctrl-C to end."); scripts reading stderr see no
 * change. */
static void say_counting(const struct config *cfg)
{
	if (cfg->duration)
		warn("counting accepts for %u s (or until Ctrl-C), then printing the table (-i SECS: a table every SECS seconds)\n",
		     cfg->duration);
	else
		warn("counting accepts until Ctrl-C, then printing the table (-i SECS: a table every SECS seconds)\n");
}

/* When the loop next prints a table, writes the metrics, stops. */
struct deadlines {
	__u64 table_ns, metrics_ns, end_ns;	/* CLOCK_MONOTONIC; 0: never */
};

/* The header, and the first --metrics file: a file that is there says
 * tracing has started; one that cannot be written is an error now, not in
 * 15 s. */
static int announce(struct tracer *t, struct deadlines *d)
{
	const struct config *cfg = &t->cfg;
	__u64 now = monotonic_ns();

	/* The header says "attached": tests and scripts wait for it. (-j and
	 * -c print none; -v's "way in" line on stderr says it instead.) */
	if (cfg->rows)
		rows_header(&t->rows);
	output_flush();
	if (cfg->count && !cfg->interval && isatty(STDERR_FILENO))
		say_counting(cfg);
	*d = (struct deadlines){ 0 };
	if (cfg->duration)
		d->end_ns = now + cfg->duration * NSEC_PER_SEC;
	if (cfg->interval && cfg->count)
		d->table_ns = now + cfg->interval * NSEC_PER_SEC;
	t->start_time = unix_now();
	if (!cfg->metrics)
		return 0;
	d->metrics_ns = now + cfg->metrics_interval * NSEC_PER_SEC;
	return write_metrics_now(t);
}

/* What is due after a poll: the -o reopen, the once-a-second checks, the
 * next table and metrics file. False once -d's time is up. */
static bool after_poll(struct tracer *t, struct deadlines *d, time_t *last_second)
{
	const struct config *cfg = &t->cfg;
	__u64 now;

	output_flush();
	if (reopen_output) {
		reopen_output = 0;
		if (output_open(cfg->output) == 0 && cfg->rows)
			rows_header(&t->rows);
	}
	if (time(NULL) != *last_second) {
		*last_second = time(NULL);
		rows_report_lost(&t->rows, false);
		output_report_unwritten(false);
		catchup_check(&t->catchup, t->skel);
	}
	now = monotonic_ns();
	if (d->table_ns && now >= d->table_ns) {
		d->table_ns += cfg->interval * NSEC_PER_SEC;
		print_tables(t, true, false);
	}
	if (d->metrics_ns && now >= d->metrics_ns) {
		d->metrics_ns += cfg->metrics_interval * NSEC_PER_SEC;
		write_metrics_now(t);
	}
	return !d->end_ns || now < d->end_ns;
}

/* The ring buffer polled until a signal, -d, or the output's end (the
 * reader went away, or writing failed). -1 if tracing could not go on. */
static int trace(struct tracer *t)
{
	struct deadlines d;
	time_t last_second = 0;

	if (announce(t, &d))
		return -1;
	while (!exiting && !output_closed() && !output_failed()) {
		if (rows_poll(&t->rows, POLL_TIMEOUT_MS))
			return -1;
		if (!after_poll(t, &d, &last_second))
			break;
	}
	return 0;
}

/* --- finish and clean up ------------------------------------------------------ */

/* The last table, metrics and events; the exit status. */
static int finish(struct tracer *t)
{
	const struct config *cfg = &t->cfg;

	/* The last, partial interval; with -i, only if it counted anything. */
	if (cfg->count && !output_closed())
		print_tables(t, cfg->interval > 0, cfg->interval > 0);
	if (cfg->metrics && write_metrics_now(t))
		output_set_failed();
	if (cfg->count && t->skel->bss->count_overflow)
		warn("%llu accepts not counted: the count table (" STR(COUNT_MAX_ENTRIES) " keys) was full\n",
		     (unsigned long long)t->skel->bss->count_overflow);
	if (t->skel->bss->container_cgroups_full)
		warn("%llu new cgroups of matching containers not traced: their table (" STR(CONTAINER_CGROUPS_MAX) ") was full\n",
		     (unsigned long long)t->skel->bss->container_cgroups_full);
	if (t->skel->bss->cgroups_lost)
		warn("%llu new cgroups' paths found their ring full: rows of theirs had their paths from a walk of the tree, or none\n",
		     (unsigned long long)t->skel->bss->cgroups_lost);
	if (t->skel->bss->outside_pidns)
		warn("%llu accept() call%s of processes outside this PID namespace not traced (its ps does not show them either)\n",
		     (unsigned long long)t->skel->bss->outside_pidns,
		     t->skel->bss->outside_pidns == 1 ? "" : "s");
	if (!output_closed())
		rows_drain(&t->rows);
	output_flush();
	rows_report_lost(&t->rows, true);
	output_report_unwritten(true);
	return output_failed() ? 1 : 0;
}

static void cleanup(struct tracer *t)
{
	free(t->hist_prev.rows);
	tables_free();
	output_close();
	rows_close(&t->rows);
	identity_close(t->ids);
	ways_detach(&t->choice);
	tcpaccept_bpf__destroy(t->skel);
	if (t->cgroup_fd >= 0)
		close(t->cgroup_fd);
	if (t->netns_fd >= 0)
		close(t->netns_fd);
}

int main(int argc, char **argv)
{
	static struct tracer t = { .cgroup_fd = -1, .netns_fd = -1 };
	int err, status = 1;

	argv[0] = "tcpaccept";	/* getopt's messages name the program so */
	err = args_parse(argc, argv, &t.cfg);
	if (err)
		return err;
	if (t.cfg.exit_now)
		return 0;
	verbose = t.cfg.verbose;
	libbpf_set_print(libbpf_print);

	plan_make(&t.plan, &t.cfg);
	if (preflight(&t) == 0 && choose_and_start(&t) == 0 && begin_tracing(&t) == 0 &&
	    trace(&t) == 0)
		status = finish(&t);
	cleanup(&t);
	return status;
}
