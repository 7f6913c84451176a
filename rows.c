// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "clocks.h"
#include "identity.h"
#include "log.h"
#include "output.h"
#include "rows.h"
#include "tcpaccept.skel.h"

static int handle_record(void *ctx, void *data, size_t size)
{
	struct rows *r = ctx;
	struct event e;
	size_t room;
	char *buf;

	if (!fmt_decode(data, size, &r->parts, &e))
		return 0;	/* cannot happen: both sides build from tcpaccept.h */
	if (r->parts.identity && r->ids)
		identity_names(r->ids, e.cgroup_id, &e.names);
	buf = output_reserve(&room);
	if (output_closed() || output_failed())
		return -EPIPE;	/* stop consuming */
	output_commit(fmt_event(&r->fmt, &e, buf, room));
	return 0;
}

static __s64 mono_to_real_ns(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (real.tv_sec - mono.tv_sec) * (__s64)NSEC_PER_SEC + (real.tv_nsec - mono.tv_nsec);
}

int rows_open(struct rows *r, struct tcpaccept_bpf *skel, const struct config *cfg,
	      const struct settings *settings, struct identity *ids)
{
	memset(r, 0, sizeof(*r));
	r->skel = skel;
	r->ids = ids;
	r->parts.queue = settings->queue;
	r->parts.identity = settings->need_service;
	fmt_init(&r->fmt, cfg->wallclock, cfg->timestamp, mono_to_real_ns());
	r->fmt.json = cfg->json;
	r->fmt.print_uid = cfg->print_uid;
	r->fmt.queue = cfg->queue;
	r->fmt.wide = cfg->wide;
	r->fmt.print_proto = cfg->print_proto;
	r->fmt.failed = cfg->failed;
	r->fmt.print_service = cfg->print_service;
	r->rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_record, r, NULL);
	if (!r->rb) {
		warn("failed to create the ring buffer reader: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

void rows_close(struct rows *r)
{
	ring_buffer__free(r->rb);
	r->rb = NULL;
}

void rows_header(struct rows *r)
{
	size_t room;
	char *buf = output_reserve(&room);

	output_commit(fmt_header(&r->fmt, buf, room));
}

int rows_poll(struct rows *r, int timeout_ms)
{
	int err = ring_buffer__poll(r->rb, timeout_ms);

	/* Records submitted without a wakeup wait for the timeout. */
	if (err == 0)
		err = ring_buffer__consume(r->rb);
	identity_drain(r->ids);
	if (err < 0 && err != -EINTR && err != -EPIPE) {
		warn("failed to read the ring buffer: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

void rows_drain(struct rows *r)
{
	ring_buffer__consume(r->rb);
}

void rows_report_lost(struct rows *r, bool at_exit)
{
	__u64 lost = __atomic_load_n(&r->skel->bss->lost, __ATOMIC_RELAXED);

	if (lost != r->lost_reported)
		warn("lost %llu events (ring buffer full; a larger --ring-kb helps)\n",
		     (unsigned long long)(lost - r->lost_reported));
	r->lost_reported = lost;
	if (at_exit && lost)
		warn("lost %llu events in total\n", (unsigned long long)lost);
}
