// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcpaccept: trace successful TCP accept()s, one line each.
 *
 * A CO-RE re-creation of bcc's tcpaccept(8) as one static binary: no kernel
 * headers, no compiler and no Python on the host, only a kernel with BTF.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "args.h"
#include "format.h"
#include "metrics.h"
#include "tcpaccept.h"
#include "tcpaccept.skel.h"
#include "trace_helpers.h"
#include "version.h"

#define ACCEPT_FUNC "inet_csk_accept"
/* Threads that may sit in inet_csk_accept() at once without the kretprobe
 * missing their return (bcc #1072); the kernel's limit. */
#define KRETPROBE_MAXACTIVE 4096
#define POLL_TIMEOUT_MS 100
#define CGROUP2_SUPER_MAGIC 0x63677270

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reopen_output;	/* -o: SIGHUP came */
/* Where rows and tables go: stdout, or the -o file. */
static int out_fd = STDOUT_FILENO;
static bool verbose;

static struct output {
	char buf[64 * 1024];
	size_t len;
	bool closed;		/* the reader went away (EPIPE) */
	bool failed;
} out;

static struct fmt_state fmt;

static void warn(const char *fmt_str, ...)
{
	va_list ap;

	fprintf(stderr, "tcpaccept: ");
	va_start(ap, fmt_str);
	vfprintf(stderr, fmt_str, ap);
	va_end(ap);
}

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

/* strerror(), plus the kernel-internal ENOTSUPP (524) that bpf() returns,
 * e.g. for fexit on arm64 kernels without ftrace direct calls (before 6.4). */
static const char *bpf_strerror(int err)
{
	return err == 524 ? "not supported by this kernel (ENOTSUPP)" : strerror(err);
}

static void flush_output(void)
{
	size_t done = 0;

	while (done < out.len && !out.closed && !out.failed) {
		ssize_t n = write(out_fd, out.buf + done, out.len - done);

		if (n >= 0) {
			done += (size_t)n;
		} else if (errno == EPIPE) {
			/* `tcpaccept | head -1`: the reader is done, so are we. */
			out.closed = true;
			exiting = 1;
		} else if (errno != EINTR) {
			warn("failed to write output: %s\n", strerror(errno));
			out.failed = true;
			exiting = 1;
		}
	}
	out.len = 0;
}

/* Room for one more line in the output buffer. */
static void out_reserve(void)
{
	if (sizeof(out.buf) - out.len < FMT_LINE_MAX)
		flush_output();
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct event e;

	(void)ctx;
	if (!event_decode(data, size, fmt.queue, &e))
		return 0;	/* cannot happen: both sides build from tcpaccept.h */
	out_reserve();
	if (out.closed || out.failed)
		return -EPIPE;	/* stop consuming */
	out.len += fmt_event(&fmt, &e, out.buf + out.len, sizeof(out.buf) - out.len);
	return 0;
}

/* The way in that was chosen, and why the others were passed over. */
struct plan {
	enum backend way;
	int fexit_params;	/* inet_csk_accept's parameter count */
	bool task_regs;		/* tracepoint: bpf_task_pt_regs() is there */
	char why_not[4][192];
	int cgroup_fd;		/* -C, or -1 */
	int catchup_threads;	/* found already in accept() at start */
	bool catchup_links;	/* the exit programs are attached for them */
};

static const enum way_in way_of[] = {
	[BACKEND_FEXIT] = WAY_FEXIT,
	[BACKEND_KPROBE] = WAY_KPROBE,
	[BACKEND_TRACEPOINT] = WAY_TRACEPOINT,
};

