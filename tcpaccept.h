/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What tcpaccept.bpf.c (kernel side) and user space share: the settings
 * the kernel side is loaded with, the records it sends, the map keys and
 * values. Fixed-width types only; the layouts are pinned below, so both
 * compilations agree or neither builds. */
#ifndef TCPACCEPT_H
#define TCPACCEPT_H

#define TASK_COMM_LEN 16

/* Map sizes: the kernel side declares them, plan.c resizes the maps the
 * options leave unused and names the limits in its messages. */
#define THREAD_MAX_ENTRIES 10240	/* inflight, catchup: threads inside accept() */
#define COUNT_MAX_ENTRIES 10240		/* -c: keys of the count table */
#define HANDSHAKE_MAX_ENTRIES 65536	/* -q: children between handshake and accept */
#define DEFAULT_MAX_SERIES 4096		/* --metrics-max-series */
#define LISTENERS_MAX_ENTRIES 16384	/* -x, --metrics: listeners met, and closed ones */

/* -P: one bit per local port. */
#define PORT_BITS_BYTES (65536 / 8)

/* --container: how many ID prefixes, how many hex digits in a full ID,
 * how many cgroups of matching containers the kernel side keeps. */
#define CONTAINERS_MAX 8
#define CONTAINER_DIGITS 64
#define CONTAINER_CGROUPS_MAX 4096

/* The ways into the kernel, in the order that auto tries them: X(enum,
 * name). ways.c says how each is probed, loaded and attached; adding one
 * is an entry here, one there, and its BPF programs. */
#define FOR_EACH_WAY(X)				\
	X(WAY_FEXIT, "fexit")			\
	X(WAY_KPROBE, "kprobe")			\
	X(WAY_TRACEPOINT, "tracepoint")

#define WAY_ENUM(id, name) id,
/* WAY_AUTO is the command line's "try each in turn"; no program is it. */
enum way {
	WAY_AUTO,
	FOR_EACH_WAY(WAY_ENUM)
	NR_WAYS
};
#undef WAY_ENUM

/* The kinds of event a record can be: X(enum, JSON "event" value, the -c
 * column that counts them, its -c -j key, what it is: KIND_* below). The
 * kernel side reports a kind through the one path in tcpaccept.bpf.c
 * (report()); format.c and tables.c print every kind listed here. A drop
 * is a connection attempt the listener dropped (the kernel's
 * ListenDrops); an error, an accept() call that failed. */
#define KIND_FAILED	1	/* rows only with -x or -a; -c -x's column */
#define KIND_NO_TASK	2	/* no task did it (softirq): PID and COMM the listener's owner's, no TID */
#define KIND_NO_CLIENT	4	/* no client: RADDR and RPORT "-" */
#define KIND_REASON	8	/* code: enum drop_reason (REASON, "reason") */
#define KIND_ERRNO	16	/* code: the errno (REASON, "errno", the errno label) */

#define FOR_EACH_KIND(X)								\
	X(EVENT_ACCEPT, "accept", "ACCEPTS", "accepts", 0)				\
	X(EVENT_DROP, "drop", "DROPS", "drops", KIND_FAILED | KIND_NO_TASK | KIND_REASON)	\
	X(EVENT_ERROR, "error", "ERRORS", "errors", KIND_FAILED | KIND_NO_CLIENT | KIND_ERRNO)

#define KIND_ENUM(id, name, column, key, traits) id,
enum event_kind {
	FOR_EACH_KIND(KIND_ENUM)
	NR_EVENT_KINDS
};
#undef KIND_ENUM

/* Why a listener dropped a connection attempt: X(enum, JSON "reason").
 * fexit and kprobe tell by which of the kernel's counters the drop moved;
 * the tracepoint way by kfree_skb's reason (tcpaccept.8 says which is
 * which). */
#define FOR_EACH_DROP_REASON(X)					\
	X(DROP_ACCEPT_QUEUE_FULL, "accept_queue_full")		\
	X(DROP_SYN_QUEUE_FULL, "syn_queue_full")		\
	X(DROP_OTHER, "other")					\
	X(DROP_COOKIE_ACK, "cookie_ack_dropped")

