// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include "log.h"
#include "process.h"

int process_check_pid(pid_t pid)
{
	char path[32], line[128];
	long tgid = 0;
	FILE *f;

	if (kill(pid, 0) && errno == ESRCH) {
		warn("no process with PID %d\n", (int)pid);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* no /proc: kill() said enough */
	while (fgets(line, sizeof(line), f) && sscanf(line, "Tgid: %ld", &tgid) != 1)
		;
	fclose(f);
	if (tgid > 0 && tgid != pid) {
		warn("%d is a thread of process %ld: -p takes a process ID\n", (int)pid, tgid);
		return -1;
	}
	return 0;
}
