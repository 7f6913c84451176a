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
	__u8 kind;		/* enum event_kind */
	bool maybe_worker;	/* see current_comm() */
	/* No task did this (a drop, in softirq): the current task is
	 * whoever was interrupted. Who the event belongs to then comes from
	 * the listener's socket (listener, else sk): its cgroup; no PID
	 * namespace or mount namespace (see event_cgroup_id(),
	 * fill_identity()). */
	bool no_task;
};

/* What the socket filters learnt, for the steps after them. */
struct conn {
	__u64 now;		/* bpf_ktime_get_ns(), where a step reads it */
	__u64 cgroup_id;	/* settings.need_cgroup: event_cgroup_id() */
	__u64 wait_ns;		/* -q and listen_stats: see queue_wait() */
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

/* -P, --netns, -4/-6, --client-family, and TCP or MPTCP only (SCTP's
 * one-to-one sockets, and any other stream protocol that accept()s, are
 * not shown). Fills @c's family, port and proto. */
static __always_inline bool socket_passes(const struct sighting *s, struct conn *c)
{
	struct sock *sk = s->sk;	/* CO-RE reads take a plain pointer */
	__u16 protocol;

	c->lport = local_port(sk);
	if (!port_passes(c->lport))
		return false;
	if (settings.netns && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != settings.netns)
		return false;
	c->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (c->family != AF_INET && c->family != AF_INET6)
		return false;
	if (settings.family && c->family != settings.family)
		return false;
	if (settings.client_family && client_family(sk, c->family) != settings.client_family)
		return false;
	protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (protocol == IPPROTO_TCP)
		c->proto = PROTO_TCP;
	else if (protocol == IPPROTO_MPTCP)
		c->proto = PROTO_MPTCP;
	else
		return false;
	return true;
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
	read_laddr(s->sk, c->family, key.labels.laddr);
	current_comm(key.labels.comm, s->maybe_worker);
	key.labels.cgroup = settings.metrics_cgroup ? c->cgroup_id : 0;
	if (settings.metrics && !count_in(&metric_totals, &key.labels, s->kind))
		__sync_fetch_and_add(&metric_overflow, 1);
	key.labels.cgroup = settings.count_cgroup ? c->cgroup_id : 0;
	if (settings.count && !count_in(&counts, &key, s->kind))
		__sync_fetch_and_add(&count_overflow, 1);
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
static __always_inline void account(const struct sighting *s, struct conn *c)
{
	struct sock *flow = s->flow;

	c->now = 0;
	if (settings.queue || settings.need_listen_stats || settings.need_time)
		c->now = bpf_ktime_get_ns();
	c->wait_ns = WAIT_UNKNOWN;
	if (settings.queue || settings.need_listen_stats) {
		if (!flow)
			flow = c->proto == PROTO_MPTCP ? mptcp_first(s->sk) : s->sk;
		c->wait_ns = queue_wait(flow, c->now);
	}
	if (settings.metrics || settings.count)
		count_labels(s, c);
	if (settings.need_listen_stats)
		record_listen(s, c);
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

static __always_inline void fill_head(struct event_head *h, const struct sighting *s,
				      const struct conn *c)
{
	struct sock *sk = s->sk;

	h->ts_ns = c->now;
	h->pid = s->pid_tgid >> 32;
	h->tid = (__u32)s->pid_tgid;
	h->uid = 0;
	h->netns = 0;
	if (settings.need_ids) {
		h->uid = (__u32)bpf_get_current_uid_gid();
		h->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	}
	h->family = c->family;
	h->lport = c->lport;
	h->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	h->proto = c->proto;
	h->kind = s->kind;
	current_comm(h->comm, s->maybe_worker);
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
					const __u32 alen)
{
	const __u32 size = RECORD_SIZE(s->kind, settings.queue, settings.need_service, alen);
	struct event_head *h = bpf_ringbuf_reserve(&events, size, 0);
	__u8 *addrs;

	if (!h) {
		__sync_fetch_and_add(&lost, 1);
		return;
	}
	fill_head(h, s, c);
	if (s->kind == EVENT_ACCEPT && settings.queue)
		fill_queue((struct event_queue *)(h + 1), s, c);
	addrs = (__u8 *)h + size - 2 * alen;
	if (settings.need_service)
		fill_identity((struct event_identity *)(addrs - sizeof(struct event_identity)), s, c);
	read_addrs(addrs, s->sk, alen);
	bpf_ringbuf_submit(h, wakeup_flag(size + RINGBUF_HDR_LEN));
}

static __always_inline void send(const struct sighting *s, const struct conn *c)
{
	if (c->family == AF_INET)
		send_record(s, c, ADDR4_LEN);
	else
		send_record(s, c, ADDR6_LEN);
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
	account(s, &c);
	if (settings.rows)
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

static __always_inline int on_accept_exit(long ret)
{
	struct sighting s = { .kind = EVENT_ACCEPT };
	struct fd_array fds;
	long listen_fd;

	s.pid_tgid = bpf_get_current_pid_tgid();
	if (settings.way == WAY_TRACEPOINT && settings.task_regs) {
		if (ret < 0 || !task_passes(&s.pid_tgid))
			return 0;
		listen_fd = listen_fd_from_regs();
	} else {
		/* The entry out first, filtered or not: none is left behind. */
		if (!take_listen_fd(s.pid_tgid, &listen_fd))
			return 0;
		if (ret < 0 || !task_passes(&s.pid_tgid))
			return 0;
	}
	current_fds(&fds);
	if (!listener_of_fd(&fds, listen_fd, &s.listener))
		return 0;
	s.sk = sock_from_fd(&fds, ret);
	if (!s.sk)
		return 0;
	return report(&s);
}

SEC("?tracepoint/syscalls/sys_enter_accept")
int tp_enter_accept(struct syscall_enter_ctx *ctx)
{
	return on_accept_enter(ctx->args[0]);
}

SEC("?tracepoint/syscalls/sys_enter_accept4")
int tp_enter_accept4(struct syscall_enter_ctx *ctx)
{
	return on_accept_enter(ctx->args[0]);
}

SEC("?tracepoint/syscalls/sys_exit_accept")
int tp_exit_accept(struct syscall_exit_ctx *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("?tracepoint/syscalls/sys_exit_accept4")
int tp_exit_accept4(struct syscall_exit_ctx *ctx)
{
	return on_accept_exit(ctx->ret);
}

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
	if (res < 0 || !req || BPF_CORE_READ(req, opcode) != IORING_OP_ACCEPT)
		return 0;
	s.pid_tgid = bpf_get_current_pid_tgid();
	if (!task_passes(&s.pid_tgid))
		return 0;
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

/* -q and --metrics: the moment a child socket completed its handshake and
 * so joined the listener's accept queue. */
SEC("?tracepoint/sock/inet_sock_set_state")
int tp_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key, now;

	if (ctx->protocol != IPPROTO_TCP || ctx->oldstate != TCP_SYN_RECV ||
	    ctx->newstate != TCP_ESTABLISHED)
		return 0;
	key = (__u64)ctx->skaddr;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&handshake_done, &key, &now, BPF_ANY);
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
