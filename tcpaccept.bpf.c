// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcpaccept: the kernel side. Three ways in report the same event:
 *   fexit on inet_csk_accept()              (BPF trampolines, 5.5+)
 *   kprobe + kretprobe on inet_csk_accept() (where fexit is refused)
 *   syscalls:sys_exit_accept{,4} tracepoints (where neither is allowed)
 * ways.c picks one at run time and plan.c loads only the programs it and the
 * options need (every program is optional: SEC("?...")).
 *
 * Every event takes one path: a program finds its sockets and fills a
 * struct sighting, then report() filters on the socket, accounts (counts,
 * metrics, listener stats) and sends a record. The task filters run first
 * in each program, before it spends anything on finding sockets.
 *
 * -x adds two kinds of event on the same path: a drop (a connection
 * attempt the listener dropped: fexit or kprobe around tcp_conn_request(),
 * tcp_check_req() and cookie_v{4,6}_check(), or the tracepoint way's
 * skb:kfree_skb) and an error (a failed accept(): the syscall exit, every
 * way). Each listener met is kept in the listeners map with its owner and
 * its own drop counter, which the counts read.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpaccept.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IPPROTO_MPTCP	262
#define S_IFMT		0170000
#define S_IFSOCK	0140000
#define TCP_ESTABLISHED	1
#define TCP_SYN_RECV	3
#define PF_IO_WORKER	0x00000010
#define IORING_OP_ACCEPT 13
#define TCP_CLOSE	7
#define TCP_LISTEN	10
#define ETH_P_IP	0x0800
#define EINTR		4
#define EBADF		9
#define EAGAIN		11
/* Kernel-internal: a blocking accept() that a signal interrupted, seen at
 * the syscall exit before the signal code turns it into EINTR or a restart. */
#define ERESTARTSYS	512
#define ERESTARTNOINTR	513
#define ERESTARTNOHAND	514
#define ERESTART_RESTARTBLOCK 516
#define MAX_PID_NS_LEVEL 32	/* the kernel's: levels 0..32 */
#define MAX_CGROUP_DEPTH 32	/* --container: cgroups checked, the task's and above */

/* Everything the options decide, set by plan.c before load (tcpaccept.h). */
const volatile struct settings settings = {};

/* Events dropped because the ring buffer was full; read by tcpaccept.c. */
__u64 lost = 0;
/* Set by catchup.c while the catchup map below is not empty, with the
 * number of its entries; catchup.c watches it fall to 0 without a bpf()
 * call, which it may no longer be allowed to make. */
bool catchup_active = false;
__u32 catchup_pending = 0;
/* -c: keys that did not fit in the counts map. */
__u64 count_overflow = 0;
/* --metrics: accepts that found metric_totals or listen_stats full (the
 * series cap). */
__u64 metric_overflow = 0;
__u64 listen_overflow = 0;
/* -x, --metrics: listeners not kept because the listeners map was full. */
__u64 listeners_overflow = 0;
/* Bumped by tables.c after each metrics write: listen_stats' peak
 * starts over in each interval. */
__u32 metrics_epoch = 0;
/* The value a new listen_stats entry starts from (too large for the stack). */
struct listen_stats zero_listen_stats = {};
/* New cgroups whose path cgroups_made had no room for. */
__u64 cgroups_lost = 0;
/* --container: new containers' cgroups container_cgroups had no room for. */
__u64 container_cgroups_full = 0;
/* settings.pidns: accept() calls of tasks outside it, not traced. */
__u64 outside_pidns = 0;
/* The level of settings.pidns, learnt from the first task seen in it:
 * user space inside it cannot tell (its /proc shows only the namespace's
 * own PIDs), and a namespace's level never changes. ~0: not yet. */
__u32 pidns_level = ~0U;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);	/* resized by plan.c */
} events SEC(".maps");

/* Per thread, from entry to return: the listening socket (kprobe way) or
 * the listening fd (tracepoint way without task_regs). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, THREAD_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} inflight SEC(".maps");

/* -C: the cgroup v2 directory to trace, at index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_map SEC(".maps");

/* -c: events per (PID, COMM, IP, PROTO, LADDR, LPORT) and kind, counted in
 * the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COUNT_MAX_ENTRIES);
	__type(key, struct count_key);
	__type(value, struct count_value);
} counts SEC(".maps");

/* --metrics: events since start per (COMM, IP, PROTO, LADDR, LPORT) and
 * kind; never reset, as Prometheus counters want. Sized to
 * --metrics-max-series. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_SERIES);
	__type(key, struct accept_labels);
	__type(value, struct count_value);
} metric_totals SEC(".maps");

/* --metrics and -c -q: wait histogram and backlog per (LADDR, LPORT),
 * cumulative; -c -i prints the difference between two reads. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_SERIES);
	__type(key, struct listen_key);
	__type(value, struct listen_stats);
} listen_stats SEC(".maps");

/* -q: when each child socket completed its handshake (SYN_RECV ->
 * ESTABLISHED), by socket address; LRU so that children never accepted
 * (the listener closed first) age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HANDSHAKE_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
} handshake_done SEC(".maps");

/* --container: the cgroups of the containers whose IDs the prefixes
 * start, their own directories (a container's sub-cgroups, and containers
 * nested in it, match through their ancestors): from identity.c's walk at
 * start, then from cgroup_mkdir as containers are made; cgroup_rmdir
 * takes them out. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONTAINER_CGROUPS_MAX);	/* resized by plan.c */
	__type(key, __u64);
	__type(value, __u8);
} container_cgroups SEC(".maps");

/* feed_cgroups: struct cgroup_made records, read by identity.c; room for
 * 63 between two reads, 100 ms apart. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CGROUPS_MADE_BYTES);	/* resized by plan.c */
} cgroups_made SEC(".maps");

/* Threads that were already inside accept() when tcpaccept attached, with
 * their listening fd, found by catchup.c in /proc/PID/task/TID/syscall.
 * fexit and kretprobe never see those calls return (the function was
 * entered before the probe existed: bcc #2165), so the syscall exit
 * programs report them; a call that fexit or kretprobe did see removes its
 * thread's entry first. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, THREAD_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} catchup SEC(".maps");

/* -x, --metrics: every listener met (struct listener), by the address of
 * its TCP socket (an MPTCP listener's listening subflow). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LISTENERS_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct listener);
} listeners SEC(".maps");

/* -c -x, --metrics: listeners closed since user space last read them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LISTENERS_MAX_ENTRIES);
	__type(key, struct closed_key);
	__type(value, struct listener);
} closed_listeners SEC(".maps");

/* -x on fexit and kprobe: this CPU's listen-drop counters when the
 * bracketed function was entered. */
struct drop_snap {
	__u64 sk, skb;
	__u64 mib;		/* this CPU's struct linux_mib; 0: inactive */
	__u64 v[3];		/* ListenDrops, ListenOverflows, TCPReqQFullDrop */
};

/* Slots per CPU: stage * 2 + depth. The receive path runs in softirq or
 * with BH off; a listener's backlog runs in process context, where a
 * softirq may run another bracket inside: depth 1. */
#define SNAP_SLOTS 4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SNAP_SLOTS);
	__type(key, __u32);
	__type(value, struct drop_snap);
} drop_snaps SEC(".maps");

/* -x on the kprobe way: the listening fd per thread from __sys_accept4()'s
 * entry to its return (inflight is the way's own). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, THREAD_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} accept_fds SEC(".maps");
/* --- the tracer's PID namespace ------------------------------------------------ */

/* The number @pid has in settings.pidns; 0 if none (its task is outside:
 * in an ancestor or a sibling namespace). A task of a namespace nested in
 * it has one, as ps there shows it. */
static __always_inline __u32 pid_in_view(struct pid *pid)
{
	unsigned int level = BPF_CORE_READ(pid, level), want = pidns_level;
	struct upid up = {};

	if (want == ~0U) {
		for (int i = 0; i <= MAX_PID_NS_LEVEL; i++) {
			if (i > level)
				return 0;
			bpf_core_read(&up, sizeof(up), &pid->numbers[i]);
			if (BPF_CORE_READ(up.ns, ns.inum) == settings.pidns) {
				pidns_level = i;
				return up.nr;
			}
		}
		return 0;
	}
	if (want > level || want > MAX_PID_NS_LEVEL)
		return 0;
	bpf_core_read(&up, sizeof(up), &pid->numbers[want]);
	return BPF_CORE_READ(up.ns, ns.inum) == settings.pidns ? up.nr : 0;
}

/* @pid_tgid (the current task's) as settings.pidns numbers it; false if
 * the task is outside. Unchanged without settings.pidns. */
static __always_inline bool to_view(__u64 *pid_tgid)
{
	struct task_struct *task;
	__u32 tgid;

	if (!settings.pidns)
		return true;
	task = (struct task_struct *)bpf_get_current_task();
	tgid = pid_in_view(BPF_CORE_READ(task, group_leader, thread_pid));
	if (!tgid)
		return false;
	*pid_tgid = (__u64)tgid << 32 | pid_in_view(BPF_CORE_READ(task, thread_pid));
	return true;
}