static bool way_available(enum backend way, const struct config *cfg, struct plan *plan)
{
	char *why = plan->why_not[way];
	size_t len = sizeof(plan->why_not[way]);
	const char *step;
	struct btf *btf;
	int n, id, err;

	switch (way) {
	case BACKEND_FEXIT:
		/* A BTF file gives CO-RE the kernel's types, not the type ids
		 * that an fexit program attaches by: those are the running
		 * kernel's own BTF, which --btf is there for the lack of. */
		if (cfg->btf_path && access("/sys/kernel/btf/vmlinux", R_OK)) {
			snprintf(why, len, "it needs the kernel's own BTF (/sys/kernel/btf/vmlinux), which --btf cannot stand in for");
			return false;
		}
		/* Before reading 6 MB of BTF for the real probe below. */
		err = fexit_refused();
		if (err) {
			snprintf(why, len, "failed to load a test fexit program: %s", strerror(-err));
			return false;
		}
		btf = btf__load_vmlinux_btf();
		if (!btf) {
			snprintf(why, len, "failed to read the kernel BTF: %s", strerror(errno));
			return false;
		}
		n = btf_func_params(btf, ACCEPT_FUNC, &id);
		btf__free(btf);
		if (n < 0) {
			snprintf(why, len, "the kernel BTF has no %s()", ACCEPT_FUNC);
			return false;
		}
		if (n != 4 && n != 2) {
			snprintf(why, len, "%s() has %d parameters; known are 4 (before Linux 6.10) and 2",
				 ACCEPT_FUNC, n);
			return false;
		}
		err = fexit_probe(id, &step);
		if (err) {
			snprintf(why, len, "failed to %s a test fexit program: %s", step, bpf_strerror(-err));
			return false;
		}
		plan->fexit_params = n;
		return true;
	case BACKEND_KPROBE:
		return kprobe_probe(ACCEPT_FUNC, why, len) == 0;
	case BACKEND_TRACEPOINT:
		if (!tracefs_dir()) {
			snprintf(why, len, "tracefs is not mounted and mounting it failed: %s", strerror(errno));
			return false;
		}
		/* bpf_task_pt_regs() (5.15) gives the listening fd at syscall
		 * exit; without it a sys_enter program must record it. */
		plan->task_regs = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT,
							  BPF_FUNC_task_pt_regs, NULL) == 1;
		/* It also takes bpf_get_current_task_btf(), which needs the
		 * kernel's own BTF: with --btf, record the fd at entry. */
		if (cfg->btf_path)
			plan->task_regs = false;
		return true;
	default:
		return false;
	}
}

static void set_filters(struct tcpaccept_bpf *skel, const struct config *cfg,
			const struct plan *plan)
{
	struct tcpaccept_bpf__rodata *ro = skel->rodata;

	ro->targ_tgid = (__u32)cfg->pid;
	ro->targ_family = (__u16)cfg->family;
	ro->filter_ports = cfg->nports > 0;
	for (int i = 0; i < cfg->nports; i++)
		ro->targ_port_bits[cfg->ports[i] >> 3] |= (__u8)(1 << (cfg->ports[i] & 7));
	ro->filter_uid = cfg->filter_uid;
	ro->targ_uid = cfg->uid;
	ro->filter_cgroup = plan->cgroup_fd >= 0;
	ro->count_mode = cfg->count;
	ro->want_queue = cfg->queue;
	ro->use_task_regs = plan->task_regs;
	ro->main_way = (__u8)way_of[plan->way];
	ro->want_metrics = cfg->metrics != NULL;
	ro->want_listen_stats = cfg->metrics || (cfg->count && cfg->queue);
	ro->no_events = !cfg->rows;
	/* Wake the reader early only when a quarter of the ring is used,
	 * so a flood costs a few wakeups a second, not one per accept. */
	ro->wakeup_bytes = cfg->ring_kb * 1024 / 4;
}

/* Attaches what the options want on top of the way in. */
static int attach_extras(struct tcpaccept_bpf *skel, const struct config *cfg,
			 const struct plan *plan)
{
	__typeof__(skel->links) *l = &skel->links;

	if (cfg->queue || cfg->metrics) {
		l->tp_sock_set_state = bpf_program__attach(skel->progs.tp_sock_set_state);
		if (!l->tp_sock_set_state)
			return -errno;
	}
	if (plan->way == BACKEND_TRACEPOINT) {
		/* Optional: kernels without io_uring have no such tracepoint. */
		l->tp_io_uring_complete = bpf_program__attach(skel->progs.tp_io_uring_complete);
		if (!l->tp_io_uring_complete && verbose)
			warn("io_uring accepts will not be seen: %s\n", strerror(errno));
	}
	return 0;
}

static int attach_way(struct tcpaccept_bpf *skel, const struct plan *plan,
		      struct kretprobe *krp)
{
	__typeof__(skel->links) *l = &skel->links;
	int err;

