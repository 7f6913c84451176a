/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The ways into the kernel: one table (ways.c) says, per way, how it is
 * probed, which BPF programs it loads, how it attaches and detaches,
 * whether it keeps state in the inflight map and whether it misses threads
 * already blocked in accept(). Each way keeps its state in struct choice.
 * tcpaccept.c walks the table; it knows no way by name. */
#ifndef TCPACCEPT_WAYS_H
#define TCPACCEPT_WAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "args.h"
#include "tcpaccept.h"
#include "tracefs.h"

#define ACCEPT_FUNC "inet_csk_accept"
/* kretprobes through kprobe_events at once: inet_csk_accept's, and for
 * -x __sys_accept4's (errors) and the four drop brackets'. */
#define KRETPROBES_MAX 6
/* Room for one reason why a way in was passed over. */
#define WHY_NOT_LEN 192

struct tcpaccept_bpf;

/* The way in that was chosen, what its probe found out, what it holds
 * while attached, and why the ways tried before it were passed over. */
struct choice {
	enum way way;
	int fexit_params;	/* fexit: inet_csk_accept's parameter count */
	bool task_regs;		/* tracepoint: bpf_task_pt_regs() is there */
	/* kprobe: the kretprobes made through kprobe_events */
	struct kretprobe kretprobes[KRETPROBES_MAX];
	int nkretprobes;
	char why_not[NR_WAYS][WHY_NOT_LEN];
};

struct way_ops {
	/* Before anything is loaded, whichever way is chosen (optional). */
	void (*preflight)(void);
	/* Whether this kernel allows the way: true, or false with the
	 * reason in @why. May fill in @c's details for the steps below. */
	bool (*probe)(const struct config *cfg, struct choice *c, char *why, size_t len);
	/* Turns on its programs (all start off but the syscall exit ones). */
	void (*autoload)(struct tcpaccept_bpf *skel, const struct choice *c);
	/* Attaches its programs, exit before entry; 0 or -errno. */
	int (*attach)(struct tcpaccept_bpf *skel, struct choice *c);
	/* Undoes what attach did outside the skeleton (optional; safe to
	 * call twice, and after a failed attach). */
	void (*detach)(struct choice *c);
	/* Its programs pass state from entry to return in the inflight map. */
	bool (*uses_inflight)(const struct choice *c);
	/* A thread blocked in accept() before it attached is never seen
	 * returning: catch-up must report it (catchup.c). */
	bool (*misses_blocked)(const struct choice *c);
	/* Its own programs are the syscall exit tracepoints that catch-up
	 * reports through; otherwise catch-up attaches them for a while. */
	bool owns_syscall_exit;
	/* -v: what follows "way in: NAME" (may print nothing). */
	void (*describe)(const struct choice *c, FILE *f);
};

/* Indexed by enum way; WAY_AUTO's entry is empty. */
extern const struct way_ops ways[NR_WAYS];

/* Every way's preflight. */
void ways_preflight(void);
/* Attaches kretprobe @prog on @func, where threads blocked in @func at
 * once get their returns seen up to the kernel's maxactive limit (through
 * kprobe_events, kept in @c for ways_detach()), or with the kernel's
 * default maxactive into @slot where that fails. 0 or -errno. */
int ways_kretprobe(struct choice *c, struct bpf_program *prog, const char *func,
		   struct bpf_link **slot);
/* The chosen way's detach, if it has one. */
void ways_detach(struct choice *c);

#endif /* TCPACCEPT_WAYS_H */