/* catchup's key for the current thread: its ID as catchup.c's /proc
 * shows it (0: it shows none). */
static __always_inline __u32 catchup_tid(__u64 pid_tgid)
{
	return to_view(&pid_tgid) ? (__u32)pid_tgid : 0;
}

static __always_inline void forget_catchup(__u32 tid)
{
	if (bpf_map_delete_elem(&catchup, &tid) == 0)
		__sync_fetch_and_add(&catchup_pending, -1);
}

static __always_inline void seen_by_probe(__u64 pid_tgid)
{
	if (catchup_active)
		forget_catchup(catchup_tid(pid_tgid));
}


/* --- what a program found -------------------------------------------------- */

/* One passive connection's moment, as a program found it: what report()
 * filters, accounts and sends. */
struct sighting {
	struct sock *sk;	/* the socket accept() hands out: TCP, or MPTCP */
	/* The TCP socket that did sk's handshake; NULL: sk's own, or an
	 * MPTCP socket's first subflow. */
	struct sock *flow;
	/* The TCP listener (an MPTCP one's listening subflow); NULL unless
	 * settings.need_listener. */
	struct sock *listener;
	__u64 pid_tgid;
	struct sk_buff *skb;	/* EVENT_DROP: the SYN or ACK dropped */
	__u16 code;		/* EVENT_DROP: enum drop_reason; EVENT_ERROR: errno */
	__u8 stage;		/* EVENT_DROP: enum drop_stage */
	__u8 kind;		/* enum event_kind */
	bool maybe_worker;	/* see current_comm() */
	/* No task did this (a drop, in softirq): the current task is
	 * whoever was interrupted. The PID, name and UID are the listener's
	 * owner's (struct listener); who the event belongs to beyond them
	 * comes from the listener's socket (listener, else sk): its cgroup;
	 * no PID namespace or mount namespace (see event_cgroup_id(),
	 * fill_identity()). */
	bool no_task;
};

/* What the socket filters learnt, for the steps after them. */
struct conn {
	__u64 now;		/* bpf_ktime_get_ns(), where a step reads it */
	__u64 cgroup_id;	/* settings.need_cgroup: event_cgroup_id() */
	__u64 wait_ns;		/* -q and listen_stats: see queue_wait() */
	struct listener *entry;	/* need_listeners: the listener's, if kept */
	__u16 family;
	__u16 lport;
	__u8 proto;		/* enum accept_proto */
};

/* --- --container ------------------------------------------------------------- */

/* @cg, or a cgroup above it, is a matching container's. */
static __always_inline bool in_container(struct cgroup *cg)
{
	__u64 id;

	for (int i = 0; i < MAX_CGROUP_DEPTH && cg; i++) {
		id = BPF_CORE_READ(cg, kn, id);
		if (bpf_map_lookup_elem(&container_cgroups, &id))
			return true;
		cg = BPF_CORE_READ(cg, self.parent, cgroup);
	}
	return false;
}

static __always_inline bool current_in_container(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return in_container(BPF_CORE_READ(task, cgroups, dfl_cgrp));
}

/* --- step 1, in each program: the filters on the task ----------------------- */

/* -p, -u, -C, --container and the tracer's PID namespace: false if the
 * current task is not traced. @pid_tgid becomes its IDs as the tracer's
 * /proc shows them. */
static __always_inline bool task_passes(__u64 *pid_tgid)
{
	if (!to_view(pid_tgid)) {
		__sync_fetch_and_add(&outside_pidns, 1);
		return false;
	}
	if (settings.pid && (__u32)(*pid_tgid >> 32) != settings.pid)
		return false;
	if (settings.filter_uid && (__u32)bpf_get_current_uid_gid() != settings.uid)
		return false;
	if (settings.filter_cgroup && bpf_current_task_under_cgroup(&cgroup_map, 0) != 1)
		return false;
	if (settings.ncontainers && !current_in_container())
		return false;
	return true;
}

/* --- step 2: the filters on the socket -------------------------------------- */

static __always_inline bool port_passes(__u16 lport)
{
	__u32 i = lport;

	if (!settings.filter_ports)
		return true;
	/* The port comes out of a byte swap, whose result the 5.10 and 6.1
	 * verifiers leave unbounded: bound the index again (the barrier
	 * keeps clang from dropping the mask). */
	barrier_var(i);
	i &= 0xffff;
	return settings.port_bits[i >> 3] & (1 << (i & 7));
}

/* The client's own family: an IPv4 client of a dual-stack listener is an
 * AF_INET6 socket whose peer is ::ffff:a.b.c.d. */
static __always_inline __u16 client_family(struct sock *sk, __u16 family)
{
	__u32 a[4];

	if (family == AF_INET)
		return AF_INET;
	bpf_core_read(a, sizeof(a), &sk->__sk_common.skc_v6_daddr);
	return !a[0] && !a[1] && a[2] == bpf_htonl(0xffff) ? AF_INET : AF_INET6;
}

/* The local port of @sk, a socket accept() hands out: its inet_sport,
 * which a client's reset before accept() leaves alone (skc_num it
 * clears). */
static __always_inline __u16 local_port(struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
}

static __always_inline bool packet_is_ipv4(struct sk_buff *skb)
{
	return bpf_ntohs(BPF_CORE_READ(skb, protocol)) == ETH_P_IP;
}

/* The client's family of sighting @s on a socket of @family: a drop's is
 * its packet's; an error has no client (0). */
static __always_inline __u16 client_of(const struct sighting *s, __u16 family)
{
	if (s->kind == EVENT_ACCEPT)
		return client_family(s->sk, family);
	if (s->kind == EVENT_DROP)
		return packet_is_ipv4(s->skb) ? AF_INET : AF_INET6;
	return 0;
}

/* --netns, -4/-6, and TCP or MPTCP only (SCTP's one-to-one sockets, and
 * any other stream protocol that accept()s, are not shown), of @sk: what
 * accept() hands out or is called on. Fills @c's family and proto. A drop
 * or an error is the listener's: it belongs to the listener's network
 * namespace. */
static __always_inline bool sock_passes(struct sock *sk, struct conn *c)
{
	__u16 protocol;

	if (settings.netns && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != settings.netns)
		return false;
	c->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (c->family != AF_INET && c->family != AF_INET6)
		return false;
	if (settings.family && c->family != settings.family)
		return false;
	protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	c->proto = protocol == IPPROTO_MPTCP ? PROTO_MPTCP : PROTO_TCP;
	return protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP;
}

/* A listener's labels into @c and the filters on them: -P and
 * sock_passes(). @listener is the TCP socket (its skc_num is set), @sk
 * what accept() is called on (an MPTCP listener, or @listener). */
static __always_inline bool listener_passes(struct sock *listener, struct sock *sk, struct conn *c)
{
	c->lport = BPF_CORE_READ(listener, __sk_common.skc_num);
	return port_passes(c->lport) && sock_passes(sk, c);
}

/* -P, --client-family and sock_passes() for sighting @s. Fills @c's
 * family, port and proto. */
static __always_inline bool socket_passes(const struct sighting *s, struct conn *c)
{
	__u16 client;

	if (s->kind == EVENT_ACCEPT) {
		c->lport = local_port(s->sk);
		if (!port_passes(c->lport) || !sock_passes(s->sk, c))
			return false;
	} else if (!listener_passes(s->listener, s->sk, c)) {
		return false;	/* a drop or an error has only the listener */
	}
	if (!settings.client_family)
		return true;
	/* An error has no client: --client-family does not hide it. */
	client = client_of(s, c->family);
	return !client || client == settings.client_family;
}

/* --- MPTCP ----------------------------------------------------------------- */

/* The MPTCP socket that accept() hands out for @sk, a child that
 * inet_csk_accept() returned; NULL if @sk is a plain TCP socket: a TCP
 * client's, or an MPTCP client's that fell back to TCP (its subflow context
 * is dropped and is_mptcp cleared: subflow_ulp_fallback()). */
static __always_inline struct sock *mptcp_of_subflow(struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct mptcp_subflow_context *ctx;

	if (!bpf_core_field_exists(tp->is_mptcp) ||
	    !bpf_core_type_exists(struct mptcp_subflow_context))
		return NULL;
	if (!BPF_CORE_READ_BITFIELD_PROBED(tp, is_mptcp))
		return NULL;
	ctx = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_ulp_data);
	return BPF_CORE_READ(ctx, conn);
}

/* The TCP socket under an MPTCP socket @sk: a listener's listening subflow
 * (the accept queue is there), a connection's initial subflow (the
 * handshake was there); @sk itself if the kernel does not say. */
