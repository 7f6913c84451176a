// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "blocked_threads.h"

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

int blocked_threads_each(pid_t pid, void (*fn)(pid_t tid, long fd, void *ctx),
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
