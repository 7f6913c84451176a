// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "cgroup.h"
#include "kernel_probes.h"
#include "plan.h"
#include "process.h"
#include "tcpaccept.skel.h"
#include "ways.h"

/* -c and --metrics alone send no events: the smallest ring will do. */
#define RING_MIN_BYTES 4096

static void settings_from(struct settings *s, const struct config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->pid = (__u32)cfg->pid;
	/* PIDs as this /proc numbers them: in a PID namespace, its own. */
	s->pidns = process_pidns();
	s->filter_uid = cfg->filter_uid;
	s->uid = cfg->uid;
	s->filter_ports = cfg->filter_ports;
	memcpy(s->port_bits, cfg->port_bits, sizeof(s->port_bits));
	s->family = (__u16)cfg->family;
	s->client_family = (__u16)cfg->client_family;
	s->netns = cfg->netns;	/* --netns=PATH's: preflight opens the file */
	s->ncontainers = (__u8)cfg->ncontainers;
	for (int i = 0; i < cfg->ncontainers; i++) {
		s->container_len[i] = (__u8)strlen(cfg->containers[i]);
		memcpy(s->containers[i], cfg->containers[i], s->container_len[i]);
	}
	s->filter_cgroup = cfg->cgroup != NULL;
	s->count = cfg->count;
	s->queue = cfg->queue;
	s->metrics = cfg->metrics != NULL;
	s->rows = cfg->rows;
	/* --metrics' histogram and gauges; -c -q prints the histogram. */
	s->need_listen_stats = cfg->metrics || (cfg->count && cfg->queue);
	/* -x's failures; --metrics' drops and errors need the listeners
	 * (owner, drop counter) and the errors too. */
	s->failed = cfg->failed;
	s->failed_only = cfg->failed && !cfg->all;
	s->need_listeners = cfg->failed || cfg->metrics;
	s->drop_rows = cfg->failed && cfg->rows;
	s->self_pid = (__u32)getpid();
	s->need_listener = s->queue || s->need_listen_stats || s->need_listeners;
	s->need_time = cfg->rows && (cfg->timestamp || cfg->wallclock || cfg->json);
	s->need_ids = cfg->rows && (cfg->print_uid || cfg->json);
	/* -j: the cgroup (its path, unit and container) and namespaces; -S
	 * the cgroup, in rows or as a key of -c's counts. */
	s->need_service = cfg->rows && (cfg->json || cfg->print_service);
	s->need_namespaces = cfg->rows && cfg->json;
	s->count_cgroup = cfg->count && cfg->print_service;
	s->metrics_cgroup = cfg->metrics && (cfg->label_container || cfg->label_unit);
	s->need_cgroup = s->need_service || s->count_cgroup || s->metrics_cgroup;
	/* New cgroups' paths as the kernel makes them; in a cgroup namespace
	 * they would not be the paths its /proc shows (the walks are). */
	s->feed_cgroups = s->need_cgroup && cgroup_ns_initial();
	/* Wake the reader early only when a quarter of the ring is used,
	 * so a flood costs a few wakeups a second, not one per event. */
	s->wakeup_bytes = cfg->ring_kb * 1024 / 4;
}

/* The tables are sized for every option at once; outgrowing them is a
 * bug in this file, so it stops here rather than write past them. */
static void plan_full(const char *table)
{
	fprintf(stderr, "tcpaccept: internal error: the plan's %s table is full\n", table);
	abort();
}

static void add_way_prog(struct plan *p, const char *name, const char *what, unsigned char ways,
			 unsigned char flags)
{
	if (p->nprogs == PLAN_MAX_PROGS)
		plan_full("program");
	p->progs[p->nprogs++] = (struct plan_prog){ name, what, true, ways, flags };
}

static void add_prog(struct plan *p, const char *name, const char *what, bool attach)
{
	add_way_prog(p, name, what, 0, 0);
	p->progs[p->nprogs - 1].attach = attach;
}

#define W(way) (1 << (way))