static __always_inline struct sock *mptcp_first(struct sock *sk)
{
	struct mptcp_sock *msk = (struct mptcp_sock *)sk;
	struct sock *first;

	if (!bpf_core_field_exists(msk->first))
		return sk;
	first = BPF_CORE_READ(msk, first);
	return first ? first : sk;
}

/* The TCP listener behind the listening socket @sk. */
static __always_inline struct sock *tcp_listener(struct sock *sk)
{
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_MPTCP)
		return mptcp_first(sk);
	return sk;
}

/* --- who the event belongs to: its cgroup -------------------------------------- */

/* The cgroup v2 directory @sk was made in. Before 5.15 (8520e224f547, in
 * 5.10.y too) sk_cgrp_data was a union whose u64 is the pointer unless bit
 * 0 says that v1 net_prio/net_cls data took its place: then unknown. */
static __always_inline struct cgroup *sock_cgroup(struct sock *sk)
{
	struct sock___old *old = (void *)sk;
	__u64 val;

	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	val = BPF_CORE_READ(old, sk_cgrp_data.val);
	return val & 1 ? NULL : (struct cgroup *)val;
}

/* The socket that says who a sighting without a task belongs to. */
static __always_inline struct sock *owner_socket(const struct sighting *s)
{
	return s->listener ? s->listener : s->sk;
}

/* The cgroup ID of the task, or without one of the listener's socket (a
 * socket keeps the cgroup it was made in: a socket-activated listener's
 * is systemd's); 0 if unknown. */
static __always_inline __u64 event_cgroup_id(const struct sighting *s)
{
	if (!s->no_task)
		return bpf_get_current_cgroup_id();
	return BPF_CORE_READ(sock_cgroup(owner_socket(s)), kn, id);
}

/* --- step 3: accounting ------------------------------------------------------ */

/* -q: how long @flow, the TCP socket that did a handshake, waited in the
 * accept queue since it completed it; WAIT_UNKNOWN if that was not seen.
 * A Fast Open child is queued before its handshake completes (in
 * SYN_RECV): there is no such time, and an entry left by an earlier socket
 * at the same address must not be taken for it. */
static __always_inline __u64 queue_wait(struct sock *flow, __u64 now)
{
	__u64 key = (__u64)flow, *done, wait = WAIT_UNKNOWN;

	if (BPF_CORE_READ(flow, __sk_common.skc_state) == TCP_SYN_RECV)
		return WAIT_UNKNOWN;
	done = bpf_map_lookup_elem(&handshake_done, &key);
	if (done) {
		if (*done <= now)
			wait = now - *done;
		bpf_map_delete_elem(&handshake_done, &key);
	}
	return wait;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (__u32)(v >> 1);
}

/* Adds one event of @kind to @key's counts in @map (values: struct
 * count_value), creating them if absent; false if the map is full. */
static __always_inline bool count_in(void *map, void *key, __u8 kind)
{
	struct count_value one = {}, *v;

	if (kind >= NR_EVENT_KINDS)
		return false;
	v = bpf_map_lookup_elem(map, key);
	if (!v) {
		one.events[kind] = 1;
		if (bpf_map_update_elem(map, key, &one, BPF_NOEXIST) == 0)
			return true;
		/* Another CPU added the key meanwhile, or the map is full. */
		v = bpf_map_lookup_elem(map, key);
		if (!v)
			return false;
	}
	__sync_fetch_and_add(&v->events[kind], 1);
	return true;
}

/* The name to show for the current task. An io_uring accept may run in an
 * io-wq worker thread ("iou-wrk-1234", 5.12+), whose process is the one
 * that asked for it: show that process's name. A syscall's task is never
 * such a worker (@maybe_worker false): one helper call, no task read. */
static __always_inline void current_comm(char comm[TASK_COMM_LEN], bool maybe_worker)
{
	struct task_struct *task;

	if (maybe_worker) {
		task = (struct task_struct *)bpf_get_current_task();
		if (BPF_CORE_READ(task, flags) & PF_IO_WORKER) {
			BPF_CORE_READ_STR_INTO(comm, task, group_leader, comm);
			return;
		}
	}
	bpf_get_current_comm(comm, TASK_COMM_LEN);
}

