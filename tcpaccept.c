// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcpaccept: trace successful TCP accept()s, one line each.
 *
 * A CO-RE re-creation of bcc's tcpaccept(8) as one static binary: no kernel
 * headers, no compiler and no Python on the host, only a kernel with BTF.
 *
 * This file is the lifecycle: parse -> preflight -> choose and start a way
 * in -> run -> finish. ways.c knows the ways in, output.c the output,
 * tables.c what is read out of maps, catchup.c the threads already in
 * accept() at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "args.h"
#include "capabilities.h"
#include "catchup.h"
#include "cgroup.h"
#include "clocks.h"
#include "format.h"
#include "kernel_probes.h"
#include "log.h"
#include "output.h"
#include "tables.h"
#include "tcpaccept.h"
#include "tcpaccept.skel.h"
#include "tracefs.h"
#include "ways.h"

#define POLL_TIMEOUT_MS 100
#define CGROUP2_SUPER_MAGIC 0x63677270
/* -c and --metrics alone send no events: the smallest ring will do. */
#define RING_MIN_BYTES 4096

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reopen_output;	/* -o: SIGHUP came */

/* Everything one run of tcpaccept holds, from parse to finish. */
struct tracer {
	struct config cfg;
	struct choice choice;
	struct tcpaccept_bpf *skel;
	struct kretprobe krp;
	struct ring_buffer *rb;
	struct catchup catchup;
	struct fmt_state fmt;
	int cgroup_fd;			/* -C, or -1 */
	double start_time;		/* --metrics: when tracing began */
	__u64 lost_reported;
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
}

static void on_sighup(int sig)
{
	(void)sig;
	reopen_output = 1;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct fmt_state *fmt = ctx;
	struct event e;
	size_t room;
	char *buf;

	if (!event_decode(data, size, fmt->queue, &e))
		return 0;	/* cannot happen: both sides build from tcpaccept.h */
	buf = output_reserve(&room);
	if (output_closed() || output_failed())
		return -EPIPE;	/* stop consuming */
	output_commit(fmt_event(fmt, &e, buf, room));
	return 0;
}

/* --- preflight: what is checked before anything is loaded ---------------- */

static int open_cgroup(const char *path)
{
	struct statfs st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		warn("failed to open cgroup '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstatfs(fd, &st) || (unsigned long)st.f_type != CGROUP2_SUPER_MAGIC) {
		char where[512];

		/* A hybrid host has v1 at /sys/fs/cgroup and v2 elsewhere. */
		cgroup2_mounts(where, sizeof(where));
		if (where[0])
			warn("'%s' is not a cgroup v2 directory; cgroup v2 is mounted at %s on this host\n",
			     path, where);
		else
			warn("'%s' is not a cgroup v2 directory; no cgroup v2 is mounted on this host (mount -t cgroup2 none DIR)\n",
			     path);
		close(fd);
		return -1;
	}
	return fd;
}

/* -p: a PID that is not a process would trace nothing, silently; a thread
 * ID neither, as the filter is on the thread group. */