	switch (plan->way) {
	case BACKEND_FEXIT:
		if (plan->fexit_params == 4)
			l->fexit_accept_pre610 = bpf_program__attach(skel->progs.fexit_accept_pre610);
		else
			l->fexit_accept = bpf_program__attach(skel->progs.fexit_accept);
		return (l->fexit_accept_pre610 || l->fexit_accept) ? 0 : -errno;
	case BACKEND_KPROBE:
		/* Return probe first: a call caught only at entry would leave
		 * a stale inflight entry behind. */
		err = kretprobe_attach(skel->progs.kretprobe_accept, ACCEPT_FUNC,
				       KRETPROBE_MAXACTIVE, krp);
		if (err) {
			if (verbose)
				warn("kretprobe with maxactive %d through kprobe_events failed (%s); using the kernel's default maxactive\n",
				     KRETPROBE_MAXACTIVE, strerror(-err));
			l->kretprobe_accept = bpf_program__attach_kprobe(skel->progs.kretprobe_accept,
									 true, ACCEPT_FUNC);
			if (!l->kretprobe_accept)
				return -errno;
		}
		l->kprobe_accept = bpf_program__attach_kprobe(skel->progs.kprobe_accept,
							      false, ACCEPT_FUNC);
		return l->kprobe_accept ? 0 : -errno;
	case BACKEND_TRACEPOINT:
		/* Exit programs first, for the same reason as above. */
		l->tp_exit_accept = bpf_program__attach(skel->progs.tp_exit_accept);
		if (!l->tp_exit_accept)
			return -errno;
		l->tp_exit_accept4 = bpf_program__attach(skel->progs.tp_exit_accept4);
		if (!l->tp_exit_accept4)
			return -errno;
		if (plan->task_regs)
			return 0;
		l->tp_enter_accept = bpf_program__attach(skel->progs.tp_enter_accept);
		if (!l->tp_enter_accept)
			return -errno;
		l->tp_enter_accept4 = bpf_program__attach(skel->progs.tp_enter_accept4);
		return l->tp_enter_accept4 ? 0 : -errno;
	default:
		return -EINVAL;
	}
}

static void set_autoload(struct tcpaccept_bpf *skel, const struct config *cfg,
			 const struct plan *plan)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(skel->progs.tp_sock_set_state, cfg->queue || cfg->metrics);
	switch (plan->way) {
	case BACKEND_FEXIT:
		bpf_program__set_autoload(plan->fexit_params == 4 ? skel->progs.fexit_accept_pre610
								  : skel->progs.fexit_accept, true);
		/* The exit programs catch up with calls entered before. */
		bpf_program__set_autoload(skel->progs.tp_exit_accept, true);
		bpf_program__set_autoload(skel->progs.tp_exit_accept4, true);
		break;
	case BACKEND_KPROBE:
		bpf_program__set_autoload(skel->progs.kprobe_accept, true);
		bpf_program__set_autoload(skel->progs.kretprobe_accept, true);
		bpf_program__set_autoload(skel->progs.tp_exit_accept, true);
		bpf_program__set_autoload(skel->progs.tp_exit_accept4, true);
		break;
	case BACKEND_TRACEPOINT:
		bpf_program__set_autoload(skel->progs.tp_exit_accept, true);
		bpf_program__set_autoload(skel->progs.tp_exit_accept4, true);
		bpf_program__set_autoload(skel->progs.tp_enter_accept, !plan->task_regs);
		bpf_program__set_autoload(skel->progs.tp_enter_accept4, !plan->task_regs);
		/* fexit and kprobe see io_uring's accepts in inet_csk_accept(). */
		bpf_program__set_autoload(skel->progs.tp_io_uring_complete, true);
		break;
	default:
		break;
	}
}

/* Hash maps are allocated in full when created (creating the 65536-entry
 * LRU map took 5.5 ms, a quarter of the start-up): the ones the options do
 * not use get one entry. The programs still reference them. */
static int size_maps(struct tcpaccept_bpf *skel, const struct config *cfg,
		     const struct plan *plan)
{
	bool inflight = plan->way == BACKEND_KPROBE ||
			(plan->way == BACKEND_TRACEPOINT && !plan->task_regs);
	bool listen = cfg->metrics || (cfg->count && cfg->queue);
	int err;

	/* -c and --metrics alone send no events: the smallest ring will do. */
	err = bpf_map__set_max_entries(skel->maps.events, !cfg->rows ? 4096 : cfg->ring_kb * 1024);
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

/* Opens, loads and attaches the programs of plan->way. */
static int start_way(const struct config *cfg, struct plan *plan,
		     struct tcpaccept_bpf **skelp, struct kretprobe *krp)
{
	struct tcpaccept_bpf *skel;
	char *why = plan->why_not[plan->way];
	size_t len = sizeof(plan->why_not[plan->way]);
	/* --btf: CO-RE reads the kernel's types from that file. */
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = cfg->btf_path);
	int err;

	skel = tcpaccept_bpf__open_opts(&open_opts);
	if (!skel) {
		snprintf(why, len, "failed to open the BPF object: %s", strerror(errno));
		return -errno;
	}
	set_filters(skel, cfg, plan);
	set_autoload(skel, cfg, plan);
	err = size_maps(skel, cfg, plan);
	if (!err)
		err = tcpaccept_bpf__load(skel);
	if (err) {
		snprintf(why, len, "failed to load the BPF programs: %s", bpf_strerror(-err));
		goto fail;
	}
	if (plan->cgroup_fd >= 0) {
		__u32 zero = 0;

		err = bpf_map_update_elem(bpf_map__fd(skel->maps.cgroup_map), &zero,
					  &plan->cgroup_fd, BPF_ANY);
		if (err) {
			err = -errno;
			snprintf(why, len, "failed to set the cgroup filter: %s", strerror(-err));
			goto fail;
		}
	}
	err = attach_extras(skel, cfg, plan);
	if (err) {
		snprintf(why, len, "failed to attach the -q handshake tracepoint: %s", bpf_strerror(-err));
		goto fail;
	}
	err = attach_way(skel, plan, krp);
	if (err) {
		snprintf(why, len, "failed to attach the BPF programs: %s", bpf_strerror(-err));
		goto fail;
	}
	*skelp = skel;
	return 0;
fail:
	kretprobe_detach(krp);
	tcpaccept_bpf__destroy(skel);
	return err;
}