static __always_inline void read_laddr(struct sock *sk, __u16 family, __u8 laddr[16])
{
	if (family == AF_INET)
		BPF_CORE_READ_INTO((__u32 *)laddr, sk, __sk_common.skc_rcv_saddr);
	else	/* ::ffff:a.b.c.d for an IPv4 client of a dual-stack listener */
		bpf_core_read(laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
}

/* -c and --metrics: the event counted by its labels (read once for both),
 * -c's with the PID too. */
static __always_inline void count_labels(const struct sighting *s, const struct conn *c)
{
	struct count_key key = {};

	key.pid = s->pid_tgid >> 32;
	key.labels.family = c->family;
	key.labels.lport = c->lport;
	key.labels.proto = c->proto;
	/* An error has no connection: the listener's address. */
	read_laddr(s->kind == EVENT_ACCEPT ? s->sk : s->listener, c->family, key.labels.laddr);
	current_comm(key.labels.comm, s->maybe_worker);
	key.labels.cgroup = settings.metrics_cgroup ? c->cgroup_id : 0;
	key.labels.err = s->kind == EVENT_ERROR ? s->code : 0;
	if (settings.metrics && !count_in(&metric_totals, &key.labels, s->kind))
		__sync_fetch_and_add(&metric_overflow, 1);
	key.labels.cgroup = settings.count_cgroup ? c->cgroup_id : 0;
	key.labels.err = 0;	/* -c counts a listener's errors together */
	if (settings.count && !count_in(&counts, &key, s->kind))
		__sync_fetch_and_add(&count_overflow, 1);
}

/* --- listeners: the owner and the drop counter ------------------------------- */

/* The listener's own drop counter, as sk_drops_read() reads it (6.18's
 * per-NUMA counters are UDP's and raw sockets', NULL for TCP). */
static __always_inline __u64 sk_drops(struct sock *sk)
{
	struct numa_drop_counters *ndc;

	if (bpf_core_field_exists(sk->sk_drop_counters)) {
		ndc = BPF_CORE_READ(sk, sk_drop_counters);
		if (ndc)
			return (__u32)BPF_CORE_READ(ndc, drops0.counter) +
			       (__u32)BPF_CORE_READ(ndc, drops1.counter);
	}
	return (__u32)BPF_CORE_READ(sk, sk_drops.counter);
}

/* Options that leave tasks out: a drop, which has none, shows only on a
 * listener that a task they let in met (its owner). */
static __always_inline bool task_filtered(void)
{
	return settings.pid || settings.filter_uid || settings.filter_cgroup || settings.pidns;
}

/* A new entry for the listener of @s: its labels, the current task as its
 * owner, the drop counter's base. A drop seen first is not a task's: with
 * -p, -u or -C only a task that passes them adds a listener. */
static __always_inline struct listener *listener_add(const struct sighting *s,
						     const struct conn *c, __u64 now_drops)
{
	__u64 key = (__u64)s->listener;
	struct listener *l, fresh = {};

	if (s->no_task && task_filtered())
		return NULL;
	/* The drop reported now is one of those counted from here on. */
	fresh.base = now_drops - (s->kind == EVENT_DROP && now_drops);
	fresh.drops = now_drops;
	fresh.born_ns = bpf_ktime_get_ns();
	fresh.key.labels.family = c->family;
	fresh.key.labels.lport = c->lport;
	fresh.key.labels.proto = c->proto;
	/* -c -S: the drops on the row of the listener's cgroup, which its
	 * server's accepts have where it made the socket itself. */
	if (settings.count_cgroup) {
		struct cgroup *cg = sock_cgroup(s->listener);

		fresh.key.labels.cgroup = BPF_CORE_READ(cg, kn, id);
	}
	read_laddr(s->listener, c->family, fresh.key.labels.laddr);
	bpf_map_update_elem(&listeners, &key, &fresh, BPF_NOEXIST);
	l = bpf_map_lookup_elem(&listeners, &key);
	if (!l)
		__sync_fetch_and_add(&listeners_overflow, 1);
	return l;
}

/* The listener of @s met: its entry (made if new) with the drop counter
 * read now and, if a task met it, that task as the owner. */
static __always_inline struct listener *listener_meet(const struct sighting *s,
						      const struct conn *c)
{
	__u64 key = (__u64)s->listener, now = sk_drops(s->listener);
	struct listener *l = bpf_map_lookup_elem(&listeners, &key);

	if (!l)
		l = listener_add(s, c, now);
	if (!l)
		return NULL;
	/* Reads race: keep the largest; the sweep before each count and
	 * the close make it exact. */
	if (now > l->drops)
		l->drops = now;
	if (!s->no_task) {
		/* A zeroed copy: bpf_get_current_comm() with a plain strscpy()
		 * (6.1 here; 5.10's strncpy and 6.12 pad) leaves a longer old
		 * name's bytes after the NUL, and the name is part of the -c
		 * and --metrics keys. */
		char comm[TASK_COMM_LEN] = {};

		current_comm(comm, s->maybe_worker);
		l->key.pid = s->pid_tgid >> 32;
		__builtin_memcpy(l->key.labels.comm, comm, TASK_COMM_LEN);
	}
	return l;
}

/* The listener's entry in listen_stats, created if absent; NULL if the map
 * is full. */
static __always_inline struct listen_stats *listen_entry(const struct sighting *s,
							 const struct conn *c)
{
	struct listen_key key = {};
	struct listen_stats *st;

	key.family = c->family;
	key.lport = c->lport;
	read_laddr(s->sk, c->family, key.laddr);
	st = bpf_map_lookup_elem(&listen_stats, &key);
	if (st)
		return st;
	bpf_map_update_elem(&listen_stats, &key, &zero_listen_stats, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&listen_stats, &key);
	if (!st)
		__sync_fetch_and_add(&listen_overflow, 1);
	return st;
}

/* The wait in the listener's histogram, its backlog in the gauges. */
static __always_inline void record_listen(const struct sighting *s, const struct conn *c)
{
	struct listen_stats *st = listen_entry(s, c);
	struct sock *listener = s->listener;
	__u32 backlog, epoch, slot;

	if (!st)
		return;
	if (c->wait_ns == WAIT_UNKNOWN) {
		__sync_fetch_and_add(&st->wait_unknown, 1);
	} else {
		slot = log2_u64(c->wait_ns / 1000);
		if (slot >= WAIT_SLOTS)
			slot = WAIT_SLOTS - 1;
		/* For the verifier, which loses the bound above in a copy;
		 * the barrier keeps clang from dropping the mask. */
		barrier_var(slot);
		slot &= WAIT_SLOTS - 1;
		__sync_fetch_and_add(&st->slots[slot], 1);
		__sync_fetch_and_add(&st->wait_sum_ns, c->wait_ns);
		__sync_fetch_and_add(&st->wait_count, 1);
	}
	/* Gauges: the last writer wins, as it would for any sample. */
	backlog = BPF_CORE_READ(listener, sk_ack_backlog);
	st->backlog = backlog;
	st->backlog_max = BPF_CORE_READ(listener, sk_max_ack_backlog);
	epoch = metrics_epoch;
	if (st->peak_epoch != epoch || backlog > st->peak) {
		st->peak = backlog;
		st->peak_epoch = epoch;
	}
}

/* The clock and the wait where a step reads them, then the maps the
 * options asked for. */
/* The clock and the wait where a step reads them, the listener met, then
 * the maps the options asked for. False: no row (a drop on a listener that
 * -p, -u or -C leave out). */
static __always_inline bool account(const struct sighting *s, struct conn *c)
{
	struct sock *flow = s->flow;
	bool accept = s->kind == EVENT_ACCEPT;

	c->now = 0;
	if (settings.queue || settings.need_listen_stats || settings.need_time)
		c->now = bpf_ktime_get_ns();
	c->wait_ns = WAIT_UNKNOWN;
	if (accept && (settings.queue || settings.need_listen_stats)) {
		if (!flow)
			flow = c->proto == PROTO_MPTCP ? mptcp_first(s->sk) : s->sk;
		c->wait_ns = queue_wait(flow, c->now);
	}
	c->entry = NULL;
	if (settings.need_listeners) {
		c->entry = listener_meet(s, c);
		if (!c->entry && s->no_task && task_filtered())
			return false;
	}
	/* A listener's drops are counted from its own counter (tables.c). */
	if (s->kind == EVENT_DROP)
		return true;
	if (settings.metrics || settings.count)
		count_labels(s, c);
	if (accept && settings.need_listen_stats)
		record_listen(s, c);
	return true;
}

/* --- step 4: the record ------------------------------------------------------ */

/* The flag for submitting a record of @len bytes (with the ring's header),
 * just reserved: wake the reader when this record takes the unread data
 * past wakeup_bytes, once, not for every record after it (each wakeup
 * queues an irq_work, an interrupt); from twice that on, always, in case
 * another CPU's record hid the crossing. */
static __always_inline __u64 wakeup_flag(__u32 len)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u32 wakeup = settings.wakeup_bytes;

	if (avail >= wakeup && (avail < wakeup + len || avail >= 2 * wakeup))
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Who: the task, or for a drop the listener's owner (pid 0 while unknown)
 * and the UID of the listener's socket. */
static __always_inline void fill_task(struct event_head *h, const struct sighting *s,
				      const struct conn *c)
{
	const struct listener *l = c->entry;
	struct sock *listener = s->listener;	/* CO-RE reads take a plain pointer */

	h->uid = 0;
	if (!s->no_task) {
		h->pid = s->pid_tgid >> 32;
		h->tid = (__u32)s->pid_tgid;
		if (settings.need_ids)
			h->uid = (__u32)bpf_get_current_uid_gid();
		current_comm(h->comm, s->maybe_worker);
		return;
	}
	h->pid = l ? l->key.pid : 0;
	h->tid = 0;
	if (settings.need_ids)
		h->uid = BPF_CORE_READ(listener, sk_uid.val);
	if (l)
		__builtin_memcpy(h->comm, l->key.labels.comm, TASK_COMM_LEN);
	else
		__builtin_memset(h->comm, 0, TASK_COMM_LEN);
}

/* The TCP source port of a dropped packet. */
static __always_inline __u16 packet_sport(struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__be16 sport = 0;

	bpf_probe_read_kernel(&sport, sizeof(sport), head + BPF_CORE_READ(skb, transport_header));
	return bpf_ntohs(sport);
}

static __always_inline void fill_head(struct event_head *h, const struct sighting *s,
				      const struct conn *c)
{
	struct sock *sk = s->sk;

	h->ts_ns = c->now;
	fill_task(h, s, c);
	h->netns = 0;
	if (settings.need_ids)
		h->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	h->family = c->family;
	h->lport = c->lport;
	if (s->kind == EVENT_ACCEPT)
		h->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	else
		h->rport = s->kind == EVENT_DROP ? packet_sport(s->skb) : 0;
	h->proto = c->proto;
	h->kind = s->kind;
}

static __always_inline void fill_failure(struct event_failure *f, const struct sighting *s,
					 const struct conn *c)
{
	f->code = s->code;
	f->stage = s->stage;
	f->owner_known = s->no_task && c->entry && c->entry->key.pid;
	f->pad = 0;
}

/* A drop's addresses: the listener's, then the client's from the packet
 * (an IPv4 one as ::ffff:a.b.c.d on an IPv6 listener, as accept() would
 * show it); an error's: the listener's, and none. */
static __always_inline void read_failure_addrs(__u8 *addrs, const struct sighting *s,
					       const __u32 alen)
{
	struct sock *listener = s->listener;
	struct sk_buff *skb = s->skb;
	__u8 *raddr = addrs + alen;
	unsigned char *nh;

	if (alen == ADDR4_LEN)
		BPF_CORE_READ_INTO((__u32 *)addrs, listener, __sk_common.skc_rcv_saddr);
	else
		bpf_core_read(addrs, ADDR6_LEN, &listener->__sk_common.skc_v6_rcv_saddr);
	__builtin_memset(raddr, 0, alen);
	if (s->kind != EVENT_DROP)
		return;
	nh = BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, network_header);
	if (!packet_is_ipv4(skb)) {
		if (alen == ADDR6_LEN)
			bpf_probe_read_kernel(raddr, ADDR6_LEN, nh + 8);	/* saddr */
		return;
	}
	if (alen == ADDR4_LEN) {
		bpf_probe_read_kernel(raddr, ADDR4_LEN, nh + 12);	/* saddr */
		return;
	}
	raddr[10] = raddr[11] = 0xff;
	bpf_probe_read_kernel(raddr + 12, ADDR4_LEN, nh + 12);
}

/* The identity part (need_service): the cgroup, and with need_namespaces
 * the process's PID in its own namespace (the last field of NSpid), that
 * namespace and the mount namespace; 0 where there is no task. */
