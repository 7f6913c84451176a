// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "log.h"
#include "process.h"

int process_check_pid(pid_t pid)
{
	char path[32], line[128];
	long tgid = 0;
	FILE *f;

	/* /proc first: PIDs are /proc's (what ps shows, and what the kernel
	 * side compares), which kill() need not share: under unshare -p -f
	 * without --mount-proc this process has a PID namespace of its own. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f && errno == ENOENT && access("/proc/self", F_OK) == 0) {
		warn("no process with PID %d\n", (int)pid);
		return -1;
	}
	if (!f) {	/* no /proc: kill() says enough */
		if (kill(pid, 0) && errno == ESRCH) {
			warn("no process with PID %d\n", (int)pid);
			return -1;
		}
		return 0;
	}
	while (fgets(line, sizeof(line), f) && sscanf(line, "Tgid: %ld", &tgid) != 1)
		;
	fclose(f);
	if (tgid > 0 && tgid != pid) {
		warn("%d is a thread of process %ld: -p takes a process ID\n", (int)pid, tgid);
		return -1;
	}
	return 0;
}

/* The initial PID namespace's inode number (PROC_PID_INIT_INO). */
#define PID_NS_INIT_INO 0xEFFFFFFCU

__u32 process_pidns(void)
{
	struct stat st;

	/* /proc's own PID 1: with unshare -p -f but no --mount-proc, /proc
	 * (and ps) still shows the initial namespace's PIDs. */
	if (stat("/proc/1/ns/pid", &st) || st.st_ino == PID_NS_INIT_INO)
		return 0;
	return (__u32)st.st_ino;
}

#define NSFS_MAGIC 0x6e736673
#define NS_GET_NSTYPE 0xb703		/* _IO(0xb7, 0x3), 4.11+ */
#define CLONE_NEWNET_TYPE 0x40000000	/* CLONE_NEWNET */

int process_netns_open(const char *path, __u32 *inode)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), type;
	struct statfs sfs;
	struct stat st;

	if (fd < 0) {
		warn("failed to open network namespace '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstatfs(fd, &sfs) || (unsigned long)sfs.f_type != NSFS_MAGIC || fstat(fd, &st)) {
		warn("'%s' is not a namespace file: --netns takes one as /proc/PID/ns/net or /run/netns/NAME, or an inode number\n",
		     path);
		close(fd);
		return -1;
	}
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type >= 0 && type != CLONE_NEWNET_TYPE) {
		warn("'%s' names another kind of namespace, not a network one\n", path);
		close(fd);
		return -1;
	}
	*inode = (__u32)st.st_ino;
	return fd;
}
