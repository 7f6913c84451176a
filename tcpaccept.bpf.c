// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcpaccept: the kernel side. Three ways in report the same event:
 *   fexit on inet_csk_accept()              (BPF trampolines, 5.5+)
 *   kprobe + kretprobe on inet_csk_accept() (where fexit is refused)
 *   syscalls:sys_exit_accept{,4} tracepoints (where neither is allowed)
 * tcpaccept.c picks one at run time and loads only its programs.
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

/* Filters, set by tcpaccept.c before load; 0/false means "any". */
const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;		/* -4/-6: the socket's */
const volatile __u16 targ_client_family = 0;	/* --client-family */
const volatile bool filter_ports = false;
/* One bit per local port: 8 KiB that make the port filter O(1). */
const volatile __u8 targ_port_bits[65536 / 8] = {};
const volatile bool filter_uid = false;
const volatile __u32 targ_uid = 0;
const volatile bool filter_cgroup = false;	/* cgroup_map[0] */
/* -c: count accepts in the counts map instead of sending events. */
const volatile bool count_mode = false;
/* -q: report the listener's backlog and the wait since the handshake. */
const volatile bool want_queue = false;
/* Tracepoint way: read accept()'s listening fd from the task's saved
 * registers at syscall exit (bpf_task_pt_regs, 5.15+) instead of recording
 * it at syscall entry; this also covers accept() calls entered before
 * tcpaccept started. */
const volatile bool use_task_regs = false;
/* The way in this object was loaded for (enum way). The syscall exit
 * programs are the tracepoint way's own, or else only catch up (below). */
const volatile __u8 main_way = 0;
/* Wake the reader only when this much data waits; otherwise it drains on
 * its 100 ms poll timeout. 0 wakes it for every event. */
const volatile __u32 wakeup_bytes = 0;
/* --metrics: count accepts per label set in metric_totals (cumulative). */
const volatile bool want_metrics = false;
/* --metrics, or -c -q: per-listener wait histogram and backlog. */
const volatile bool want_listen_stats = false;
/* --metrics without rows: send no events. */
const volatile bool no_events = false;
/* Rows that show the time (-t, -T, -j): the event's clock read. */
const volatile bool want_time = false;
/* Rows that show the UID or the network namespace (-U, -j): read them. */
const volatile bool want_ids = false;

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);	/* resized by tcpaccept.c */
} events SEC(".maps");

/* Per thread, from entry to return: the listening socket (kprobe way) or
 * the listening fd (tracepoint way without use_task_regs). */
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

/* -c: accepts per (PID, COMM, IP, LADDR, LPORT), counted in the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COUNT_MAX_ENTRIES);
	__type(key, struct count_key);
	__type(value, __u64);
} counts SEC(".maps");

/* --metrics: accepts since start per (COMM, IP, LADDR, LPORT); never
 * reset, as Prometheus counters want. Sized to --metrics-max-series. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_SERIES);
	__type(key, struct accept_labels);
	__type(value, __u64);
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

static __always_inline void forget_catchup(__u32 tid)
{
	if (bpf_map_delete_elem(&catchup, &tid) == 0)
		__sync_fetch_and_add(&catchup_pending, -1);
}

static __always_inline void seen_by_probe(__u32 tid)
{
	if (catchup_active)
		forget_catchup(tid);
}

/* The filters on the accepting task: PID, UID, cgroup. */
static __always_inline bool task_filtered_out(__u64 pid_tgid)
{
	if (targ_tgid && (__u32)(pid_tgid >> 32) != targ_tgid)
		return true;
	if (filter_uid && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return true;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroup_map, 0) != 1)
		return true;
	return false;
}

static __always_inline bool port_filtered_out(__u16 lport)
{
	__u32 i = lport;

	if (!filter_ports)
		return false;
	/* The port comes out of a byte swap, whose result the 5.10 and 6.1
	 * verifiers leave unbounded: bound the index again (the barrier
	 * keeps clang from dropping the mask). */
	barrier_var(i);
	i &= 0xffff;
	return !(targ_port_bits[i >> 3] & (1 << (i & 7)));
}

/* The client's own family: an IPv4 client of a dual-stack listener is an
 * AF_INET6 socket whose peer is ::ffff:a.b.c.d. */
static __always_inline __u16 client_family(struct sock *child, __u16 family)
{
	__u32 a[4];

	if (family == AF_INET)
		return AF_INET;
	bpf_core_read(a, sizeof(a), &child->__sk_common.skc_v6_daddr);
	return !a[0] && !a[1] && a[2] == bpf_htonl(0xffff) ? AF_INET : AF_INET6;
}