static __always_inline void fill_identity(struct event_identity *id, const struct sighting *s,
					  const struct conn *c)
{
	struct task_struct *task;
	struct upid up = {};
	unsigned int level;
	struct pid *pid;

	id->cgroup_id = c->cgroup_id;
	id->nspid = id->pidns = id->mntns = id->pad = 0;
	if (!settings.need_namespaces || s->no_task)
		return;
	task = (struct task_struct *)bpf_get_current_task();
	pid = BPF_CORE_READ(task, group_leader, thread_pid);
	level = BPF_CORE_READ(pid, level);
	if (level <= MAX_PID_NS_LEVEL) {
		bpf_core_read(&up, sizeof(up), &pid->numbers[level]);
		id->nspid = up.nr;
		id->pidns = BPF_CORE_READ(up.ns, ns.inum);
	}
	id->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* -q: the listener's queue, read after the accept took the child off it. */
static __always_inline void fill_queue(struct event_queue *q, const struct sighting *s,
				       const struct conn *c)
{
	struct sock *listener = s->listener;

	q->backlog_len = BPF_CORE_READ(listener, sk_ack_backlog);
	q->backlog_max = BPF_CORE_READ(listener, sk_max_ack_backlog);
	q->wait_ns = c->wait_ns;
}

/* The local, then the remote address of @sk, @alen bytes each (an IPv4
 * client of a dual-stack listener has ::ffff:a.b.c.d in the IPv6 ones). */
static __always_inline void read_addrs(__u8 *addrs, struct sock *sk, const __u32 alen)
{
	if (alen == ADDR4_LEN) {
		BPF_CORE_READ_INTO((__u32 *)addrs, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)(addrs + ADDR4_LEN), sk, __sk_common.skc_daddr);
	} else {
		bpf_core_read(addrs, ADDR6_LEN, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(addrs + ADDR6_LEN, ADDR6_LEN, &sk->__sk_common.skc_v6_daddr);
	}
}

/* The record (tcpaccept.h) with addresses of @alen bytes. send() inlines
 * it once per family, so that each copy reserves a constant size, as
 * bpf_ringbuf_reserve() needs, and writes its own addresses: with one
 * reserve and a second test of the family, the 5.10 and 6.1 verifiers do
 * not tie the record's size to that test and refuse the IPv6 write into an
 * IPv4-sized record. */
static __always_inline void send_record(const struct sighting *s, const struct conn *c,
					const __u8 kind, const __u32 alen)
{
	const __u32 size = RECORD_SIZE(kind, settings.queue, settings.need_service, alen);
	struct event_head *h = bpf_ringbuf_reserve(&events, size, 0);
	__u8 *addrs;

	if (!h) {
		__sync_fetch_and_add(&lost, 1);
		return;
	}
	fill_head(h, s, c);
	addrs = (__u8 *)h + size - 2 * alen;
	if (settings.need_service)
		fill_identity((struct event_identity *)(addrs - sizeof(struct event_identity)), s, c);
	if (kind == EVENT_ACCEPT) {
		if (settings.queue)
			fill_queue((struct event_queue *)(h + 1), s, c);
		read_addrs(addrs, s->sk, alen);
	} else {
		fill_failure((struct event_failure *)(h + 1), s, c);
		read_failure_addrs(addrs, s, alen);
	}
	bpf_ringbuf_submit(h, wakeup_flag(size + RINGBUF_HDR_LEN));
}

/* One copy per kind and family: each reserves a constant size. */
static __always_inline void send_kind(const struct sighting *s, const struct conn *c,
				      const __u8 kind)
{
	if (c->family == AF_INET)
		send_record(s, c, kind, ADDR4_LEN);
	else
		send_record(s, c, kind, ADDR6_LEN);
}

#define SEND_KIND(id, name, column, key, traits)	\
	if (s->kind == id) {				\
		send_kind(s, c, id);			\
		return;					\
	}

static __always_inline void send(const struct sighting *s, const struct conn *c)
{
	FOR_EACH_KIND(SEND_KIND)
}
#undef SEND_KIND

/* -x shows failures only, -a accepts and failures, neither accepts only. */
static __always_inline bool wants_row(__u8 kind)
{
	if (!settings.rows)
		return false;
	return kind == EVENT_ACCEPT ? !settings.failed_only : settings.failed;
}

/* --- the path -------------------------------------------------------------- */

/* What every program hands its sighting to, once the task filters passed. */
static __always_inline int report(const struct sighting *s)
{
	struct conn c;

	/* Without a task, task_passes() could not ask: the socket's cgroup. */
	if (s->no_task && settings.ncontainers && !in_container(sock_cgroup(owner_socket(s))))
		return 0;
	if (!socket_passes(s, &c))
		return 0;
	c.cgroup_id = settings.need_cgroup ? event_cgroup_id(s) : 0;
	if (account(s, &c) && wants_row(s->kind))
		send(s, &c);
	return 0;
}

/* --- fexit --------------------------------------------------------------- */

/* inet_csk_accept() took @newsk off @listener's queue. For an MPTCP
 * connection both are TCP subflows: report the MPTCP socket, once. */
static __always_inline int report_accepted(__u64 pid_tgid, struct sock *listener,
					   struct sock *newsk)
{
	struct sock *msk = mptcp_of_subflow(newsk);
	struct sighting s = {
		.sk = msk ? msk : newsk,
		.flow = newsk,
		.listener = listener,
		.pid_tgid = pid_tgid,
		.kind = EVENT_ACCEPT,
		.maybe_worker = true,
	};

	return report(&s);
}

/* Linux 6.10 (92ef0fd55ac8) changed inet_csk_accept(sk, flags, err, kern) to
 * inet_csk_accept(sk, arg), which moves the return value's ctx slot. The
 * verifier bounds ctx access by the function's argument count, so each
 * signature gets its own program and ways.c loads the one that matches the
 * kernel's BTF. */
SEC("?fexit/inet_csk_accept")
int BPF_PROG(fexit_accept_pre610, struct sock *sk, int flags, int *err,
	     bool kern, struct sock *newsk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	seen_by_probe(pid_tgid);
	if (!newsk || !task_passes(&pid_tgid))
		return 0;
	return report_accepted(pid_tgid, sk, newsk);
}

SEC("?fexit/inet_csk_accept")
int BPF_PROG(fexit_accept, struct sock *sk, struct proto_accept_arg *arg,
	     struct sock *newsk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	seen_by_probe(pid_tgid);
	if (!newsk || !task_passes(&pid_tgid))
		return 0;
	return report_accepted(pid_tgid, sk, newsk);
}

/* --- kprobe -------------------------------------------------------------- */

SEC("?kprobe/inet_csk_accept")
int BPF_KPROBE(kprobe_accept, struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 listener = (__u64)sk;

	if (!task_passes(&pid_tgid))
		return 0;
	bpf_map_update_elem(&inflight, &tid, &listener, BPF_ANY);
	return 0;
}

SEC("?kretprobe/inet_csk_accept")
int BPF_KRETPROBE(kretprobe_accept, struct sock *newsk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct sock *listener;
	__u64 *slot;

	seen_by_probe(pid_tgid);
	slot = bpf_map_lookup_elem(&inflight, &tid);
	if (!slot)
		return 0;
	listener = (struct sock *)*slot;
	bpf_map_delete_elem(&inflight, &tid);
	/* The entry's task_passes() let it in: its IDs as the tracer sees them. */
	if (!newsk || !to_view(&pid_tgid))
		return 0;
	return report_accepted(pid_tgid, listener, newsk);
}

/* --- syscall tracepoints -------------------------------------------------- */

/* The tracepoint way's programs; with fexit or kprobe, the exit programs
 * stay attached only while the catchup map is not empty. */

/* The syscalls:* tracepoint records (see events/syscalls/.../format): an
 * 8-byte common header, the syscall number, then 8-byte slots. */
struct syscall_enter_ctx {
	__u64 common;
	long syscall_nr;
	unsigned long args[6];
};

struct syscall_exit_ctx {
	__u64 common;
	long syscall_nr;
	long ret;
};

/* The current task's open files, read once for both fds. */
struct fd_array {
	struct file **fd;
	unsigned int max_fds;
};

static __always_inline void current_fds(struct fd_array *fds)
{
	/* Probe reads, not bpf_get_current_task_btf()'s plain loads: those
	 * are a little faster per accept but make each program's
	 * verification, and so the start-up, slower (bench/README.md). */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);

	fds->fd = BPF_CORE_READ(fdt, fd);
	fds->max_fds = BPF_CORE_READ(fdt, max_fds);
}

/* The struct sock behind file descriptor @fd, or NULL if @fd is not a
 * socket. */
