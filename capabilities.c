// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/types.h>
#include "capabilities.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

bool caps_have_bpf(void)
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

int caps_drop(bool keep_bpf)
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

int caps_without(int (*fn)(void *arg), void *arg)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct saved[2] = {}, none[2];
	int ret;

	if (syscall(SYS_capget, &hdr, saved))
		return -errno;
	memcpy(none, saved, sizeof(none));
	none[0].effective = none[1].effective = 0;
	if (syscall(SYS_capset, &hdr, none))
		return -errno;
	ret = fn(arg);
	/* Raising the effective set within the permitted one cannot fail. */
	if (syscall(SYS_capset, &hdr, saved))
		return -errno;
	return ret;
}