#define REASON_ENUM(id, name) id,
enum drop_reason {
	FOR_EACH_DROP_REASON(REASON_ENUM)
	NR_DROP_REASONS
};
#undef REASON_ENUM

/* Where in the handshake a drop came. */
enum drop_stage {
	STAGE_SYN = 0,
	STAGE_ACK = 1,		/* the final ACK */
};

/* What the accepted socket is (what SO_PROTOCOL says of the accepted fd):
 * an MPTCP listener whose client fell back to plain TCP hands out a TCP
 * socket. */
enum accept_proto {
	PROTO_TCP = 0,
	PROTO_MPTCP = 1,
};

/* The kernel side's read-only data (.rodata), one struct that plan.c fills
 * from the options before loading; the verifier sees the values and drops
 * the code they turn off. A field an option sets bears the option's name
 * (struct config's); need_* are what the plan derives. 0 means "not
 * given" or "off". */
struct settings {
	__u8 port_bits[PORT_BITS_BYTES];	/* -P, when filter_ports */
	/* --container: ncontainers ID prefixes, container_len[i] lowercase
	 * hex digits each (no NUL). */
	char containers[CONTAINERS_MAX][CONTAINER_DIGITS];
	__u8 container_len[CONTAINERS_MAX];
	__u32 pid;		/* -p: this thread group only */
	__u32 uid;		/* -u, when filter_uid */
	/* Wake the reader only when this much data waits; otherwise it drains
	 * on its poll timeout. 0 wakes it for every record. */
	__u32 wakeup_bytes;
	/* The PID namespace tcpaccept's /proc numbers processes in (its inode
	 * number), where it is not the initial one: PIDs are shown, and -p
	 * compared, as it numbers them; tasks outside it are not traced. */
	__u32 pidns;
	/* --netns: the accepted socket's network namespace's inode number. */
	__u32 netns;
	__u16 family;		/* -4/-6: AF_INET or AF_INET6, the socket's */
	__u16 client_family;	/* --client-family: AF_INET or AF_INET6 */
	__u8 filter_uid;
	__u8 filter_ports;
	__u8 filter_cgroup;	/* -C: the cgroup in cgroup_map[0] */
	__u8 count;		/* -c: count in the counts map, send nothing */
	__u8 queue;		/* -q: the listener's backlog and the wait in records */
	__u8 metrics;		/* --metrics: count in metric_totals */
	__u8 rows;		/* send a record per event */
	__u8 need_listen_stats;	/* the per-listener histogram and backlog (listen_stats) */
	__u8 need_listener;	/* read the listening socket (-q, listen_stats) */
	__u8 need_time;		/* the clock in records (-t, -T, -j) */
	__u8 need_ids;		/* UID and network namespace in records (-U, -j) */
	__u8 way;		/* enum way: the way in this object is loaded for */
	/* The listening fd from the task's registers at syscall exit
	 * (bpf_task_pt_regs, 5.15+), not from sys_enter. */
	__u8 task_regs;
	__u8 need_service;	/* the identity part in records (-j, -S) */
	__u8 need_cgroup;	/* the cgroup v2 ID is read (need_service, count_cgroup) */
	__u8 need_namespaces;	/* nspid, pidns and mntns in the identity part (-j) */
	/* cgroup_mkdir sends each new cgroup v2 directory's ID and path
	 * (struct cgroup_made) to cgroups_made. */
	__u8 feed_cgroups;
	__u8 count_cgroup;	/* -c -S: counts per cgroup too (count_key's labels.cgroup) */
	/* --container: the task's cgroup, or one above it, is in
	 * container_cgroups; cgroup_mkdir adds new containers' there. */
	__u8 ncontainers;
	/* --metrics-labels: metric_totals' keys have the cgroup ID. */
	__u8 metrics_cgroup;
	/* -x and -a: failed passive connections (drops, accept() errors). */
	__u8 failed;
	__u8 failed_only;	/* -x without -a: no rows of accepts */
	/* The listeners map (owner, drop counter): -x, --metrics. */
	__u8 need_listeners;
	__u8 drop_rows;		/* rows of drops: their programs are attached */
	/* --- -x: what plan.c found in the running kernel --- */
	/* The text of cookie_v4_check() and cookie_v6_check(): [start, end)
	 * each, from kallsyms (the tracepoint way's cookie ACK drops). */
	__u64 cookie_text[4];
	__u32 self_pid;		/* tcpaccept's tgid: its listen(-1) sweeps the listeners */
	/* The LINUX_MIB_* indexes (an anonymous enum: found by name). */
	__u16 mib_listen_drops;
	__u16 mib_listen_overflows;
	__u16 mib_reqq_full_drop;
	__u8 pad[6];
};

