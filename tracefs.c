// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>
#include "tracefs.h"

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

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

int tracefs_read_int(const char *path, int *value)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", value) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

int tracefs_perf_event_open(struct perf_event_attr *attr)
{
	int fd = (int)syscall(SYS_perf_event_open, attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int tracefs_kprobe_events_write(const char *cmd)
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

bool tracefs_kprobe_events_exist(void)
{
	const char *dir = tracefs_dir();
	char path[PATH_MAX];

	if (!dir)
		return false;
	snprintf(path, sizeof(path), "%s/kprobe_events", dir);
	return access(path, W_OK) == 0;
}

int tracefs_kretprobe_attach(struct bpf_program *prog, const char *func,
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
	tracefs_kprobe_events_write(cmd);
	snprintf(cmd, sizeof(cmd), "r%d:%s/%s %s", maxactive, krp->group, krp->event, func);
	err = tracefs_kprobe_events_write(cmd);
	if (err) {
		krp->group[0] = '\0';
		return err;
	}
	snprintf(path, sizeof(path), "%s/events/%s/%s/id", dir, krp->group, krp->event);
	err = tracefs_read_int(path, &id);
	if (err)
		goto fail;
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = (__u64)id;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	pfd = tracefs_perf_event_open(&attr);
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
	tracefs_kretprobe_detach(krp);
	return err;
}

void tracefs_kretprobe_detach(struct kretprobe *krp)
{
	char cmd[128];

	bpf_link__destroy(krp->link);
	krp->link = NULL;
	if (krp->group[0]) {
		snprintf(cmd, sizeof(cmd), "-:%s/%s", krp->group, krp->event);
		tracefs_kprobe_events_write(cmd);
		krp->group[0] = '\0';
	}
}

void tracefs_kretprobe_remove_stale(void)
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
		tracefs_kprobe_events_write(cmd);
	}
	fclose(f);
}
