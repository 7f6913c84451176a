/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Turning events into text: pure code, no BPF, unit-tested and fuzzed.
 * One column table prints the header, the rows and the -c tables; one
 * table of JSON keys prints -j's rows and -c -j's. */
#ifndef TCPACCEPT_FORMAT_H
#define TCPACCEPT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>
#include "tcpaccept.h"

/* What a cgroup ID names (identity.c fills it), NULL where nothing: the
 * path as /proc/PID/cgroup's 0:: line says it, the systemd unit, the full
 * container ID, and the one word that names the service (the SERVICE
 * column: the container's short ID, else the unit, else the path). */
struct fmt_names {
	const char *cgroup;
	const char *unit;
	const char *container;
	const char *service;
};

/* One event, decoded from the kernel side's record (tcpaccept.h).
 * Addresses in network byte order, an IPv4 address in the first 4 bytes. */
struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 netns;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 family;
	__u16 lport;
	__u16 rport;
	char comm[TASK_COMM_LEN];
	__u8 proto;		/* enum accept_proto */
	__u8 kind;		/* enum event_kind */
	/* drops and errors (struct event_failure) */
	__u16 code;		/* enum drop_reason, or the errno */
	__u8 stage;		/* enum drop_stage */
	__u8 owner_known;	/* a drop's pid and comm are its listener's owner */
	/* -q only */
	__u32 backlog_len;
	__u32 backlog_max;
	__u64 wait_ns;
	/* The identity part (tcpaccept.h), 0 where unknown; and what its
	 * cgroup ID names (identity.c). */
	__u64 cgroup_id;
	__u32 nspid;
	__u32 pidns;
	__u32 mntns;
	struct fmt_names names;
};

/* What a record holds beyond the head and addresses: the parts the
 * settings ask for (tcpaccept.h). */
struct fmt_parts {
	bool queue;		/* -q: struct event_queue (accepts) */
	bool identity;		/* need_service: struct event_identity */
};

/* Decodes the @size-byte record at @data, sent with @parts, into @e
 * (names NULL). False if it is not a well-formed record. */
bool fmt_decode(const void *data, size_t size, const struct fmt_parts *parts, struct event *e);

/* The longest line fmt_event() or fmt_count_row() writes, newline
 * included: a JSON line whose cgroup path is PATH_MAX - 1 bytes of \u00XX
 * escapes (6 bytes each), the unit 255 of them, and the rest (a 15-byte
 * name of escapes and the numbers: ~400). */
#define FMT_LINE_MAX 32768

/* Which lines show a column or JSON key: rows, -c tables. */
enum { FMT_ROWS = 1, FMT_COUNTS = 2 };
#define FMT_MAX_FIELDS 40

/* What a line of one kind shows under the options: the indexes of its
 * columns (or JSON keys) in format.c's tables, and the widths. */
struct fmt_layout {
	unsigned int key;	/* the options and lines it was made for; 0: none */
	unsigned int n;
	unsigned char fields[FMT_MAX_FIELDS];
	unsigned char widths[FMT_MAX_FIELDS];
};

struct fmt_state {
	bool wallclock;		/* -T: TIME column */
	bool timestamp;		/* -t: TIME(s) column */
	bool json;		/* -j: JSON Lines instead of columns */
	bool print_uid;		/* -U: UID column */
	bool queue;		/* -q: BL and WAIT(ms) columns */
	bool wide;		/* -w: 39-character address columns */
	bool print_proto;	/* --print-proto: PROTO column */
	bool failed;		/* -x, -a: REASON column, -c's DROPS and ERRORS */
	bool print_service;	/* -S: SERVICE column; -c -j: cgroup, unit, container */
	__s64 mono_to_real_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	__u64 first_ts_ns;	/* -t counts from the first event */
	bool have_first;
	time_t hms_sec;		/* cache: the second hms_text shows */
	char hms_text[16];
	struct fmt_layout layouts[2];	/* cache: rows, -c rows */
};

void fmt_init(struct fmt_state *st, bool wallclock, bool timestamp,
	      __s64 mono_to_real_ns);

/* These write at most @size bytes (newline included, no NUL) and return
 * the length written; @size must be at least FMT_LINE_MAX. In JSON mode
 * there is no header (0 bytes). */
size_t fmt_header(const struct fmt_state *st, char *buf, size_t size);
size_t fmt_event(struct fmt_state *st, const struct event *e, char *buf,
		 size_t size);

/* -c tables: a header and one row per key; @names: what the key's cgroup
 * names (NULL: nothing); @now_ns is CLOCK_MONOTONIC. */
size_t fmt_count_header(const struct fmt_state *st, char *buf, size_t size);
size_t fmt_count_row(struct fmt_state *st, const struct count_key *key,
		     const struct count_value *counts, const struct fmt_names *names,
		     __u64 now_ns, char *buf, size_t size);

/* Copies @comm (at most @len bytes, up to a NUL) to @out as the inside of a
 * JSON string (RFC 8259): '"', '\\' and every byte below 0x20 or above
 * 0x7e as \u00XX, so the result is ASCII and valid whatever the bytes.
 * size >= 6 * len + 1 always suffices. */
size_t fmt_json_escape(char *out, size_t size, const char *comm, size_t len);

/* Copies the NUL-terminated prefix of @comm (at most @len bytes) to @out,
 * every byte outside printable ASCII and the backslash as \xHH, so that a
 * task name can neither break a line nor drive a terminal (--metrics'
 * labels). Returns the length (out is NUL-terminated; size >= 4 * len + 1
 * always suffices). Out of room, it stops before a whole escape. */
size_t fmt_escape_comm(char *out, size_t size, const char *comm, size_t len);

/* The same, and a space as \x20 too: the COMM column, where a name with
 * spaces would otherwise read as more columns. */
size_t fmt_escape_column(char *out, size_t size, const char *comm, size_t len);

/* A drop's reason (enum drop_reason) as -j and REASON say it. */
const char *fmt_reason_name(unsigned int reason);

/* What FOR_EACH_KIND says of @kind: KIND_* bits (0 for an unknown one). */
unsigned int fmt_kind_traits(unsigned int kind);

/* An errno's symbolic name ("EMFILE"), or E and its number for one that
 * the C library does not name, into @out. */
const char *fmt_errno_name(char *out, size_t size, unsigned int err);

/* "tcp" or "mptcp": what the accepted socket is (enum accept_proto). */
const char *fmt_proto_name(unsigned int proto);

/* Writes @addr of @family (AF_INET/AF_INET6) in inet_ntop form. */
void fmt_addr(char *out, size_t size, int family, const __u8 addr[16]);

#endif /* TCPACCEPT_FORMAT_H */