static __always_inline struct sock *sock_from_fd(const struct fd_array *fds, long fd)
{
	struct file *file;
	struct socket *sock;

	if (fd < 0 || fd >= fds->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds->fd[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The TCP listener behind the listening fd, if the plan reads it;
 * false if the plan does and the fd is no socket. */
static __always_inline bool listener_of_fd(const struct fd_array *fds, long listen_fd,
					   struct sock **listener)
{
	*listener = NULL;
	if (!settings.need_listener)
		return true;
	*listener = sock_from_fd(fds, listen_fd);
	if (!*listener)
		return false;
	*listener = tcp_listener(*listener);
	return true;
}

static __always_inline int on_accept_enter(long listen_fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 fd = listen_fd;

	if (!task_passes(&pid_tgid))
		return 0;
	bpf_map_update_elem(&inflight, &tid, &fd, BPF_ANY);
	return 0;
}

/* The tracepoint way with task_regs: accept()'s listening fd from the
 * task's saved registers; -1 if the plan does not read the listener. */
static __always_inline long listen_fd_from_regs(void)
{
	struct pt_regs *regs;

	if (!settings.need_listener)
		return -1;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return PT_REGS_PARM1_CORE_SYSCALL(regs);
}

/* Takes the thread's entry out of inflight (the tracepoint way's
 * sys_enter) or else catchup, with the listening fd it holds; false if it
 * has none. */
static __always_inline bool take_listen_fd(__u64 pid_tgid, long *listen_fd)
{
	__u32 tid = (__u32)pid_tgid;
	__u64 *slot = NULL;

	if (settings.way == WAY_TRACEPOINT)
		slot = bpf_map_lookup_elem(&inflight, &tid);
	if (slot) {
		*listen_fd = *slot;
		bpf_map_delete_elem(&inflight, &tid);
		return true;
	}
	if (!catchup_active)
		return false;
	tid = catchup_tid(pid_tgid);
	slot = bpf_map_lookup_elem(&catchup, &tid);
	if (!slot)
		return false;
	*listen_fd = *slot;
	forget_catchup(tid);
	return true;
}

/* --- -x: accept() calls that failed ---------------------------------------- */

/* What a server meets in normal work: a non-blocking accept() with nothing
 * queued, and a signal. */
static __always_inline bool normal_failure(long ret)
{
	return ret == -EAGAIN || ret == -EINTR || ret == -ERESTARTSYS || ret == -ERESTARTNOINTR ||
	       ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK;
}

/* An accept() on @sk by the current task (@pid_tgid, as task_passes()
 * left it) returned @ret < 0: an error row for a TCP or MPTCP listener;
 * its owner either way. */
static __always_inline int report_failed_on(struct sock *sk, long ret, __u64 pid_tgid,
					    bool maybe_worker)
{
	struct sock *listener = tcp_listener(sk);
	struct sighting s = {
		.sk = sk,
		.listener = listener,
		.pid_tgid = pid_tgid,
		.code = (__u16)-ret,
		.kind = EVENT_ERROR,
		.maybe_worker = maybe_worker,
	};
	struct conn c;

	if (BPF_CORE_READ(listener, __sk_common.skc_state) != TCP_LISTEN)
		return 0;	/* not a listener: nothing to keep, no row */
	if (!normal_failure(ret))
		return report(&s);
	/* Not a row; the caller still owns the listener. */
	if (listener_passes(listener, sk, &c))
		listener_meet(&s, &c);
	return 0;
}

static __always_inline int report_failed(const struct fd_array *fds, long listen_fd, long ret,
					 __u64 pid_tgid)
{
	struct sock *sk = sock_from_fd(fds, listen_fd);

	return sk ? report_failed_on(sk, ret, pid_tgid, false) : 0;
}

static __always_inline int on_accept_exit(long ret)
{
	struct sighting s = { .kind = EVENT_ACCEPT };
	struct fd_array fds;
	long listen_fd;

	s.pid_tgid = bpf_get_current_pid_tgid();
	if (settings.way == WAY_TRACEPOINT && settings.task_regs) {
		if ((ret < 0 && !settings.need_listeners) || !task_passes(&s.pid_tgid))
			return 0;
		listen_fd = listen_fd_from_regs();
	} else {
		/* The entry out first, filtered or not: none is left behind. */
		if (!take_listen_fd(s.pid_tgid, &listen_fd))
			return 0;
		if ((ret < 0 && !settings.need_listeners) || !task_passes(&s.pid_tgid))
			return 0;
	}
	current_fds(&fds);
	if (ret < 0)
		return settings.way == WAY_TRACEPOINT ? report_failed(&fds, listen_fd, ret, s.pid_tgid) : 0;
	if (!listener_of_fd(&fds, listen_fd, &s.listener))
		return 0;
	s.sk = sock_from_fd(&fds, ret);
	if (!s.sk)
		return 0;
	return report(&s);
}

/* @enter_prog and @enter_prog##4 on the accept() and accept4() syscalls'
 * entries, calling @on_enter(the listening fd); @exit_prog and
 * @exit_prog##4 on their exits, calling @on_exit(the result). */
#define ACCEPT_SYSCALL_PROGS(enter_prog, on_enter, exit_prog, on_exit)	\
	SEC("?tracepoint/syscalls/sys_enter_accept")				\
	int enter_prog(struct syscall_enter_ctx *ctx)				\
	{									\
		return on_enter(ctx->args[0]);					\
	}									\
	SEC("?tracepoint/syscalls/sys_enter_accept4")				\
	int enter_prog##4(struct syscall_enter_ctx *ctx)			\
	{									\
		return on_enter(ctx->args[0]);					\
	}									\
	SEC("?tracepoint/syscalls/sys_exit_accept")				\
	int exit_prog(struct syscall_exit_ctx *ctx)				\
	{									\
		return on_exit(ctx->ret);					\
	}									\
	SEC("?tracepoint/syscalls/sys_exit_accept4")				\
	int exit_prog##4(struct syscall_exit_ctx *ctx)				\
	{									\
		return on_exit(ctx->ret);					\
	}

ACCEPT_SYSCALL_PROGS(tp_enter_accept, on_accept_enter, tp_exit_accept, on_accept_exit)

/* The tracepoint way's view of io_uring: IORING_OP_ACCEPT makes no accept()
 * syscall, but its completion is traced with the request, whose file is
 * the listener, and the new fd as result. The request pointer in the
 * record dates from Linux 5.19 (io_uring tracepoint rework); before, this
 * program finds no req field and does nothing. Fixed-file (direct) accepts
 * return a slot, not an fd, and cannot be resolved. */
SEC("?tracepoint/io_uring/io_uring_complete")
int tp_io_uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	struct sighting s = { .kind = EVENT_ACCEPT, .maybe_worker = true };
	struct io_kiocb *req;
	struct fd_array fds;
	struct socket *sock;
	int res;

	if (!bpf_core_field_exists(ctx->req))
		return 0;
	res = BPF_CORE_READ(ctx, res);
	req = BPF_CORE_READ(ctx, req);
	/* fexit and kprobe see io_uring's accepts in inet_csk_accept(), and
	 * attach this program for -x's errors only. */
	if ((res < 0 && !settings.need_listeners) || (res >= 0 && settings.way != WAY_TRACEPOINT))
		return 0;
	if (!req || BPF_CORE_READ(req, opcode) != IORING_OP_ACCEPT)
		return 0;
	s.pid_tgid = bpf_get_current_pid_tgid();
	if (!task_passes(&s.pid_tgid))
		return 0;
	if (res < 0) {
		sock = BPF_CORE_READ(req, file, private_data);
		s.sk = BPF_CORE_READ(sock, sk);
		return s.sk ? report_failed_on(s.sk, res, s.pid_tgid, true) : 0;
	}
	if (settings.need_listener) {
		sock = BPF_CORE_READ(req, file, private_data);
		s.listener = BPF_CORE_READ(sock, sk);
		if (!s.listener)
			return 0;
		s.listener = tcp_listener(s.listener);
	}
	current_fds(&fds);
	s.sk = sock_from_fd(&fds, res);
	if (!s.sk)
		return 0;
	return report(&s);
}

/* -x, --metrics: listen() makes a listener, owned by its caller; a close
 * reads its drop counter a last time (the entry stays for user space to
 * take while something counts). A child is cloned in LISTEN and set to
 * SYN_RECV: only LISTEN -> CLOSE is a close. */
static __always_inline void listener_state(struct sock *sk, int oldstate, int newstate)
{
	struct sock *msk = mptcp_of_subflow(sk);
	struct sighting s = {
		.sk = msk ? msk : sk,
		.listener = sk,
		.pid_tgid = bpf_get_current_pid_tgid(),
		.kind = EVENT_ERROR,	/* a listener's, without a client */
	};
	__u64 key = (__u64)sk;
	struct listener *l;
	struct conn c;

	if (newstate == TCP_LISTEN) {
		if (task_passes(&s.pid_tgid) && listener_passes(sk, s.sk, &c))
			listener_meet(&s, &c);
		return;
	}
	if (oldstate != TCP_LISTEN || newstate != TCP_CLOSE)
		return;
	l = bpf_map_lookup_elem(&listeners, &key);
	if (!l)
		return;
	if (settings.count || settings.metrics) {
		struct closed_key id = { key, l->born_ns };

		l->drops = sk_drops(sk);
		l->closed = 1;
		if (bpf_map_update_elem(&closed_listeners, &id, l, BPF_NOEXIST))
			__sync_fetch_and_add(&listeners_overflow, 1);
	}
	bpf_map_delete_elem(&listeners, &key);
}

/* -q and --metrics: the moment a child socket completed its handshake and
 * so joined the listener's accept queue; -x and --metrics: listeners
 * made and closed. */
SEC("?tracepoint/sock/inet_sock_set_state")
int tp_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key, now;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (settings.need_listeners && (ctx->newstate == TCP_LISTEN || ctx->oldstate == TCP_LISTEN))
		listener_state((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
	if (!(settings.queue || settings.need_listen_stats) || ctx->oldstate != TCP_SYN_RECV ||
	    ctx->newstate != TCP_ESTABLISHED)
		return 0;
	key = (__u64)ctx->skaddr;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&handshake_done, &key, &now, BPF_ANY);
	return 0;
}

/* --- -x on fexit and kprobe: failed accept() calls ----------------------------- */

/* EMFILE, ENFILE and EPERM never reach inet_csk_accept(): they show where
 * accept() and accept4() return, __sys_accept4(). fexit watches that
 * function (int fd, ..., int flags; the same from 5.10 to 7.x), so no
 * syscall tracepoint, which would slow every system call of the machine,
 * is attached. */
SEC("?fexit/__sys_accept4")
int BPF_PROG(fexit_sys_accept4, int fd, void *upeer_sockaddr, int *upeer_addrlen, int flags,
	     int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fd_array fds;

	if (ret >= 0 || !task_passes(&pid_tgid))
		return 0;
	current_fds(&fds);
	return report_failed(&fds, fd, ret, pid_tgid);
}

/* The kprobe way brackets __sys_accept4() (a kretprobe has no arguments:
 * the listening fd waits in accept_fds). Its kretprobe is made with a
 * maxactive for every thread that may block in accept() at once, as
 * inet_csk_accept()'s is. No syscall tracepoint: the tracepoint way's own
 * exit programs report errors themselves. */
SEC("?kprobe/__sys_accept4")
int BPF_KPROBE(kprobe_sys_accept4, int fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 listen_fd = (__u64)(long)fd;

	if (!task_passes(&pid_tgid))
		return 0;
	bpf_map_update_elem(&accept_fds, &tid, &listen_fd, BPF_ANY);
	return 0;
}

SEC("?kretprobe/__sys_accept4")
int BPF_KRETPROBE(kretprobe_sys_accept4, int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct fd_array fds;
	long listen_fd;
	__u64 *slot;

	slot = bpf_map_lookup_elem(&accept_fds, &tid);
	if (!slot)
		return 0;
	listen_fd = (long)*slot;
	bpf_map_delete_elem(&accept_fds, &tid);
	/* The entry's task_passes() let it in: its IDs as the tracer sees them. */
	if (ret >= 0 || !to_view(&pid_tgid))
		return 0;
	current_fds(&fds);
	return report_failed(&fds, listen_fd, ret, pid_tgid);
}

/* --- -x, --metrics: the sweep ------------------------------------------------ */

static long sweep_one(void *map, __u64 *key, struct listener *l, void *ctx)
{
	__u64 now;

	now = sk_drops((struct sock *)*key);
	if (now > l->drops)
		l->drops = now;
	return 0;
}

/* tcpaccept's own listen(-1) (EBADF) before it reads the counts: every
 * listener's drop counter read now (bpf_for_each_map_elem: 5.13+; plan.c
 * loads this only where the kernel has it). Each way sees that listen()
 * its own way: fexit and kprobe where __sys_listen() returns, so no
 * syscall tracepoint slows every system call of the machine; the
 * tracepoint way, whose syscall tracepoints do already, at its exit. */
static __always_inline int sweep(long ret)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != settings.self_pid || ret != -EBADF)
		return 0;
	bpf_for_each_map_elem(&listeners, sweep_one, NULL, 0);
	return 0;
}

