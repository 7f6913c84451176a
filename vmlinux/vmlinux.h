/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The kernel types tcpaccept.bpf.c reads, and nothing else.
 *
 * Every struct is marked preserve_access_index, so each field access is
 * recorded as a CO-RE relocation and libbpf fixes up the offset at load time
 * against the running kernel's BTF (/sys/kernel/btf/vmlinux). Only the
 * fields we read are declared; the layout here need not match any kernel.
 * Fields that sit inside anonymous unions in the kernel are declared flat:
 * libbpf matches members by name and looks through anonymous members.
 *
 * This replaces a 130,000-line `bpftool btf dump ... format c` header, so a
 * reviewer can see every kernel field the tool depends on. The only
 * architecture-specific part is the register file used by kprobes and by
 * the syscall tracepoints (struct pt_regs / user_pt_regs below).
 */
#ifndef TCPACCEPT_VMLINUX_H
#define TCPACCEPT_VMLINUX_H
/* Tells libbpf's bpf_tracing.h to use the kernel's pt_regs field names. */
#define __VMLINUX_H__

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };
typedef struct { int counter; } atomic_t;
typedef struct { __u32 val; } kuid_t;

/* UAPI constants (stable ABI, include/uapi/linux/bpf.h) used by libbpf's headers. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_CGROUP_ARRAY = 8,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be32 u6_addr32[4];
	} in6_u;
};

struct ns_common {
	unsigned int inum;
};

/* -x: the network namespace's LINUX_MIB counters, one copy per CPU (a
 * __percpu pointer: add the CPU's per-CPU offset). Their indexes sit in an
 * anonymous enum that moved in 6.18: plan.c reads them from the BTF. */
struct linux_mib {
	unsigned long mibs[1];
};

struct netns_mib {
	struct linux_mib *net_statistics;
};

/* A per-CPU array map: its elements' per-CPU pointers (in an anonymous
 * union with value[] and ptrs[]). */
struct bpf_array {
	__u32 elem_size;
	void *pptrs[];
};