/* -x's and --metrics' programs: the listeners' owners and counters on
 * every way, each way's sweep and errors (the tracepoint way's own exit
 * programs report its errors; fexit and kprobe attach no syscall
 * tracepoint, which would slow every system call), the drops as each way
 * sees them. */
static void add_failure_progs(struct plan *p)
{
	const unsigned char probes = W(WAY_FEXIT) | W(WAY_KPROBE), kprobe = W(WAY_KPROBE);
	static const char *const brackets[][2] = {
		{ "conn_request", "tcp_conn_request" }, { "check_req", "tcp_check_req" },
		{ "cookie4", "cookie_v4_check" }, { "cookie6", "cookie_v6_check" },
	};
	static char names[4][4][32];

	add_way_prog(p, "tp_sweep", "the listen() exit tracepoint (reading the drop counters)",
		     W(WAY_TRACEPOINT), PROG_FOR_EACH);
	add_way_prog(p, "fexit_sweep", "fexit on __sys_listen (reading the drop counters)",
		     W(WAY_FEXIT), PROG_FOR_EACH);
	add_way_prog(p, "kretprobe_sweep", "a kretprobe on __sys_listen (reading the drop counters)",
		     kprobe, PROG_FOR_EACH);
	add_way_prog(p, "fexit_sys_accept4", "fexit on __sys_accept4 (errors)", W(WAY_FEXIT), 0);
	/* Return probe first, as the way's own (ways.c). */
	add_way_prog(p, "kretprobe_sys_accept4", "a kretprobe on __sys_accept4 (errors)", kprobe,
		     PROG_MAXACTIVE);
	add_way_prog(p, "kprobe_sys_accept4", "a kprobe on __sys_accept4 (errors)", kprobe, 0);
	add_way_prog(p, "tp_io_uring_complete", "the io_uring completion tracepoint (errors)",
		     probes, PROG_OPTIONAL);
	if (!p->settings.drop_rows)
		return;
	add_way_prog(p, "tp_kfree_skb", "the kfree_skb tracepoint (drops)", W(WAY_TRACEPOINT),
		     PROG_OPTIONAL);
	for (int i = 0; i < 4; i++) {
		static const char *const kinds[4] = { "fentry_", "fexit_", "kprobe_", "kretprobe_" };

		for (int k = 0; k < 4; k++) {
			snprintf(names[i][k], sizeof(names[i][k]), "%s%s", kinds[k], brackets[i][0]);
			/* kretprobes with inet_csk_accept's maxactive: the
			 * kernel's default (10, or 2 per CPU) is all a flood's
			 * pending calls get otherwise. */
			add_way_prog(p, names[i][k], brackets[i][1],
				     k < 2 ? W(WAY_FEXIT) : W(WAY_KPROBE),
				     PROG_OPTIONAL | PROG_DROP_MIB | (k == 3 ? PROG_MAXACTIVE : 0));
		}
	}
}

static void add_way_map(struct plan *p, const char *name, bool used, __u32 entries,
			unsigned char ways)
{
	if (p->nmaps == PLAN_MAX_MAPS)
		plan_full("map");
	p->maps[p->nmaps++] = (struct plan_map){ name, used ? entries : 1, ways };
}

static void add_map(struct plan *p, const char *name, bool used, __u32 entries)
{
	add_way_map(p, name, used, entries, 0);
}

