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
#define S_IFMT		0170000
#define S_IFSOCK	0140000

/* Filters, set by tcpaccept.c before load; 0/false means "any". */
const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;
const volatile bool filter_ports = false;
/* One bit per local port: 8 KiB that make the port filter O(1). */
const volatile __u8 targ_port_bits[65536 / 8] = {};
/* Tracepoint way: read accept()'s listening fd from the task's saved
 * registers at syscall exit (bpf_task_pt_regs, 5.15+) instead of recording
 * it at syscall entry; this also covers accept() calls entered before
 * tcpaccept started. */
const volatile bool use_task_regs = false;
/* The way in this object was loaded for (enum way_in). The syscall exit
 * programs are the tracepoint way's own, or else only catch up (below). */
const volatile __u8 main_way = 0;
/* Wake the reader only when this much data waits; otherwise it drains on
 * its 100 ms poll timeout. 0 wakes it for every event. */
const volatile __u32 wakeup_bytes = 0;

/* Events dropped because the ring buffer was full; read by tcpaccept.c. */
__u64 lost = 0;
/* Set by tcpaccept.c while the catchup map below is not empty. */
bool catchup_active = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);	/* resized by tcpaccept.c */
} events SEC(".maps");

/* Per thread, from entry to return: the listening socket (kprobe way) or
 * the listening fd (tracepoint way without use_task_regs). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} inflight SEC(".maps");

/* Threads that were already inside accept() when tcpaccept attached, with
 * their listening fd, found by tcpaccept.c in /proc/PID/task/TID/syscall.
 * fexit and kretprobe never see those calls return (the function was
 * entered before the probe existed: bcc #2165), so the syscall exit
 * programs report them; a call that fexit or kretprobe did see removes its
 * thread's entry first. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} catchup SEC(".maps");

static __always_inline void seen_by_probe(__u32 tid)
{
	if (catchup_active)
		bpf_map_delete_elem(&catchup, &tid);
}

static __always_inline bool tgid_filtered_out(__u64 pid_tgid)
{
	return targ_tgid && (__u32)(pid_tgid >> 32) != targ_tgid;
}

static __always_inline bool port_filtered_out(__u16 lport)
{
	return filter_ports && !(targ_port_bits[lport >> 3] & (1 << (lport & 7)));
}

static __always_inline __u64 wakeup_flag(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Report the accept of @child from @listener by the current task. The local
 * port comes from the listener: a client's RST before accept() returns makes
 * the kernel clear the child's skc_num (inet_put_port()). */
static __always_inline int emit(struct sock *listener, struct sock *child,
				enum way_in way)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct event *e;
	__u16 family, lport;

	family = BPF_CORE_READ(child, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	if (BPF_CORE_READ_BITFIELD_PROBED(child, sk_protocol) != IPPROTO_TCP)
		return 0;
	lport = BPF_CORE_READ(listener, __sk_common.skc_num);
	if (port_filtered_out(lport))
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->netns = BPF_CORE_READ(child, __sk_common.skc_net.net, ns.inum);
	e->family = family;
	e->lport = lport;
	e->rport = bpf_ntohs(BPF_CORE_READ(child, __sk_common.skc_dport));
	e->way_in = way;
	e->pad = 0;
	if (family == AF_INET) {
		__builtin_memset(e->laddr, 0, sizeof(e->laddr));
		__builtin_memset(e->raddr, 0, sizeof(e->raddr));
		BPF_CORE_READ_INTO((__u32 *)e->laddr, child, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, child, __sk_common.skc_daddr);
	} else {
		/* An IPv4 client of a dual-stack listener has ::ffff:a.b.c.d here. */
		bpf_core_read(e->laddr, sizeof(e->laddr), &child->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, sizeof(e->raddr), &child->__sk_common.skc_v6_daddr);
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wakeup_flag());
	return 0;
}

/* --- fexit --------------------------------------------------------------- */

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
	if (!newsk || tgid_filtered_out(pid_tgid))
		return 0;
	return emit(sk, newsk, WAY_FEXIT);
}

SEC("fexit/inet_csk_accept")
int BPF_PROG(fexit_accept, struct sock *sk, struct proto_accept_arg *arg,
	     struct sock *newsk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	seen_by_probe((__u32)pid_tgid);
	if (!newsk || tgid_filtered_out(pid_tgid))
		return 0;
	return emit(sk, newsk, WAY_FEXIT);
}

/* --- kprobe -------------------------------------------------------------- */

SEC("kprobe/inet_csk_accept")
int BPF_KPROBE(kprobe_accept, struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 listener = (__u64)sk;

	if (tgid_filtered_out(pid_tgid))
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
	return emit(listener, newsk, WAY_KPROBE);
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

/* The struct sock behind file descriptor @fd of @task, or NULL if @fd is
 * not a socket. */
static __always_inline struct sock *sock_from_fd(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file;
	struct socket *sock;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
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

	if (tgid_filtered_out(pid_tgid))
		return 0;
	bpf_map_update_elem(&inflight, &tid, &fd, BPF_ANY);
	return 0;
}

static __always_inline int on_accept_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task;
	struct sock *listener, *child;
	long listen_fd;
	__u64 *slot;

	if (tgid_filtered_out(pid_tgid))
		return 0;
	if (main_way == WAY_TRACEPOINT && use_task_regs) {
		struct pt_regs *regs;

		if (ret < 0)
			return 0;
		regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
		listen_fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
	} else {
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
			bpf_map_delete_elem(&catchup, &tid);
		}
		if (ret < 0)
			return 0;
	}
	task = (struct task_struct *)bpf_get_current_task();
	listener = sock_from_fd(task, listen_fd);
	child = sock_from_fd(task, ret);
	if (!listener || !child)
		return 0;
	return emit(listener, child, WAY_TRACEPOINT);
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