struct net {
	struct ns_common ns;
	struct netns_mib mib;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

/* cgroup v2: a cgroup's ID is its kernfs node's (a u64 since 5.5,
 * 67c0496e87d1: the directory's inode number); the parent walk goes
 * through the css, which every kernel has. */
struct kernfs_node {
	__u64 id;
	const char *name;
	struct kernfs_node *parent;
};

/* Linux 6.15 renamed kernfs_node.parent __parent, for RCU accessors
 * ("kernfs: Use RCU to access kernfs_node::parent"). */
struct kernfs_node___new {
	struct kernfs_node *__parent;
};

struct cgroup_subsys_state {
	struct cgroup *cgroup;
	struct cgroup_subsys_state *parent;
};

struct cgroup_root {
	int hierarchy_id;	/* 0: the default (v2) hierarchy */
};

struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
	struct cgroup_root *root;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

/* The cgroup a socket was made in (cgroup_sk_alloc()), copied to the
 * children a listener hands out (cgroup_sk_clone()). A struct since 5.15
 * (8520e224f547, backported to 5.10.y); before, a union whose u64 is the
 * cgroup pointer unless bit 0 says v1 net_prio/net_cls data took its
 * place. */
struct sock_cgroup_data {
	struct cgroup *cgroup;
};

struct sock_cgroup_data___old {
	__u64 val;
};

struct sock {
	struct sock_common __sk_common;
	struct sock_cgroup_data sk_cgrp_data;
	/* A u16 since Linux 5.6 (bf9765145b85), an 8-bit bitfield before:
	 * read it with BPF_CORE_READ_BITFIELD_PROBED, which handles both. */
	__u16 sk_protocol;
	__u16 sk_type;
	__u32 sk_ack_backlog;
	__u32 sk_max_ack_backlog;
	/* -x and --metrics: the listener's own drop counter (ss -tlm's d).
	 * 6.18 added sk_drop_counters, used by UDP and raw sockets (NULL for
	 * TCP): sk_drops_read() adds both. */
	atomic_t sk_drops;
	struct numa_drop_counters *sk_drop_counters;
	kuid_t sk_uid;
};

struct numa_drop_counters {
	atomic_t drops0;
	atomic_t drops1;
};

/* The local port, network order: set when the child is cloned from the
 * listener and kept when a RST closes it before accept() returns, which
 * clears skc_num (inet_put_port()). An MPTCP socket copies its subflow's
 * (mptcp_copy_inaddrs()). */
struct inet_sock {
	__be16 inet_sport;
};

/* MPTCP (Linux 5.6+, CONFIG_MPTCP; absent from kernels built without it,
 * so every use is guarded by bpf_core_field_exists). A connection is
 * accepted on the MPTCP listener's first subflow: inet_csk_accept()
 * returns a TCP subflow whose ULP data names the MPTCP socket that
 * accept() hands out. is_mptcp has been a 1-bit bitfield and a bool:
 * BPF_CORE_READ_BITFIELD_PROBED reads either. */
struct inet_connection_sock {
	void *icsk_ulp_data;
};

struct tcp_sock {
	bool is_mptcp;
};

struct mptcp_subflow_context {
	struct sock *conn;
};

struct mptcp_sock {
	struct sock *first;	/* a listener's listening subflow; a connection's first one */
};

/* Linux 6.10 (92ef0fd55ac8) passes accept()'s flags/err/kern to
 * inet_csk_accept() in this struct; fexit_accept only names it. */
struct proto_accept_arg;

struct inode {
	unsigned short i_mode;
};

struct file {
	struct inode *f_inode;
	void *private_data;
};

struct socket {
	struct file *file;
	struct sock *sk;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

/* A thread's PID in each PID namespace from the initial one (level 0) to
 * its own (level): numbers[] has level + 1 entries (a flexible array
 * since 6.x; the element's layout is stable). */
struct pid_namespace {
	struct ns_common ns;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct mnt_namespace {
	struct ns_common ns;
};

struct nsproxy {
	struct mnt_namespace *mnt_ns;	/* NULL once the task is exiting */
};

struct task_struct {
	unsigned int flags;
	struct files_struct *files;
	struct task_struct *group_leader;
	struct pid *thread_pid;		/* 4.19+ */
	struct nsproxy *nsproxy;
	struct css_set *cgroups;
	char comm[16];
};

/* io_uring (the tracepoint way's view of IORING_OP_ACCEPT) */
struct io_kiocb {
	struct file *file;
	u8 opcode;
};

/* Tracepoint records, read with CO-RE so a field's absence can be tested. */
struct trace_event_raw_io_uring_complete {
	void *req;
	int res;
};

/* -x: the packet of a dropped SYN or final ACK. */
struct sk_buff {
	unsigned char *head;
	__u16 transport_header;
	__u16 network_header;
	__be16 protocol;
};

/* Values from the running kernel (bpf_core_enum_value), never these. */
enum skb_drop_reason {
	SKB_DROP_REASON_NO_SOCKET = 2,
	SKB_DROP_REASON_TCP_LISTEN_OVERFLOW = 40,
};

/* reason since 5.17, rx_sk (the socket that dropped it) since 6.11. */
struct trace_event_raw_kfree_skb {
	void *skbaddr;
	void *location;
	void *rx_sk;
	enum skb_drop_reason reason;
};

/* The sock___old flavor reads sk_cgrp_data as the union of kernels before
 * 5.15's fix (see struct sock_cgroup_data). */
struct sock___old {
	struct sock_cgroup_data___old sk_cgrp_data;
};

struct trace_event_raw_inet_sock_set_state {
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 protocol;
};

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long bp;
	unsigned long bx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};
#elif defined(__TARGET_ARCH_arm64)
/* libbpf's bpf_tracing.h reads arm64 registers through struct user_pt_regs
 * (the first member of the kernel's struct pt_regs) and orig_x0 through its
 * own pt_regs___arm64 flavor. */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};

struct pt_regs {
	struct user_pt_regs user_regs;
	__u64 orig_x0;
};
#else
#error "vmlinux.h: define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64"
#endif

#pragma clang attribute pop

#endif /* TCPACCEPT_VMLINUX_H */
