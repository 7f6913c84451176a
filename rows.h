/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* From records to rows: the ring buffer reader, which decodes each record
 * the kernel side sends, formats it (format.c) and buffers the line
 * (output.c); the header; and the records the kernel side had no room
 * for. */
#ifndef TCPACCEPT_ROWS_H
#define TCPACCEPT_ROWS_H

#include <stdbool.h>
#include <linux/types.h>
#include "args.h"
#include "format.h"

struct tcpaccept_bpf;
struct ring_buffer;
struct identity;

struct rows {
	struct ring_buffer *rb;
	struct fmt_state fmt;	/* the -c tables print with it too */
	struct fmt_parts parts;	/* what the records hold */
	struct identity *ids;	/* names the records' cgroups; NULL: none */
	struct tcpaccept_bpf *skel;
	__u64 lost_reported;
};

/* Sets up formatting for @cfg and the reader of @skel's ring buffer (which
 * asks the kernel about the map: before the capability drop), whose
 * records @settings shaped; @ids names their cgroups if they carry them.
 * 0 or -1 (said). */
int rows_open(struct rows *r, struct tcpaccept_bpf *skel, const struct config *cfg,
	      const struct settings *settings, struct identity *ids);
void rows_close(struct rows *r);

/* The column header (nothing for JSON), into the output buffer. */
void rows_header(struct rows *r);

/* Waits up to @timeout_ms for records and formats every one waiting.
 * 0, or -errno if reading the ring buffer failed (said). */
int rows_poll(struct rows *r, int timeout_ms);
/* Formats whatever is still waiting (at exit). */
void rows_drain(struct rows *r);

/* "lost N events" since the last report, and at exit the total. */
void rows_report_lost(struct rows *r, bool at_exit);

#endif /* TCPACCEPT_ROWS_H */
