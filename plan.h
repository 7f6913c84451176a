/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Where the options become a plan for the kernel side: its read-only
 * settings, the programs it loads and attaches beyond the way in's own,
 * the sizes of its maps, and what user space keeps to read them back.
 * Every setup step reads the plan; no other step looks at the options to
 * decide what to load. */
#ifndef TCPACCEPT_PLAN_H
#define TCPACCEPT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "args.h"
#include "tcpaccept.h"

struct tcpaccept_bpf;
struct choice;

#define PLAN_MAX_PROGS 32
#define PLAN_MAX_MAPS 12

/* When a program of the plan is loaded, beyond the options that put it
 * there: */
enum {
	PROG_MAXACTIVE = 1,	/* a kretprobe with ways_kretprobe()'s maxactive */
	PROG_FOR_EACH = 2,	/* only where bpf_for_each_map_elem() is (5.13+) */
	PROG_OPTIONAL = 4,	/* a failed attach is said with -v, not an error */
	PROG_DROP_MIB = 8,	/* only where a drop's reason can be read (kernel_mib_indexes) */
};

/* A program the options need, on top of the way in's own. */
struct plan_prog {
	const char *name;	/* as in tcpaccept.bpf.c */
	const char *what;	/* for messages: "the handshake tracepoint (-q, --metrics)" */
	bool attach;		/* attached with the way in (else loaded for catchup.c) */
	unsigned char ways;	/* 1 << enum way where it is loaded; 0: every way */
	unsigned char flags;	/* PROG_* */
};

struct plan_map {
	const char *name;
	__u32 entries;
	unsigned char ways;	/* 1 << enum way that use it; 0: every way (else 1 entry) */
};

struct plan {
	/* All but the way's own fields (way, task_regs): plan_apply(). */
	struct settings settings;
	struct plan_prog progs[PLAN_MAX_PROGS];
	int nprogs;
	/* Hash maps are allocated in full when created: the ones the plan
	 * does not use get one entry (the programs still name them). */
	struct plan_map maps[PLAN_MAX_MAPS];
	int nmaps;
	/* Counts are read with bpf() after the capability drop, which
	 * takes CAP_BPF before Linux 6.5: it is kept. */
	bool keep_bpf;
	const char *btf_path;	/* --btf: the MIB indexes are read there */
};

/* What plan_apply() found the kernel has for -x, for -v and the docs. */
struct plan_found {
	bool sweep;		/* the counts are read anew before each table (5.13+) */
	bool drop_reasons;	/* fexit, kprobe: the MIB indexes */
	bool cookie_text;	/* tracepoint: where the cookie checks are */
};

extern struct plan_found plan_found;

/* The plan for @cfg (whose -C directory preflight opens, or refuses). */
void plan_make(struct plan *p, const struct config *cfg);

/* Before loading @skel for the way in @c: the settings, with the way's own
 * fields, into its read-only data; the way's programs and the plan's
 * turned on; the maps sized. 0 or a negative error. */
int plan_apply(const struct plan *p, struct tcpaccept_bpf *skel, const struct choice *c);

/* After loading: attaches the plan's programs that attach with the way
 * in. 0, or a negative error with what failed in @why. */
int plan_attach(const struct plan *p, struct tcpaccept_bpf *skel, struct choice *c,
		char *why, size_t len);

/* -v: what -x and --metrics see of failures on the way in @c, after
 * plan_apply(). */
void plan_describe(const struct plan *p, const struct choice *c);

#endif /* TCPACCEPT_PLAN_H */
