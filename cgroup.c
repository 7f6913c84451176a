// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <stdio.h>
#include <string.h>
#include "cgroup.h"

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
void cgroup2_mounts(char *buf, size_t size)
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