/* --- threads that were already in accept() ------------------------------- */

struct catchup_ctx {
	struct tcpaccept_bpf *skel;
	int map_fd;
};

static void add_catchup(pid_t tid, long fd, void *ctx)
{
	struct catchup_ctx *c = ctx;
	__u32 key = (__u32)tid;
	__u64 value = (__u64)fd;

	if (bpf_map_update_elem(c->map_fd, &key, &value, BPF_ANY) == 0)
		__atomic_fetch_add(&c->skel->bss->catchup_pending, 1, __ATOMIC_SEQ_CST);
}

static void catchup_stop(struct tcpaccept_bpf *skel, struct plan *plan)
{
	skel->bss->catchup_active = false;
	if (plan->catchup_links) {
		bpf_link__destroy(skel->links.tp_exit_accept);
		bpf_link__destroy(skel->links.tp_exit_accept4);
		skel->links.tp_exit_accept = skel->links.tp_exit_accept4 = NULL;
		plan->catchup_links = false;
	}
	if (verbose && plan->catchup_threads)
		warn("caught up with the %d thread(s) that were in accept() at start\n",
		     plan->catchup_threads);
	plan->catchup_threads = 0;
}

/* A thread blocked in accept() since before the probes were attached is
 * never seen returning by fexit or kretprobe, nor by a sys_enter program:
 * find such threads now and let the syscall exit programs report them. With
 * bpf_task_pt_regs() the tracepoint way needs none of this. */
static void catchup_start(struct tcpaccept_bpf *skel, const struct config *cfg,
			  struct plan *plan)
{
	struct catchup_ctx ctx = { skel, bpf_map__fd(skel->maps.catchup) };

	if (plan->way == BACKEND_TRACEPOINT && plan->task_regs)
		return;
	if (plan->way != BACKEND_TRACEPOINT) {
		if (tracefs_dir()) {
			skel->links.tp_exit_accept = bpf_program__attach(skel->progs.tp_exit_accept);
			skel->links.tp_exit_accept4 = bpf_program__attach(skel->progs.tp_exit_accept4);
		}
		plan->catchup_links = true;
		if (!skel->links.tp_exit_accept || !skel->links.tp_exit_accept4) {
			warn("cannot report accept() calls already blocked at start: failed to attach the syscall tracepoints: %s\n",
			     strerror(errno));
			catchup_stop(skel, plan);
			return;
		}
	}
	/* Active before the scan: a thread seen by the probe from now on
	 * takes its entry out again. */
	skel->bss->catchup_active = true;
	plan->catchup_threads = for_each_thread_in_accept(cfg->pid, add_catchup, &ctx);
	if (verbose && plan->catchup_threads)
		warn("%d thread(s) already in accept(): reported through the syscall exit tracepoints\n",
		     plan->catchup_threads);
	if (!plan->catchup_threads)
		catchup_stop(skel, plan);
}

/* Every entry is consumed at its thread's syscall exit (a thread killed
 * in accept() passes there too): stop catching up once none is left. */
static void catchup_check(struct tcpaccept_bpf *skel, struct plan *plan)
{
	if (skel->bss->catchup_active &&
	    __atomic_load_n(&skel->bss->catchup_pending, __ATOMIC_SEQ_CST) == 0)
		catchup_stop(skel, plan);
}

