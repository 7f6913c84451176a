/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Probing what the running kernel allows, and attaching where libbpf 1.1
 * cannot do what tcpaccept needs. */
#ifndef TCPACCEPT_TRACE_HELPERS_H
#define TCPACCEPT_TRACE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct btf;
struct bpf_program;
struct bpf_link;

/* Root, or CAP_BPF and CAP_PERFMON in the effective set. */
bool have_bpf_privileges(void);

/* Gives up every capability for good (bounding set, ambient, permitted,
 * effective; no_new_privs), but CAP_BPF (CAP_SYS_ADMIN before 5.8) if
 * @keep_bpf. Returns 0 or -errno. */
int drop_capabilities(bool keep_bpf);

/* The tracefs directory, mounting tracefs on /sys/kernel/tracing if none is
 * mounted; NULL (errno set) if that fails. */
const char *tracefs_dir(void);

/* The kernel-internal ENOTSUPP that bpf() can return, e.g. for fexit on
 * arm64 kernels without ftrace direct calls (before 6.4). */
#define ENOTSUPP_KERNEL 524

/* strerror(), plus ENOTSUPP_KERNEL. */
const char *bpf_strerror(int err);

/* Number of parameters of kernel function @func in @btf, its BTF id in
 * *@btf_id; -ENOENT if the kernel has no such function. */
int btf_func_params(const struct btf *btf, const char *func, int *btf_id);

/* -EPERM (or -EACCES) if the kernel refuses every fexit program, whatever
 * it attaches to; 0 otherwise. Cheap: no BTF to read. */
int fexit_refused(void);

/* Loads and attaches an empty fexit program to BTF id @btf_id, then removes
 * it. 0 if the kernel allowed both; else -errno, *@step naming the refused
 * step. */
int fexit_probe(int btf_id, const char **step);

/* 0 if a kretprobe on @func can be created (through the kprobe PMU or
 * tracefs kprobe_events); else -errno, @why says what is missing. */
int kprobe_probe(const char *func, char *why, size_t len);

/* A kretprobe created through tracefs kprobe_events, which (unlike libbpf
 * 1.1) can set maxactive: how many calls of the function may be pending
 * at once before returns go unseen. */
struct kretprobe {
	struct bpf_link *link;
	char group[32];
	char event[64];
};

int kretprobe_attach(struct bpf_program *prog, const char *func,
		     int maxactive, struct kretprobe *krp);
/* Detaches and deletes the tracefs event; safe to call twice. */
void kretprobe_detach(struct kretprobe *krp);

/* Deletes kprobe events left by tcpaccept processes that no longer exist
 * (killed with SIGKILL). */
void kretprobe_remove_stale(void);

/* Calls @fn for every thread (of process @pid, or of all if 0) that is
 * blocked in accept() or accept4() right now, with its listening fd, as
 * /proc/PID/task/TID/syscall shows it. Returns how many were found. */
int for_each_thread_in_accept(pid_t pid, void (*fn)(pid_t tid, long fd, void *ctx),
			      void *ctx);

#endif /* TCPACCEPT_TRACE_HELPERS_H */
