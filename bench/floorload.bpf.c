// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* The start-up floor (bench/floorload.c): one tracepoint program with one
 * CO-RE relocation and a ring buffer, the least a CO-RE tracer loads. */
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
