/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * How fuzz_format.c reads its input, shared with make_seeds.c:
 *
 *   byte 0        option bits, FUZZ_* below
 *   byte 1        the buffer size given to escape_comm() and json_escape()
 *   byte 2        the name length given to them (its low 7 bits, modulo
 *                 TASK_COMM_LEN + 1); its top bit, FUZZ_FAILED
 *   bytes 3..10   mono_to_real_ns, little-endian
 *   byte 11       more option bits, FUZZ2_* below
 *   then          up to FUZZ_MAX_EVENTS struct events (format.h, what
 *                 tcpaccept.c decodes a ring buffer record into); a short
 *                 last one is padded with zeros. The same bytes are also
 *                 given to fmt_decode() as a record.
 *
 * The clocks are kept in the ranges the kernel can produce (fuzz_format.c
 * says how); the names' pointers are the fuzzer's own strings, made from
 * the bytes where the pointers lie: cgroup the 16 bytes from its pointer on
 * (NULL if that pointer's 8 are zero), unit the container pointer's 8
 * bytes (NULL if zero), container the task name (NULL if the unit
 * pointer's 8 bytes are zero), service the cgroup's string (NULL if its
 * own pointer's 8 bytes are zero); every other byte of an event is used as
 * it comes.
 */
#ifndef TCPACCEPT_FUZZ_INPUT_H
#define TCPACCEPT_FUZZ_INPUT_H

#include <linux/types.h>
#include "format.h"

#define FUZZ_WALLCLOCK	0x01	/* -T */
#define FUZZ_TIMESTAMP	0x02	/* -t */
#define FUZZ_JSON	0x04	/* -j */
#define FUZZ_UID	0x08	/* -U */
#define FUZZ_QUEUE	0x10	/* -q */
#define FUZZ_WIDE	0x20	/* -w */
#define FUZZ_COUNTS	0x40	/* also a -c row for each event */
#define FUZZ_PROTO	0x80	/* --print-proto */
#define FUZZ_FAILED	0x80	/* in byte 2: -x (REASON, -c's DROPS and ERRORS) */

#define FUZZ2_IDENTITY	0x01	/* records carry the identity part (-j) */
#define FUZZ2_SERVICE	0x02	/* -S: the SERVICE column; -c -j's cgroup keys */

#define FUZZ_HEAD_LEN 12
#define FUZZ_MAX_EVENTS 8

#endif /* TCPACCEPT_FUZZ_INPUT_H */