static int check_pid(pid_t pid)
{
	char path[32], line[128];
	long tgid = 0;
	FILE *f;

	if (kill(pid, 0) && errno == ESRCH) {
		warn("no process with PID %d\n", (int)pid);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* no /proc: kill() said enough */
	while (fgets(line, sizeof(line), f) && sscanf(line, "Tgid: %ld", &tgid) != 1)
		;
	fclose(f);
	if (tgid > 0 && tgid != pid) {
		warn("%d is a thread of process %ld: -p takes a process ID\n", (int)pid, tgid);
		return -1;
	}
	return 0;
}

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

static int preflight(struct tracer *t)
{
	const struct config *cfg = &t->cfg;

	if (!have_bpf_privileges()) {
		warn("needs root, or the CAP_BPF and CAP_PERFMON capabilities\n");
		return -1;
	}
	if (cfg->btf_path && access(cfg->btf_path, R_OK)) {
		warn("failed to read the BTF file '%s': %s\n", cfg->btf_path, strerror(errno));
		return -1;
	}
	if (!cfg->btf_path && access("/sys/kernel/btf/vmlinux", R_OK)) {
		warn("the kernel has no BTF (/sys/kernel/btf/vmlinux: %s); it needs CONFIG_DEBUG_INFO_BTF=y, or --btf=PATH with a BTF file for this kernel\n",
		     strerror(errno));
		return -1;
	}
	if (cfg->pid && check_pid(cfg->pid))
		return -1;
	if (cfg->cgroup) {
		t->cgroup_fd = open_cgroup(cfg->cgroup);
		if (t->cgroup_fd < 0)
			return -1;
	}
	if (cfg->output && output_open(cfg->output))
		return -1;
	kretprobe_remove_stale();
	set_signals(cfg);
	return 0;
}

/* --- choose and start a way in --------------------------------------------- */

static void set_filters(struct tcpaccept_bpf *skel, const struct tracer *t)
{
	struct tcpaccept_bpf__rodata *ro = skel->rodata;
	const struct config *cfg = &t->cfg;

	ro->targ_tgid = (__u32)cfg->pid;
	ro->targ_family = (__u16)cfg->family;
	ro->filter_ports = cfg->filter_ports;
	memcpy((void *)ro->targ_port_bits, cfg->port_bits, sizeof(ro->targ_port_bits));
	ro->targ_client_family = (__u16)cfg->client_family;
	ro->filter_uid = cfg->filter_uid;
	ro->targ_uid = cfg->uid;
	ro->filter_cgroup = t->cgroup_fd >= 0;
	ro->count_mode = cfg->count;
	ro->want_queue = cfg->queue;
	ro->use_task_regs = t->choice.task_regs;
	ro->main_way = (__u8)t->choice.way;
	ro->want_metrics = cfg->metrics != NULL;
	ro->want_listen_stats = cfg->metrics || (cfg->count && cfg->queue);
	ro->no_events = !cfg->rows;
	ro->want_time = cfg->rows && (cfg->timestamp || cfg->wallclock || cfg->json);
	ro->want_ids = cfg->rows && (cfg->print_uid || cfg->json);
	/* Wake the reader early only when a quarter of the ring is used,
	 * so a flood costs a few wakeups a second, not one per accept. */
	ro->wakeup_bytes = cfg->ring_kb * 1024 / 4;
}

/* Every program off, then what the options and the way in need. The
 * syscall exit programs are the tracepoint way's own and every other
 * way's catch-up (catchup.c). */
static void set_autoload(struct tcpaccept_bpf *skel, const struct tracer *t)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(skel->progs.tp_sock_set_state, t->cfg.queue || t->cfg.metrics);
	bpf_program__set_autoload(skel->progs.tp_exit_accept, true);
	bpf_program__set_autoload(skel->progs.tp_exit_accept4, true);
	ways[t->choice.way].autoload(skel, &t->choice);
}

/* Hash maps are allocated in full when created (creating the 65536-entry
 * LRU map took 5.5 ms, a quarter of the start-up): the ones the options do
 * not use get one entry. The programs still reference them. */
static int size_maps(struct tcpaccept_bpf *skel, const struct tracer *t)
{
	const struct config *cfg = &t->cfg;
	bool inflight = ways[t->choice.way].uses_inflight(&t->choice);
	bool listen = cfg->metrics || (cfg->count && cfg->queue);
	int err;

	err = bpf_map__set_max_entries(skel->maps.events,
				       !cfg->rows ? RING_MIN_BYTES : cfg->ring_kb * 1024);
	if (!err && !cfg->queue && !cfg->metrics)
		err = bpf_map__set_max_entries(skel->maps.handshake_done, 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.metric_totals,
					       cfg->metrics ? cfg->max_series : 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.listen_stats, listen ? cfg->max_series : 1);
	if (!err && !cfg->count)
		err = bpf_map__set_max_entries(skel->maps.counts, 1);
	if (!err && !inflight)
		err = bpf_map__set_max_entries(skel->maps.inflight, 1);
	return err;
}

/* Attaches what the options want on top of the way in. */
static int attach_extras(struct tcpaccept_bpf *skel, const struct config *cfg)
{
	if (cfg->queue || cfg->metrics) {
		skel->links.tp_sock_set_state = bpf_program__attach(skel->progs.tp_sock_set_state);
		if (!skel->links.tp_sock_set_state)
			return -errno;
	}
	return 0;
}

static int set_cgroup(struct tcpaccept_bpf *skel, int cgroup_fd)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.cgroup_map), &zero, &cgroup_fd, BPF_ANY))
		return -errno;
	return 0;
}

/* Opens, loads and attaches the programs of the chosen way in; if that
 * fails, why in its why_not. */