SEC("?tracepoint/syscalls/sys_exit_listen")
int tp_sweep(struct syscall_exit_ctx *ctx)
{
	return sweep(ctx->ret);
}

/* __sys_listen(int fd, int backlog) from 5.10 to 7.x. */
SEC("?fexit/__sys_listen")
int BPF_PROG(fexit_sweep, int fd, int backlog, int ret)
{
	return sweep(ret);
}

SEC("?kretprobe/__sys_listen")
int BPF_KRETPROBE(kretprobe_sweep, int ret)
{
	return sweep(ret);
}

/* --- -x: drops as they happen (fexit and kprobe) ------------------------------ */

/* @p's value as a number: through memory, so that the verifier, which
 * forbids arithmetic on a map's pointer, sees a scalar. */
static __always_inline __u64 address_of(const void *p)
{
	__u64 a = 0;

	bpf_probe_read_kernel(&a, sizeof(a), &p);
	return a;
}

/* @pcpu, a per-CPU pointer, made this CPU's: per-CPU data sits at one
 * offset per CPU (__per_cpu_offset[cpu], which kallsyms lists only with
 * CONFIG_KALLSYMS_ALL, not set in Debian's arm64 6.1), the distance from
 * @elem, this CPU's element @index of drop_snaps, to that element's
 * per-CPU pointer in the map (struct bpf_array's pptrs[]). 0 if it cannot
 * be read. */
static __always_inline __u64 this_cpu_ptr_of(__u64 pcpu, const void *elem, __u32 index)
{
	__u64 at = address_of(&drop_snaps) + bpf_core_field_offset(struct bpf_array, pptrs) +
		   (__u64)index * sizeof(__u64);
	__u64 pptr = 0;

	if (!pcpu || bpf_probe_read_kernel(&pptr, sizeof(pptr), (void *)at) || !pptr)
		return 0;
	return pcpu + (address_of(elem) - pptr);
}

/* This CPU's copy of @sk's network namespace's LINUX_MIB counters (@d,
 * element @index of drop_snaps, finds this CPU); 0 if it cannot be found. */
static __always_inline __u64 this_cpu_mib(struct sock *sk, const struct drop_snap *d, __u32 index)
{
	return this_cpu_ptr_of((__u64)BPF_CORE_READ(sk, __sk_common.skc_net.net, mib.net_statistics),
			       d, index);
}

static __always_inline void mib_read(__u64 mib, __u64 v[3])
{
	bpf_probe_read_kernel(&v[0], 8, (void *)(mib + (__u64)settings.mib_listen_drops * 8));
	bpf_probe_read_kernel(&v[1], 8, (void *)(mib + (__u64)settings.mib_listen_overflows * 8));
	bpf_probe_read_kernel(&v[2], 8, (void *)(mib + (__u64)settings.mib_reqq_full_drop * 8));
}

/* A drop on @listener, of @skb. */
static __always_inline int report_drop(struct sock *listener, struct sk_buff *skb, __u8 stage,
				       __u16 reason)
{
	struct sock *msk = mptcp_of_subflow(listener);
	struct sighting s = {
		.sk = msk ? msk : listener,
		.listener = listener,
		.skb = skb,
		.code = reason,
		.stage = stage,
		.kind = EVENT_DROP,
		.no_task = true,
	};

	return report(&s);
}

static __always_inline int drop_enter(__u32 stage, struct sock *sk, struct sk_buff *skb)
{
	__u32 slot = stage * 2;
	struct drop_snap *d = bpf_map_lookup_elem(&drop_snaps, &slot);

	if (d && d->mib) {
		slot++;
		d = bpf_map_lookup_elem(&drop_snaps, &slot);
	}
	if (!d)
		return 0;
	d->mib = this_cpu_mib(sk, d, slot);
	d->sk = (__u64)sk;
	d->skb = (__u64)skb;
	if (d->mib)
		mib_read(d->mib, d->v);
	return 0;
}

/* What this call moved on this CPU is its own: the counters of a drop
 * (ListenDrops), and of its reason. The other brackets open on this CPU
 * (the one this ran inside) must not count it again: their baselines
 * move with it. */
static __always_inline int drop_exit(__u32 stage)
{
	__u32 slot = stage * 2 + 1;
	struct drop_snap *d = bpf_map_lookup_elem(&drop_snaps, &slot), *o;
	__u64 v[3], mib;
	__u16 reason;

	if (!d || !d->mib) {
		slot--;
		d = bpf_map_lookup_elem(&drop_snaps, &slot);
	}
	if (!d || !d->mib)
		return 0;
	mib = d->mib;
	d->mib = 0;
	mib_read(mib, v);
	if (v[0] == d->v[0])
		return 0;
	for (__u32 i = 0; i < SNAP_SLOTS; i++) {
		__u32 k = i;

		o = bpf_map_lookup_elem(&drop_snaps, &k);
		if (o && o->mib == mib) {
			o->v[0] += v[0] - d->v[0];
			o->v[1] += v[1] - d->v[1];
			o->v[2] += v[2] - d->v[2];
		}
	}
	reason = v[1] != d->v[1] ? DROP_ACCEPT_QUEUE_FULL :
		 v[2] != d->v[2] ? DROP_SYN_QUEUE_FULL : DROP_OTHER;
	return report_drop((struct sock *)d->sk, (struct sk_buff *)d->skb, stage, reason);
}

