// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "trace_helpers.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

#define KPROBE_GROUP_PREFIX "tcpaccept_"

bool have_bpf_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	__u64 eff;

	if (syscall(SYS_capget, &hdr, data))
		return false;
	eff = data[0].effective | (__u64)data[1].effective << 32;
	if (eff & (1ULL << CAP_SYS_ADMIN))
		return true;
	return (eff & (1ULL << CAP_BPF)) && (eff & (1ULL << CAP_PERFMON));
}

int drop_capabilities(bool keep_bpf)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	int last_cap = CAP_BPF, keep;
	FILE *f;

	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last_cap) != 1)
			last_cap = CAP_BPF;
		fclose(f);
	}
	/* CAP_BPF split from CAP_SYS_ADMIN in 5.8. */
	keep = last_cap >= CAP_BPF ? CAP_BPF : CAP_SYS_ADMIN;
	/* Without CAP_SETPCAP (a systemd unit's CapabilityBoundingSet= gives
	 * only what tracing needs) the bounding set cannot shrink: EPERM is
	 * fine then, as no_new_privs below keeps execve() from adding any. */
	for (int cap = 0; cap <= last_cap; cap++)
		if (!(keep_bpf && cap == keep) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) &&
		    errno != EPERM)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	/* Still uid 0: no execve() may give the capabilities back. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (keep_bpf) {
		data[keep / 32].effective = 1U << (keep % 32);
		data[keep / 32].permitted = 1U << (keep % 32);
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

static bool is_tracefs(const char *dir)
{
	struct statfs st;
	char path[PATH_MAX];

	if (statfs(dir, &st) || (unsigned long)st.f_type != TRACEFS_MAGIC)
		return false;
	snprintf(path, sizeof(path), "%s/events", dir);
	return access(path, F_OK) == 0;
}

const char *tracefs_dir(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing",
		"/sys/kernel/debug/tracing",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (is_tracefs(dirs[i]))
			return dirs[i];
	/* Minimal systems and containers often leave tracefs unmounted;
	 * tracepoints and kprobe_events cannot be named without it. */
	if (mount("tracefs", dirs[0], "tracefs", 0, NULL) == 0 && is_tracefs(dirs[0]))
		return dirs[0];
	return NULL;
}

const char *bpf_strerror(int err)
{
	return err == ENOTSUPP_KERNEL ? "not supported by this kernel (ENOTSUPP)" : strerror(err);
}

int btf_func_params(const struct btf *btf, const char *func, int *btf_id)
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

int fexit_refused(void)
{
	/* BTF id 1 is no function: a kernel that takes fexit programs says
	 * EINVAL, one that refuses them all (a security policy) EPERM. */
	int fd = fexit_load(1);

	if (fd >= 0)
		close(fd);
	return fd == -EPERM || fd == -EACCES ? fd : 0;
}

int fexit_probe(int btf_id, const char **step)
{
	int prog_fd, link_fd, err;

	*step = "load";
	prog_fd = fexit_load((__u32)btf_id);
	if (prog_fd < 0)
		return prog_fd;
	/* Some kernels load fexit programs but cannot attach them (no BPF
	 * trampoline for the architecture): try that too. */
	*step = "attach";
	link_fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	err = link_fd < 0 ? -errno : 0;
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	return err;
}

static int read_int_file(const char *path, int *value)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", value) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static int perf_event_open(struct perf_event_attr *attr)
{
	int fd = (int)syscall(SYS_perf_event_open, attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* A kretprobe through the kprobe PMU (4.17+), the way libbpf makes them. */
static int kprobe_pmu_retprobe(const char *func)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	char format[64];
	int type, bit = 0;
	FILE *f;

	if (read_int_file("/sys/bus/event_source/devices/kprobe/type", &type))
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
	return perf_event_open(&attr);
}

static int kprobe_events_write(const char *cmd)
{
	const char *dir = tracefs_dir();
	char path[PATH_MAX];
	ssize_t len = (ssize_t)strlen(cmd), n;
	int fd, err = 0;

	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/kprobe_events", dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, cmd, (size_t)len);
	if (n != len)
		err = n < 0 ? -errno : -EIO;
	close(fd);
	return err;
}

static bool kprobe_events_exist(void)
{
	const char *dir = tracefs_dir();
	char path[PATH_MAX];

	if (!dir)
		return false;
	snprintf(path, sizeof(path), "%s/kprobe_events", dir);
	return access(path, W_OK) == 0;
}

int kprobe_probe(const char *func, char *why, size_t len)
{
	char cmd[256];
	int fd, err;

	fd = kprobe_pmu_retprobe(func);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd != -ENODEV) {
		snprintf(why, len, "the kernel refused a kretprobe on %s: %s", func, strerror(-fd));
		return fd;
	}
	/* No kprobe PMU: try tracefs, as kretprobe_attach() will. */
	if (!kprobe_events_exist()) {
		snprintf(why, len, "the kernel has no kprobes (no kprobe PMU, no kprobe_events; CONFIG_KPROBES unset?)");
		return -EOPNOTSUPP;
	}
	snprintf(cmd, sizeof(cmd), "r:%sprobe_%d/probe %s", KPROBE_GROUP_PREFIX, getpid(), func);
	err = kprobe_events_write(cmd);
	if (err) {
		snprintf(why, len, "the kernel refused a kretprobe on %s: %s", func, strerror(-err));
		return err;
	}
	snprintf(cmd, sizeof(cmd), "-:%sprobe_%d/probe", KPROBE_GROUP_PREFIX, getpid());
	kprobe_events_write(cmd);
	return 0;
}

