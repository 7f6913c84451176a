/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The capabilities tracing needs, and giving up the rest. */
#ifndef TCPACCEPT_CAPABILITIES_H
#define TCPACCEPT_CAPABILITIES_H

#include <stdbool.h>

/* Root, or CAP_BPF and CAP_PERFMON in the effective set. */
bool caps_have_bpf(void);

/* Gives up every capability for good (bounding set, ambient, permitted,
 * effective; no_new_privs), but CAP_BPF (CAP_SYS_ADMIN before 5.8) if
 * @keep_bpf. Returns 0 or -errno. */
int caps_drop(bool keep_bpf);

/* Runs @fn(@arg) with an empty effective set (the permitted set kept), so
 * that the kernel checks file access as it will once caps_drop()
 * has run (CAP_BPF aside, which no file check looks at). Returns what
 * @fn returns, or -errno if the set could not be changed. */
int caps_without(int (*fn)(void *arg), void *arg);

#endif /* TCPACCEPT_CAPABILITIES_H */
