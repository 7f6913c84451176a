/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* tracefs: where it is, and kretprobes made through its kprobe_events,
 * which (unlike libbpf 1.1) can set maxactive. */
#ifndef TCPACCEPT_TRACEFS_H
#define TCPACCEPT_TRACEFS_H

#include <stdbool.h>

struct bpf_program;
struct bpf_link;
struct perf_event_attr;

/* kprobe_events groups are named this, then the PID. */
#define KPROBE_GROUP_PREFIX "tcpaccept_"

/* The tracefs directory, mounting tracefs on /sys/kernel/tracing if none is
 * mounted; NULL (errno set) if that fails. */
const char *tracefs_dir(void);

/* Writes one command to kprobe_events; 0 or -errno. */
int tracefs_kprobe_events_write(const char *cmd);
bool tracefs_kprobe_events_exist(void);

/* The first number in file @path. 0 or -errno. */
int tracefs_read_int(const char *path, int *value);
/* tracefs_perf_event_open(2) for this process on any CPU; the fd or -errno. */
int tracefs_perf_event_open(struct perf_event_attr *attr);

/* A kretprobe created through kprobe_events: maxactive is how many calls
 * of the function may be pending at once before returns go unseen. */
struct kretprobe {
	struct bpf_link *link;
	char group[32];
	char event[64];
};

int tracefs_kretprobe_attach(struct bpf_program *prog, const char *func,
		     int maxactive, struct kretprobe *krp);
/* Detaches and deletes the tracefs event; safe to call twice. */
void tracefs_kretprobe_detach(struct kretprobe *krp);

/* Deletes kprobe events left by tcpaccept processes that no longer exist
 * (killed with SIGKILL). */
void tracefs_kretprobe_remove_stale(void);

#endif /* TCPACCEPT_TRACEFS_H */
