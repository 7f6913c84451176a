/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What the running kernel allows, asked before a way in is chosen. Every
 * probe answers true, or false with the reason in @why (@len bytes). */
#ifndef TCPACCEPT_KERNEL_PROBES_H
#define TCPACCEPT_KERNEL_PROBES_H

#include <stdbool.h>
#include <stddef.h>

struct btf;

/* The kernel-internal ENOTSUPP that bpf() can return, e.g. for fexit on
 * arm64 kernels without ftrace direct calls (before 6.4). */
#define ENOTSUPP_KERNEL 524

/* strerror(), plus ENOTSUPP_KERNEL and libbpf's own codes (>= 4000). */
const char *kernel_strerror(int err);

/* --btf: whether @path is a BTF file with the kernel's types, before
 * libbpf loads anything with it. 0, or -1 with one line naming the file
 * and why. */
int kernel_btf_check(const char *path);

/* Number of parameters of kernel function @func in @btf, its BTF id in
 * *@btf_id; -ENOENT if the kernel has no such function. */
int kernel_btf_func_params(const struct btf *btf, const char *func, int *btf_id);

/* False if the kernel refuses every fexit program, whatever it attaches
 * to (a security policy). Cheap: no BTF to read. */
bool kernel_fexit_allowed(char *why, size_t len);

/* Whether an empty fexit program on BTF id @btf_id loads and attaches;
 * it is removed again. */
bool kernel_fexit_attachable(int btf_id, char *why, size_t len);

/* Whether a kretprobe on @func can be created (through the kprobe PMU or
 * tracefs kprobe_events). */
bool kernel_kretprobe_allowed(const char *func, char *why, size_t len);

/* -x on the tracepoint way: where the cookie checks are, from
 * /proc/kallsyms (a drop inside them is a cookie's final ACK). */
struct kernel_drop_syms {
	unsigned long long cookie_text[4];	/* cookie_v4_check, cookie_v6_check: [start, end) */
};

/* Reads /proc/kallsyms (root sees the addresses). 0 or -errno. */
int kernel_drop_syms(struct kernel_drop_syms *syms);

/* The indexes of LINUX_MIB_LISTENDROPS, _LISTENOVERFLOWS and
 * _TCPREQQFULLDROP (an anonymous enum, renumbered in 6.18) in the kernel
 * BTF, or --btf's @btf_path. 0, or -ENOENT if one is missing. */
int kernel_mib_indexes(const char *btf_path, unsigned short idx[3]);

#endif /* TCPACCEPT_KERNEL_PROBES_H */
