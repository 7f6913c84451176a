// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* The table of ways in (ways.h), and each way's probe, programs and attach. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "tcpaccept.h"
#include "tcpaccept.skel.h"
#include "kernel_probes.h"
#include "tracefs.h"
#include "ways.h"

/* Threads that may sit in inet_csk_accept() at once without the kretprobe
 * missing their return (bcc #1072); the kernel's limit. */
#define KRETPROBE_MAXACTIVE 4096

/* --- fexit on inet_csk_accept ---------------------------------------------- */

static bool fexit_probe_way(const struct config *cfg, struct choice *c, char *why, size_t len)
{
	struct btf *btf;
	int n, id;

	/* A BTF file gives CO-RE the kernel's types, not the type ids
	 * that an fexit program attaches by: those are the running
	 * kernel's own BTF, which --btf is there for the lack of. */
	if (cfg->btf_path && access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(why, len, "it needs the kernel's own BTF (/sys/kernel/btf/vmlinux), which --btf cannot stand in for");
		return false;
	}
	/* Before reading the whole kernel BTF for the real probe below. */
	if (!kernel_fexit_allowed(why, len))
		return false;
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		snprintf(why, len, "failed to read the kernel BTF: %s", strerror(errno));
		return false;
	}
	n = kernel_btf_func_params(btf, ACCEPT_FUNC, &id);
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
	if (!kernel_fexit_attachable(id, why, len))
		return false;
	c->fexit_params = n;
	return true;
}

static void fexit_autoload(struct tcpaccept_bpf *skel, const struct choice *c)
{
	bpf_program__set_autoload(c->fexit_params == 4 ? skel->progs.fexit_accept_pre610
						       : skel->progs.fexit_accept, true);
}

static int fexit_attach(struct tcpaccept_bpf *skel, struct choice *c)
{
	__typeof__(skel->links) *l = &skel->links;

	if (c->fexit_params == 4)
		l->fexit_accept_pre610 = bpf_program__attach(skel->progs.fexit_accept_pre610);
	else
		l->fexit_accept = bpf_program__attach(skel->progs.fexit_accept);
	return (l->fexit_accept_pre610 || l->fexit_accept) ? 0 : -errno;
}

static void fexit_describe(const struct choice *c, FILE *f)
{
	static const char *const forms[] = { [2] = "(sk, arg)", [4] = "(sk, flags, err, kern)" };

	fprintf(f, " on %s%s", ACCEPT_FUNC, forms[c->fexit_params]);
}

/* --- kprobe and kretprobe on inet_csk_accept ------------------------------- */

static bool kprobe_probe_way(const struct config *cfg, struct choice *c, char *why, size_t len)
{
	(void)cfg;
	(void)c;
	return kernel_kretprobe_allowed(ACCEPT_FUNC, why, len);
}

static void kprobe_autoload(struct tcpaccept_bpf *skel, const struct choice *c)
{
	(void)c;
	bpf_program__set_autoload(skel->progs.kprobe_accept, true);
	bpf_program__set_autoload(skel->progs.kretprobe_accept, true);
}

int ways_kretprobe(struct choice *c, struct bpf_program *prog, const char *func,
		   struct bpf_link **slot)
{
	int err = -ENOSPC;

	if (c->nkretprobes < KRETPROBES_MAX)
		err = tracefs_kretprobe_attach(prog, func, KRETPROBE_MAXACTIVE,
					       &c->kretprobes[c->nkretprobes]);
	if (!err) {
		c->nkretprobes++;
		return 0;
	}
	if (verbose)
		warn("kretprobe on %s with maxactive %d through kprobe_events failed (%s); using the kernel's default maxactive\n",
		     func, KRETPROBE_MAXACTIVE, strerror(-err));
	*slot = bpf_program__attach_kprobe(prog, true, func);
	return *slot ? 0 : -errno;
}

static int kprobe_attach(struct tcpaccept_bpf *skel, struct choice *c)
{
	__typeof__(skel->links) *l = &skel->links;
	int err;

	/* Return probe first: a call caught only at entry would leave
	 * a stale inflight entry behind. */
	err = ways_kretprobe(c, skel->progs.kretprobe_accept, ACCEPT_FUNC, &l->kretprobe_accept);
	if (err)
		return err;
	l->kprobe_accept = bpf_program__attach_kprobe(skel->progs.kprobe_accept,
						      false, ACCEPT_FUNC);
	return l->kprobe_accept ? 0 : -errno;
}

static void kprobe_detach(struct choice *c)
{
	for (int i = 0; i < c->nkretprobes; i++)
		tracefs_kretprobe_detach(&c->kretprobes[i]);
	c->nkretprobes = 0;
}