static void say_choice(const struct config *cfg, const struct plan *plan)
{
	static const char *const fexit_forms[] = { [2] = "(sk, arg)", [4] = "(sk, flags, err, kern)" };

	warn("way in: %s", backend_name(plan->way));
	if (plan->way == BACKEND_FEXIT)
		fprintf(stderr, " on %s%s", ACCEPT_FUNC, fexit_forms[plan->fexit_params]);
	if (plan->way == BACKEND_TRACEPOINT)
		fprintf(stderr, ", listening fd from %s",
			plan->task_regs ? "the task's registers at exit" : "sys_enter_accept{,4}");
	if (cfg->backend != BACKEND_AUTO)
		fprintf(stderr, " (forced by --backend)");
	fputc('\n', stderr);
	for (enum backend w = BACKEND_FEXIT; w < plan->way && cfg->backend == BACKEND_AUTO; w++)
		warn("passed over %s: %s\n", backend_name(w), plan->why_not[w]);
}

static int choose_and_start(const struct config *cfg, struct plan *plan,
			    struct tcpaccept_bpf **skelp, struct kretprobe *krp)
{
	static const enum backend order[] = { BACKEND_FEXIT, BACKEND_KPROBE, BACKEND_TRACEPOINT };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (cfg->backend != BACKEND_AUTO && cfg->backend != order[i])
			continue;
		plan->way = order[i];
		if (way_available(plan->way, cfg, plan) && start_way(cfg, plan, skelp, krp) == 0)
			return 0;
	}
	if (cfg->backend != BACKEND_AUTO) {
		warn("the %s way in is not available: %s\n", backend_name(cfg->backend),
		     plan->why_not[cfg->backend]);
	} else {
		warn("no way in is available: fexit: %s; kprobe: %s; tracepoint: %s\n",
		     plan->why_not[BACKEND_FEXIT], plan->why_not[BACKEND_KPROBE],
		     plan->why_not[BACKEND_TRACEPOINT]);
	}
	return -1;
}

/* --- -c: count tables ------------------------------------------------------ */

struct count_row {
	struct count_key key;
	__u64 count;
};