void plan_make(struct plan *p, const struct config *cfg)
{
	const struct settings *s = &p->settings;
	/* -q's wait and --metrics' histogram start at the handshake. */
	bool handshake = cfg->queue || cfg->metrics;

	memset(p, 0, sizeof(*p));
	settings_from(&p->settings, cfg);
	/* The syscall exit programs are the tracepoint way's own and every
	 * other way's catch-up, which attaches them itself (catchup.c). */
	add_prog(p, "tp_exit_accept", "the accept() exit tracepoint", false);
	add_prog(p, "tp_exit_accept4", "the accept4() exit tracepoint", false);
	if (handshake || s->need_listeners)
		add_prog(p, "tp_sock_set_state",
			 "the socket state tracepoint (-q's and --metrics' wait, listeners)", true);
	/* Before the way's: a container made while tcpaccept starts is
	 * seen by the walk after this, or by the tracepoint, or both. */
	if (s->feed_cgroups || s->ncontainers)
		add_prog(p, "raw_cgroup_mkdir", "the cgroup_mkdir tracepoint (cgroup paths, --container)",
			 true);
	if (s->ncontainers)
		add_prog(p, "raw_cgroup_rmdir", "the cgroup_rmdir tracepoint (--container)", true);
	if (s->need_listeners)
		add_failure_progs(p);
	add_map(p, "events", true, s->rows ? cfg->ring_kb * 1024 : RING_MIN_BYTES);
	if (!s->feed_cgroups)
		add_map(p, "cgroups_made", true, RING_MIN_BYTES);
	add_map(p, "handshake_done", handshake, HANDSHAKE_MAX_ENTRIES);
	add_map(p, "metric_totals", s->metrics, cfg->max_series);
	add_map(p, "listen_stats", s->need_listen_stats, cfg->max_series);
	add_map(p, "counts", s->count, COUNT_MAX_ENTRIES);
	add_map(p, "listeners", s->need_listeners, LISTENERS_MAX_ENTRIES);
	add_map(p, "closed_listeners", s->count || s->metrics, LISTENERS_MAX_ENTRIES);
	/* kprobe's errors: from __sys_accept4()'s entry to its return. */
	add_way_map(p, "accept_fds", s->need_listeners, THREAD_MAX_ENTRIES, W(WAY_KPROBE));
	add_map(p, "container_cgroups", s->ncontainers, CONTAINER_CGROUPS_MAX);
	p->keep_bpf = cfg->count || cfg->metrics;
	p->btf_path = cfg->btf_path;
}

struct plan_found plan_found;

/* -x: what the running kernel gives the drop programs of way @c, into
 * @ro: the tracepoint way the cookie checks' text, from kallsyms; fexit
 * and kprobe the LINUX_MIB counters' indexes, from the BTF, without which
 * they have no drop rows (said with -v). */
static void find_drop_syms(struct settings *ro, const struct choice *c, const char *btf_path)
{
	struct kernel_drop_syms syms;
	unsigned short mib[3];

	if (c->way == WAY_TRACEPOINT) {
		if (kernel_drop_syms(&syms))
			memset(&syms, 0, sizeof(syms));
		memcpy(ro->cookie_text, syms.cookie_text, sizeof(ro->cookie_text));
		plan_found.cookie_text = syms.cookie_text[1] && syms.cookie_text[3];
		return;
	}
	if (kernel_mib_indexes(btf_path, mib))
		return;
	ro->mib_listen_drops = mib[0];
	ro->mib_listen_overflows = mib[1];
	ro->mib_reqq_full_drop = mib[2];
	plan_found.drop_reasons = true;
}

/* Whether @pp is loaded on way @c of this kernel. */
static bool prog_wanted(const struct plan_prog *pp, const struct choice *c)
{
	if (pp->ways && !(pp->ways & (1 << c->way)))
		return false;
	if ((pp->flags & PROG_FOR_EACH) && !plan_found.sweep)
		return false;
	if ((pp->flags & PROG_DROP_MIB) && !plan_found.drop_reasons)
		return false;
	return true;
}

static int autoload(const struct plan *p, struct tcpaccept_bpf *skel, const struct choice *c)
{
	for (int i = 0; i < p->nprogs; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, p->progs[i].name);

		if (!prog)
			return -ENOENT;
		if (prog_wanted(&p->progs[i], c))
			bpf_program__set_autoload(prog, true);
	}
	return 0;
}