/* --- accept/accept4 syscall tracepoints ------------------------------------ */

/* bpf_task_pt_regs() (5.15) gives accept()'s listening fd at the syscall
 * exit; without it a sys_enter program must record it. It also takes
 * bpf_get_current_task_btf(), which needs the kernel's own BTF: not with
 * --btf. */
static bool task_regs_usable(const struct config *cfg)
{
	return !cfg->btf_path &&
	       libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs, NULL) == 1;
}

static bool tracepoint_probe_way(const struct config *cfg, struct choice *c, char *why, size_t len)
{
	if (!tracefs_dir()) {
		snprintf(why, len, "tracefs is not mounted and mounting it failed: %s", strerror(errno));
		return false;
	}
	c->task_regs = task_regs_usable(cfg);
	return true;
}

static void tracepoint_autoload(struct tcpaccept_bpf *skel, const struct choice *c)
{
	bpf_program__set_autoload(skel->progs.tp_enter_accept, !c->task_regs);
	bpf_program__set_autoload(skel->progs.tp_enter_accept4, !c->task_regs);
	/* fexit and kprobe see io_uring's accepts in inet_csk_accept(). */
	bpf_program__set_autoload(skel->progs.tp_io_uring_complete, true);
}

static int tracepoint_attach(struct tcpaccept_bpf *skel, struct choice *c)
{
	__typeof__(skel->links) *l = &skel->links;

	/* Optional: kernels without io_uring have no such tracepoint. */
	l->tp_io_uring_complete = bpf_program__attach(skel->progs.tp_io_uring_complete);
	if (!l->tp_io_uring_complete && verbose)
		warn("io_uring accepts will not be seen: %s\n", strerror(errno));
	/* Exit programs first, for the same reason as kprobe_attach()'s. */
	l->tp_exit_accept = bpf_program__attach(skel->progs.tp_exit_accept);
	if (!l->tp_exit_accept)
		return -errno;
	l->tp_exit_accept4 = bpf_program__attach(skel->progs.tp_exit_accept4);
	if (!l->tp_exit_accept4)
		return -errno;
	if (c->task_regs)
		return 0;
	l->tp_enter_accept = bpf_program__attach(skel->progs.tp_enter_accept);
	if (!l->tp_enter_accept)
		return -errno;
	l->tp_enter_accept4 = bpf_program__attach(skel->progs.tp_enter_accept4);
	return l->tp_enter_accept4 ? 0 : -errno;
}

/* Without bpf_task_pt_regs() the fd comes from a sys_enter program, which
 * keeps it in the inflight map and never saw the calls entered before. */
static bool tracepoint_enters(const struct choice *c)
{
	return !c->task_regs;
}

static void tracepoint_describe(const struct choice *c, FILE *f)
{
	fprintf(f, ", listening fd from %s",
		c->task_regs ? "the task's registers at exit" : "sys_enter_accept{,4}");
}

static bool always(const struct choice *c)
{
	(void)c;
	return true;
}

static bool never(const struct choice *c)
{
	(void)c;
	return false;
}

static void nothing(const struct choice *c, FILE *f)
{
	(void)c;
	(void)f;
}

const struct way_ops ways[NR_WAYS] = {
	[WAY_FEXIT] = {
		.probe = fexit_probe_way,
		.autoload = fexit_autoload,
		.attach = fexit_attach,
		.uses_inflight = never,
		.misses_blocked = always,
		.describe = fexit_describe,
	},
	[WAY_KPROBE] = {
		/* Entries of tcpaccept processes that were killed. */
		.preflight = tracefs_kretprobe_remove_stale,
		.probe = kprobe_probe_way,
		.autoload = kprobe_autoload,
		.attach = kprobe_attach,
		.detach = kprobe_detach,
		.uses_inflight = always,
		.misses_blocked = always,
		.describe = nothing,
	},
	[WAY_TRACEPOINT] = {
		.probe = tracepoint_probe_way,
		.autoload = tracepoint_autoload,
		.attach = tracepoint_attach,
		.uses_inflight = tracepoint_enters,
		.misses_blocked = tracepoint_enters,
		.owns_syscall_exit = true,
		.describe = tracepoint_describe,
	},
};

void ways_preflight(void)
{
	for (int w = WAY_AUTO + 1; w < NR_WAYS; w++)
		if (ways[w].preflight)
			ways[w].preflight();
}

void ways_detach(struct choice *c)
{
	if (c->way != WAY_AUTO && ways[c->way].detach)
		ways[c->way].detach(c);
}