/* The flag for submitting a record of @len bytes (with the ring's 8-byte
 * header), just reserved: wake the reader when this record takes the unread
 * data past wakeup_bytes, once, not for every record after it (each wakeup
 * queues an irq_work, an interrupt); from twice that on, always, in case
 * another CPU's record hid the crossing. */
static __always_inline __u64 wakeup_flag(__u32 len)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	if (avail >= wakeup_bytes && (avail < wakeup_bytes + len || avail >= 2 * wakeup_bytes))
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
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

/* A key's counter in @map, created at 1 if absent; false if the map is
 * full. */
static __always_inline bool count_in(void *map, void *key)
{
	__u64 one = 1, *count;

	count = bpf_map_lookup_elem(map, key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return true;
	}
	if (bpf_map_update_elem(map, key, &one, BPF_NOEXIST) == 0)
		return true;
	/* Another CPU added the key meanwhile, or the map is full. */
	count = bpf_map_lookup_elem(map, key);
	if (!count)
		return false;
	__sync_fetch_and_add(count, 1);
	return true;
}

static __always_inline void read_laddr(struct sock *child, __u16 family, __u8 laddr[16])
{
	if (family == AF_INET)
		BPF_CORE_READ_INTO((__u32 *)laddr, child, __sk_common.skc_rcv_saddr);
	else	/* ::ffff:a.b.c.d for an IPv4 client of a dual-stack listener */
		bpf_core_read(laddr, 16, &child->__sk_common.skc_v6_rcv_saddr);
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

/* -q: how long @child waited in the accept queue since @flow, the TCP
 * socket that did the handshake, completed it; WAIT_UNKNOWN if that was
 * not seen. A Fast Open child is queued before its handshake completes (in
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

/* -c and --metrics: the accept counted by its labels (read once for both),
 * -c's with the PID too. */
static __always_inline void count_labels(__u64 pid_tgid, struct sock *child, __u16 family,
					 __u16 lport, __u8 proto, bool maybe_worker)
{
	struct count_key key = {};

	key.pid = pid_tgid >> 32;
	key.labels.family = family;
	key.labels.lport = lport;
	key.labels.proto = proto;
	read_laddr(child, family, key.labels.laddr);
	current_comm(key.labels.comm, maybe_worker);
	if (want_metrics && !count_in(&metric_totals, &key.labels))
		__sync_fetch_and_add(&metric_overflow, 1);
	if (count_mode && !count_in(&counts, &key))
		__sync_fetch_and_add(&count_overflow, 1);
}

/* The listener's entry: the wait in its histogram, its backlog. */
static __always_inline void record_listen(struct sock *listener, struct sock *child,
					  __u16 family, __u16 lport, __u64 wait_ns)
{
	struct listen_key key = {};
	struct listen_stats *st;
	__u32 backlog, epoch, slot;

	key.family = family;
	key.lport = lport;
	read_laddr(child, family, key.laddr);
	st = bpf_map_lookup_elem(&listen_stats, &key);
	if (!st) {
		bpf_map_update_elem(&listen_stats, &key, &zero_listen_stats, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&listen_stats, &key);
		if (!st) {
			__sync_fetch_and_add(&listen_overflow, 1);
			return;
		}
	}
	if (wait_ns == WAIT_UNKNOWN) {
		__sync_fetch_and_add(&st->wait_unknown, 1);
	} else {
		slot = log2_u64(wait_ns / 1000);
		if (slot >= WAIT_SLOTS)
			slot = WAIT_SLOTS - 1;
		/* For the verifier, which loses the bound above in a copy;
		 * the barrier keeps clang from dropping the mask. */
		barrier_var(slot);
		slot &= WAIT_SLOTS - 1;
		__sync_fetch_and_add(&st->slots[slot], 1);
		__sync_fetch_and_add(&st->wait_sum_ns, wait_ns);
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

/* Only -q's backlog and --metrics' listen stats read the listener: the
 * tracepoint way spares its fd lookup otherwise. */
static __always_inline bool need_listener(void)
{
	return want_queue || want_listen_stats;
}

/* The local port of @child, a socket accept() hands out. */
static __always_inline __u16 local_port(struct sock *child)
{
	return bpf_ntohs(BPF_CORE_READ((struct inet_sock *)child, inet_sport));
}

/* Report the accept of @child from @listener by the current task. @child is
 * the socket accept() hands out (TCP or MPTCP), @flow the TCP socket that
 * did its handshake (NULL: @child's own, or its MPTCP first subflow), and
 * @listener a TCP listener (an MPTCP one's listening subflow), NULL unless
 * need_listener(). @maybe_worker: see current_comm(). */
static __always_inline int emit(struct sock *listener, struct sock *child,
				struct sock *flow, bool maybe_worker)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct event_head *h;
	__u8 *addrs;
	__u16 family, lport, protocol;
	__u64 now, wait_ns = WAIT_UNKNOWN;
	__u8 proto;
	__u32 size;

	lport = local_port(child);
	if (port_filtered_out(lport))
		return 0;
	family = BPF_CORE_READ(child, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	if (targ_client_family && client_family(child, family) != targ_client_family)
		return 0;
	/* SCTP's one-to-one sockets (and any other stream protocol that
	 * accept()s) are not TCP: not shown. */
	protocol = BPF_CORE_READ_BITFIELD_PROBED(child, sk_protocol);
	if (protocol == IPPROTO_TCP)
		proto = PROTO_TCP;
	else if (protocol == IPPROTO_MPTCP)
		proto = PROTO_MPTCP;
	else
		return 0;
	/* The clock only where it is used. */
	if (want_queue || want_listen_stats || want_time)
		now = bpf_ktime_get_ns();
	else
		now = 0;
	if (want_queue || want_listen_stats) {
		if (!flow)
			flow = proto == PROTO_MPTCP ? mptcp_first(child) : child;
		wait_ns = queue_wait(flow, now);
	}
	if (want_metrics || count_mode)
		count_labels(pid_tgid, child, family, lport, proto, maybe_worker);
	if (want_listen_stats)
		record_listen(listener, child, family, lport, wait_ns);
	if (count_mode || no_events)
		return 0;

	/* The record (tcpaccept.h): head, -q's part, the two addresses. Its
	 * size is a constant on each path, as bpf_ringbuf_reserve() needs:
	 * want_queue is read-only data the verifier knows. */
	size = sizeof(*h) + (want_queue ? sizeof(struct event_queue) : 0);
	/* Each family reserves and writes its addresses in its own branch:
	 * with one reserve call and a second test of the family (what clang
	 * makes of a reserve in each branch of an if alone), the 5.10 and
	 * 6.1 verifiers do not tie the record's size to the second test and
	 * refuse the IPv6 write into an IPv4-sized record. */
	if (family == AF_INET) {
		h = bpf_ringbuf_reserve(&events, size + 2 * 4, 0);
		if (!h)
			goto lost;
		addrs = (__u8 *)h + size;
		BPF_CORE_READ_INTO((__u32 *)addrs, child, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)(addrs + 4), child, __sk_common.skc_daddr);
	} else {
		h = bpf_ringbuf_reserve(&events, size + 2 * 16, 0);
		if (!h)
			goto lost;
		addrs = (__u8 *)h + size;
		/* An IPv4 client of a dual-stack listener has ::ffff:a.b.c.d here. */
		bpf_core_read(addrs, 16, &child->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(addrs + 16, 16, &child->__sk_common.skc_v6_daddr);
	}
	h->ts_ns = now;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->uid = 0;
	h->netns = 0;
	if (want_ids) {
		h->uid = (__u32)bpf_get_current_uid_gid();
		h->netns = BPF_CORE_READ(child, __sk_common.skc_net.net, ns.inum);
	}
	h->family = family;
	h->lport = lport;
	h->rport = bpf_ntohs(BPF_CORE_READ(child, __sk_common.skc_dport));
	h->proto = proto;
	h->pad = 0;
	current_comm(h->comm, maybe_worker);
	if (want_queue) {
		struct event_queue *q = (struct event_queue *)(h + 1);

		/* Read after the accept took the child off the queue. */
		q->backlog_len = BPF_CORE_READ(listener, sk_ack_backlog);
		q->backlog_max = BPF_CORE_READ(listener, sk_max_ack_backlog);
		q->wait_ns = wait_ns;
	}
	bpf_ringbuf_submit(h, wakeup_flag(size + (family == AF_INET ? 2 * 4 : 2 * 16) + 8));
	return 0;
lost:
	__sync_fetch_and_add(&lost, 1);
	return 0;
}

/* --- fexit --------------------------------------------------------------- */

/* inet_csk_accept() took @newsk off @listener's queue. For an MPTCP
 * connection both are TCP subflows: report the MPTCP socket, once. */
static __always_inline int emit_accepted(struct sock *listener, struct sock *newsk)
{
	struct sock *msk = mptcp_of_subflow(newsk);

	return emit(listener, msk ? msk : newsk, newsk, true);
}

/* Linux 6.10 (92ef0fd55ac8) changed inet_csk_accept(sk, flags, err, kern) to
 * inet_csk_accept(sk, arg), which moves the return value's ctx slot. The
 * verifier bounds ctx access by the function's argument count, so each
 * signature gets its own program and tcpaccept.c loads the one that matches
 * the kernel's BTF. */
SEC("fexit/inet_csk_accept")
int BPF_PROG(fexit_accept_pre610, struct sock *sk, int flags, int *err,
	     bool kern, struct sock *newsk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	seen_by_probe((__u32)pid_tgid);
	if (!newsk || task_filtered_out(pid_tgid))
		return 0;
	return emit_accepted(sk, newsk);
}

SEC("fexit/inet_csk_accept")
int BPF_PROG(fexit_accept, struct sock *sk, struct proto_accept_arg *arg,
	     struct sock *newsk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	seen_by_probe((__u32)pid_tgid);
	if (!newsk || task_filtered_out(pid_tgid))
		return 0;
	return emit_accepted(sk, newsk);
}

/* --- kprobe -------------------------------------------------------------- */

SEC("kprobe/inet_csk_accept")
int BPF_KPROBE(kprobe_accept, struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 listener = (__u64)sk;

	if (task_filtered_out(pid_tgid))
		return 0;
	bpf_map_update_elem(&inflight, &tid, &listener, BPF_ANY);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(kretprobe_accept, struct sock *newsk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sock *listener;
	__u64 *slot;

	seen_by_probe(tid);
	slot = bpf_map_lookup_elem(&inflight, &tid);
	if (!slot)
		return 0;
	listener = (struct sock *)*slot;
	bpf_map_delete_elem(&inflight, &tid);
	if (!newsk)
		return 0;
	return emit_accepted(listener, newsk);
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
	 * took ~25 ns less per accept but made each program's verification
	 * ~1 ms longer (start-up 23 -> 27 ms). */
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

static __always_inline int on_accept_enter(long listen_fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 fd = listen_fd;

	if (task_filtered_out(pid_tgid))
		return 0;
	bpf_map_update_elem(&inflight, &tid, &fd, BPF_ANY);
	return 0;
}

static __always_inline int on_accept_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct fd_array fds;
	struct sock *listener, *child;
	long listen_fd;
	__u64 *slot;

	if (main_way == WAY_TRACEPOINT && use_task_regs) {
		struct pt_regs *regs;

		if (ret < 0 || task_filtered_out(pid_tgid))
			return 0;
		listen_fd = -1;
		if (need_listener()) {
			regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
			listen_fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
		}
	} else {
		/* Take the thread's entry first, filtered out or not, so that
		 * none is left behind. */
		slot = NULL;
		if (main_way == WAY_TRACEPOINT)
			slot = bpf_map_lookup_elem(&inflight, &tid);
		if (slot) {
			listen_fd = *slot;
			bpf_map_delete_elem(&inflight, &tid);
		} else {
			slot = bpf_map_lookup_elem(&catchup, &tid);
			if (!slot)
				return 0;
			listen_fd = *slot;
			forget_catchup(tid);
		}
		if (ret < 0 || task_filtered_out(pid_tgid))
			return 0;
	}
	current_fds(&fds);
	listener = NULL;
	if (need_listener()) {
		listener = sock_from_fd(&fds, listen_fd);
		if (!listener)
			return 0;
		listener = tcp_listener(listener);
	}
	child = sock_from_fd(&fds, ret);
	if (!child)
		return 0;
	return emit(listener, child, NULL, false);
}

SEC("tracepoint/syscalls/sys_enter_accept")
int tp_enter_accept(struct syscall_enter_ctx *ctx)
{
	return on_accept_enter(ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int tp_enter_accept4(struct syscall_enter_ctx *ctx)
{
	return on_accept_enter(ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tp_exit_accept(struct syscall_exit_ctx *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
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
SEC("tracepoint/io_uring/io_uring_complete")
int tp_io_uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct io_kiocb *req;
	struct fd_array fds;
	struct socket *sock;
	struct sock *listener, *child;
	int res;

	if (!bpf_core_field_exists(ctx->req))
		return 0;
	res = BPF_CORE_READ(ctx, res);
	req = BPF_CORE_READ(ctx, req);
	if (res < 0 || !req || BPF_CORE_READ(req, opcode) != IORING_OP_ACCEPT)
		return 0;
	if (task_filtered_out(pid_tgid))
		return 0;
	listener = NULL;
	if (need_listener()) {
		sock = BPF_CORE_READ(req, file, private_data);
		listener = BPF_CORE_READ(sock, sk);
		if (!listener)
			return 0;
		listener = tcp_listener(listener);
	}
	current_fds(&fds);
	child = sock_from_fd(&fds, res);
	if (!child)
		return 0;
	return emit(listener, child, NULL, true);
}

/* -q: the moment a child socket completed its handshake and so joined the
 * listener's accept queue. */
SEC("tracepoint/sock/inet_sock_set_state")
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