static int size_maps(const struct plan *p, struct tcpaccept_bpf *skel, const struct choice *c)
{
	int err;

	for (int i = 0; i < p->nmaps; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skel->obj, p->maps[i].name);

		if (!map)
			return -ENOENT;
		err = bpf_map__set_max_entries(map, p->maps[i].ways && !(p->maps[i].ways & W(c->way)) ?
						    1 : p->maps[i].entries);
		if (err)
			return err;
	}
	/* The way's own: threads between entry and return. */
	return bpf_map__set_max_entries(skel->maps.inflight,
					ways[c->way].uses_inflight(c) ? THREAD_MAX_ENTRIES : 1);
}

int plan_apply(const struct plan *p, struct tcpaccept_bpf *skel, const struct choice *c)
{
	struct settings *ro = (struct settings *)&skel->rodata->settings;
	int err;

	*ro = p->settings;
	ro->way = (__u8)c->way;
	ro->task_regs = c->task_regs;
	memset(&plan_found, 0, sizeof(plan_found));
	if (p->settings.need_listeners)
		plan_found.sweep = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT,
							   BPF_FUNC_for_each_map_elem, NULL) == 1;
	if (p->settings.drop_rows)
		find_drop_syms(ro, c, p->btf_path);
	ways[c->way].autoload(skel, c);
	err = autoload(p, skel, c);
	if (!err)
		err = size_maps(p, skel, c);
	return err;
}

/* The skeleton's link slot of program @name, which its destroy detaches. */
static struct bpf_link **link_slot(struct tcpaccept_bpf *skel, const char *name)
{
	const struct bpf_object_skeleton *sk = skel->skeleton;

	for (int i = 0; i < sk->prog_cnt; i++)
		if (!strcmp(sk->progs[i].name, name))
			return sk->progs[i].link;
	return NULL;
}

int plan_attach(const struct plan *p, struct tcpaccept_bpf *skel, struct choice *c,
		char *why, size_t len)
{
	for (int i = 0; i < p->nprogs; i++) {
		const struct plan_prog *pp = &p->progs[i];
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, pp->name);
		struct bpf_link **slot = link_slot(skel, pp->name);
		int err = -ENOENT;

		if (!pp->attach || !prog_wanted(pp, c))
			continue;
		/* The function is the section name's last part. */
		if (prog && slot && (pp->flags & PROG_MAXACTIVE))
			err = ways_kretprobe(c, prog, strrchr(bpf_program__section_name(prog), '/') + 1,
					     slot);
		else if (prog && slot)
			err = (*slot = bpf_program__attach(prog)) ? 0 : -errno;
		if (!err)
			continue;
		if (pp->flags & PROG_OPTIONAL) {
			if (verbose)
				warn("failed to attach %s: %s\n", pp->what, kernel_strerror(-err));
			continue;
		}
		snprintf(why, len, "failed to attach %s: %s", pp->what, kernel_strerror(-err));
		return err;
	}
	return 0;
}

void plan_describe(const struct plan *p, const struct choice *c)
{
	const struct settings *s = &p->settings;

	if (!s->need_listeners)
		return;
	if (s->drop_rows && c->way == WAY_TRACEPOINT)
		warn("drops: rows for the final ACKs kfree_skb names (a SYN cookie's from Linux 6.11, a request socket's from 6.15), none at the SYN%s\n",
		     plan_found.cookie_text ? "" : "; no cookie checks in kallsyms: no cookie rows");
	else if (s->drop_rows)
		warn("drops: %s\n", plan_found.drop_reasons ?
		     "a row for each, at the SYN (tcp_conn_request) and the final ACK (tcp_check_req, cookie_v4_check, cookie_v6_check)" :
		     "no rows: no LINUX_MIB indexes in the BTF to tell a drop by");
	warn("drop counts: each listener's own counter, %s\n", plan_found.sweep ?
	     "read anew before each table and metrics write" :
	     "as of the last listen(), accept, drop or close seen (no bpf_for_each_map_elem before Linux 5.13)");
	warn("errors: %s, io_uring's from its completions (Linux 5.19+)\n",
	     c->way == WAY_FEXIT ? "fexit on __sys_accept4" :
	     c->way == WAY_KPROBE ? "a kprobe and a kretprobe on __sys_accept4" :
				    "the accept and accept4 syscall exits");
}