static int start_way(struct tracer *t)
{
	struct tcpaccept_bpf *skel;
	char *why = t->choice.why_not[t->choice.way];
	size_t len = sizeof(t->choice.why_not[t->choice.way]);
	/* --btf: CO-RE reads the kernel's types from that file. */
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = t->cfg.btf_path);
	int err;

	skel = tcpaccept_bpf__open_opts(&open_opts);
	if (!skel) {
		snprintf(why, len, "failed to open the BPF object: %s", strerror(errno));
		return -errno;
	}
	set_filters(skel, t);
	set_autoload(skel, t);
	err = size_maps(skel, t);
	if (!err)
		err = tcpaccept_bpf__load(skel);
	if (err) {
		snprintf(why, len, "failed to load the BPF programs: %s", bpf_strerror(-err));
		goto fail;
	}
	if (t->cgroup_fd >= 0 && (err = set_cgroup(skel, t->cgroup_fd))) {
		snprintf(why, len, "failed to set the cgroup filter: %s", strerror(-err));
		goto fail;
	}
	err = attach_extras(skel, &t->cfg);
	if (err) {
		snprintf(why, len, "failed to attach the -q handshake tracepoint: %s", bpf_strerror(-err));
		goto fail;
	}
	err = ways[t->choice.way].attach(skel, &t->choice, &t->krp);
	if (err) {
		snprintf(why, len, "failed to attach the BPF programs: %s", bpf_strerror(-err));
		goto fail;
	}
	t->skel = skel;
	return 0;
fail:
	kretprobe_detach(&t->krp);
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
	if (forced != WAY_AUTO) {
		warn("the %s way in is not available: %s\n", way_name(forced), c->why_not[forced]);
		return -1;
	}
	/* "no way in is available: fexit: ...; kprobe: ...; tracepoint: ..." */
	for (int w = WAY_AUTO + 1; w < NR_WAYS; w++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s %s: %s",
					w == WAY_AUTO + 1 ? ":" : ";", way_name((enum way)w),
					c->why_not[w]);
	warn("no way in is available%s\n", msg);
	return -1;
}

/* -v: the way in, and why the ones before it were passed over. */
static void say_choice(const struct tracer *t)
{
	const struct choice *c = &t->choice;

	warn("way in: %s", way_name(c->way));
	ways[c->way].describe(c, stderr);
	if (t->cfg.way != WAY_AUTO)
		fprintf(stderr, " (forced by --way)");
	fputc('\n', stderr);
	for (int w = WAY_AUTO + 1; w < (int)c->way && t->cfg.way == WAY_AUTO; w++)
		warn("passed over %s: %s\n", way_name((enum way)w), c->why_not[w]);
}

/* From attached programs to tracing: the reader, catch-up, capabilities
 * dropped. */
static int begin_tracing(struct tracer *t)
{
	const struct config *cfg = &t->cfg;
	int err;

	/* Before dropping capabilities: it asks the kernel about the map. */
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), handle_event, &t->fmt, NULL);
	if (!t->rb) {
		warn("failed to create the ring buffer reader: %s\n", strerror(errno));
		return -1;
	}
	catchup_start(&t->catchup, t->skel, &t->choice, cfg->pid);
	/* From here on tracing only reads memory-mapped maps and closes fds;
	 * -c also reads its counts with bpf() (before Linux 6.5 that takes
	 * CAP_BPF). */
	err = drop_capabilities(cfg->count || cfg->metrics);
	if (err) {
		warn("failed to drop capabilities: %s\n", strerror(-err));
		return -1;
	}
	if (verbose) {
		say_choice(t);
		warn("%s\n", cfg->count || cfg->metrics ?
		     "dropped every capability but CAP_BPF (to read the counts)" :
		     "dropped every capability: tracing needs none from here on");
	}
	return 0;
}

/* --- run ------------------------------------------------------------------- */

static __s64 mono_to_real_ns(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (real.tv_sec - mono.tv_sec) * (__s64)NSEC_PER_SEC + (real.tv_nsec - mono.tv_nsec);
}

static void print_header(struct tracer *t)
{
	size_t room;
	char *buf = output_tail(&room);

	output_commit(fmt_header(&t->fmt, buf, room));
}

static void init_format(struct tracer *t)
{
	const struct config *cfg = &t->cfg;

	fmt_init(&t->fmt, cfg->wallclock, cfg->timestamp, mono_to_real_ns());
	t->fmt.json = cfg->json;
	t->fmt.print_uid = cfg->print_uid;
	t->fmt.queue = cfg->queue;
	t->fmt.wide = cfg->wide;
	t->fmt.print_proto = cfg->print_proto;
}

static void report_lost(struct tracer *t, bool at_exit)
{
	__u64 lost = __atomic_load_n(&t->skel->bss->lost, __ATOMIC_RELAXED);

	if (lost != t->lost_reported)
		warn("lost %llu events (ring buffer full; a larger --ring-kb helps)\n",
		     (unsigned long long)(lost - t->lost_reported));
	t->lost_reported = lost;
	if (at_exit && lost)
		warn("lost %llu events in total\n", (unsigned long long)lost);
}