static int by_count_desc(const void *a, const void *b)
{
	const struct count_row *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->key.pid < y->key.pid ? -1 : x->key.pid > y->key.pid;
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* Takes the counts out of the kernel (resetting them) and prints a table
 * sorted by count, headed by the time when @with_time; nothing if there
 * is nothing to show and @skip_if_empty. */
static int print_counts(struct tcpaccept_bpf *skel, const struct config *cfg, bool with_time,
			bool skip_if_empty)
{
	int fd = bpf_map__fd(skel->maps.counts);
	__u32 max = bpf_map__max_entries(skel->maps.counts), n = 0, batch;
	struct count_key *keys = calloc(max, sizeof(*keys));
	__u64 *values = calloc(max, sizeof(*values)), now = monotonic_ns();
	struct count_row *rows = calloc(max, sizeof(*rows));
	void *in = NULL, *out_batch = NULL;
	__u32 token;
	int err = 0;

	if (!keys || !values || !rows) {
		err = -ENOMEM;
		goto done;
	}
	/* Lookup-and-delete in batches (5.6+): an accept counted meanwhile
	 * lands in the next table rather than being lost. */
	out_batch = &token;
	for (;;) {
		batch = max - n;
		err = bpf_map_lookup_and_delete_batch(fd, in, out_batch, keys + n, values + n,
						      &batch, NULL);
		n += batch;
		if (err) {
			err = errno == ENOENT ? 0 : -errno;
			break;
		}
		in = out_batch;
		if (n >= max)
			break;
	}
	if (err) {
		warn("failed to read the counts: %s\n", strerror(-err));
		goto done;
	}
	for (__u32 i = 0; i < n; i++) {
		rows[i].key = keys[i];
		rows[i].count = values[i];
	}
	if (!n && skip_if_empty)
		goto done;
	qsort(rows, n, sizeof(*rows), by_count_desc);
	if (with_time && !cfg->json) {
		time_t t = time(NULL);
		struct tm tm;

		localtime_r(&t, &tm);
		out.len += strftime(out.buf + out.len, sizeof(out.buf) - out.len, "%H:%M:%S\n", &tm);
	}
	out_reserve();
	out.len += fmt_count_header(&fmt, out.buf + out.len, sizeof(out.buf) - out.len);
	for (__u32 i = 0; i < n; i++) {
		out_reserve();
		out.len += fmt_count_row(&fmt, &rows[i].key, rows[i].count, now,
					 out.buf + out.len, sizeof(out.buf) - out.len);
	}
	if (with_time && !cfg->json && sizeof(out.buf) > out.len)
		out.buf[out.len++] = '\n';
	flush_output();
done:
	free(keys);
	free(values);
	free(rows);
	return err;
}

/* --- --metrics and -c -q: the cumulative kernel maps ------------------------ */

/* Every entry of the hash map @fd (keys of @key_size bytes) into @rows,
 * each row the key followed at @value_off by the value; at most @max.
 * Returns the count. */
static long read_hash(int fd, size_t key_size, size_t value_off, size_t row_size,
		      void *rows, size_t max)
{
	char key[64], next[64];
	size_t n = 0;
	void *prev = NULL;

	while (n < max && bpf_map_get_next_key(fd, prev, next) == 0) {
		char *row = (char *)rows + n * row_size;

		memcpy(key, next, key_size);
		prev = key;
		memcpy(row, key, key_size);
		/* Deleted meanwhile: skip it (these maps only grow). */
		if (bpf_map_lookup_elem(fd, key, row + value_off) == 0)
			n++;
	}
	return (long)n;
}

static int by_listen_key(const void *a, const void *b)
{
	return memcmp(&((const struct listen_series *)a)->key,
		      &((const struct listen_series *)b)->key, sizeof(struct listen_key));
}

static long read_listeners(struct tcpaccept_bpf *skel, struct listen_series **out_rows)
{
	size_t max = bpf_map__max_entries(skel->maps.listen_stats);
	struct listen_series *rows = calloc(max, sizeof(*rows));
	long n;

	*out_rows = rows;
	if (!rows)
		return -ENOMEM;
	n = read_hash(bpf_map__fd(skel->maps.listen_stats), sizeof(struct listen_key),
		      offsetof(struct listen_series, st), sizeof(*rows), rows, max);
	qsort(rows, (size_t)n, sizeof(*rows), by_listen_key);
	return n;
}

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One write of the --metrics file, from the kernel maps. */
static int write_metrics(struct tcpaccept_bpf *skel, const struct config *cfg,
			 const struct plan *plan, double start)
{
	size_t max = bpf_map__max_entries(skel->maps.metric_totals), len = 0;
	struct metric_series *totals = calloc(max, sizeof(*totals));
	struct listen_series *listeners = NULL;
	struct metrics_snapshot snap = {};
	__u32 epoch = skel->bss->metrics_epoch;
	char *text = NULL;
	long n, nl;
	FILE *f;
	int err;

	n = totals ? read_hash(bpf_map__fd(skel->maps.metric_totals), sizeof(struct metric_key),
			       offsetof(struct metric_series, accepts), sizeof(*totals),
			       totals, max) : -ENOMEM;
	nl = read_listeners(skel, &listeners);
	/* The next interval's peaks start from here. */
	__atomic_store_n(&skel->bss->metrics_epoch, epoch + 1, __ATOMIC_RELAXED);
	if (n < 0 || nl < 0) {
		err = -ENOMEM;
		goto done;
	}
	for (long i = 0; i < nl; i++)
		listeners[i].peak_valid = listeners[i].st.peak_epoch == epoch;
	snap.totals = totals;
	snap.ntotals = (size_t)n;
	snap.listeners = listeners;
	snap.nlisteners = (size_t)nl;
	snap.lost = __atomic_load_n(&skel->bss->lost, __ATOMIC_RELAXED);
	snap.count_overflow = __atomic_load_n(&skel->bss->count_overflow, __ATOMIC_RELAXED);
	snap.totals_overflow = __atomic_load_n(&skel->bss->metric_overflow, __ATOMIC_RELAXED);
	snap.listen_overflow = __atomic_load_n(&skel->bss->listen_overflow, __ATOMIC_RELAXED);
	snap.max_series = cfg->max_series;
	snap.version = TCPACCEPT_VERSION;
	snap.libbpf = TCPACCEPT_LIBBPF_VERSION;
	snap.way = backend_name(plan->way);
	snap.start = start;
	snap.now = unix_now();
	f = open_memstream(&text, &len);
	if (!f) {
		err = -errno;
		goto done;
	}
	metrics_format(f, &snap);
	err = fclose(f) ? -errno : 0;
	if (!err)
		err = metrics_write_file(cfg->metrics, text, len);
done:
	if (err)
		warn("failed to write the metrics to '%s': %s\n", cfg->metrics, strerror(-err));
	free(text);
	free(totals);
	free(listeners);
	return err;
}

/* Appends @len bytes to the output, flushing as it fills. */
static void out_write(const char *data, size_t len)
{
	while (len && !out.closed && !out.failed) {
		size_t room = sizeof(out.buf) - out.len, n = len < room ? len : room;

		memcpy(out.buf + out.len, data, n);
		out.len += n;
		data += n;
		len -= n;
		if (out.len == sizeof(out.buf))
			flush_output();
	}
}

/* -c -q: the wait histogram of each listener after the count table; with
 * -i, of the interval only (the kernel's are cumulative, for --metrics). */
static int print_hists(struct tcpaccept_bpf *skel, const struct config *cfg,
		       struct listen_series **prev, long *nprev)
{
	struct listen_series *rows = NULL;
	long n = read_listeners(skel, &rows);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (n < 0 || !(f = open_memstream(&text, &len))) {
		free(rows);
		warn("failed to read the wait histograms: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (long i = 0; i < n; i++) {
		struct listen_series l = rows[i];
		const struct listen_series *before = *prev ?
			bsearch(&l, *prev, (size_t)*nprev, sizeof(l), by_listen_key) : NULL;

		if (before)
			listen_stats_sub(&l.st, &before->st);
		if (!l.st.wait_count && !l.st.wait_unknown)
			continue;
		if (cfg->json)
			hist_print_json(f, &l, unix_now());
		else
			hist_print(f, &l);
	}
	fclose(f);
	out_write(text, len);
	flush_output();
	free(text);
	free(*prev);
	*prev = rows;
	*nprev = n;
	return 0;
}

/* -o: (re)opens the file for appending; in columns, each file gets the
 * header. Lines are only ever written whole, so a rotation between two
 * writes puts each in exactly one file. */
static int open_output(const struct config *cfg)
{
	int fd = open(cfg->output, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		warn("failed to open '%s': %s\n", cfg->output, strerror(errno));
		return -1;
	}
	if (out_fd != STDOUT_FILENO)
		close(out_fd);
	out_fd = fd;
	return 0;
}

static int open_cgroup(const char *path)
{
	struct statfs st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		warn("failed to open cgroup '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstatfs(fd, &st) || (unsigned long)st.f_type != CGROUP2_SUPER_MAGIC) {
		warn("'%s' is not a cgroup v2 directory\n", path);
		close(fd);
		return -1;
	}
	return fd;
}

static __s64 mono_to_real_ns(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

static void report_lost(const struct tcpaccept_bpf *skel, __u64 *reported, bool at_exit)
{
	__u64 lost = __atomic_load_n(&skel->bss->lost, __ATOMIC_RELAXED);

	if (lost != *reported)
		warn("lost %llu events (ring buffer full; a larger --ring-kb helps)\n",
		     (unsigned long long)(lost - *reported));
	*reported = lost;
	if (at_exit && lost)
		warn("lost %llu events in total\n", (unsigned long long)lost);
}

int main(int argc, char **argv)
{
	struct tcpaccept_bpf *skel = NULL;
	struct kretprobe krp = {};
	struct ring_buffer *rb = NULL;
	struct plan plan = {};
	struct config cfg;
	struct sigaction sa = { .sa_handler = on_signal };
	__u64 lost_reported = 0;
	time_t last_lost_check = 0;
	__u64 now_ns, deadline_ns = 0, next_table_ns = 0, next_metrics_ns = 0;
	struct listen_series *hist_prev = NULL;
	long hist_nprev = 0;
	double start_time;
	int err, status = 1;

	plan.cgroup_fd = -1;

	argv[0] = "tcpaccept";	/* getopt's messages name the program so */
	err = parse_args(argc, argv, &cfg);
	if (err)
		return err;
	if (cfg.exit_now)
		return 0;
	verbose = cfg.verbose;
	libbpf_set_print(libbpf_print);

	if (!have_bpf_privileges()) {
		warn("needs root, or the CAP_BPF and CAP_PERFMON capabilities\n");
		return 1;
	}
	if (cfg.btf_path && access(cfg.btf_path, R_OK)) {
		warn("failed to read the BTF file '%s': %s\n", cfg.btf_path, strerror(errno));
		return 1;
	}
	if (!cfg.btf_path && access("/sys/kernel/btf/vmlinux", R_OK)) {
		warn("the kernel has no BTF (/sys/kernel/btf/vmlinux: %s); it needs CONFIG_DEBUG_INFO_BTF=y, or --btf=PATH with a BTF file for this kernel\n",
		     strerror(errno));
		return 1;
	}
	if (cfg.cgroup) {
		plan.cgroup_fd = open_cgroup(cfg.cgroup);
		if (plan.cgroup_fd < 0)
			return 1;
	}
	if (cfg.output && open_output(&cfg))
		goto cleanup;
	kretprobe_remove_stale();

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (cfg.output) {
		struct sigaction hup = { .sa_handler = on_sighup };

		sigaction(SIGHUP, &hup, NULL);
	}
	signal(SIGPIPE, SIG_IGN);

	if (choose_and_start(&cfg, &plan, &skel, &krp))
		goto cleanup;
	/* Before dropping capabilities: it asks the kernel about the map. */
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event, NULL, NULL);
	if (!rb) {
		warn("failed to create the ring buffer reader: %s\n", strerror(errno));
		goto cleanup;
	}
	catchup_start(skel, &cfg, &plan);
	/* From here on tracing only reads memory-mapped maps and closes fds;
	 * -c also reads its counts with bpf() (before Linux 6.5 that takes
	 * CAP_BPF). */
	err = drop_capabilities(cfg.count || cfg.metrics);
	if (err) {
		warn("failed to drop capabilities: %s\n", strerror(-err));
		goto cleanup;
	}
	if (verbose) {
		say_choice(&cfg, &plan);
		warn("%s\n", cfg.count || cfg.metrics ?
		     "dropped every capability but CAP_BPF (to read the counts)" :
		     "dropped every capability: tracing needs none from here on");
	}

	fmt_init(&fmt, cfg.wallclock, cfg.timestamp, mono_to_real_ns());
	fmt.json = cfg.json;
	fmt.print_uid = cfg.print_uid;
	fmt.queue = cfg.queue;
	fmt.wide = cfg.wide;
	fmt.print_proto = cfg.print_proto;
	/* The header says "attached": tests and scripts wait for it. (-j and
	 * -c print none; -v's "way in" line on stderr says it instead.) */
	if (cfg.rows)
		out.len = fmt_header(&fmt, out.buf, sizeof(out.buf));
	flush_output();
	now_ns = monotonic_ns();
	if (cfg.duration)
		deadline_ns = now_ns + cfg.duration * 1000000000ULL;
	if (cfg.interval && cfg.count)
		next_table_ns = now_ns + cfg.interval * 1000000000ULL;
	start_time = unix_now();
	if (cfg.metrics) {
		/* At once: a file that is there says tracing has started; one
		 * that cannot be written is an error now, not in 15 s. */
		if (write_metrics(skel, &cfg, &plan, start_time))
			goto cleanup;
		next_metrics_ns = now_ns + cfg.metrics_interval * 1000000000ULL;
	}

	while (!exiting) {
		err = ring_buffer__poll(rb, POLL_TIMEOUT_MS);
		/* Events submitted without a wakeup wait for the timeout. */
		if (err == 0)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR && err != -EPIPE) {
			warn("failed to read the ring buffer: %s\n", strerror(-err));
			goto cleanup;
		}
		flush_output();
		if (reopen_output) {
			reopen_output = 0;
			if (open_output(&cfg) == 0 && cfg.rows)
				out.len = fmt_header(&fmt, out.buf, sizeof(out.buf));
		}
		if (time(NULL) != last_lost_check) {
			last_lost_check = time(NULL);
			report_lost(skel, &lost_reported, false);
			catchup_check(skel, &plan);
		}
		now_ns = monotonic_ns();
		if (next_table_ns && now_ns >= next_table_ns) {
			next_table_ns += cfg.interval * 1000000000ULL;
			print_counts(skel, &cfg, true, false);
			if (cfg.queue)
				print_hists(skel, &cfg, &hist_prev, &hist_nprev);
		}
		if (next_metrics_ns && now_ns >= next_metrics_ns) {
			next_metrics_ns += cfg.metrics_interval * 1000000000ULL;
			write_metrics(skel, &cfg, &plan, start_time);
		}
		if (deadline_ns && now_ns >= deadline_ns)
			break;
	}
	/* The last, partial interval; with -i, only if it counted anything. */
	if (cfg.count && !out.closed) {
		print_counts(skel, &cfg, cfg.interval > 0, cfg.interval > 0);
		if (cfg.queue)
			print_hists(skel, &cfg, &hist_prev, &hist_nprev);
	}
	if (cfg.metrics && write_metrics(skel, &cfg, &plan, start_time))
		out.failed = true;
	if (cfg.count && skel->bss->count_overflow)
		warn("%llu accepts not counted: the count table (10240 keys) was full\n",
		     (unsigned long long)skel->bss->count_overflow);
	if (!out.closed)
		ring_buffer__consume(rb);
	flush_output();
	report_lost(skel, &lost_reported, true);
	status = out.failed ? 1 : 0;

cleanup:
	free(hist_prev);
	if (out_fd != STDOUT_FILENO)
		close(out_fd);
	ring_buffer__free(rb);
	kretprobe_detach(&krp);
	tcpaccept_bpf__destroy(skel);
	if (plan.cgroup_fd >= 0)
		close(plan.cgroup_fd);
	return status;
}
