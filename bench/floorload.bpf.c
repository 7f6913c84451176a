// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* The start-up floor (bench/floorload.c): one tracepoint program with one
 * CO-RE relocation and a ring buffer, the least a CO-RE tracer loads.
 * floorload --types loads floor_types instead: one field of each kernel
 * type tcpaccept's tracepoint way relocates, so that the two floors show
 * what each relocated type costs libbpf at start-up. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_exit_accept4")
int floor_exit_accept4(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 *flags;

	flags = bpf_ringbuf_reserve(&events, sizeof(*flags), 0);
	if (!flags)
		return 0;
	*flags = BPF_CORE_READ(task, flags);
	bpf_ringbuf_submit(flags, 0);
	return 0;
}

SEC("tracepoint/io_uring/io_uring_complete")
int floor_types(struct trace_event_raw_io_uring_complete *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct io_kiocb *req = BPF_CORE_READ(ctx, req);
	struct file *file = BPF_CORE_READ(req, file);
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 *sum;

	sum = bpf_ringbuf_reserve(&events, sizeof(*sum), 0);
	if (!sum)
		return 0;
	*sum = BPF_CORE_READ(task, files, fdt, max_fds) +
	       BPF_CORE_READ(file, f_inode, i_mode) +
	       BPF_CORE_READ(sk, __sk_common.skc_family) +
	       BPF_CORE_READ((struct inet_sock *)sk, inet_sport) +
	       (__u64)BPF_CORE_READ((struct mptcp_sock *)sk, first) +
	       BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) +
	       BPF_CORE_READ(regs, sp);
	bpf_ringbuf_submit(sum, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
