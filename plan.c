// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
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
	s->need_listener = s->queue || s->need_listen_stats;
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

static void add_prog(struct plan *p, const char *name, const char *what, bool attach)
{
	p->progs[p->nprogs++] = (struct plan_prog){ name, what, attach };
}

static void add_map(struct plan *p, const char *name, bool used, __u32 entries)
{
	p->maps[p->nmaps++] = (struct plan_map){ name, used ? entries : 1 };
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
	if (handshake)
		add_prog(p, "tp_sock_set_state", "the handshake tracepoint (for -q's and --metrics' wait)",
			 true);
	/* Before the way's: a container made while tcpaccept starts is
	 * seen by the walk after this, or by the tracepoint, or both. */
	if (s->feed_cgroups || s->ncontainers)
		add_prog(p, "raw_cgroup_mkdir", "the cgroup_mkdir tracepoint (cgroup paths, --container)",
			 true);
	if (s->ncontainers)
		add_prog(p, "raw_cgroup_rmdir", "the cgroup_rmdir tracepoint (--container)", true);
	add_map(p, "events", true, s->rows ? cfg->ring_kb * 1024 : RING_MIN_BYTES);
	if (!s->feed_cgroups)
		add_map(p, "cgroups_made", true, RING_MIN_BYTES);
	add_map(p, "handshake_done", handshake, HANDSHAKE_MAX_ENTRIES);
	add_map(p, "metric_totals", s->metrics, cfg->max_series);
	add_map(p, "listen_stats", s->need_listen_stats, cfg->max_series);
	add_map(p, "counts", s->count, COUNT_MAX_ENTRIES);
	add_map(p, "container_cgroups", s->ncontainers, CONTAINER_CGROUPS_MAX);
	p->keep_bpf = cfg->count || cfg->metrics;
}

static int autoload(const struct plan *p, struct tcpaccept_bpf *skel)
{
	for (int i = 0; i < p->nprogs; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, p->progs[i].name);

		if (!prog)
			return -ENOENT;
		bpf_program__set_autoload(prog, true);
	}
	return 0;
}

static int size_maps(const struct plan *p, struct tcpaccept_bpf *skel, bool inflight)
{
	int err;

	for (int i = 0; i < p->nmaps; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skel->obj, p->maps[i].name);

		if (!map)
			return -ENOENT;
		err = bpf_map__set_max_entries(map, p->maps[i].entries);
		if (err)
			return err;
	}
	/* The way's own: threads between entry and return. */
	return bpf_map__set_max_entries(skel->maps.inflight, inflight ? THREAD_MAX_ENTRIES : 1);
}

int plan_apply(const struct plan *p, struct tcpaccept_bpf *skel, const struct choice *c)
{
	struct settings *ro = (struct settings *)&skel->rodata->settings;
	int err;

	*ro = p->settings;
	ro->way = (__u8)c->way;
	ro->task_regs = c->task_regs;
	ways[c->way].autoload(skel, c);
	err = autoload(p, skel);
	if (!err)
		err = size_maps(p, skel, ways[c->way].uses_inflight(c));
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

int plan_attach(const struct plan *p, struct tcpaccept_bpf *skel, char *why, size_t len)
{
	for (int i = 0; i < p->nprogs; i++) {
		const struct plan_prog *pp = &p->progs[i];
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, pp->name);
		struct bpf_link **slot = link_slot(skel, pp->name);
		int err;

		if (!pp->attach)
			continue;
		if (prog && slot) {
			*slot = bpf_program__attach(prog);
			if (*slot)
				continue;
		}
		err = prog && slot ? -errno : -ENOENT;
		snprintf(why, len, "failed to attach %s: %s", pp->what, kernel_strerror(-err));
		return err;
	}
	return 0;
}