/* One event, as the kernel side sends it: a struct event_head, then with
 * a struct event_queue (an accept, with -q) or a struct event_failure (a
 * drop or an error), with need_service a struct event_identity, then the local and
 * the remote address, ADDR4_LEN bytes each for AF_INET and ADDR6_LEN for
 * AF_INET6, in network byte order. Kept small because the kernel side's
 * cost per event grows with the cache lines it writes into the ring buffer: an IPv4
 * accept without -q is one 64-byte line with the ring's own header
 * (asserted below). Ports are in host byte order. */
struct event_head {
	__u64 ts_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns), if need_time */
	__u32 pid;		/* tgid of the process */
	__u32 tid;		/* its thread */
	__u32 uid;		/* if need_ids */
	__u32 netns;		/* network namespace inode number, if need_ids */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 lport;		/* from the listening socket */
	__u16 rport;
	__u8 proto;		/* enum accept_proto */
	__u8 kind;		/* enum event_kind */
	char comm[TASK_COMM_LEN];
};

/* After the head of a drop or an error. */
struct event_failure {
	__u16 code;		/* EVENT_DROP: enum drop_reason; EVENT_ERROR: the errno */
	__u8 stage;		/* EVENT_DROP: enum drop_stage */
	__u8 owner_known;	/* EVENT_DROP: pid and comm are the listener's owner */
	__u32 pad;
};

/* -q, after the head of an accept. */
struct event_queue {
	__u32 backlog_len;	/* listener's accept queue after this accept */
	__u32 backlog_max;
	__u64 wait_ns;		/* handshake done -> accepted; WAIT_UNKNOWN if not seen */
};

/* With need_service: where the event belongs beyond its PIDs. 0 is
 * "unknown" in each field (null in -j): a kernel ID, inode or PID is
 * never 0. */
struct event_identity {
	/* The cgroup v2 ID (the directory's inode number) of the task; of
	 * the listener's socket where there is no task (a drop). */
	__u64 cgroup_id;
	__u32 nspid;		/* the process's PID in its own PID namespace (need_namespaces) */
	__u32 pidns;		/* that namespace's inode number */
	__u32 mntns;		/* the task's mount namespace's inode number */
	__u32 pad;
};

#define WAIT_UNKNOWN (~0ULL)
#define ADDR4_LEN 4
#define ADDR6_LEN 16
/* The ring buffer's header before each record (BPF_RINGBUF_HDR_SZ). */
#define RINGBUF_HDR_LEN 8

/* The size of a record of @kind with addresses of @alen bytes each, sent
 * under settings' @queue and @service (need_service). */
#define RECORD_SIZE(kind, queue, service, alen)					\
	(sizeof(struct event_head) +						\
	 ((kind) == EVENT_ACCEPT && (queue) ? sizeof(struct event_queue) : 0) +	\
	 ((kind) != EVENT_ACCEPT ? sizeof(struct event_failure) : 0) +		\
	 ((service) ? sizeof(struct event_identity) : 0) +			\
	 2 * (alen))

_Static_assert(sizeof(struct event_head) == 48, "struct event_head is 48 bytes");
_Static_assert(__builtin_offsetof(struct event_head, family) == 24 &&
	       __builtin_offsetof(struct event_head, kind) == 31 &&
	       __builtin_offsetof(struct event_head, comm) == 32, "struct event_head's layout");
