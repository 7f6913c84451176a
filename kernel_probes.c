// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kernel_probes.h"
#include "log.h"
#include "tracefs.h"

const char *kernel_strerror(int err)
{
	static char text[128];

	if (err == ENOTSUPP_KERNEL)
		return "not supported by this kernel (ENOTSUPP)";
	/* libbpf's own codes, which strerror() calls "Unknown error 4001". */
	if (err >= __LIBBPF_ERRNO__START && err < __LIBBPF_ERRNO__END) {
		libbpf_strerror(err, text, sizeof(text));
		return text;
	}
	return strerror(err);
}

int kernel_btf_check(const char *path)
{
	struct stat st;
	struct btf *btf = NULL;
	const char *why = NULL;
	char text[192];

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		why = strerror(EISDIR);	/* libbpf would say EIO */
	} else if (!(btf = btf__parse(path, NULL))) {
		int err = errno;

		snprintf(text, sizeof(text), "%s%s", kernel_strerror(err),
			 err == LIBBPF_ERRNO__FORMAT ? " (neither raw BTF nor ELF)" : "");
		why = text;
	}
	/* Every socket read is CO-RE relocated against struct sock. */
	else if (btf__find_by_name_kind(btf, "sock", BTF_KIND_STRUCT) < 0)
		why = "it has no struct sock, so it is not the kernel's types (a vmlinux BTF)";
	btf__free(btf);
	if (why)
		warn("failed to read the BTF file '%s': %s\n", path, why);
	return why ? -1 : 0;
}

int kernel_btf_func_params(const struct btf *btf, const char *func, int *btf_id)
{
	const struct btf_type *t;
	int id;

	id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t))
		return -EINVAL;
	*btf_id = id;
	return btf_vlen(t);
}

/* Loads an empty fexit program for BTF id @btf_id; its fd or -errno. */
static int fexit_load(__u32 btf_id)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		.expected_attach_type = BPF_TRACE_FEXIT,
		.attach_btf_id = btf_id,
	);
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), &opts);

	return fd < 0 ? -errno : fd;
}

bool kernel_fexit_allowed(char *why, size_t len)
{
	/* BTF id 1 is no function: a kernel that takes fexit programs says
	 * EINVAL, one that refuses them all (a security policy) EPERM. */
	int fd = fexit_load(1);

	if (fd >= 0)
		close(fd);
	if (fd == -EPERM || fd == -EACCES) {
		snprintf(why, len, "failed to load a test fexit program: %s", strerror(-fd));
		return false;
	}
	return true;
}

bool kernel_fexit_attachable(int btf_id, char *why, size_t len)
{
	const char *step = "load";
	int prog_fd, link_fd, err;

	prog_fd = fexit_load((__u32)btf_id);
	if (prog_fd < 0) {
		err = prog_fd;
		goto refused;
	}
	/* Some kernels load fexit programs but cannot attach them (no BPF
	 * trampoline for the architecture): try that too. */
	step = "attach";
	link_fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	err = link_fd < 0 ? -errno : 0;
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	if (!err)
		return true;
refused:
	snprintf(why, len, "failed to %s a test fexit program: %s", step, kernel_strerror(-err));
	return false;
}

/* A kretprobe through the kprobe PMU (4.17+), the way libbpf makes them. */
static int kprobe_pmu_retprobe(const char *func)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	char format[64];
	int type, bit = 0;
	FILE *f;

	if (tracefs_read_int("/sys/bus/event_source/devices/kprobe/type", &type))
		return -ENODEV;
	f = fopen("/sys/bus/event_source/devices/kprobe/format/retprobe", "re");
	if (f) {
		if (fscanf(f, "config:%d", &bit) != 1)
			bit = 0;
		fclose(f);
	}
	snprintf(format, sizeof(format), "%s", func);
	attr.type = (__u32)type;
	attr.config = 1ULL << bit;
	attr.config1 = (__u64)(uintptr_t)format;	/* kprobe_func */
	return tracefs_perf_event_open(&attr);
}

bool kernel_kretprobe_allowed(const char *func, char *why, size_t len)
{
	char cmd[256];
	int fd, err;

	fd = kprobe_pmu_retprobe(func);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	if (fd != -ENODEV) {
		snprintf(why, len, "the kernel refused a kretprobe on %s: %s", func, strerror(-fd));
		return false;
	}
	/* No kprobe PMU: try tracefs, as tracefs_kretprobe_attach() will. */
	if (!tracefs_kprobe_events_exist()) {
		snprintf(why, len, "the kernel has no kprobes (no kprobe PMU, no kprobe_events; CONFIG_KPROBES unset?)");
		return false;
	}
	snprintf(cmd, sizeof(cmd), "r:%sprobe_%d/probe %s", KPROBE_GROUP_PREFIX, getpid(), func);
	err = tracefs_kprobe_events_write(cmd);
	if (err) {
		snprintf(why, len, "the kernel refused a kretprobe on %s: %s", func, strerror(-err));
		return false;
	}
	snprintf(cmd, sizeof(cmd), "-:%sprobe_%d/probe", KPROBE_GROUP_PREFIX, getpid());
	tracefs_kprobe_events_write(cmd);
	return true;
}

/* --- -x: symbols and enumerators ------------------------------------------- */

/* A text symbol's start, and where the next one starts. */
struct text_range {
	const char *name;
	unsigned long long *start, *end;
	bool want_end;
};

int kernel_drop_syms(struct kernel_drop_syms *syms)
{
	struct text_range want[] = {
		{ "cookie_v4_check", &syms->cookie_text[0], &syms->cookie_text[1], false },
		{ "cookie_v6_check", &syms->cookie_text[2], &syms->cookie_text[3], false },
	};
	char line[512], type, name[256];
	unsigned long long addr;
	FILE *f = fopen("/proc/kallsyms", "re");

	memset(syms, 0, sizeof(*syms));
	if (!f)
		return -errno;
	/* kallsyms lists text in address order: a function ends where the
	 * next symbol at a higher address starts. */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (want[i].want_end && addr > *want[i].start) {
				*want[i].end = addr;
				want[i].want_end = false;
			}
		if (type != 't' && type != 'T')
			continue;
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (!*want[i].start && !strcmp(name, want[i].name) && addr) {
				*want[i].start = addr;
				want[i].want_end = true;
			}
	}
	fclose(f);
	return 0;
}

int kernel_mib_indexes(const char *btf_path, unsigned short idx[3])
{
	static const char *const names[3] = {
		"LINUX_MIB_LISTENDROPS", "LINUX_MIB_LISTENOVERFLOWS", "LINUX_MIB_TCPREQQFULLDROP",
	};
	struct btf *btf = btf_path ? btf__parse(btf_path, NULL) : btf__load_vmlinux_btf();
	int found = 0;

	if (!btf)
		return -errno;
	for (__u32 id = 1; id < btf__type_cnt(btf) && found < 3; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_enum *e;

		if (!btf_is_enum(t) || t->name_off)
			continue;	/* the MIB enum has no name */
		e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t); i++)
			for (int k = 0; k < 3; k++)
				if (!strcmp(btf__name_by_offset(btf, e[i].name_off), names[k])) {
					idx[k] = (unsigned short)e[i].val;
					found++;
				}
	}
	btf__free(btf);
	return found == 3 ? 0 : -ENOENT;
}
