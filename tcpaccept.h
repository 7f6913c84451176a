/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Types shared by tcpaccept.bpf.c (kernel side) and tcpaccept.c (user side). */
#ifndef TCPACCEPT_H
#define TCPACCEPT_H

#define TASK_COMM_LEN 16

/* Map sizes: the kernel side declares them, the user side resizes the maps
 * the options leave unused and names the limits in its messages. */
#define THREAD_MAX_ENTRIES 10240	/* inflight, catchup: threads inside accept() */
#define COUNT_MAX_ENTRIES 10240		/* -c: keys of the count table */
#define HANDSHAKE_MAX_ENTRIES 65536	/* -q: children between handshake and accept */
#define DEFAULT_MAX_SERIES 4096		/* --metrics-max-series */

/* A number as a string literal, for messages: STR(COUNT_MAX_ENTRIES). */
#define STR_(x) #x
#define STR(x) STR_(x)

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

/* What the accepted socket is (what SO_PROTOCOL says of the accepted fd):
 * an MPTCP listener whose client fell back to plain TCP hands out a TCP
 * socket. */
enum accept_proto {
	PROTO_TCP = 0,
	PROTO_MPTCP = 1,
};

/* One successful accept(), as the kernel side sends it: a struct
 * event_head, then with -q a struct event_queue, then the local and the
 * remote address, 4 bytes each for AF_INET and 16 for AF_INET6, in network
 * byte order. Kept this small because the kernel side's cost per event
 * grows with the cache lines it writes into the ring buffer: an IPv4 record
 * without -q is 56 bytes, one 64-byte line with the ring's 8-byte record
 * header (bench/README.md has the figures). Ports are in host byte order. */
struct event_head {
	__u64 ts_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) at return */
	__u32 pid;		/* tgid of the process that accepted */
	__u32 tid;		/* the thread that accepted */
	__u32 uid;
	__u32 netns;		/* network namespace inode number */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 lport;		/* from the listening socket */
	__u16 rport;
	__u8 proto;		/* enum accept_proto */
	__u8 pad;		/* zero */
	char comm[TASK_COMM_LEN];
};

/* -q only */
struct event_queue {
	__u32 backlog_len;	/* listener's accept queue after this accept */
	__u32 backlog_max;
	__u64 wait_ns;		/* handshake done -> accepted; WAIT_UNKNOWN if not seen */
};

#define WAIT_UNKNOWN (~0ULL)

/* Who accepted, on which local address: what --metrics counts accepts by
 * (no PID: bounded labels), and -c with the PID. */
struct accept_labels {
	__u16 family;
	__u16 lport;
	__u8 laddr[16];
	char comm[TASK_COMM_LEN];
	__u8 proto;		/* enum accept_proto: TCP and MPTCP apart */
	__u8 pad[3];
};

/* -c: what accepts are counted by. */
struct count_key {
	__u32 pid;
	struct accept_labels labels;
};

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

#endif /* TCPACCEPT_H */