_Static_assert(sizeof(struct event_queue) == 16, "struct event_queue is 16 bytes");
_Static_assert(sizeof(struct event_failure) == 8, "struct event_failure is 8 bytes");
_Static_assert(sizeof(struct event_identity) == 24, "struct event_identity is 24 bytes");
_Static_assert(RECORD_SIZE(EVENT_ACCEPT, 0, 0, ADDR4_LEN) + RINGBUF_HDR_LEN == 64,
	       "an IPv4 accept without -q and the identity fills one 64-byte cache line");
_Static_assert(sizeof(struct settings) ==
	       PORT_BITS_BYTES + CONTAINERS_MAX * (CONTAINER_DIGITS + 1) + 96,
	       "struct settings has no hidden padding");

/* A cgroup v2 directory the kernel just made, as cgroup_mkdir sends it: its
 * ID, then its path from the hierarchy's root (what /proc/PID/cgroup's 0::
 * line says of a task there, outside cgroup namespaces), NUL-terminated. */
#define CGROUP_PATH_MAX 4096	/* PATH_MAX */
#define CGROUPS_MADE_BYTES (256 * 1024)	/* the ring of them */
struct cgroup_made {
	__u64 id;
	char path[CGROUP_PATH_MAX];
};

/* Who accepted, on which local address: what --metrics counts accepts by
 * (no PID: bounded labels), and -c with the PID. */
struct accept_labels {
	__u64 cgroup;		/* the cgroup v2 ID where the options count by it, else 0 */
	__u16 family;
	__u16 lport;
	__u8 laddr[16];
	char comm[TASK_COMM_LEN];
	__u8 proto;		/* enum accept_proto: TCP and MPTCP apart */
	__u8 pad;
	__u16 err;		/* --metrics' errors: the errno (0 in -c's keys) */
};

/* -c: what events are counted by, and their counts by kind. */
struct count_key {
	__u32 pid;
	__u32 pad;
	struct accept_labels labels;
};

struct count_value {
	__u64 events[NR_EVENT_KINDS];	/* enum event_kind */
};

_Static_assert(sizeof(struct accept_labels) == 48, "struct accept_labels is 48 bytes");
_Static_assert(sizeof(struct count_key) == 56, "struct count_key is 56 bytes");

/* --metrics and -c -q: one entry per local address and port. */
struct listen_key {
	__u16 family;
	__u16 lport;
	__u8 laddr[16];
};

/* Log2 slots of the wait in microseconds: slot i holds [2^i, 2^(i+1)) us
 * (slot 0 also holds 0), the last slot everything from 2^(WAIT_SLOTS-1). */
#define WAIT_SLOTS 32

struct listen_stats {
	__u64 slots[WAIT_SLOTS];
	__u64 wait_sum_ns;	/* over the accepts in slots */
	__u64 wait_count;
	__u64 wait_unknown;	/* accepts whose handshake was not seen */
	__u32 backlog;		/* accept queue after the last accept */
	__u32 backlog_max;	/* the listener's limit */
	__u32 peak;		/* largest backlog seen in metrics_epoch peak_epoch */
	__u32 peak_epoch;
};

/* -x and --metrics: a listener met (at listen(), an accept() return, a
 * drop), by its TCP socket's address. Its own drop counter, sk_drops, is
 * read whenever it is met, at close and when tcpaccept sweeps; user space
 * takes base from the last read (tables.c). */
struct listener {
	__u64 base;		/* sk_drops when first met (0 from listen()) */
	__u64 drops;		/* sk_drops at the last read */
	__u64 born_ns;		/* when first met: a reused address is a new listener */
	/* The owner (the last process that called listen() or accept() on
	 * it; pid 0 while unknown) and the listener's own labels. */
	struct count_key key;
	__u8 closed;		/* in closed_listeners: drops is final */
	__u8 pad[3];
};

/* A closed listener, until user space takes it: the socket's address is
 * free for the next listener at once. */
struct closed_key {
	__u64 addr;
	__u64 born_ns;
};

_Static_assert(sizeof(struct listener) == 88, "struct listener is 88 bytes");

#endif /* TCPACCEPT_H */