int kretprobe_attach(struct bpf_program *prog, const char *func,
		     int maxactive, struct kretprobe *krp)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	char cmd[256], path[PATH_MAX];
	const char *dir;
	int id, pfd, err;

	memset(krp, 0, sizeof(*krp));
	dir = tracefs_dir();
	if (!dir)
		return -errno ? -errno : -ENOENT;
	snprintf(krp->group, sizeof(krp->group), "%s%d", KPROBE_GROUP_PREFIX, getpid());
	snprintf(krp->event, sizeof(krp->event), "%s", func);
	/* A previous tcpaccept with our PID may have been killed. */
	snprintf(cmd, sizeof(cmd), "-:%s/%s", krp->group, krp->event);
	kprobe_events_write(cmd);
	snprintf(cmd, sizeof(cmd), "r%d:%s/%s %s", maxactive, krp->group, krp->event, func);
	err = kprobe_events_write(cmd);
	if (err) {
		krp->group[0] = '\0';
		return err;
	}
	snprintf(path, sizeof(path), "%s/events/%s/%s/id", dir, krp->group, krp->event);
	err = read_int_file(path, &id);
	if (err)
		goto fail;
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = (__u64)id;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	pfd = perf_event_open(&attr);
	if (pfd < 0) {
		err = pfd;
		goto fail;
	}
	krp->link = bpf_program__attach_perf_event(prog, pfd);
	if (!krp->link) {
		err = -errno;
		close(pfd);
		goto fail;
	}
	return 0;
fail:
	kretprobe_detach(krp);
	return err;
}

void kretprobe_detach(struct kretprobe *krp)
{
	char cmd[128];

	bpf_link__destroy(krp->link);
	krp->link = NULL;
	if (krp->group[0]) {
		snprintf(cmd, sizeof(cmd), "-:%s/%s", krp->group, krp->event);
		kprobe_events_write(cmd);
		krp->group[0] = '\0';
	}
}

void kretprobe_remove_stale(void)
{
	const char *dir = tracefs_dir();
	char path[PATH_MAX], line[512], cmd[300];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/kprobe_events", dir);
	f = fopen(path, "re");
	if (!f)
		return;
	/* Lines look like "r4096:tcpaccept_1234/inet_csk_accept inet_csk_accept". */
	while (fgets(line, sizeof(line), f)) {
		char *group = strchr(line, ':'), *end;
		long pid;

		if (!group || strncmp(group + 1, KPROBE_GROUP_PREFIX, strlen(KPROBE_GROUP_PREFIX)))
			continue;
		group++;
		pid = strtol(group + strlen(KPROBE_GROUP_PREFIX), &end, 10);
		if (*end != '/' || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		end = strchr(group, ' ');
		if (!end)
			continue;
		*end = '\0';
		snprintf(cmd, sizeof(cmd), "-:%s", group);
		kprobe_events_write(cmd);
	}
	fclose(f);
}

/* One thread: is it blocked in accept()/accept4(), and on which fd? */
static bool thread_in_accept(int pid, int tid, long *fd)
{
	char path[64], line[256];
	long nr;
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	/* "43 0x3 0x0 ..." while blocked in a syscall; "running" or "-1 ..."
	 * otherwise. The numbers are those of the architecture we run on. */
	if (fgets(line, sizeof(line), f) &&
	    sscanf(line, "%ld 0x%lx", &nr, (unsigned long *)fd) == 2)
		found = nr == SYS_accept || nr == SYS_accept4;
	fclose(f);
	return found;
}

static int scan_process(int pid, void (*fn)(pid_t, long, void *), void *ctx)
{
	struct dirent *de;
	char path[64];
	int found = 0;
	DIR *dir;
	long fd;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		int tid = atoi(de->d_name);

		if (tid > 0 && thread_in_accept(pid, tid, &fd)) {
			fn(tid, fd, ctx);
			found++;
		}
	}
	closedir(dir);
	return found;
}

int for_each_thread_in_accept(pid_t pid, void (*fn)(pid_t tid, long fd, void *ctx),
			      void *ctx)
{
	struct dirent *de;
	int found = 0;
	DIR *proc;

	if (pid)
		return scan_process(pid, fn, ctx);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while ((de = readdir(proc))) {
		int p = atoi(de->d_name);

		if (p > 0)
			found += scan_process(p, fn, ctx);
	}
	closedir(proc);
	return found;
}