static void print_tables(struct tracer *t, bool with_time, bool skip_if_empty)
{
	print_counts(t->skel, &t->cfg, &t->fmt, with_time, skip_if_empty);
	if (t->cfg.queue)
		print_hists(t->skel, &t->cfg, &t->hist_prev);
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

/* The header, the first --metrics file, then the ring buffer polled until
 * a signal, -d, or the output's end. -1 if reading the ring buffer failed. */
static int run(struct tracer *t)
{
	const struct config *cfg = &t->cfg;
	__u64 now_ns, deadline_ns = 0, next_table_ns = 0, next_metrics_ns = 0;
	time_t last_lost_check = 0;
	int err;

	init_format(t);
	/* The header says "attached": tests and scripts wait for it. (-j and
	 * -c print none; -v's "way in" line on stderr says it instead.) */
	if (cfg->rows)
		print_header(t);
	output_flush();
	if (cfg->count && !cfg->interval && isatty(STDERR_FILENO))
		say_counting(cfg);
	now_ns = monotonic_ns();
	if (cfg->duration)
		deadline_ns = now_ns + cfg->duration * NSEC_PER_SEC;
	if (cfg->interval && cfg->count)
		next_table_ns = now_ns + cfg->interval * NSEC_PER_SEC;
	t->start_time = unix_now();
	if (cfg->metrics) {
		/* At once: a file that is there says tracing has started; one
		 * that cannot be written is an error now, not in 15 s. */
		if (write_metrics(t->skel, cfg, way_name(t->choice.way), t->start_time))
			return -1;
		next_metrics_ns = now_ns + cfg->metrics_interval * NSEC_PER_SEC;
	}

	/* Until a signal, or the reader went away, or writing failed. */
	while (!exiting && !output_closed() && !output_failed()) {
		err = ring_buffer__poll(t->rb, POLL_TIMEOUT_MS);
		/* Events submitted without a wakeup wait for the timeout. */
		if (err == 0)
			err = ring_buffer__consume(t->rb);
		if (err < 0 && err != -EINTR && err != -EPIPE) {
			warn("failed to read the ring buffer: %s\n", strerror(-err));
			return -1;
		}
		output_flush();
		if (reopen_output) {
			reopen_output = 0;
			if (output_open(cfg->output) == 0 && cfg->rows)
				print_header(t);
		}
		if (time(NULL) != last_lost_check) {
			last_lost_check = time(NULL);
			report_lost(t, false);
			catchup_check(&t->catchup, t->skel);
		}
		now_ns = monotonic_ns();
		if (next_table_ns && now_ns >= next_table_ns) {
			next_table_ns += cfg->interval * NSEC_PER_SEC;
			print_tables(t, true, false);
		}
		if (next_metrics_ns && now_ns >= next_metrics_ns) {
			next_metrics_ns += cfg->metrics_interval * NSEC_PER_SEC;
			write_metrics(t->skel, cfg, way_name(t->choice.way), t->start_time);
		}
		if (deadline_ns && now_ns >= deadline_ns)
			break;
	}
	return 0;
}

/* --- finish ---------------------------------------------------------------- */

/* The last table, metrics and events; the exit status. */
static int finish(struct tracer *t)
{
	const struct config *cfg = &t->cfg;

	/* The last, partial interval; with -i, only if it counted anything. */
	if (cfg->count && !output_closed())
		print_tables(t, cfg->interval > 0, cfg->interval > 0);
	if (cfg->metrics && write_metrics(t->skel, cfg, way_name(t->choice.way), t->start_time))
		output_set_failed();
	if (cfg->count && t->skel->bss->count_overflow)
		warn("%llu accepts not counted: the count table (" STR(COUNT_MAX_ENTRIES) " keys) was full\n",
		     (unsigned long long)t->skel->bss->count_overflow);
	if (!output_closed())
		ring_buffer__consume(t->rb);
	output_flush();
	report_lost(t, true);
	return output_failed() ? 1 : 0;
}

static void cleanup(struct tracer *t)
{
	free(t->hist_prev.rows);
	output_close();
	ring_buffer__free(t->rb);
	kretprobe_detach(&t->krp);
	tcpaccept_bpf__destroy(t->skel);
	if (t->cgroup_fd >= 0)
		close(t->cgroup_fd);
}

int main(int argc, char **argv)
{
	static struct tracer t = { .cgroup_fd = -1 };
	int err, status = 1;

	argv[0] = "tcpaccept";	/* getopt's messages name the program so */
	err = parse_args(argc, argv, &t.cfg);
	if (err)
		return err;
	if (t.cfg.exit_now)
		return 0;
	verbose = t.cfg.verbose;
	libbpf_set_print(libbpf_print);

	if (preflight(&t) == 0 && choose_and_start(&t) == 0 && begin_tracing(&t) == 0 &&
	    run(&t) == 0)
		status = finish(&t);
	cleanup(&t);
	return status;
}