/* The SYN: tcp_conn_request() (IPv4, IPv6, MPTCP; a Fast Open child is
 * made inside). The final ACK: tcp_check_req() (a request socket's) and
 * cookie_v{4,6}_check() (a SYN cookie's), each calling syn_recv_sock
 * inside; not tcp_v{4,6}_syn_recv_sock() itself, which has 7 arguments
 * from 6.1 on, more than 6.1's x86 trampoline takes. Only the first
 * arguments are read, so one program serves every signature. */
/* fentry_@name and fexit_@name, kprobe_@name and kretprobe_@name around
 * @func. Only the listener and the packet are read (the first arguments
 * but for tcp_conn_request's two before them, named in the ...): one
 * program serves every signature. */
#define DROP_BRACKET(name, func, stage, ...)					\
	SEC("?fentry/" #func)							\
	int BPF_PROG(fentry_##name, ##__VA_ARGS__, struct sock *sk, struct sk_buff *skb) \
	{									\
		return drop_enter(stage, sk, skb);				\
	}									\
	SEC("?fexit/" #func)							\
	int BPF_PROG(fexit_##name)						\
	{									\
		return drop_exit(stage);					\
	}									\
	SEC("?kprobe/" #func)							\
	int BPF_KPROBE(kprobe_##name, ##__VA_ARGS__, struct sock *sk, struct sk_buff *skb) \
	{									\
		return drop_enter(stage, sk, skb);				\
	}									\
	SEC("?kretprobe/" #func)						\
	int BPF_KRETPROBE(kretprobe_##name)					\
	{									\
		return drop_exit(stage);					\
	}

DROP_BRACKET(conn_request, tcp_conn_request, STAGE_SYN, void *rsk_ops, void *af_ops)
DROP_BRACKET(check_req, tcp_check_req, STAGE_ACK)
DROP_BRACKET(cookie4, cookie_v4_check, STAGE_ACK)
DROP_BRACKET(cookie6, cookie_v6_check, STAGE_ACK)

/* --- -x on the tracepoint way: the drops kfree_skb names ----------------------- */

/* A final ACK the listener dropped, where the kernel says so: reason
 * TCP_LISTEN_OVERFLOW (a request socket's ACK, 6.15+; the value from the
 * kernel's BTF), or NO_SOCKET from inside cookie_v{4,6}_check() (a SYN
 * cookie's ACK that made no child). rx_sk (6.11+) is the listener. No
 * tracepoint sees a drop at the SYN: the kernel frees the SYN as consumed. */
SEC("?tracepoint/skb/kfree_skb")
int tp_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	struct sock *sk;
	__u64 at;
	int reason;

	if (!bpf_core_field_exists(ctx->rx_sk))
		return 0;
	sk = BPF_CORE_READ(ctx, rx_sk);
	if (!sk)
		return 0;
	reason = BPF_CORE_READ(ctx, reason);
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW))
		return report_drop(sk, BPF_CORE_READ(ctx, skbaddr), STAGE_ACK, DROP_ACCEPT_QUEUE_FULL);
	if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET))
		return 0;
	at = (__u64)BPF_CORE_READ(ctx, location);
	if ((at >= settings.cookie_text[0] && at < settings.cookie_text[1]) ||
	    (at >= settings.cookie_text[2] && at < settings.cookie_text[3]))
		return report_drop(sk, BPF_CORE_READ(ctx, skbaddr), STAGE_ACK, DROP_COOKIE_ACK);
	return 0;
}

/* --- new cgroups ---------------------------------------------------------------- */

/* The first @n bytes of @s are @lit's. */
static __always_inline bool starts_with(const char *s, const char *lit, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != lit[i])
			return false;
	return true;
}

static __always_inline bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

#define CGROUP_NAME_MAX 128	/* the longest container directory is 85 bytes */

/* A new directory's name and its parent's. In a map, not on the stack: the
 * ID is read at a variable offset, which 5.10's verifier allows in map
 * values only (variable-offset stack reads came in 5.12, 01f810ace9ed). */
struct cgroup_names {
	char name[CGROUP_NAME_MAX];
	char parent[CGROUP_NAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgroup_names);
} cgroup_names SEC(".maps");

/* @name[@off..) is a container ID that one of --container's prefixes
 * starts. */
static __always_inline bool id_wanted(const char name[CGROUP_NAME_MAX], int off)
{
	bool ok;

	for (int i = 0; i < CONTAINER_DIGITS; i++)
		if (!is_hex(name[(off + i) & (CGROUP_NAME_MAX - 1)]))
			return false;
	for (int p = 0; p < CONTAINERS_MAX; p++) {
		ok = p < settings.ncontainers;
		for (int i = 0; ok && i < CONTAINER_DIGITS && i < settings.container_len[p]; i++)
			ok = name[(off + i) & (CGROUP_NAME_MAX - 1)] == settings.containers[p][i];
		if (ok)
			return true;
	}
	return false;
}

/* The offset of the ID in @name (@len bytes, NUL excluded), a new cgroup
 * directory whose parent is @parent (@plen bytes): the runtimes' layouts,
 * as service.c's container_of() reads them; -1 if it is no container's. */
static __always_inline int container_id_at(const char *name, int len, const char *parent,
					   int plen)
{
	const int id = CONTAINER_DIGITS;

	if (len == 7 + id + 6 && starts_with(name + 7 + id, ".scope", 6) &&
	    (starts_with(name, "docker-", 7) || starts_with(name, "libpod-", 7)))
		return 7;		/* the systemd driver's Docker and podman */
	if (len == 7 + id && starts_with(name, "libpod-", 7))
		return 7;		/* podman's cgroupfs: /libpod_parent/libpod-ID */
	if (len == 15 + id + 6 && starts_with(name, "cri-containerd-", 15) &&
	    starts_with(name + 15 + id, ".scope", 6))
		return 15;
	if ((len == 5 + id || (len == 5 + id + 6 && starts_with(name + 5 + id, ".scope", 6))) &&
	    starts_with(name, "crio-", 5))
		return 5;
	/* Bare IDs, where Docker's (/docker/ID) and the kubelet's cgroupfs
	 * drivers (/kubepods/[QOS/]podUID/ID) put them. */
	if (len == id && ((plen == 6 && starts_with(parent, "docker", 6)) ||
			  (plen == 3 + 36 && starts_with(parent, "pod", 3))))
		return 0;
	return -1;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->parent))
		return BPF_CORE_READ(kn, parent);
	return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
}

/* --container: a new directory named as a matching container's goes into
 * container_cgroups, before mkdir(2) returns to the runtime, so before
 * any task can be moved into it: no window. */
static __always_inline void match_container(struct cgroup *cgrp)
{
	struct kernfs_node *kn = BPF_CORE_READ(cgrp, kn);
	struct cgroup_names *n;
	int len, plen, off;
	__u32 zero = 0;
	__u8 one = 1;
	__u64 id;

	n = bpf_map_lookup_elem(&cgroup_names, &zero);
	if (!n)
		return;
	len = bpf_probe_read_kernel_str(n->name, sizeof(n->name), BPF_CORE_READ(kn, name)) - 1;
	plen = bpf_probe_read_kernel_str(n->parent, sizeof(n->parent),
					 BPF_CORE_READ(kn_parent(kn), name)) - 1;
	off = container_id_at(n->name, len, n->parent, plen);
	if (off < 0 || !id_wanted(n->name, off))
		return;
	id = BPF_CORE_READ(kn, id);
	if (bpf_map_update_elem(&container_cgroups, &id, &one, BPF_ANY))
		__sync_fetch_and_add(&container_cgroups_full, 1);
}

/* feed_cgroups: the directory's ID and path to user space, so that its
 * rows have a path without a walk of the tree, however short-lived the
 * cgroup. */
static __always_inline void feed_path(struct cgroup *cgrp, const char *path)
{
	struct cgroup_made *m = bpf_ringbuf_reserve(&cgroups_made, sizeof(*m), 0);

	if (!m) {
		__sync_fetch_and_add(&cgroups_lost, 1);
		return;
	}
	m->id = BPF_CORE_READ(cgrp, kn, id);
	if (bpf_probe_read_kernel_str(m->path, sizeof(m->path), path) <= 0)
		m->path[0] = '\0';
	/* Nobody waits for these: identity.c reads them before it needs them. */
	bpf_ringbuf_submit(m, BPF_RB_NO_WAKEUP);
}

/* A cgroup v2 directory was made; it runs before mkdir(2) returns. */
SEC("?raw_tp/cgroup_mkdir")
int BPF_PROG(raw_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;	/* a v1 hierarchy's */
	if (settings.ncontainers)
		match_container(cgrp);
	if (settings.feed_cgroups)
		feed_path(cgrp, path);
	return 0;
}

/* --container: a removed container's cgroup leaves container_cgroups (a
 * cgroup must be empty to go: no task of it accepts any more). */
SEC("?raw_tp/cgroup_rmdir")
int BPF_PROG(raw_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	__u64 id = BPF_CORE_READ(cgrp, kn, id);

	bpf_map_delete_elem(&container_cgroups, &id);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
