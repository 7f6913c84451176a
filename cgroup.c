// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/vfs.h>
#include "cgroup.h"
#include "log.h"

#define CGROUP2_SUPER_MAGIC 0x63677270

/* mountinfo writes ' ', '\t', '\n' and '\\' in a path as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		unsigned int c;

		if (s[0] == '\\' && sscanf(s + 1, "%3o", &c) == 1 && strspn(s + 1, "01234567") >= 3) {
			*out++ = (char)c;
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* A mountinfo line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] -
 * FSTYPE SOURCE SUPER_OPTIONS (proc(5)). */
void cgroup_v2_mounts(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], point[4096], fstype[64];
	size_t len = 0;

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2") ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		unescape(point);
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", point);
		if (len >= size) {
			len = size - 1;
			break;
		}
	}
	fclose(f);
}

int cgroup_open(const char *path)
{
	struct statfs st;
	char where[512];
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		warn("failed to open cgroup '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstatfs(fd, &st) == 0 && (unsigned long)st.f_type == CGROUP2_SUPER_MAGIC)
		return fd;
	close(fd);
	/* A hybrid host has v1 at /sys/fs/cgroup and v2 elsewhere. */
	cgroup_v2_mounts(where, sizeof(where));
	if (where[0])
		warn("'%s' is not a cgroup v2 directory; cgroup v2 is mounted at %s on this host\n",
		     path, where);
	else
		warn("'%s' is not a cgroup v2 directory; no cgroup v2 is mounted on this host (mount -t cgroup2 none DIR)\n",
		     path);
	return -1;
}
